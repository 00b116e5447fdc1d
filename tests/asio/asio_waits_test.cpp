// <repy/asio.hpp>, SPEC section 8's Asio rules on waiting, one test each: charges as
// the plain calls, nanny waits on timers that block no thread, close() from another
// thread, destroying the io_context with operations pending, one reactor registration
// per socket.
#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <functional>
#include <optional>
#include <repy/asio.hpp>
#include <string>
#include <thread>
#include <vector>

#include "asio_support.hpp"
#include "host_stack.hpp"
#include "test_support.hpp"

namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using repy_test::connected_pair;
using repy_test::context_with;
using repy_test::expect_throws;
using repy_test::free_ports;
using repy_test::Got;
using repy_test::into;
using repy_test::run_until;
using repy_test::throttled_pair;

// ---- charges: the plain calls'

// The host stack, but each send takes at most 10000 bytes; counts the sends that sent.
class CappedStack final : public repy_test::HostStack {
 public:
  std::atomic<int> sends{0};
  repy::detail::SysResult<std::size_t> send(int fd, const void* data, std::size_t size,
                                            int flags) noexcept override {
    auto sent = StackImpl::send(fd, data, std::min<std::size_t>(size, 10000), flags);
    if (sent && sent.value > 0) ++sends;
    return sent;
  }
};

TEST(asio_waits_test, async_send_is_charged_as_the_sends_it_takes) {
  auto stack = std::make_shared<CappedStack>();
  // The kernel's buffers, so that each 10000-byte part fits at once.
  repy::Context ctx(repy::Policy::unlimited().with_socket_buffers(0, 0),
                    repy::detail::Access::make_stack(stack));
  auto p = connected_pair(ctx);
  const auto before = repy_test::net_totals(ctx);
  const int sends_before = stack->sends;
  asio::io_context io;
  Got<std::size_t> sent;
  repy::async_send(io.get_executor(), p.client, std::string(25000, 's'), into(sent));
  ASSERT_TRUE(run_until(io, [&] { return sent.done(); }));
  ASSERT_EQ(sent.error, nullptr);
  EXPECT_EQ(sent.value, 25000u);
  const int sends = stack->sends - sends_before;
  EXPECT_EQ(sends, 3);
  const auto charged = repy_test::net_totals(ctx) - before;
  EXPECT_EQ(charged.loopsend, 25000.0 + 64.0 * sends);
  EXPECT_EQ(charged.looprecv, 64.0 * sends);
  // And a receive as a plain recv: 64 + bytes received, 64 sent.
  const auto before_recv = repy_test::net_totals(ctx);
  Got<std::string> got;
  repy::async_recv(io.get_executor(), p.accepted, 100, into(got));
  ASSERT_TRUE(run_until(io, [&] { return got.done(); }));
  ASSERT_EQ(got.error, nullptr);
  const auto recv_charged = repy_test::net_totals(ctx) - before_recv;
  EXPECT_EQ(recv_charged.looprecv, 64.0 + static_cast<double>(got.value.size()));
  EXPECT_EQ(recv_charged.loopsend, 64.0);
}

// ---- waiting: the nanny on timers, no thread blocked

TEST(asio_waits_test, rate_waits_run_on_timers_while_other_handlers_run) {
  auto p = throttled_pair(1000, 1200);
  const auto ready = p.accepted.rate_ready_at();
  ASSERT_GT(ready, std::chrono::steady_clock::now() + 300ms) << "the pair is not over its limit";
  asio::io_context io;
  Got<std::string> received;
  Got<std::size_t> sent;
  repy::async_recv(io.get_executor(), p.accepted, 100000, into(received));
  repy::async_send(io.get_executor(), p.client, "more", into(sent));
  // A ticker on the same thread: it runs only if the waits block nothing.
  int ticks = 0;
  asio::steady_timer ticker(io);
  std::function<void(boost::system::error_code)> tick = [&](boost::system::error_code) {
    if (received.done() && sent.done()) return;
    ++ticks;
    ticker.expires_after(10ms);
    ticker.async_wait(tick);
  };
  tick({});
  ASSERT_TRUE(run_until(
      io, [&] { return received.done() && sent.done(); }, 10s));
  ASSERT_EQ(received.error, nullptr);
  ASSERT_EQ(sent.error, nullptr);
  EXPECT_GE(received.at, ready) << "recv went before the nanny let it";
  EXPECT_GE(sent.at, ready) << "send went before the nanny let it";
  EXPECT_LT(received.at, ready + 1s) << "recv waited well past the nanny's time";
  EXPECT_GE(ticks, 10) << "the io_context thread was blocked during the rate wait";
}

