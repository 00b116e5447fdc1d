// SPEC section 8: one io_context thread serves 10,000 connections of one context, all
// open at once. The server is the Asio echo example's loop (examples/asio_echo.hpp);
// the clients live in a child process, so that each process needs one fd per
// connection (about 10,100), not both ends' 20,000.
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <cerrno>
#include <chrono>
#include <string>
#include <vector>

#include "asio_echo.hpp"
#include "asio_support.hpp"
#include "test_support.hpp"

namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

constexpr int connections = 10000;
// Room for what the test process has open besides the connections.
constexpr rlim_t fds_needed = connections + 300;

/// Raises this process's fd limit toward `wanted` (up to the hard limit); true when it
/// reaches it.
bool raise_fd_limit(rlim_t wanted, std::string& why) {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) {
    why = repy_test::errno_text("getrlimit");
    return false;
  }
  if (limit.rlim_cur >= wanted) return true;
  limit.rlim_cur = std::min(wanted, limit.rlim_max);
  if (::setrlimit(RLIMIT_NOFILE, &limit) != 0) {
    why = repy_test::errno_text("setrlimit");
    return false;
  }
  if (limit.rlim_cur < wanted) {
    why = "RLIMIT_NOFILE's hard limit is " + std::to_string(limit.rlim_max) + ", below the " +
          std::to_string(wanted) + " descriptors the test needs";
    return false;
  }
  return true;
}

// The child: opens every connection before anything is sent (so all are open at once
// on the server), sends one line on each, reads every echo, resets them all. Plain system calls
// only, on memory set up before fork(). Exit status 0 when every echo came back.
[[noreturn]] void run_clients(int port, std::vector<int>& fds) {
  const sockaddr_in6 to = repy_test::loopback_address(port);
  for (int& fd : fds) {
    fd = ::socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || ::connect(fd, reinterpret_cast<const sockaddr*>(&to), sizeof to) != 0) _exit(2);
  }
  const char line[] = "echo me\n";
  for (int fd : fds) {
    if (::send(fd, line, sizeof line - 1, MSG_NOSIGNAL) != sizeof line - 1) _exit(3);
  }
  for (int fd : fds) {
    char got[sizeof line] = {};
    std::size_t have = 0;
    while (have < sizeof line - 1) {
      if (!repy_test::poll_fd(fd, POLLIN, 60s)) _exit(4);
      const ssize_t n = ::recv(fd, got + have, sizeof line - 1 - have, 0);
      if (n <= 0) _exit(5);
      have += static_cast<std::size_t>(n);
    }
    if (std::string_view(got, have) != std::string_view(line, sizeof line - 1)) _exit(6);
  }
  // A reset, not a FIN: 10,000 connections closed first from ephemeral ports would
  // leave as many TIME_WAIT entries on ::1 for a minute, for other tests to trip on.
  const linger abort{1, 0};
  for (int fd : fds) {
    ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &abort, sizeof abort);
    ::close(fd);
  }
  _exit(0);
}

TEST(asio_scale_test, one_io_context_thread_serves_10000_connections_of_one_context) {
  std::string why;
  if (!raise_fd_limit(fds_needed, why)) GTEST_SKIP() << why;
  repy::Context ctx;
  const int port = repy_test::free_port();
  auto server = ctx.listenforconnection_ipv6("::1", port);
  std::vector<int> client_fds(connections, -1);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0) << repy_test::errno_text("fork");
  if (child == 0) run_clients(port, client_fds);

  asio::io_context io(1);
  examples::asio_echo::Stats stats;
  bool idle = false;
  stats.idle = [&] { idle = true; };
  asio::co_spawn(io, examples::asio_echo::serve(server, stats, connections), asio::detached);
  const bool served = repy_test::run_until(
      io, [&] { return idle; }, 110s);
  int status = -1;
  if (!served) ::kill(child, SIGKILL);
  ::waitpid(child, &status, 0);
  ASSERT_TRUE(served) << "accepted " << stats.accepted << ", " << stats.open << " still open";
  ASSERT_TRUE(WIFEXITED(status)) << "the clients died";
  EXPECT_EQ(WEXITSTATUS(status), 0) << "a client failed (see run_clients for the step)";
  EXPECT_EQ(stats.accepted, static_cast<std::size_t>(connections));
  EXPECT_EQ(stats.peak, static_cast<std::size_t>(connections)) << "not all open at once";
  EXPECT_EQ(stats.failed, 0u);
  EXPECT_EQ(stats.echoed, static_cast<std::uint64_t>(connections) * 8);
  EXPECT_EQ(repy_test::usage(ctx, "outsockets"), 0.0);
}

}  // namespace
