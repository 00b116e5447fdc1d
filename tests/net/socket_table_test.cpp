// sockets_holding() against sockets the test opens itself with plain POSIX calls, in
// this process and in a child process, on the host stack.
#include "net/socket_table.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>

#include "core/access.hpp"
#include "core/fd.hpp"
#include "repy/stack.hpp"
#include "stack/stack_impl.hpp"
#include "test_support.hpp"

// The raw-socket helpers (free ports, bound sockets, deadline waits) are the shared
// ones of test_support.hpp.

namespace {

using boost::asio::ip::address_v6;
using boost::asio::ip::make_address_v6;
using repy::detail::SocketEntry;
using repy::detail::sockets_holding;
using repy_test::Fd;
using repy_test::local_port;
using namespace std::chrono_literals;

repy::detail::StackImpl& host() {
  // Stack::host() shares one implementation, so the reference outlives the handle.
  static repy::Stack stack = repy::Stack::host();
  return repy::detail::impl(stack);
}

const address_v6 loopback = address_v6::loopback();

std::vector<SocketEntry> holding(int protocol, const char* local, int port) {
  return sockets_holding(host(), protocol, make_address_v6(local), port);
}

/// The entry with this state and remote port, if the list has one.
std::optional<SocketEntry> find(const std::vector<SocketEntry>& entries, int state,
                                int remote_port = -1) {
  for (const auto& e : entries) {
    if (e.state == state && (remote_port < 0 || e.remote_port == remote_port)) return e;
  }
  return std::nullopt;
}

/// A raw socket of `type` bound to 127.0.0.1 on a port the kernel picks.
Fd ipv4_loopback_bound(int type) {
  Fd fd(::socket(AF_INET, type | SOCK_CLOEXEC, 0));
  if (!fd) throw std::runtime_error(repy_test::errno_text("socket(AF_INET)"));
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
    throw std::runtime_error(repy_test::errno_text("bind 127.0.0.1:0"));
  }
  return fd;
}

int ipv4_port(int fd) {
  sockaddr_in sa{};
  socklen_t len = sizeof sa;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len) != 0) {
    throw std::runtime_error(repy_test::errno_text("getsockname"));
  }
  return ntohs(sa.sin_port);
}

/// A raw IPv6 TCP listener on [::]:0; `v6only` sets IPV6_V6ONLY before the bind.
Fd wildcard_listener(bool v6only) {
  Fd fd(::socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) throw std::runtime_error(repy_test::errno_text("socket"));
  int flag = v6only ? 1 : 0;
  if (::setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &flag, sizeof flag) != 0) {
    throw std::runtime_error(repy_test::errno_text("setsockopt IPV6_V6ONLY"));
  }
  sockaddr_in6 sa{};
  sa.sin6_family = AF_INET6;
  sa.sin6_addr = in6addr_any;
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 ||
      ::listen(fd.get(), 4) != 0) {
    throw std::runtime_error(repy_test::errno_text("bind/listen [::]:0"));
  }
  return fd;
}

/// A connected TCP pair on ::1: listener, client end, accepted end.
struct RawPair {
  Fd listener;
  Fd client;
  Fd accepted;
  int server_port = 0;
  int client_port = 0;
};

