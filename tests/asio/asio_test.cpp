// <repy/asio.hpp>, SPEC section 8's Asio rules, one test each: how operations complete
// (result or the plain call's Repy exception; callbacks, use_awaitable, use_future),
// never inside the initiating call, through the associated executor, exactly once;
// charges as the plain calls; nanny waits on timers; close() from another thread;
// destroying the io_context with operations pending.
#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <future>
#include <optional>
#include <repy/asio.hpp>
#include <string>
#include <thread>
#include <vector>

#include "asio_support.hpp"
#include "core/access.hpp"
#include "stack/stack_impl.hpp"
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

/// A pair whose loopback rates are `rate` per second and already over the limit.
repy_test::Pair throttled_pair(int rate, std::size_t backlog) {
  auto ports = free_ports(2);
  auto ctx = context_with({ports[0], ports[1]}, {},
                          {{"loopsend", std::to_string(rate)}, {"looprecv", std::to_string(rate)}});
  repy_test::Pair p;
  p.ctx = ctx;
  p.server = ctx.listenforconnection_ipv6("::1", ports[0]);
  p.client = ctx.openconnection_ipv6("::1", ports[0], "::1", ports[1], 5);
  EXPECT_TRUE(p.server.wait_readable(5s));
  p.accepted = p.server.getconnection().socket;
  EXPECT_EQ(p.client.send(std::string(backlog, 'r')), backlog);
  return p;
}

// ---- completion: (nullptr, R) or (the Repy exception, empty R)

TEST(asio_test, operations_complete_with_a_null_exception_and_the_result) {
  auto p = connected_pair();
  auto ports = free_ports(3);
  auto udp = p.ctx.listenformessage_ipv6("::1", ports[0]);
  asio::io_context io;
  auto ex = io.get_executor();
  Got<std::size_t> sent, datagram;
  Got<std::string> received;
  Got<repy::Connection> accepted;
  Got<repy::Message> message;
  Got<repy::TCPSocket> opened;
  repy::async_send(ex, p.client, "hello", into(sent));
  repy::async_recv(ex, p.accepted, 100, into(received));
  repy::async_getconnection(ex, p.server, into(accepted));
  repy::async_openconnection_ipv6(ex, p.ctx, "::1", p.server_port, "::1", ports[1], 5.0,
                                  into(opened));
  repy::async_getmessage(ex, udp, into(message));
  repy::async_sendmessage_ipv6(ex, p.ctx, "::1", ports[0], "dgram", "::1", ports[2],
                               into(datagram));
  ASSERT_TRUE(run_until(io, [&] {
    return sent.done() && received.done() && accepted.done() && opened.done() && message.done() &&
           datagram.done();
  }));
  EXPECT_EQ(sent.error, nullptr);
  EXPECT_EQ(sent.value, 5u);
  EXPECT_EQ(received.error, nullptr);
  EXPECT_EQ(received.value, "hello");
  EXPECT_EQ(opened.error, nullptr);
  EXPECT_GE(opened.value.native_handle(), 0);
  EXPECT_EQ(accepted.error, nullptr);
  EXPECT_EQ(accepted.value.ip, "::1");
  EXPECT_EQ(accepted.value.port, ports[1]);
  EXPECT_EQ(datagram.error, nullptr);
  EXPECT_EQ(datagram.value, 5u);
  EXPECT_EQ(message.error, nullptr);
  EXPECT_EQ(message.value.message, "dgram");
  EXPECT_EQ(message.value.port, ports[2]);
}

