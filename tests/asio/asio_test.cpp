// <repy/asio.hpp>, SPEC section 8's Asio rules on completion, one test each: the result
// or the plain call's Repy exception (callbacks, use_awaitable, use_future), never
// inside the initiating call, through the associated executor, exactly once. The rules
// on waiting are in asio_waits_test.cpp.
#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <future>
#include <repy/asio.hpp>
#include <string>
#include <thread>
#include <vector>

#include "asio_support.hpp"
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

}  // namespace
