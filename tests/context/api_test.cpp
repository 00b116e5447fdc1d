// The free functions of SPEC section 2 run on default_context(), which reads
// REPY_RESTRICTIONS once per process. The environment cases run in a fresh copy of this
// test binary (fork + execve), because the parent's default context may already exist.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <repy/repy.hpp>
#include <string>
#include <vector>

#include "test_support.hpp"

extern char** environ;

namespace {

using namespace repy_test;
using namespace std::chrono_literals;

constexpr int kChildPassed = 42;  // exit code of a child whose checks all passed

/// Runs this test binary again with only `test_name` selected and REPY_RESTRICTIONS set
/// to `restrictions` (unset when null); returns its exit code, or -1 on a hang.
int run_child(const std::string& test_name, const char* restrictions) {
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string_view v(*e);
    if (v.starts_with("REPY_RESTRICTIONS=") || v.starts_with("REPY6_API_CHILD=")) continue;
    env.emplace_back(v);
  }
  env.emplace_back("REPY6_API_CHILD=1");
  if (restrictions != nullptr) env.push_back(std::string("REPY_RESTRICTIONS=") + restrictions);
  std::vector<char*> envp;
  for (auto& s : env) envp.push_back(s.data());
  envp.push_back(nullptr);

  std::string self = "/proc/self/exe";
  std::string filter = "--gtest_filter=api_child_test." + test_name;
  std::vector<char*> argv = {self.data(), filter.data(), nullptr};

  std::fflush(nullptr);
  pid_t pid = ::fork();
  if (pid < 0) return -2;
  if (pid == 0) {
    ::execve("/proc/self/exe", argv.data(), envp.data());
    ::_exit(127);
  }
  int status = 0;
  const auto deadline = clock_type::now() + 30s;
  while (true) {
    pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) break;
    if (clock_type::now() > deadline) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      return -1;
    }
    std::this_thread::sleep_for(5ms);
  }
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  return -3;
}

bool in_child() {
  const char* v = std::getenv("REPY6_API_CHILD");
  return v != nullptr && std::string_view(v) == "1";
}

/// Ends a child test: exit code kChildPassed only if every check passed, so a filter
/// that matched nothing (exit 0) cannot pass for success.
void finish_child() {
  std::fflush(nullptr);
  if (!::testing::Test::HasFailure()) std::_Exit(kChildPassed);
}

}  // namespace

// =====================================================================================
// In this process
// =====================================================================================

TEST(api_test, default_context_is_one_shared_object) {
  repy::Context& a = repy::default_context();
  repy::Context& b = repy::default_context();
  EXPECT_EQ(&a, &b);
}

TEST(api_test, default_context_is_unlimited_without_restrictions) {
  const char* env = std::getenv("REPY_RESTRICTIONS");
  if (env != nullptr && *env != '\0') GTEST_SKIP() << "REPY_RESTRICTIONS is set here";
  auto report = repy::getresources();
  for (const char* name :
       {"netsend", "netrecv", "loopsend", "looprecv", "insockets", "outsockets"}) {
    EXPECT_EQ(report.limits[name], std::numeric_limits<double>::infinity()) << name;
  }
  EXPECT_TRUE(report.any_port);
}

TEST(api_test, free_functions_run_on_the_default_context) {
  repy::Context& ctx = repy::default_context();
  auto ports = free_ports(4);
  Fd sink = raw_bound(SOCK_DGRAM);

  // sendmessage_ipv6 charges the default context exactly.
  auto t0 = net_totals(ctx);
  EXPECT_EQ(repy::sendmessage_ipv6("::1", local_port(sink.get()), "hello", "::1", ports[0]), 5u);
  auto d = net_totals(ctx) - t0;
  EXPECT_EQ(d.loopsend, 69);

  // getAddripv6
  t0 = net_totals(ctx);
  auto addrs = repy::getAddripv6("::1");
  ASSERT_FALSE(addrs.empty());
  EXPECT_EQ(addrs.front().ip, "::1");
  d = net_totals(ctx) - t0;
  EXPECT_EQ(d.netsend, 1024);
  EXPECT_EQ(d.netrecv, 4096);

  // getresources() is the default context's report.
  EXPECT_EQ(repy::getresources().totals, ctx.getresources().totals);

  // Listeners and connections hold the default context's sockets.
  const double in0 = ctx.getresources().usage["insockets"];
  const double out0 = ctx.getresources().usage["outsockets"];
  auto server = repy::listenforconnection_ipv6("::1", ports[1]);
  auto udp = repy::listenformessage_ipv6("::1", ports[2]);
  EXPECT_EQ(ctx.getresources().usage["insockets"], in0 + 2);
  // The free functions and the context share one registry.
  expect_throws<repy::AlreadyListeningError>([&] { ctx.listenforconnection_ipv6("::1", ports[1]); },
                                             "listener seen by context");
  auto client = repy::openconnection_ipv6("::1", ports[1], "::1", ports[3], 5.0);
  EXPECT_EQ(ctx.getresources().usage["outsockets"], out0 + 1);
  ASSERT_TRUE(server.wait_readable(5s));
  auto conn = server.getconnection();
  EXPECT_EQ(conn.ip, "::1");
  EXPECT_EQ(conn.port, ports[3]);
  EXPECT_EQ(client.send("ping"), 4u);
  EXPECT_EQ(recv_exactly(conn.socket, 4), "ping");
  repy::sendmessage_ipv6("::1", ports[2], "dgram", "::1", ports[0]);
  ASSERT_TRUE(udp.wait_readable(5s));
  EXPECT_EQ(udp.getmessage().message, "dgram");

  // getmyip_ipv6: an address or a connectivity error, nothing else.
  try {
    std::string ip = repy::getmyip_ipv6();
    in6_addr a{};
    EXPECT_EQ(::inet_pton(AF_INET6, ip.c_str(), &a), 1) << ip;
  } catch (const repy::InternetConnectivityError&) {
  }
}