TEST(asio_test, operations_complete_with_the_repy_exception_of_the_plain_call) {
  auto p = connected_pair();
  auto ports = free_ports(2);
  auto udp = p.ctx.listenformessage_ipv6("::1", ports[0]);
  asio::io_context io;
  auto ex = io.get_executor();
  Got<std::string> zero_bytes, peer_closed;
  Got<std::size_t> closed_send, too_long;
  Got<repy::Connection> closed_server;
  Got<repy::Message> closed_udp;
  Got<repy::TCPSocket> bad_ip;
  repy::async_recv(ex, p.accepted, 0, into(zero_bytes));
  p.client.close();
  repy::async_recv(ex, p.accepted, 10, into(peer_closed));
  repy::async_send(ex, p.client, "x", into(closed_send));
  p.server.close();
  repy::async_getconnection(ex, p.server, into(closed_server));
  udp.close();
  repy::async_getmessage(ex, udp, into(closed_udp));
  repy::async_openconnection_ipv6(ex, p.ctx, "localhost", 80, "::1", ports[1], 1.0, into(bad_ip));
  repy::async_sendmessage_ipv6(ex, p.ctx, "::1", 9, std::string(9217, 'm'), "::1", ports[1],
                               into(too_long));
  ASSERT_TRUE(run_until(io, [&] {
    return zero_bytes.done() && peer_closed.done() && closed_send.done() && closed_server.done() &&
           closed_udp.done() && bad_ip.done() && too_long.done();
  }));
  using repy_test::rethrow;
  expect_throws<repy::RepyArgumentError>([&] { rethrow(zero_bytes); }, "recv(0)");
  expect_throws<repy::SocketClosedRemote>([&] { rethrow(peer_closed); }, "recv after the FIN");
  expect_throws<repy::SocketClosedLocal>([&] { rethrow(closed_send); }, "send on a closed socket");
  expect_throws<repy::SocketClosedLocal>([&] { rethrow(closed_server); }, "closed listener");
  expect_throws<repy::SocketClosedLocal>([&] { rethrow(closed_udp); }, "closed UDP listener");
  expect_throws<repy::RepyArgumentError>([&] { rethrow(bad_ip); }, "a name as destip");
  expect_throws<repy::RepyArgumentError>([&] { rethrow(too_long); }, "a 9217-byte datagram");
  EXPECT_EQ(peer_closed.value, "");
  EXPECT_EQ(closed_send.value, 0u);
  EXPECT_EQ(bad_ip.value.native_handle(), -1);
}

TEST(asio_test, a_limit_of_zero_fails_at_once_instead_of_waiting) {
  auto ports = free_ports(3);
  auto ctx = context_with({ports[0], ports[1]}, {ports[2]}, {{"loopsend", "0"}});
  asio::io_context io;
  Got<repy::TCPSocket> opened;
  Got<std::size_t> sent;
  repy::async_openconnection_ipv6(io.get_executor(), ctx, "::1", ports[0], "::1", ports[1], 1.0,
                                  into(opened));
  repy::async_sendmessage_ipv6(io.get_executor(), ctx, "::1", ports[0], "x", "::1", ports[2],
                               into(sent));
  ASSERT_TRUE(run_until(
      io, [&] { return opened.done() && sent.done(); }, 1s));
  expect_throws<repy::ResourceExhaustedError>([&] { rethrow(opened); }, "openconnection");
  expect_throws<repy::ResourceExhaustedError>([&] { rethrow(sent); }, "sendmessage");
}

TEST(asio_test, use_awaitable_rethrows_the_repy_class_itself) {
  auto p = connected_pair();
  asio::io_context io;
  std::string received;
  bool caught_remote = false, caught_local = false;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        auto ex = co_await asio::this_coro::executor;
        co_await repy::async_send(ex, p.client, "ping", asio::use_awaitable);
        received = co_await repy::async_recv(ex, p.accepted, 10, asio::use_awaitable);
        p.client.close();
        try {
          co_await repy::async_recv(ex, p.accepted, 10, asio::use_awaitable);
        } catch (const repy::SocketClosedRemote&) {
          caught_remote = true;
        }
        try {
          co_await repy::async_send(ex, p.client, "x", asio::use_awaitable);
        } catch (const repy::SocketClosedLocal&) {
          caught_local = true;
        }
      },
      asio::detached);
  ASSERT_TRUE(run_until(io, [&] { return caught_local; }));
  EXPECT_EQ(received, "ping");
  EXPECT_TRUE(caught_remote);
}

