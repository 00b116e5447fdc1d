// SPEC section 8, the synchronous part: try_* never block and never raise
// SocketWouldBlockError, wait_* know the nanny, timeouts take any duration, rate waits
// end with the socket, close() never waits.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <future>
#include <string>
#include <thread>

#include "repy/repy.hpp"
#include "test_support.hpp"

namespace {

using namespace std::chrono_literals;
using repy::detail::wait_nanoseconds;
using repy_test::connected_pair;
using repy_test::context_with;
using repy_test::free_ports;

// ---- timeouts of any duration

static_assert(wait_nanoseconds(500us) == 500'000);
static_assert(wait_nanoseconds(std::chrono::duration<double>(1.5)) == 1'500'000'000);
static_assert(wait_nanoseconds(std::chrono::duration<double, std::nano>(0.25)) == 1);  // up
static_assert(wait_nanoseconds(0s) == 0);
static_assert(wait_nanoseconds(-3s) == 0);
static_assert(wait_nanoseconds(std::chrono::hours::max()) == -1);
static_assert(wait_nanoseconds(std::chrono::duration<double>(1e300)) == -1);

TEST(polling_test, nan_timeout_polls_once) {
  EXPECT_EQ(wait_nanoseconds(std::chrono::duration<double>(std::nan(""))), 0);
}

TEST(polling_test, a_sub_millisecond_timeout_is_not_zero) {
  auto p = connected_pair();
  const auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(p.accepted.wait_readable(500us));
  EXPECT_GE(std::chrono::steady_clock::now() - start, 500us);
  EXPECT_FALSE(p.accepted.wait_readable(0s));
  EXPECT_FALSE(p.accepted.wait_readable(-1s));
}

TEST(polling_test, an_endless_timeout_waits_for_the_event) {
  auto p = connected_pair();
  auto sender = std::async(std::launch::async, [&] {
    std::this_thread::sleep_for(20ms);
    return p.client.send("late");
  });
  auto waited = std::async(std::launch::async,
                           [&] { return p.accepted.wait_readable(std::chrono::hours::max()); });
  ASSERT_EQ(waited.wait_for(5s), std::future_status::ready);
  EXPECT_TRUE(waited.get());
  EXPECT_EQ(sender.get(), 4u);
}

// ---- try_*: nullopt for "not now", every other error as the plain call

TEST(polling_test, try_calls_say_not_now_without_an_exception) {
  auto p = connected_pair();
  EXPECT_EQ(p.accepted.try_recv(10), std::nullopt);
  EXPECT_EQ(p.server.try_getconnection(), std::nullopt);
  auto ports = free_ports(1);
  auto udp = p.ctx.listenformessage_ipv6("::1", ports[0]);
  EXPECT_EQ(udp.try_getmessage(), std::nullopt);

  EXPECT_EQ(p.client.try_send("abc"), std::optional<std::size_t>(3));
  ASSERT_TRUE(p.accepted.wait_readable(5s));
  EXPECT_EQ(p.accepted.try_recv(10), std::optional<std::string>("abc"));
  p.ctx.sendmessage_ipv6("::1", ports[0], "dgram", "::1", free_ports(1)[0]);
  ASSERT_TRUE(udp.wait_readable(5s));
  auto message = udp.try_getmessage();
  ASSERT_TRUE(message);
  EXPECT_EQ(message->message, "dgram");
}

TEST(polling_test, try_send_says_not_now_when_the_buffer_is_full) {
  auto p = connected_pair();
  const std::string chunk(10000, 'x');
  int sends = 0;
  while (p.client.try_send(chunk)) ASSERT_LT(++sends, 10000) << "the buffer never filled";
  EXPECT_FALSE(p.client.wait_writable(0s));
  EXPECT_THROW(p.client.send(chunk), repy::SocketWouldBlockError);
}

TEST(polling_test, try_calls_raise_the_other_errors) {
  auto p = connected_pair();
  EXPECT_THROW(p.accepted.try_recv(0), repy::RepyArgumentError);
  p.client.close();
  ASSERT_TRUE(p.accepted.wait_readable(5s));
  EXPECT_THROW(p.accepted.try_recv(10), repy::SocketClosedRemote);
  EXPECT_THROW(p.client.try_send("x"), repy::SocketClosedLocal);
  p.server.close();
  EXPECT_THROW(p.server.try_getconnection(), repy::SocketClosedLocal);
  EXPECT_THROW(repy::TCPSocket().try_recv(1), repy::SocketClosedLocal);
}

TEST(polling_test, the_plain_calls_would_block_with_a_fixed_message_naming_the_call) {
  auto p = connected_pair();
  for (int i = 0; i < 2; ++i) {
    try {
      p.accepted.recv(10);
      FAIL() << "no exception";
    } catch (const repy::SocketWouldBlockError& e) {
      EXPECT_STREQ(e.what(), "TCPSocket.recv: no data has arrived yet");
    }
  }
  try {
    p.server.getconnection();
    FAIL() << "no exception";
  } catch (const repy::SocketWouldBlockError& e) {
    EXPECT_STREQ(e.what(), "TCPServerSocket.getconnection: no connection is pending");
  }
}

// ---- the nanny: try_* say "not now" and wait_* wait while a rate limit would

TEST(polling_test, try_calls_say_not_now_while_a_rate_limit_would_make_them_wait) {
  auto p = repy_test::throttled_pair(1000, 5000);  // about four seconds over the limit
  ASSERT_TRUE(repy_test::poll_fd(p.accepted.native_handle(), POLLIN));
  // Data is there, and the buffer has room: only the nanny says "not now".
  EXPECT_EQ(p.accepted.try_recv(10), std::nullopt);
  EXPECT_EQ(p.client.try_send("x"), std::nullopt);
  EXPECT_FALSE(p.accepted.wait_readable(50ms));
  EXPECT_FALSE(p.client.wait_writable(50ms));
}

TEST(polling_test, wait_then_try_never_spins_and_never_sleeps_inside_try) {
  auto p = repy_test::throttled_pair(20000, 30000);  // about half a second over the limit
  ASSERT_TRUE(p.accepted.wait_readable(10s));
  const auto start = std::chrono::steady_clock::now();
  auto data = p.accepted.try_recv(100);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 100ms);
  ASSERT_TRUE(data) << "wait_readable said yes, try_recv said not now";
  EXPECT_FALSE(data->empty());
}

TEST(polling_test, a_zero_limit_makes_waits_return_at_once_and_the_call_fail) {
  auto ports = free_ports(1);
  auto ctx = context_with({}, {ports[0]}, {{"looprecv", "0"}});
  auto udp = ctx.listenformessage_ipv6("::1", ports[0]);
  EXPECT_TRUE(udp.wait_readable(10s));
  EXPECT_THROW(udp.try_getmessage(), repy::ResourceExhaustedError);
  EXPECT_THROW(udp.getmessage(), repy::ResourceExhaustedError);
}

// ---- rate waits end with the socket; close() never waits

TEST(polling_test, close_wakes_a_call_sleeping_in_a_rate_wait) {
  auto p = repy_test::throttled_pair(1000, 20000);  // about twenty seconds over the limit
  auto sleeper = std::async(std::launch::async, [&] { return p.client.send("more"); });
  ASSERT_EQ(sleeper.wait_for(100ms), std::future_status::timeout) << "did not wait for the nanny";
  const auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(p.client.close());
  ASSERT_EQ(sleeper.wait_for(2s), std::future_status::ready) << "close() did not end the wait";
  EXPECT_THROW(sleeper.get(), repy::SocketClosedLocal);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
}

TEST(polling_test, close_never_waits_for_the_nanny_and_charges_afterwards) {
  auto p = repy_test::throttled_pair(1000, 20000);
  const double before = repy_test::total(p.ctx, "loopsend");
  auto closer = std::async(std::launch::async, [&] { return p.accepted.close(); });
  ASSERT_EQ(closer.wait_for(2s), std::future_status::ready) << "close() waited for the nanny";
  EXPECT_TRUE(closer.get());
  EXPECT_EQ(repy_test::total(p.ctx, "loopsend"), before + 128);
}

TEST(polling_test, close_ends_a_wait_readable_that_waits_for_the_nanny) {
  auto p = repy_test::throttled_pair(1000, 20000);
  auto waiter = std::async(std::launch::async, [&] { return p.accepted.wait_readable(60s); });
  ASSERT_EQ(waiter.wait_for(100ms), std::future_status::timeout);
  p.accepted.close();
  ASSERT_EQ(waiter.wait_for(2s), std::future_status::ready);
  EXPECT_TRUE(waiter.get());  // the next call answers SocketClosedLocal at once
  EXPECT_THROW(p.accepted.recv(1), repy::SocketClosedLocal);
}

}  // namespace