TEST(asio_waits_test, close_from_another_thread_completes_pending_operations_promptly) {
  auto p = connected_pair();
  auto slow = throttled_pair(1000, 3000);  // waits on the nanny for about two seconds
  auto udp = p.ctx.listenformessage_ipv6("::1", free_ports(1)[0]);
  // The client's buffer is full, and nothing comes its way. Full for good once the
  // kernel has moved what it could to the peer (it may lag behind under load).
  std::string chunk(10000, 'f');
  do {
    while (p.client.try_send(chunk)) {
    }
  } while (p.client.wait_writable(100ms));
  asio::io_context io;
  auto ex = io.get_executor();
  Got<std::string> reading, throttled;
  Got<std::size_t> writing;
  Got<repy::Connection> accepting;
  Got<repy::Message> receiving;
  repy::async_recv(ex, p.client, 10, into(reading));
  repy::async_send(ex, p.client, chunk, into(writing));
  repy::async_getconnection(ex, p.server, into(accepting));
  repy::async_getmessage(ex, udp, into(receiving));
  repy::async_recv(ex, slow.accepted, 10, into(throttled));
  io.run_for(20ms);  // every operation is waiting now
  ASSERT_FALSE(reading.done() || writing.done() || accepting.done() || receiving.done() ||
               throttled.done())
      << reading.done() << writing.done() << accepting.done() << receiving.done()
      << throttled.done();
  const auto closed_at = std::chrono::steady_clock::now();
  std::thread closer([&] {
    p.accepted.close();
    p.client.close();
    p.server.close();
    udp.close();
    slow.accepted.close();
  });
  closer.join();
  ASSERT_TRUE(run_until(io, [&] {
    return reading.done() && writing.done() && accepting.done() && receiving.done() &&
           throttled.done();
  }));
  using repy_test::rethrow;
  expect_throws<repy::SocketClosedLocal>([&] { rethrow(reading); }, "recv");
  expect_throws<repy::SocketClosedLocal>([&] { rethrow(writing); }, "send");
  expect_throws<repy::SocketClosedLocal>([&] { rethrow(accepting); }, "getconnection");
  expect_throws<repy::SocketClosedLocal>([&] { rethrow(receiving); }, "getmessage");
  expect_throws<repy::SocketClosedLocal>([&] { rethrow(throttled); }, "recv in a rate wait");
  // The nanny would have held the throttled recv for about two seconds.
  EXPECT_LT(throttled.at - closed_at, 1s) << "the nanny's timer outlived the socket";
  EXPECT_LT(receiving.at - closed_at, 1s);
}

// Leaves operations of every kind pending in an io_context, destroys it, and returns
// how many handlers ran. With `reactor_first` the reactor exists before repy6's service,
// so that the two shut down in the other order.
int abandon_operations(repy_test::Pair& p, repy_test::Pair& slow, int full_port,
                       bool reactor_first) {
  int calls = 0;
  auto count = [&](std::exception_ptr, auto&&) { ++calls; };
  {
    asio::io_context io;
    std::optional<asio::steady_timer> early;
    if (reactor_first) early.emplace(io);
    auto ex = io.get_executor();
    repy::async_recv(ex, p.accepted, 10, count);
    repy::async_getconnection(ex, p.server, count);
    repy::async_recv(ex, slow.accepted, 10, count);  // on the nanny's timer
    repy::async_openconnection_ipv6(ex, p.ctx, "::1", full_port, "::1", free_ports(1)[0], 30.0,
                                    count);
    auto future = repy::async_recv(ex, p.accepted, 10, asio::use_future);
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
          co_await repy::async_recv(ex, p.accepted, 10, asio::use_awaitable);
          ++calls;
        },
        asio::detached);
    io.run_for(20ms);
  }
  return calls;
}

TEST(asio_waits_test, destroying_the_io_context_with_operations_pending_calls_no_handler) {
  auto p = connected_pair();
  auto slow = throttled_pair(1000, 3000);
  repy_test::SilentListener silent;  // a connect to it stays under way
  const int full_port = silent.port;
  const int fds = repy_test::open_fd_count();
  const double outsockets = repy_test::usage(p.ctx, "outsockets");
  // Twice on the same sockets: the second io_context finds the first one's watchers
  // detached (maybe at the same address) and makes its own.
  for (bool reactor_first : {false, true}) {
    EXPECT_EQ(abandon_operations(p, slow, full_port, reactor_first), 0);
    // The abandoned connect gave back its outsocket and its fd.
    EXPECT_EQ(repy_test::usage(p.ctx, "outsockets"), outsockets);
    EXPECT_EQ(repy_test::open_fd_count(), fds);
  }
  // The sockets outlive the io_contexts: a new one serves them, and closing them
  // touches nothing of the old ones.
  asio::io_context io;
  Got<std::string> got;
  repy::async_recv(io.get_executor(), p.accepted, 10, into(got));
  ASSERT_EQ(p.client.send("after"), 5u);
  ASSERT_TRUE(run_until(io, [&] { return got.done(); }));
  EXPECT_EQ(got.value, "after");
  EXPECT_TRUE(p.accepted.close());
  EXPECT_TRUE(slow.accepted.close());
  EXPECT_TRUE(p.server.close());
}

TEST(asio_waits_test, one_reactor_registration_serves_every_operation_on_a_socket) {
  auto p = connected_pair();
  asio::io_context io;
  auto ex = io.get_executor();
  auto& service = repy::detail::async::WatcherService::of(ex);
  struct Idle final : repy::SocketWatcher {
    void closing() noexcept override {}
  };
  int made = 0;
  const repy::WatcherFactory counting = [&](int) -> std::shared_ptr<repy::SocketWatcher> {
    ++made;
    return std::make_shared<Idle>();
  };
  for (int i = 0; i < 20; ++i) {
    Got<std::string> got;
    repy::async_recv(ex, p.accepted, 10, into(got));
    io.run_for(1ms);  // waits on the reactor: the first wait registers the socket
    ASSERT_EQ(p.client.send("x"), 1u);
    ASSERT_TRUE(run_until(io, [&] { return got.done(); }));
  }
  auto kept = p.accepted.watcher(&service, counting);
  EXPECT_NE(kept, nullptr);
  EXPECT_EQ(made, 0) << "the socket's registration did not survive its operations";
  p.accepted.close();
  EXPECT_EQ(p.accepted.watcher(&service, counting), nullptr);
}

}  // namespace
