// <repy/asio.hpp>'s context calls: async_openconnection_ipv6 refused, timed out and
// connected, event-driven, with the plain call's charges and outsocket holds (a failed
// one holds nothing); async_sendmessage_ipv6 waits for the nanny on a timer, and for a
// full send buffer instead of raising SocketWouldBlockError; the IPv4 forms of SPEC
// section 9.
#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <functional>
#include <repy/asio.hpp>
#include <string>

#include "asio_support.hpp"
#include "host_stack.hpp"
#include "test_support.hpp"

namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using repy_test::context_with;
using repy_test::expect_throws;
using repy_test::free_ports;
using repy_test::Got;
using repy_test::into;
using repy_test::local_port;
using repy_test::run_until;
using repy_test::usage;

/// Counts 10 ms ticks on `io` until stopped: they run only while nothing blocks it.
struct Ticker {
  explicit Ticker(asio::io_context& io) : timer(io) { tick({}); }
  void tick(boost::system::error_code error) {
    if (error || stopped) return;
    ++ticks;
    timer.expires_after(10ms);
    timer.async_wait([this](boost::system::error_code e) { tick(e); });
  }
  void stop() {
    stopped = true;
    timer.cancel();
  }
  asio::steady_timer timer;
  int ticks = 0;
  bool stopped = false;
};

TEST(asio_calls_test, openconnection_connects_with_the_plain_charges_and_one_outsocket) {
  repy_test::Fd listener = repy_test::raw_listener();
  const int port = local_port(listener.get());
  const int local = free_ports(1)[0];
  auto ctx = context_with({local}, {}, {{"outsockets", "1"}});
  const auto before = repy_test::net_totals(ctx);
  asio::io_context io;
  Got<repy::TCPSocket> opened;
  repy::async_openconnection_ipv6(io.get_executor(), ctx, "::1", port, "::1", local, 5.0,
                                  into(opened));
  ASSERT_TRUE(run_until(io, [&] { return opened.done(); }));
  ASSERT_EQ(opened.error, nullptr);
  const auto charged = repy_test::net_totals(ctx) - before;
  EXPECT_EQ(charged.loopsend, 128.0);
  EXPECT_EQ(charged.looprecv, 64.0);
  EXPECT_EQ(charged.netsend, 0.0);
  EXPECT_EQ(usage(ctx, "outsockets"), 1.0);
  // The one outsocket is held: a second connect fails at once, holding nothing more.
  Got<repy::TCPSocket> second;
  repy::async_openconnection_ipv6(io.get_executor(), ctx, "::1", port, "::1", local, 5.0,
                                  into(second));
  ASSERT_TRUE(run_until(io, [&] { return second.done(); }));
  expect_throws<repy::ResourceExhaustedError>([&] { rethrow(second); }, "second connect");
  // The socket works, through the connect's own reactor registration.
  repy::TCPSocket socket = opened.value;
  Got<std::size_t> sent;
  repy::async_send(io.get_executor(), socket, "through", into(sent));
  ASSERT_TRUE(run_until(io, [&] { return sent.done(); }));
  EXPECT_EQ(sent.value, 7u);
  EXPECT_TRUE(socket.close());
  EXPECT_EQ(usage(ctx, "outsockets"), 0.0);
}

TEST(asio_calls_test, a_refused_openconnection_charges_and_holds_nothing) {
  repy_test::Fd not_listening = repy_test::raw_bound(SOCK_STREAM);
  repy::Context ctx;
  const auto before = repy_test::net_totals(ctx);
  asio::io_context io;
  asio::steady_timer reactor(io);  // the io_context's reactor is made here
  const int fds = repy_test::open_fd_count();
  Got<repy::TCPSocket> opened;
  repy::async_openconnection_ipv6(io.get_executor(), ctx, "::1", local_port(not_listening.get()),
                                  "::1", free_ports(1)[0], 5.0, into(opened));
  ASSERT_TRUE(run_until(io, [&] { return opened.done(); }));
  expect_throws<repy::ConnectionRefusedError>([&] { rethrow(opened); }, "openconnection");
  const auto charged = repy_test::net_totals(ctx) - before;
  EXPECT_EQ(charged.loopsend + charged.looprecv + charged.netsend + charged.netrecv, 0.0);
  EXPECT_EQ(usage(ctx, "outsockets"), 0.0);
  EXPECT_EQ(repy_test::open_fd_count(), fds);
}

TEST(asio_calls_test, an_openconnection_that_gets_no_answer_times_out_on_a_timer) {
  repy_test::SilentListener silent;
  const int port = silent.port;
  repy::Context ctx;
  asio::io_context io;
  Ticker ticker(io);  // the io_context's reactor is made here
  const int fds = repy_test::open_fd_count();
  Got<repy::TCPSocket> opened;
  const auto start = std::chrono::steady_clock::now();
  repy::async_openconnection_ipv6(io.get_executor(), ctx, "::1", port, "::1", free_ports(1)[0], 0.5,
                                  into(opened));
  ASSERT_TRUE(run_until(
      io, [&] { return opened.done(); }, 10s));
  ticker.stop();
  expect_throws<repy::TimeoutError>([&] { rethrow(opened); }, "openconnection");
  EXPECT_GE(opened.at - start, 500ms);
  EXPECT_LT(opened.at - start, 2s);
  EXPECT_GE(ticker.ticks, 20) << "the connect blocked the io_context thread";
  EXPECT_EQ(usage(ctx, "outsockets"), 0.0);
  EXPECT_EQ(repy_test::open_fd_count(), fds);
}