TEST(asio_test, use_future_delivers_the_result_and_rethrows_by_get) {
  auto p = connected_pair();
  asio::io_context io;
  auto work = asio::make_work_guard(io);
  std::thread runner([&] { io.run(); });
  auto sent = repy::async_send(io.get_executor(), p.client, "future", asio::use_future);
  auto got = repy::async_recv(io.get_executor(), p.accepted, 10, asio::use_future);
  auto failed = repy::async_recv(io.get_executor(), p.accepted, 0, asio::use_future);
  ASSERT_EQ(got.wait_for(5s), std::future_status::ready);
  EXPECT_EQ(sent.get(), 6u);
  EXPECT_EQ(got.get(), "future");
  ASSERT_EQ(failed.wait_for(5s), std::future_status::ready);
  EXPECT_THROW(failed.get(), repy::RepyArgumentError);
  work.reset();
  runner.join();
}

// ---- Asio's rules for handlers

TEST(asio_test, handlers_never_run_inside_the_initiating_call) {
  auto p = connected_pair();
  ASSERT_EQ(p.client.send("ready"), 5u);
  ASSERT_TRUE(p.accepted.wait_readable(5s));
  // Two pending connections, one for each round below.
  auto ports = free_ports(2);
  auto first = p.ctx.openconnection_ipv6("::1", p.server_port, "::1", ports[0], 5);
  auto second = p.ctx.openconnection_ipv6("::1", p.server_port, "::1", ports[1], 5);
  ASSERT_TRUE(p.server.wait_readable(5s));
  asio::io_context io;
  auto ex = io.get_executor();
  bool initiating = false;
  int calls = 0;
  auto check = [&](std::exception_ptr, auto&&) {
    EXPECT_FALSE(initiating) << "a handler ran inside its initiating call";
    ++calls;
  };
  // Everything here completes at once: data, a pending connection, a failure.
  auto initiate_all = [&] {
    initiating = true;
    repy::async_recv(ex, p.accepted, 2, check);
    repy::async_recv(ex, p.accepted, 0, check);
    repy::async_send(ex, p.client, "", check);
    repy::async_getconnection(ex, p.server, check);
    repy::async_sendmessage_ipv6(ex, p.ctx, "bad", 1, "x", "::1", 1, check);
    initiating = false;
  };
  initiate_all();
  EXPECT_EQ(calls, 0);
  ASSERT_TRUE(run_until(io, [&] { return calls == 5; }));
  // From inside a handler of the same io_context, where a dispatch would run inline.
  asio::post(io, initiate_all);
  ASSERT_TRUE(run_until(io, [&] { return calls == 10; }));
}

TEST(asio_test, handlers_run_through_their_associated_executor) {
  auto p = connected_pair();
  asio::io_context io, other;
  auto other_work = asio::make_work_guard(other);
  std::thread other_thread([&] { other.run(); });
  auto strand = asio::make_strand(io);
  std::promise<bool> on_other;
  bool on_strand = false, on_default = false;
  repy::async_recv(
      io.get_executor(), p.accepted, 1,
      asio::bind_executor(other.get_executor(), [&](std::exception_ptr e, std::string) {
        on_other.set_value(!e && other.get_executor().running_in_this_thread());
      }));
  repy::async_recv(io.get_executor(), p.accepted, 1,
                   asio::bind_executor(strand, [&](std::exception_ptr, std::string) {
                     on_strand = strand.running_in_this_thread();
                   }));
  repy::async_send(strand, p.client, "ab", [&](std::exception_ptr, std::size_t) {
    // Without an executor of its own the handler runs on `ex`, here the strand.
    on_default = strand.running_in_this_thread();
  });
  auto result = on_other.get_future();
  ASSERT_TRUE(run_until(io, [&] {
    return on_strand && on_default && result.wait_for(0s) == std::future_status::ready;
  }));
  EXPECT_TRUE(result.get()) << "the handler bound to another io_context ran elsewhere";
  other_work.reset();
  other_thread.join();
}

