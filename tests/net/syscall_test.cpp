// Faults injected behind the system-call seam: EINTR is retried, EAGAIN is
// SocketWouldBlockError, and an errno nobody foresaw closes the socket and raises
// SocketClosedLocal naming the errno, releasing what the socket held.
#include <gtest/gtest.h>

#include <atomic>
#include <cerrno>
#include <string>

#include "net/sys.hpp"
#include "repy/repy.hpp"
#include "test_support.hpp"

namespace {

using namespace std::chrono_literals;
namespace sys = repy::detail::sys;

// Makes the next `count` calls of one seam entry fail with `err`, then restores it.
std::atomic<int> fail_count{0};
std::atomic<int> fail_errno{0};

ssize_t failing_recv(int fd, void* buf, size_t len, int flags) {
  if (fail_count.fetch_sub(1) > 0) {
    errno = fail_errno;
    return -1;
  }
  return ::recv(fd, buf, len, flags);
}
ssize_t failing_send(int fd, const void* buf, size_t len, int flags) {
  if (fail_count.fetch_sub(1) > 0) {
    errno = fail_errno;
    return -1;
  }
  return ::send(fd, buf, len, flags);
}
int failing_accept4(int fd, sockaddr* sa, socklen_t* len, int flags) {
  if (fail_count.fetch_sub(1) > 0) {
    errno = fail_errno;
    return -1;
  }
  return ::accept4(fd, sa, len, flags);
}
ssize_t failing_sendto(int fd, const void* buf, size_t len, int flags, const sockaddr* to,
                       socklen_t tolen) {
  if (fail_count.fetch_sub(1) > 0) {
    errno = fail_errno;
    return -1;
  }
  return ::sendto(fd, buf, len, flags, to, tolen);
}

struct Restore {
  ~Restore() {
    sys::recv = ::recv;
    sys::send = ::send;
    sys::accept4 = ::accept4;
    sys::sendto = ::sendto;
    fail_count = 0;
  }
};

void inject(int count, int err) {
  fail_errno = err;
  fail_count = count;
}

struct Pair {
  repy::Context context;
  repy::TCPServerSocket server;
  repy::TCPSocket client;
  repy::TCPSocket accepted;
};

Pair connected_pair() {
  Pair p;
  const int port = repy_test::free_port();
  const int client_port = repy_test::free_port();
  p.server = p.context.listenforconnection_ipv6("::1", port);
  p.client = p.context.openconnection_ipv6("::1", port, "::1", client_port, 5);
  EXPECT_TRUE(p.server.wait_readable(5s));
  p.accepted = p.server.getconnection().socket;
  return p;
}

TEST(syscall_test, eintr_on_recv_is_retried) {
  Restore restore;
  auto p = connected_pair();
  ASSERT_EQ(p.client.send("abc"), 3u);
  ASSERT_TRUE(p.accepted.wait_readable(5s));
  sys::recv = failing_recv;
  inject(3, EINTR);
  EXPECT_EQ(p.accepted.recv(10), "abc");
}

TEST(syscall_test, eintr_on_send_and_accept_is_retried) {
  Restore restore;
  auto p = connected_pair();
  sys::send = failing_send;
  inject(2, EINTR);
  EXPECT_EQ(p.client.send("xyz"), 3u);
  ASSERT_TRUE(p.accepted.wait_readable(5s));
  EXPECT_EQ(p.accepted.recv(10), "xyz");

  sys::accept4 = failing_accept4;
  auto second = p.context.openconnection_ipv6(
      "::1", repy_test::local_port(p.server.native_handle()), "::1", repy_test::free_port(), 5);
  ASSERT_TRUE(p.server.wait_readable(5s));
  inject(2, EINTR);
  EXPECT_NO_THROW(p.server.getconnection());
}

TEST(syscall_test, eagain_is_would_block_and_keeps_the_socket) {
  Restore restore;
  auto p = connected_pair();
  sys::send = failing_send;
  inject(1, EAGAIN);
  EXPECT_THROW(p.client.send("abc"), repy::SocketWouldBlockError);
  EXPECT_EQ(p.client.send("abc"), 3u);
}

TEST(syscall_test, unforeseen_errno_closes_the_socket_and_names_the_errno) {
  Restore restore;
  auto p = connected_pair();
  const double held = p.context.getresources().usage.at("outsockets");
  ASSERT_EQ(p.client.send("abc"), 3u);
  ASSERT_TRUE(p.accepted.wait_readable(5s));
  sys::recv = failing_recv;
  inject(1, EIO);
  try {
    p.accepted.recv(10);
    FAIL() << "no exception";
  } catch (const repy::SocketClosedLocal& e) {
    EXPECT_NE(std::string(e.what()).find("errno 5"), std::string::npos) << e.what();
  }
  EXPECT_THROW(p.accepted.recv(10), repy::SocketClosedLocal);
  EXPECT_FALSE(p.accepted.close());
  EXPECT_EQ(p.context.getresources().usage.at("outsockets"), held - 1);
}

TEST(syscall_test, a_reset_is_closed_remote) {
  Restore restore;
  auto p = connected_pair();
  sys::send = failing_send;
  inject(1, ECONNRESET);
  EXPECT_THROW(p.client.send("abc"), repy::SocketClosedRemote);
  // A reset leaves the socket to the program: its own first close() is still true.
  EXPECT_TRUE(p.client.close());
}

TEST(syscall_test, sendmessage_maps_unreachable_networks) {
  Restore restore;
  repy::Context context;
  sys::sendto = failing_sendto;
  for (int err : {ENETUNREACH, EHOSTUNREACH, ENETDOWN}) {
    inject(1, err);
    EXPECT_THROW(
        context.sendmessage_ipv6("::1", repy_test::free_port(), "x", "::1", repy_test::free_port()),
        repy::InternetConnectivityError)
        << err;
  }
  inject(1, EIO);
  try {
    context.sendmessage_ipv6("::1", repy_test::free_port(), "x", "::1", repy_test::free_port());
    FAIL() << "no exception";
  } catch (const repy::NetworkError& e) {
    EXPECT_NE(std::string(e.what()).find("errno 5"), std::string::npos) << e.what();
  }
}

}  // namespace