TEST(asio_calls_test, openconnection_and_sendmessage_wait_for_the_nanny_on_a_timer) {
  auto ports = free_ports(4);
  auto ctx = context_with({ports[0], ports[1]}, {ports[2], ports[3]}, {{"loopsend", "1000"}});
  auto udp = ctx.listenformessage_ipv6("::1", ports[2]);
  ASSERT_EQ(ctx.sendmessage_ipv6("::1", ports[2], std::string(1500, 'u'), "::1", ports[3]), 1500u);
  const auto ready = ctx.rate_ready_at(repy::Context::RateCall::sendmessage, "::1");
  ASSERT_GT(ready, std::chrono::steady_clock::now() + 200ms);
  EXPECT_EQ(ctx.rate_ready_at(repy::Context::RateCall::openconnection, "::1"), ready);
  auto server = ctx.listenforconnection_ipv6("::1", ports[0]);
  asio::io_context io;
  Ticker ticker(io);
  Got<std::size_t> sent;
  Got<repy::TCPSocket> opened;
  repy::async_sendmessage_ipv6(io.get_executor(), ctx, "::1", ports[2], "later", "::1", ports[3],
                               into(sent));
  repy::async_openconnection_ipv6(io.get_executor(), ctx, "::1", ports[0], "::1", ports[1], 5.0,
                                  into(opened));
  ASSERT_TRUE(run_until(
      io, [&] { return sent.done() && opened.done(); }, 10s));
  ticker.stop();
  ASSERT_EQ(sent.error, nullptr);
  ASSERT_EQ(opened.error, nullptr);
  EXPECT_GE(sent.at, ready);
  EXPECT_GE(opened.at, ready);
  EXPECT_LT(sent.at, ready + 1s);
  EXPECT_GE(ticker.ticks, 10) << "the rate wait blocked the io_context thread";
}

// The host stack, but the first `full` datagrams find the send buffer full.
class FullBufferStack final : public repy_test::HostStack {
 public:
  std::atomic<int> full{3};
  repy::detail::SysResult<std::size_t> sendto(int fd, const void* data, std::size_t size, int flags,
                                              const sockaddr_in6& to) noexcept override {
    if (full.fetch_sub(1) > 0) return {0, EAGAIN};
    return StackImpl::sendto(fd, data, size, flags, to);
  }
};

TEST(asio_calls_test, sendmessage_waits_out_a_full_send_buffer_instead_of_raising) {
  auto stack = std::make_shared<FullBufferStack>();
  repy::Context ctx(repy::Policy::unlimited(), repy::detail::Access::make_stack(stack));
  auto ports = free_ports(2);
  auto udp = ctx.listenformessage_ipv6("::1", ports[0]);
  // What the plain call says of a full buffer: the asynchronous one waits instead.
  EXPECT_THROW(ctx.sendmessage_ipv6("::1", ports[0], "plain", "::1", ports[1]),
               repy::SocketWouldBlockError);
  const auto before = repy_test::net_totals(ctx);
  asio::io_context io;
  Got<std::size_t> sent;
  repy::async_sendmessage_ipv6(io.get_executor(), ctx, "::1", ports[0], "async", "::1", ports[1],
                               into(sent));
  ASSERT_TRUE(run_until(io, [&] { return sent.done(); }));
  ASSERT_EQ(sent.error, nullptr);
  EXPECT_EQ(sent.value, 5u);
  EXPECT_LE(stack->full, -1) << "the send was not tried again after the buffer was full";
  EXPECT_EQ((repy_test::net_totals(ctx) - before).loopsend, 64.0 + 5);
  ASSERT_TRUE(udp.wait_readable(5s));
  EXPECT_EQ(udp.getmessage().message, "async");
}

TEST(asio_calls_test, the_ipv4_calls_connect_and_send_with_dotted_addresses) {
  auto ports = free_ports(4, repy_test::free_port_both_families);
  auto ctx = context_with({ports[0], ports[1]}, {ports[2], ports[3]});
  auto server = ctx.listenforconnection("127.0.0.1", ports[0]);
  auto udp = ctx.listenformessage("127.0.0.1", ports[2]);
  asio::io_context io;
  auto ex = io.get_executor();
  Got<repy::TCPSocket> opened, bad;
  Got<repy::Connection> accepted;
  Got<std::size_t> sent;
  Got<repy::Message> message;
  repy::async_openconnection(ex, ctx, "127.0.0.1", ports[0], "127.0.0.1", ports[1], 5.0,
                             into(opened));
  repy::async_getconnection(ex, server, into(accepted));
  repy::async_sendmessage(ex, ctx, "127.0.0.1", ports[2], "v4", "127.0.0.1", ports[3], into(sent));
  repy::async_getmessage(ex, udp, into(message));
  repy::async_openconnection(ex, ctx, "::1", ports[0], "127.0.0.1", ports[1], 5.0, into(bad));
  ASSERT_TRUE(run_until(io, [&] {
    return opened.done() && accepted.done() && sent.done() && message.done() && bad.done();
  }));
  ASSERT_EQ(opened.error, nullptr);
  ASSERT_EQ(accepted.error, nullptr);
  EXPECT_EQ(accepted.value.ip, "127.0.0.1");
  EXPECT_EQ(accepted.value.port, ports[1]);
  ASSERT_EQ(sent.error, nullptr);
  ASSERT_EQ(message.error, nullptr);
  EXPECT_EQ(message.value.ip, "127.0.0.1");
  EXPECT_EQ(message.value.message, "v4");
  expect_throws<repy::RepyArgumentError>([&] { rethrow(bad); }, "an IPv6 destip");
}

}  // namespace