TEST(asio_test, each_handler_runs_exactly_once_under_races_with_close) {
  constexpr int pairs = 40;
  repy::Context ctx;
  std::vector<repy_test::Pair> ps;
  for (int i = 0; i < pairs; ++i) ps.push_back(connected_pair(ctx));
  asio::io_context io;
  auto work = asio::make_work_guard(io);
  std::vector<std::thread> runners;
  for (int i = 0; i < 2; ++i) runners.emplace_back([&] { io.run(); });
  std::vector<std::atomic<int>> recv_calls(pairs), send_calls(pairs);
  for (int i = 0; i < pairs; ++i) {
    repy::async_recv(io.get_executor(), ps[i].accepted, 100,
                     [&, i](std::exception_ptr, std::string) { ++recv_calls[i]; });
    repy::async_send(io.get_executor(), ps[i].client, std::string(64, 'd'),
                     [&, i](std::exception_ptr, std::size_t) { ++send_calls[i]; });
  }
  // Half the receivers are closed while their data may be arriving.
  for (int i = 0; i < pairs; i += 2) ps[i].accepted.close();
  const auto all_ran = [&] {
    for (int i = 0; i < pairs; ++i) {
      if (recv_calls[i] == 0 || send_calls[i] == 0) return false;
    }
    return true;
  };
  EXPECT_TRUE(repy_test::wait_until(all_ran, 10s));
  work.reset();
  for (auto& t : runners) t.join();
  for (int i = 0; i < pairs; ++i) {
    EXPECT_EQ(recv_calls[i], 1) << "recv " << i;
    EXPECT_EQ(send_calls[i], 1) << "send " << i;
  }
}

// ---- charges: the plain calls'

// The host stack, but each send takes at most 10000 bytes; counts the sends that sent.
class CappedStack final : public repy::detail::StackImpl {
 public:
  std::atomic<int> sends{0};
  std::string_view kind() const noexcept override { return "capped"; }
  int make_socket(int family, int type, int protocol) noexcept override {
    return host().make_socket(family, type, protocol);
  }
  std::vector<repy::AddrInfo> resolve(std::string_view name, std::string_view port, int family,
                                      int type, int proto, int flags) override {
    return host().resolve(name, port, family, type, proto, flags);
  }
  std::vector<boost::asio::ip::address_v6> interface_addresses(std::string_view ifname) override {
    return host().interface_addresses(ifname);
  }
  repy::detail::SysResult<std::size_t> send(int fd, const void* data, std::size_t size,
                                            int flags) noexcept override {
    auto sent = StackImpl::send(fd, data, std::min<std::size_t>(size, 10000), flags);
    if (sent && sent.value > 0) ++sends;
    return sent;
  }

 private:
  static repy::detail::StackImpl& host() { return repy::detail::impl(repy::Stack::host()); }
};

TEST(asio_test, async_send_is_charged_as_the_sends_it_takes) {
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

TEST(asio_test, rate_waits_run_on_timers_while_other_handlers_run) {
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

TEST(asio_test, close_from_another_thread_completes_pending_operations_promptly) {
  auto p = connected_pair();
  auto slow = throttled_pair(1000, 3000);  // waits on the nanny for about two seconds
  auto udp = p.ctx.listenformessage_ipv6("::1", free_ports(1)[0]);
  // The client's buffer is full, and nothing comes its way.
  std::string chunk(10000, 'f');
  while (p.client.try_send(chunk)) {
  }
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
               throttled.done());
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
  EXPECT_LT(throttled.at - closed_at, 500ms) << "the nanny's timer outlived the socket";
  EXPECT_LT(receiving.at - closed_at, 500ms);
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

TEST(asio_test, destroying_the_io_context_with_operations_pending_calls_no_handler) {
  auto p = connected_pair();
  auto slow = throttled_pair(1000, 3000);
  // A listener whose backlog is full: a connect to it stays under way.
  repy_test::Fd full = repy_test::raw_listener(0, 0);
  const int full_port = repy_test::local_port(full.get());
  repy_test::Fd filler(::socket(AF_INET6, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  const sockaddr_in6 to = repy_test::loopback_address(full_port);
  ::connect(filler.get(), reinterpret_cast<const sockaddr*>(&to), sizeof to);
  ASSERT_TRUE(repy_test::poll_fd(filler.get(), POLLOUT));
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

TEST(asio_test, one_reactor_registration_serves_every_operation_on_a_socket) {
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