TEST(api_test, free_functions_check_arguments) {
  const int p = free_port();
  expect_throws<repy::RepyArgumentError>([&] { repy::listenformessage_ipv6("::", p); },
                                         "listenformessage ::");
  expect_throws<repy::RepyArgumentError>(
      [&] { repy::openconnection_ipv6("::1", p, "::1", p, 1.0); }, "same endpoint");
  expect_throws<repy::RepyArgumentError>(
      [&] { repy::sendmessage_ipv6("::1", 70000, "x", "::1", p); }, "bad port");
  expect_throws<repy::RepyArgumentError>([&] { repy::listenforconnection_ipv6("localhost", p); },
                                         "host name");
  expect_throws<repy::NetworkAddressError>([&] { repy::getAddripv6("x.invalid"); }, "x.invalid");
}

// =====================================================================================
// REPY_RESTRICTIONS, each in a fresh process
// =====================================================================================

TEST(api_test, restrictions_file_applies_to_the_default_context) {
  EXPECT_EQ(run_child("twoports", REPY6_TEST_DATA "/twoports.txt"), kChildPassed);
}

TEST(api_test, bad_restrictions_file_is_parse_error) {
  EXPECT_EQ(run_child("bad_file", REPY6_TEST_DATA "/bad-unknown-resource.txt"), kChildPassed);
}

TEST(api_test, missing_restrictions_file_is_parse_error) {
  EXPECT_EQ(run_child("bad_file", REPY6_TEST_DATA "/no-such-file.txt"), kChildPassed);
}

TEST(api_test, empty_restrictions_variable_means_unlimited) {
  EXPECT_EQ(run_child("unlimited", ""), kChildPassed);
  EXPECT_EQ(run_child("unlimited", nullptr), kChildPassed);
}

// The child halves: they skip unless started by run_child.

TEST(api_child_test, twoports) {
  if (!in_child()) GTEST_SKIP() << "runs only in a child process started by api_test";
  auto report = repy::getresources();
  EXPECT_EQ(report.limits["loopsend"], 1000000);
  EXPECT_EQ(report.limits["netsend"], 10000);
  EXPECT_EQ(report.limits["insockets"], 5);
  EXPECT_EQ(report.limits["outsockets"], 5);
  EXPECT_EQ(report.limits["filesopened"], 5);
  EXPECT_FALSE(report.any_port);
  EXPECT_EQ(report.allowed_connports, (std::set<int>{12345, 12346}));
  EXPECT_EQ(report.allowed_messports, (std::set<int>{12345, 12346}));

  int forbidden = free_port();
  while (forbidden == 12345 || forbidden == 12346) forbidden = free_port();
  Fd dest = raw_listener();
  expect_throws<repy::ResourceForbiddenError>(
      [&] { repy::listenformessage_ipv6("::1", forbidden); }, "listenformessage");
  expect_throws<repy::ResourceForbiddenError>(
      [&] { repy::listenforconnection_ipv6("::1", forbidden); }, "listenforconnection");
  expect_throws<repy::ResourceForbiddenError>(
      [&] { repy::sendmessage_ipv6("::1", 12345, "x", "::1", forbidden); }, "sendmessage");
  expect_throws<repy::ResourceForbiddenError>(
      [&] { repy::openconnection_ipv6("::1", local_port(dest.get()), "::1", forbidden, 1.0); },
      "openconnection");
  // An allowed port works when nothing else on this machine holds it.
  bool free_here = true;
  try {
    raw_bound(SOCK_DGRAM, 12346);
  } catch (const std::exception&) {
    free_here = false;
  }
  if (free_here) {
    EXPECT_NO_THROW(repy::listenformessage_ipv6("::1", 12346).close());
  }
  finish_child();
}

TEST(api_child_test, bad_file) {
  if (!in_child()) GTEST_SKIP() << "runs only in a child process started by api_test";
  expect_throws<repy::ResourceParseError>([] { repy::default_context(); }, "default_context");
  expect_throws<repy::ResourceParseError>([] { repy::getresources(); }, "getresources");
  expect_throws<repy::ResourceParseError>([] { repy::listenformessage_ipv6("::1", free_port()); },
                                          "listenformessage");
  finish_child();
}

TEST(api_child_test, unlimited) {
  if (!in_child()) GTEST_SKIP() << "runs only in a child process started by api_test";
  auto report = repy::getresources();
  EXPECT_EQ(report.limits["loopsend"], std::numeric_limits<double>::infinity());
  EXPECT_EQ(report.limits["insockets"], std::numeric_limits<double>::infinity());
  EXPECT_TRUE(report.any_port);
  finish_child();
}