RawPair raw_pair() {
  RawPair p;
  p.listener = repy_test::raw_listener();
  p.server_port = local_port(p.listener.get());
  p.client = Fd(::socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!p.client) throw std::runtime_error(repy_test::errno_text("socket"));
  sockaddr_in6 sa = repy_test::loopback_address(p.server_port);
  if (::connect(p.client.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
    throw std::runtime_error(repy_test::errno_text("connect"));
  }
  p.client_port = local_port(p.client.get());
  if (!repy_test::poll_fd(p.listener.get(), POLLIN)) throw std::runtime_error("no connection");
  p.accepted = Fd(::accept4(p.listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
  if (!p.accepted) throw std::runtime_error(repy_test::errno_text("accept"));
  return p;
}

/// A child process that binds a TCP listener on [::1]:0 (or, in a network namespace of
/// its own, on [::]:0, since that namespace's loopback is down), reports the port
/// through a pipe and keeps the socket until the parent closes the other pipe.
class ChildHolder {
 public:
  /// What the child reports instead of a port when it could not make its namespace.
  static constexpr std::int32_t no_netns = -1;

  explicit ChildHolder(bool own_netns = false) {
    int report[2], hold[2];
    if (::pipe2(report, O_CLOEXEC) != 0) throw std::runtime_error("pipe2");
    Fd report_read(report[0]), report_write(report[1]);
    if (::pipe2(hold, O_CLOEXEC) != 0) throw std::runtime_error("pipe2");
    Fd hold_read(hold[0]);
    hold_write_ = Fd(hold[1]);
    pid_ = ::fork();
    if (pid_ < 0) throw std::runtime_error(repy_test::errno_text("fork"));
    if (pid_ == 0) {
      // Only async-signal-safe calls from here: the parent may have other threads.
      hold_write_.reset();
      std::int32_t port = 0;
      if (own_netns && ::unshare(CLONE_NEWNET) != 0) {
        port = no_netns;
      } else {
        int fd = ::socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in6 sa{};
        sa.sin6_family = AF_INET6;
        sa.sin6_addr = own_netns ? in6addr_any : in6addr_loopback;
        socklen_t len = sizeof sa;
        if (fd >= 0 && ::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0 &&
            ::listen(fd, 1) == 0 &&
            ::getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len) == 0) {
          port = ntohs(sa.sin6_port);
        }
      }
      if (::write(report_write.get(), &port, sizeof port) != sizeof port) ::_exit(2);
      char byte;
      while (::read(hold_read.get(), &byte, 1) < 0 && errno == EINTR) {
      }
      ::_exit(0);
    }
    report_write.reset();
    if (!repy_test::poll_fd(report_read.get(), POLLIN, 10s)) {
      throw std::runtime_error("child did not report its port");
    }
    if (::read(report_read.get(), &port_, sizeof port_) != sizeof port_ || port_ == 0) {
      throw std::runtime_error("child could not bind a listener");
    }
  }
  ChildHolder(const ChildHolder&) = delete;
  ChildHolder& operator=(const ChildHolder&) = delete;
  ~ChildHolder() { release(); }

  /// The port of the child's listener, or no_netns.
  int port() const noexcept { return port_; }
  pid_t pid() const noexcept { return pid_; }

  /// Lets the child exit and reaps it; returns its exit status (-1 if unknown).
  int release() noexcept {
    if (pid_ <= 0) return -1;
    hold_write_.reset();
    int status = 0;
    pid_t r;
    do {
      r = ::waitpid(pid_, &status, 0);
    } while (r < 0 && errno == EINTR);
    pid_ = -1;
    return r > 0 && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

 private:
  pid_t pid_ = -1;
  Fd hold_write_;
  std::int32_t port_ = 0;
};

TEST(socket_table_test, tcp_listener_on_loopback_is_listen) {
  Fd listener = repy_test::raw_listener();
  const int port = local_port(listener.get());
  auto entries = holding(IPPROTO_TCP, "::1", port);
  auto entry = find(entries, TCP_LISTEN);
  ASSERT_TRUE(entry.has_value()) << "no listener on [::1]:" << port;
  EXPECT_EQ(entry->protocol, IPPROTO_TCP);
  EXPECT_EQ(entry->local, loopback);
  EXPECT_EQ(entry->local_port, port);
}

TEST(socket_table_test, established_connection_shows_its_remote_port) {
  RawPair p = raw_pair();
  auto client_side = holding(IPPROTO_TCP, "::1", p.client_port);
  auto entry = find(client_side, TCP_ESTABLISHED);
  ASSERT_TRUE(entry.has_value()) << "client end [::1]:" << p.client_port << " not found";
  EXPECT_EQ(entry->remote_port, p.server_port);
  EXPECT_EQ(entry->remote, loopback);

  // The server's port has both the listener and the accepted end.
  auto server_side = holding(IPPROTO_TCP, "::1", p.server_port);
  EXPECT_TRUE(find(server_side, TCP_LISTEN).has_value());
  auto accepted = find(server_side, TCP_ESTABLISHED, p.client_port);
  ASSERT_TRUE(accepted.has_value());
  EXPECT_EQ(accepted->local_port, p.server_port);
}

TEST(socket_table_test, active_closer_enters_time_wait) {
  RawPair p = raw_pair();
  p.client.reset();  // the active closer: FIN_WAIT, then TIME_WAIT once the peer closes
  p.accepted.reset();
  std::optional<SocketEntry> entry;
  const bool seen = repy_test::wait_until(
      [&] {
        entry = find(holding(IPPROTO_TCP, "::1", p.client_port), TCP_TIME_WAIT, p.server_port);
        return entry.has_value();
      },
      5s);
  ASSERT_TRUE(seen) << "[::1]:" << p.client_port << " -> " << p.server_port
                    << " never showed TIME_WAIT";
  EXPECT_EQ(entry->local, loopback);
  EXPECT_EQ(entry->remote, loopback);
}

TEST(socket_table_test, udp_socket_bound_to_loopback_is_found) {
  // A TCP socket of our own holds the port number first, so that no other process's
  // TCP socket can be on it; then a UDP socket takes the same number.
  Fd tcp = repy_test::raw_bound(SOCK_STREAM);
  const int port = local_port(tcp.get());
  Fd udp = repy_test::raw_bound(SOCK_DGRAM, port);
  auto entries = holding(IPPROTO_UDP, "::1", port);
  ASSERT_EQ(entries.size(), 1U);
  EXPECT_EQ(entries[0].protocol, IPPROTO_UDP);
  EXPECT_EQ(entries[0].local, loopback);
  EXPECT_EQ(entries[0].local_port, port);
  // The TCP table knows nothing of it: it shows our TCP socket alone.
  auto tcp_entries = holding(IPPROTO_TCP, "::1", port);
  ASSERT_EQ(tcp_entries.size(), 1U);
  EXPECT_EQ(tcp_entries[0].protocol, IPPROTO_TCP);
}

TEST(socket_table_test, ipv4_socket_is_reported_with_a_mapped_address) {
  Fd tcp = ipv4_loopback_bound(SOCK_STREAM);
  ASSERT_EQ(::listen(tcp.get(), 4), 0);
  const int port = ipv4_port(tcp.get());
  auto entries = holding(IPPROTO_TCP, "::ffff:127.0.0.1", port);
  auto entry = find(entries, TCP_LISTEN);
  ASSERT_TRUE(entry.has_value()) << "127.0.0.1:" << port << " not found";
  EXPECT_EQ(entry->local, make_address_v6("::ffff:127.0.0.1"));

  Fd udp = ipv4_loopback_bound(SOCK_DGRAM);
  const int udp_port = ipv4_port(udp.get());
  auto udp_entries = holding(IPPROTO_UDP, "::ffff:127.0.0.1", udp_port);
  ASSERT_EQ(udp_entries.size(), 1U);
  EXPECT_EQ(udp_entries[0].local, make_address_v6("::ffff:127.0.0.1"));
  // An IPv4 address is not ::1.
  EXPECT_TRUE(holding(IPPROTO_UDP, "::1", udp_port).empty());
}

TEST(socket_table_test, wildcard_bound_socket_matches_a_specific_query) {
  Fd listener = wildcard_listener(false);
  const int port = local_port(listener.get());
  auto entry = find(holding(IPPROTO_TCP, "::1", port), TCP_LISTEN);
  ASSERT_TRUE(entry.has_value()) << "[::]:" << port << " not found for ::1";
  EXPECT_TRUE(entry->local.is_unspecified());
  // A dual-stack wildcard also takes IPv4, seen as mapped addresses.
  EXPECT_TRUE(find(holding(IPPROTO_TCP, "::ffff:127.0.0.1", port), TCP_LISTEN).has_value());
}

TEST(socket_table_test, v6only_wildcard_does_not_hold_ipv4_addresses) {
  Fd listener = wildcard_listener(true);
  const int port = local_port(listener.get());
  EXPECT_TRUE(find(holding(IPPROTO_TCP, "::1", port), TCP_LISTEN).has_value());
  EXPECT_FALSE(find(holding(IPPROTO_TCP, "::ffff:127.0.0.1", port), TCP_LISTEN).has_value());
}

TEST(socket_table_test, wildcard_query_sees_specific_sockets) {
  // Binding [::]:port conflicts with [::1]:port, so the latter holds the former.
  Fd listener = repy_test::raw_listener();
  const int port = local_port(listener.get());
  auto entry = find(holding(IPPROTO_TCP, "::", port), TCP_LISTEN);
  ASSERT_TRUE(entry.has_value());
  EXPECT_EQ(entry->local, loopback);
}

TEST(socket_table_test, socket_of_another_process_is_found) {
  ChildHolder child;
  auto entry = find(holding(IPPROTO_TCP, "::1", child.port()), TCP_LISTEN);
  EXPECT_TRUE(entry.has_value()) << "the child's listener on [::1]:" << child.port()
                                 << " was not found";
  EXPECT_EQ(child.release(), 0);
  // Once the child is gone, so is its socket (a listener leaves no TIME_WAIT).
  EXPECT_FALSE(find(holding(IPPROTO_TCP, "::1", child.port()), TCP_LISTEN).has_value());
}

TEST(socket_table_test, unrelated_ports_are_not_returned) {
  Fd a = repy_test::raw_listener();
  Fd b = repy_test::raw_listener();
  Fd c = repy_test::raw_bound(SOCK_DGRAM);
  const int port_a = local_port(a.get());
  const int port_b = local_port(b.get());
  const int port_c = local_port(c.get());
  auto entries = holding(IPPROTO_TCP, "::1", port_a);
  ASSERT_FALSE(entries.empty());
  for (const auto& e : entries) {
    EXPECT_EQ(e.local_port, port_a);
    EXPECT_NE(e.local_port, port_b);
  }
  for (const auto& e : holding(IPPROTO_UDP, "::1", port_c)) EXPECT_EQ(e.local_port, port_c);
}

TEST(socket_table_test, unknown_protocol_or_port_gives_an_empty_list) {
  Fd listener = repy_test::raw_listener();
  const int port = local_port(listener.get());
  EXPECT_TRUE(sockets_holding(host(), IPPROTO_SCTP, loopback, port).empty());
  EXPECT_TRUE(sockets_holding(host(), IPPROTO_TCP, loopback, 0).empty());
  EXPECT_TRUE(sockets_holding(host(), IPPROTO_TCP, loopback, 70000).empty());
}

TEST(socket_table_test, long_tables_are_read_to_the_end) {
  // A few hundred sockets need several netlink reads; every one of them must be seen.
  std::vector<Fd> sockets;
  for (int i = 0; i < 300; ++i) sockets.push_back(repy_test::raw_bound(SOCK_DGRAM));
  for (std::size_t i : {std::size_t{0}, sockets.size() - 1}) {
    const int port = local_port(sockets[i].get());
    EXPECT_EQ(holding(IPPROTO_UDP, "::1", port).size(), 1U) << "port " << port;
  }
}

TEST(socket_table_test, table_is_that_of_the_stacks_namespace) {
  ChildHolder child(/*own_netns=*/true);
  if (child.port() == ChildHolder::no_netns) {
    GTEST_SKIP() << "unshare(CLONE_NEWNET) is not permitted here";
  }
  std::optional<repy::Stack> netns;
  try {
    netns = repy::Stack::netns("/proc/" + std::to_string(child.pid()) + "/ns/net");
  } catch (const std::exception& e) {
    GTEST_SKIP() << "cannot enter the child's network namespace: " << e.what();
  }
  // The child's wildcard listener is in its namespace's table, not in the host's.
  auto inside = sockets_holding(repy::detail::impl(*netns), IPPROTO_TCP, loopback, child.port());
  auto entry = find(inside, TCP_LISTEN);
  ASSERT_TRUE(entry.has_value()) << "[::]:" << child.port() << " not seen in the namespace";
  EXPECT_TRUE(entry->local.is_unspecified());
  for (const auto& e : holding(IPPROTO_TCP, "::1", child.port())) {
    EXPECT_FALSE(e.state == TCP_LISTEN && e.local.is_unspecified())
        << "the namespace's listener leaked into the host's table";
  }
  // And a host listener is not in the namespace's table.
  Fd host_listener = repy_test::raw_listener();
  const int host_port = local_port(host_listener.get());
  EXPECT_TRUE(find(holding(IPPROTO_TCP, "::1", host_port), TCP_LISTEN).has_value());
  EXPECT_TRUE(
      sockets_holding(repy::detail::impl(*netns), IPPROTO_TCP, loopback, host_port).empty());
}

/// A stack whose sockets cannot be made: the reader must give up quietly.
class BrokenStack : public repy::detail::StackImpl {
 public:
  std::string_view kind() const noexcept override { return "broken"; }
  int make_socket(int, int, int) noexcept override { return -EMFILE; }
  std::vector<repy::AddrInfo> resolve(std::string_view, std::string_view, int, int, int,
                                      int) override {
    return {};
  }
  std::vector<address_v6> interface_addresses(std::string_view) override { return {}; }
};

TEST(socket_table_test, stack_without_sockets_gives_an_empty_list) {
  Fd listener = repy_test::raw_listener();
  BrokenStack broken;
  EXPECT_TRUE(sockets_holding(broken, IPPROTO_TCP, loopback, local_port(listener.get())).empty());
}

/// Makes real host sockets but records what it was asked for.
class RecordingStack : public BrokenStack {
 public:
  int make_socket(int family, int type, int protocol) noexcept override {
    calls_.push_back({family, type, protocol});
    return host().make_socket(family, type, protocol);
  }
  struct Call {
    int family, type, protocol;
  };
  std::vector<Call> calls_;
};

TEST(socket_table_test, netlink_socket_is_made_by_the_stack) {
  Fd listener = repy_test::raw_listener();
  RecordingStack stack;
  auto entries = sockets_holding(stack, IPPROTO_TCP, loopback, local_port(listener.get()));
  EXPECT_TRUE(find(entries, TCP_LISTEN).has_value());
  ASSERT_FALSE(stack.calls_.empty());
  for (const auto& call : stack.calls_) {
    EXPECT_EQ(call.family, AF_NETLINK);
    EXPECT_EQ(call.type, SOCK_RAW);
    EXPECT_EQ(call.protocol, NETLINK_SOCK_DIAG);
  }
}

int open_fd_count() {
  int count = 0;
  for (int fd = 0; fd < 4096; ++fd) count += ::fcntl(fd, F_GETFD) != -1 ? 1 : 0;
  return count;
}

TEST(socket_table_test, reading_the_table_leaks_no_descriptor) {
  Fd listener = repy_test::raw_listener();
  const int port = local_port(listener.get());
  const int before = open_fd_count();
  for (int i = 0; i < 20; ++i) {
    (void)holding(IPPROTO_TCP, "::1", port);
    (void)holding(IPPROTO_UDP, "::1", port);
  }
  EXPECT_EQ(open_fd_count(), before);
}

}  // namespace
