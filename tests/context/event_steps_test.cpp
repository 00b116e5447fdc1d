// The steps for event loops that <repy/asio.hpp> is built on: a socket's watchers (made
// once per key, told closing() once, before the fd is closed), PendingConnection
// (openconnection in two halves, with the plain call's charges and holds),
// try_sendmessage and start_openconnection (nullopt while the nanny would wait, the
// argument and permission errors first), Context::rate_ready_at.
#include <fcntl.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include "repy/repy.hpp"
#include "test_support.hpp"

namespace {

using namespace std::chrono_literals;
using repy::Context;
using repy_test::context_with;
using repy_test::expect_throws;
using repy_test::free_ports;
using repy_test::local_port;

bool fd_is_open(int fd) { return ::fcntl(fd, F_GETFD) != -1; }

// Records closing(), and whether the socket's fd was still open then.
struct Recorder final : repy::SocketWatcher {
  explicit Recorder(int watched) : fd(watched) {}
  void closing() noexcept override {
    ++calls;
    fd_open_then = fd_is_open(fd);
  }
  bool detached() const noexcept override { return gone; }
  int fd;
  std::atomic<int> calls{0};
  std::atomic<bool> fd_open_then{false};
  bool gone = false;
};

TEST(event_steps_test, a_watcher_is_made_once_per_key_and_told_closing_before_the_fd_goes) {
  auto p = repy_test::connected_pair();
  int made = 0;
  std::shared_ptr<Recorder> recorder;
  const repy::WatcherFactory make = [&](int fd) {
    ++made;
    recorder = std::make_shared<Recorder>(fd);
    return recorder;
  };
  const int key = 0, other_key = 0;
  auto first = p.accepted.watcher(&key, make);
  EXPECT_EQ(recorder->fd, p.accepted.native_handle());
  EXPECT_EQ(p.accepted.watcher(&key, make), first);
  EXPECT_EQ(made, 1);
  auto second = p.accepted.watcher(&other_key, make);
  EXPECT_NE(second, first);
  EXPECT_EQ(made, 2);
  auto first_recorder = std::static_pointer_cast<Recorder>(first);
  // A watcher whose event loop is gone is replaced.
  first_recorder->gone = true;
  auto replaced = p.accepted.watcher(&key, make);
  EXPECT_NE(replaced, first);
  EXPECT_EQ(made, 3);
  std::thread([&] { EXPECT_TRUE(p.accepted.close()); }).join();
  EXPECT_FALSE(p.accepted.close());
  for (auto& w : {second, replaced}) {
    auto r = std::static_pointer_cast<Recorder>(w);
    EXPECT_EQ(r->calls, 1);
    EXPECT_TRUE(r->fd_open_then) << "closing() came after the fd was closed";
  }
  EXPECT_EQ(first_recorder->calls, 0) << "a replaced watcher is no longer the socket's";
  EXPECT_EQ(p.accepted.watcher(&key, make), nullptr);
  EXPECT_EQ(repy::TCPSocket().watcher(&key, make), nullptr);
  EXPECT_EQ(made, 3);
}

TEST(event_steps_test, the_listeners_have_watchers_too) {
  auto p = repy_test::connected_pair();
  auto udp = p.ctx.listenformessage_ipv6("::1", free_ports(1)[0]);
  std::shared_ptr<Recorder> recorder;
  const repy::WatcherFactory make = [&](int fd) {
    recorder = std::make_shared<Recorder>(fd);
    return recorder;
  };
  const int key = 0;
  ASSERT_NE(p.server.watcher(&key, make), nullptr);
  auto server_recorder = recorder;
  ASSERT_NE(udp.watcher(&key, make), nullptr);
  auto udp_recorder = recorder;
  p.server.close();
  udp.close();
  EXPECT_EQ(server_recorder->calls, 1);
  EXPECT_EQ(udp_recorder->calls, 1);
  EXPECT_TRUE(server_recorder->fd_open_then);
  EXPECT_TRUE(udp_recorder->fd_open_then);
}

TEST(event_steps_test, a_pending_connection_finishes_with_the_plain_charges_and_hold) {
  repy_test::Fd listener = repy_test::raw_listener();
  Context ctx;
  const auto before = repy_test::net_totals(ctx);
  auto pending =
      ctx.start_openconnection_ipv6("::1", local_port(listener.get()), "::1", free_ports(1)[0], 5);
  ASSERT_TRUE(pending);
  EXPECT_EQ(repy_test::usage(ctx, "outsockets"), 1.0);
  EXPECT_GT(pending->deadline(), std::chrono::steady_clock::now() + 4s);
  ASSERT_TRUE(repy_test::poll_fd(pending->native_handle(), POLLOUT));
  auto socket = pending->finish();
  ASSERT_TRUE(socket);
  EXPECT_EQ(pending->native_handle(), -1);
  const auto charged = repy_test::net_totals(ctx) - before;
  EXPECT_EQ(charged.loopsend, 128.0);
  EXPECT_EQ(charged.looprecv, 64.0);
  EXPECT_EQ(socket->send("x"), 1u);
  EXPECT_THROW(pending->finish(), repy::SocketClosedLocal);
  socket->close();
  EXPECT_EQ(repy_test::usage(ctx, "outsockets"), 0.0);
}

TEST(event_steps_test, a_failed_pending_connection_gives_back_the_outsocket_and_keeps_the_fd) {
  repy_test::Fd not_listening = repy_test::raw_bound(SOCK_STREAM);
  Context ctx;
  auto pending = ctx.start_openconnection_ipv6("::1", local_port(not_listening.get()), "::1",
                                               free_ports(1)[0], 5);
  ASSERT_TRUE(pending);
  const int fd = pending->native_handle();
  ASSERT_TRUE(repy_test::poll_fd(fd, POLLOUT));
  expect_throws<repy::ConnectionRefusedError>([&] { pending->finish(); }, "finish");
  EXPECT_EQ(repy_test::usage(ctx, "outsockets"), 0.0);
  EXPECT_TRUE(fd_is_open(fd)) << "the fd must stay until an event loop let go of it";
  EXPECT_THROW(pending->finish(), repy::SocketClosedLocal);
  pending.reset();
  EXPECT_FALSE(fd_is_open(fd));
}

TEST(event_steps_test, a_pending_connection_without_an_answer_is_not_done_until_its_deadline) {
  repy_test::SilentListener silent;
  Context ctx;
  auto pending = ctx.start_openconnection_ipv6("::1", silent.port, "::1", free_ports(1)[0], 0.2);
  ASSERT_TRUE(pending);
  EXPECT_EQ(pending->finish(), std::nullopt);
  EXPECT_FALSE(repy_test::poll_fd(pending->native_handle(), POLLOUT, 100ms));
  std::this_thread::sleep_until(pending->deadline());
  expect_throws<repy::TimeoutError>([&] { pending->finish(); }, "finish after the deadline");
  EXPECT_EQ(repy_test::usage(ctx, "outsockets"), 0.0);
}

TEST(event_steps_test, steps_say_not_now_while_the_nanny_would_wait_after_the_other_checks) {
  auto ports = free_ports(4);
  auto ctx = context_with({ports[0], ports[1]}, {ports[2], ports[3]}, {{"loopsend", "1000"}});
  auto udp = ctx.listenformessage_ipv6("::1", ports[2]);
  ASSERT_EQ(ctx.sendmessage_ipv6("::1", ports[2], std::string(2000, 'u'), "::1", ports[3]), 2000u);
  const auto ready = ctx.rate_ready_at(Context::RateCall::sendmessage, "::1");
  EXPECT_GT(ready, std::chrono::steady_clock::now() + 500ms);
  EXPECT_EQ(ctx.rate_ready_at(Context::RateCall::openconnection, "127.0.0.1"), ready);
  const auto before = repy_test::net_totals(ctx);
  EXPECT_EQ(ctx.try_sendmessage_ipv6("::1", ports[2], "x", "::1", ports[3]), std::nullopt);
  EXPECT_EQ(ctx.try_sendmessage("127.0.0.1", ports[2], "x", "127.0.0.1", ports[3]), std::nullopt);
  EXPECT_FALSE(ctx.start_openconnection_ipv6("::1", ports[0], "::1", ports[1], 1.0));
  EXPECT_FALSE(ctx.start_openconnection("127.0.0.1", ports[0], "127.0.0.1", ports[1], 1.0));
  EXPECT_EQ(repy_test::usage(ctx, "outsockets"), 0.0);
  EXPECT_EQ(repy_test::net_totals(ctx).loopsend, before.loopsend);
  // Sanity and permission come before the nanny, as in the plain calls.
  EXPECT_THROW(ctx.try_sendmessage_ipv6("::1", ports[2], "x", "::1", 1),
               repy::ResourceForbiddenError);
  EXPECT_THROW(ctx.start_openconnection_ipv6("::1", ports[0], "::1", ports[1], 0),
               repy::RepyArgumentError);
  EXPECT_THROW(ctx.rate_ready_at(Context::RateCall::sendmessage, "localhost"),
               repy::RepyArgumentError);
  auto never = context_with({}, {}, {{"netsend", "0"}});
  EXPECT_THROW(never.rate_ready_at(Context::RateCall::sendmessage, "2001:db8::1"),
               repy::ResourceExhaustedError);
  EXPECT_EQ(Context().rate_ready_at(Context::RateCall::openconnection, "::1"),
            std::chrono::steady_clock::time_point::min());
}

}  // namespace
