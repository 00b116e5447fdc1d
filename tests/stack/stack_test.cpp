// Stacks: construction, configuration strings and their errors, VDE stacks joined by
// ptp:// and hub:// links, isolation between stacks.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <atomic>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/access.hpp"
#include "stack/stack_impl.hpp"
#include "stack_fixtures.hpp"

using namespace stack_fixtures;
using repy::NetworkError;
using repy::RepyArgumentError;
using repy::Stack;
using testing::HasSubstr;

namespace {

// Sends one datagram from `from` (bound to from_ip) to to_ip on a socket of `to`, and
// returns what arrived ("" when nothing arrived within the deadline).
std::string udp_roundtrip(const Stack& from, const std::string& from_ip, const Stack& to,
                          const std::string& to_ip, const std::string& payload) {
  OwnedFd rx(udp_bound(to, to_ip));
  OwnedFd tx(udp_bound(from, from_ip));
  auto dst = v6(to_ip, local_port(rx.get()));
  if (::sendto(tx.get(), payload.data(), payload.size(), 0, reinterpret_cast<sockaddr*>(&dst),
               sizeof dst) < 0) {
    return fmt::format("sendto: {}", std::strerror(errno));
  }
  if (!wait_readable(rx.get())) return "";
  char buf[256];
  ssize_t n = ::recv(rx.get(), buf, sizeof buf, 0);
  return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : "";
}

}  // namespace

TEST(stack_test, kernel_is_the_host_stack) {
  EXPECT_TRUE(Stack("kernel") == Stack::host());
  EXPECT_TRUE(Stack("stack=kernel") == Stack::host());
  EXPECT_EQ(repy::detail::impl(Stack::host()).kind(), "host");
}

TEST(stack_test, unknown_stack_name_is_an_argument_error) {
  EXPECT_THAT(argument_error([] { Stack("picotcp"); }), HasSubstr("picotcp"));
  EXPECT_THAT(argument_error([] { Stack(""); }), HasSubstr("unknown stack"));
  EXPECT_THAT(argument_error([] { Stack("stack=lwip,eth"); }), HasSubstr("lwip"));
  EXPECT_THAT(argument_error([] { Stack("kernel", {"ptp:///tmp/x"}); }), HasSubstr("vdeurls"));
}

TEST(stack_test, unsupported_configuration_keys_are_named) {
  // Checked before any stack is made, so this needs no privilege.
  for (std::string key : {"dhcp", "dhcp6", "rd", "slaac", "auto", "auto4", "auto6"}) {
    auto msg = argument_error([&] { Stack("stack=vdestack,vnl=ptp:///tmp/none," + key); });
    EXPECT_THAT(msg, HasSubstr("'" + key + "'")) << key;
    EXPECT_THAT(msg, HasSubstr("not supported")) << key;
  }
  EXPECT_THAT(argument_error([] { Stack("stack=vdestack,frobnicate=1"); }),
              HasSubstr("unknown key 'frobnicate'"));
}

TEST(stack_test, malformed_configuration_values_are_argument_errors) {
  const char* bad[] = {
      "stack=vdestack,ip=fc00::1",             // no prefix length
      "stack=vdestack,ip=fc00::zz/64",         // not an address
      "stack=vdestack,ip=fc00::1/129",         // prefix too long
      "stack=vdestack,ip=10.0.0.1/33",         // IPv4 prefix too long
      "stack=vdestack,gw=",                    // empty value
      "stack=vdestack,gw=gateway",             // a name, not an address
      "stack=vdestack,dns=ns.example",         // a name, not an address
      "stack=vdestack,mac=00:11:22",           // short MAC
      "stack=vdestack,mac=01:00:5e:00:00:01",  // a group address
      "stack=vdestack,mac=00:11:22:33:44:gg",  // not hex
      "stack=vdestack,ifindex=zero",
      "stack=vdestack,iface=a/b",
      "stack=vdestack,eth=1",
      "stack=vdestack,vnl=",
      "stack=,eth",
      "stack=vdestack,domain=x.test",  // a domain without a server
  };
  for (const char* config : bad) {
    EXPECT_THAT(argument_error([&] { Stack{config}; }), HasSubstr("(got ")) << "config: " << config;
  }
}

TEST(stack_test, bad_vde_urls_are_clear_errors) {
  REQUIRE_VDE();
  EXPECT_THAT(argument_error([] { Stack("vdestack", {""}); }), HasSubstr("empty"));
  try {
    Stack("vdestack", {"nosuchplugin:///tmp/x"});
    ADD_FAILURE() << "an unknown VDE plugin made a stack";
  } catch (const NetworkError& e) {
    EXPECT_THAT(e.what(), HasSubstr("nosuchplugin:///tmp/x"));
  }
  try {
    Stack("vdestack", {"ptp:///nonexistent-dir-repy6/sock"});
    ADD_FAILURE() << "a ptp socket in a missing directory made a stack";
  } catch (const NetworkError& e) {
    EXPECT_THAT(e.what(), HasSubstr("ptp:///nonexistent-dir-repy6/sock"));
  }
}

TEST(stack_test, vdestack_without_urls_has_only_loopback_up) {
  REQUIRE_VDE();
  Stack s("vdestack");
  EXPECT_EQ(repy::detail::impl(s).kind(), "vdestack");
  EXPECT_EQ(s.if_nametoindex("lo"), 1);
  EXPECT_THROW(s.if_nametoindex("vde0"), NetworkError);
  // Loopback answers at once: a datagram to ::1 inside the stack arrives.
  EXPECT_EQ(udp_roundtrip(s, "::1", s, "::1", "ping"), "ping");
}

TEST(stack_test, two_vdestacks_on_a_ptp_link_talk) {
  REQUIRE_VDE();
  TmpPath link;
  Stack a("stack=vdestack,vnl=ptp://" + link.path() + ",eth,ip=fc00:6::1/64");
  Stack b("stack=vdestack,vnl=ptp://" + link.path() + ",eth,ip=fc00:6::2/64");
  EXPECT_EQ(udp_roundtrip(a, "fc00:6::1", b, "fc00:6::2", "hello over vde"), "hello over vde");
  EXPECT_EQ(udp_roundtrip(b, "fc00:6::2", a, "fc00:6::1", "and back"), "and back");
}

TEST(stack_test, vdestack_addresses_skip_duplicate_address_detection) {
  REQUIRE_VDE();
  TmpPath link;
  Stack a("vdestack", {"ptp://" + link.path()});
  int vde0 = a.if_nametoindex("vde0");
  a.linksetupdown(vde0, true);
  a.ipaddr_add(AF_INET6, "fc00:7::1", 64, vde0);
  // A tentative address (DAD running) cannot be bound; with nodad this works at once.
  EXPECT_NO_THROW(OwnedFd(udp_bound(a, "fc00:7::1")));
}

TEST(stack_test, three_vdestacks_share_a_hub) {
  REQUIRE_VDE();
  TmpPath hub;
  Stack a("stack=vdestack,vnl=hub://" + hub.path() + ",eth,ip=fc00:8::1/64");
  Stack b("stack=vdestack,vnl=vde://" + hub.path() + ",eth,ip=fc00:8::2/64");
  Stack c("stack=vdestack,vnl=vde://" + hub.path() + ",eth,ip=fc00:8::3/64");
  EXPECT_EQ(udp_roundtrip(b, "fc00:8::2", c, "fc00:8::3", "b to c"), "b to c");
  EXPECT_EQ(udp_roundtrip(c, "fc00:8::3", a, "fc00:8::1", "c to a"), "c to a");
  EXPECT_EQ(udp_roundtrip(a, "fc00:8::1", b, "fc00:8::2", "a to b"), "a to b");
}

TEST(stack_test, a_vdestack_gets_one_interface_per_url) {
  REQUIRE_VDE();
  TmpPath left, right;
  Stack middle("vdestack", {"ptp://" + left.path(), "ptp://" + right.path()});
  Stack l("stack=vdestack,vnl=ptp://" + left.path() + ",eth,ip=fc00:9::2/64");
  Stack r("stack=vdestack,vnl=ptp://" + right.path() + ",eth,ip=fc00:a::2/64");
  middle.iothconfig("iface=vde0,ip=fc00:9::1/64");
  middle.iothconfig("iface=vde1,ip=fc00:a::1/64");
  EXPECT_EQ(udp_roundtrip(middle, "fc00:9::1", l, "fc00:9::2", "left"), "left");
  EXPECT_EQ(udp_roundtrip(middle, "fc00:a::1", r, "fc00:a::2", "right"), "right");
  EXPECT_EQ(udp_roundtrip(r, "fc00:a::2", middle, "fc00:a::1", "from right"), "from right");
}

TEST(stack_test, a_stack_cannot_reach_an_address_only_another_stack_has) {
  REQUIRE_VDE();
  TmpPath ab, cd;
  Stack a("stack=vdestack,vnl=ptp://" + ab.path() + ",eth,ip=fc00:b::1/64");
  Stack b("stack=vdestack,vnl=ptp://" + ab.path() + ",eth,ip=fc00:b::2/64");
  Stack c("stack=vdestack,vnl=ptp://" + cd.path() + ",eth,ip=fc00:c::3/64");
  // a has no route to c's network: the kernel of a's stack says so at once.
  OwnedFd tx(a.socket(AF_INET6, SOCK_DGRAM));
  auto dst = v6("fc00:c::3", 9);
  EXPECT_EQ(::connect(tx.get(), reinterpret_cast<sockaddr*>(&dst), sizeof dst), -1);
  EXPECT_EQ(errno, ENETUNREACH);
  // c's address cannot be bound in a, nor a's in b: addresses belong to one stack.
  EXPECT_THROW(OwnedFd(udp_bound(a, "fc00:c::3")), std::runtime_error);
  EXPECT_THROW(OwnedFd(udp_bound(b, "fc00:b::1")), std::runtime_error);
  // Neither of them is an address of the host.
  EXPECT_THROW(OwnedFd(udp_bound(Stack::host(), "fc00:b::1")), std::runtime_error);
}

TEST(stack_test, configuration_string_sets_mac_address_and_default_route) {
  REQUIRE_VDE();
  TmpPath link;
  Stack a("stack=vdestack,vnl=ptp://" + link.path() +
          ",mac=02:00:00:00:12:34,ip=fc00:d::1/64,ip=10.9.0.1/24,gw=fc00:d::ff");
  int vde0 = a.if_nametoindex("vde0");
  EXPECT_EQ(a.linkgetaddr(vde0), "02:00:00:00:12:34");
  auto addrs = repy::detail::impl(a).interface_addresses("vde0");
  auto has = [&](const char* ip) {
    for (const auto& x : addrs) {
      if (x == boost::asio::ip::make_address_v6(ip)) return true;
    }
    return false;
  };
  EXPECT_TRUE(has("fc00:d::1"));
  EXPECT_TRUE(has("::ffff:10.9.0.1"));
  // The default route exists: connecting a UDP socket off-link picks fc00:d::1.
  OwnedFd s(a.socket(AF_INET6, SOCK_DGRAM));
  auto far = v6("2001:db8::1", 9);
  ASSERT_EQ(::connect(s.get(), reinterpret_cast<sockaddr*>(&far), sizeof far), 0)
      << std::strerror(errno);
  sockaddr_in6 me{};
  socklen_t len = sizeof me;
  ::getsockname(s.get(), reinterpret_cast<sockaddr*>(&me), &len);
  char text[INET6_ADDRSTRLEN];
  ::inet_ntop(AF_INET6, &me.sin6_addr, text, sizeof text);
  EXPECT_STREQ(text, "fc00:d::1");
}

TEST(stack_test, socket_returns_a_plain_fd_the_caller_owns) {
  int fd = Stack::host().socket(AF_INET6, SOCK_STREAM);
  ASSERT_GE(fd, 0);
  EXPECT_TRUE(::fcntl(fd, F_GETFD) & FD_CLOEXEC);
  EXPECT_EQ(::close(fd), 0);
  EXPECT_THROW(Stack::host().socket(12345, SOCK_STREAM), RepyArgumentError);
}

TEST(stack_test, netns_names_are_checked) {
  EXPECT_THROW(Stack::netns(""), RepyArgumentError);
  try {
    Stack::netns(unique_name("repy6-missing-"));
    ADD_FAILURE() << "a missing namespace opened";
  } catch (const NetworkError& e) {
    EXPECT_THAT(e.what(), HasSubstr("/run/netns/repy6-missing-"));
  }
  EXPECT_THROW(Stack::netns("/etc/hostname"), NetworkError);
}

TEST(stack_test, netns_stack_makes_sockets_in_the_namespace) {
  Netns ns;
  REQUIRE_NETNS(ns);
  // veth, not dummy: the dummy driver is not built into every kernel.
  ASSERT_TRUE(ns.ip("link add r6dummy type veth peer name r6peer"));
  ASSERT_TRUE(ns.ip("link set r6dummy up"));
  ASSERT_TRUE(ns.ip("link set r6peer up"));
  ASSERT_TRUE(ns.ip("addr add fc00:e::1/64 dev r6dummy nodad"));
  Stack s = Stack::netns(ns.name());
  EXPECT_EQ(repy::detail::impl(s).kind(), "netns");
  EXPECT_NO_THROW(OwnedFd(udp_bound(s, "fc00:e::1")));
  EXPECT_THROW(OwnedFd(udp_bound(Stack::host(), "fc00:e::1")), std::runtime_error);
  // The calling thread is back home afterwards: the host stack still has no r6dummy.
  EXPECT_THROW(Stack::host().if_nametoindex("r6dummy"), NetworkError);
  EXPECT_GT(s.if_nametoindex("r6dummy"), 0);
  // By path, too.
  Stack by_path = Stack::netns("/run/netns/" + ns.name());
  EXPECT_GT(by_path.if_nametoindex("r6dummy"), 0);
}

TEST(stack_test, sockets_made_concurrently_land_in_their_own_stack) {
  REQUIRE_VDE();
  Netns ns;
  REQUIRE_NETNS(ns);
  ASSERT_TRUE(ns.ip("link add r6c type veth peer name r6d"));
  ASSERT_TRUE(ns.ip("link set r6c up"));
  ASSERT_TRUE(ns.ip("link set r6d up"));
  ASSERT_TRUE(ns.ip("addr add fc00:61::1/64 dev r6c nodad"));
  TmpPath link;
  Stack vde("stack=vdestack,vnl=ptp://" + link.path() + ",eth,ip=fc00:60::1/64");
  Stack net = Stack::netns(ns.name());
  // Each thread alternates between the stacks; a socket made in the wrong one (a
  // vde_msocket answer taken by another thread, a thread left in the namespace)
  // cannot bind that stack's own address.
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 100; ++i) {
        try {
          // Threads asking for different kinds of socket at once get their own kind.
          int type = t % 2 == 0 ? SOCK_STREAM : SOCK_DGRAM;
          OwnedFd s(vde.socket(AF_INET6, type));
          int got = 0;
          socklen_t len = sizeof got;
          ::getsockopt(s.get(), SOL_SOCKET, SO_TYPE, &got, &len);
          if (got != type) ++wrong;
          OwnedFd a(udp_bound(vde, "fc00:60::1"));
          OwnedFd b(udp_bound(net, "fc00:61::1"));
          OwnedFd c(udp_bound(Stack::host(), "::1"));
        } catch (const std::exception&) {
          ++wrong;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_THROW(OwnedFd(udp_bound(Stack::host(), "fc00:61::1")), std::runtime_error);
}

TEST(stack_test, a_stack_lives_while_a_handle_does) {
  REQUIRE_VDE();
  TmpPath link;
  std::optional<Stack> first("stack=vdestack,vnl=ptp://" + link.path() + ",eth,ip=fc00:62::1/64");
  Stack copy = *first;
  EXPECT_TRUE(copy == *first);
  first.reset();
  EXPECT_NO_THROW(OwnedFd(udp_bound(copy, "fc00:62::1")));
  EXPECT_GT(copy.if_nametoindex("vde0"), 0);
}

TEST(stack_test, unprivileged_vdestack_gets_one_url_and_a_clear_error_for_more) {
  REQUIRE_VDE();
  TmpPath one, two;
  // A child without privileges: libvdestack's own interface still works (it makes a
  // user namespace), a second interface needs CAP_SYS_ADMIN and says so.
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    if (::setresgid(65534, 65534, 65534) != 0 || ::setresuid(65534, 65534, 65534) != 0) {
      ::_exit(10);
    }
    try {
      Stack s("vdestack", {"ptp://" + one.path()});
      if (s.if_nametoindex("vde0") <= 0) ::_exit(11);
    } catch (const repy::ResourceForbiddenError&) {
      ::_exit(20);  // no unprivileged user namespaces, or /dev/net/tun is root's only
    } catch (const std::exception&) {
      ::_exit(12);
    }
    try {
      Stack s("vdestack", {"ptp://" + one.path() + "b", "ptp://" + two.path()});
      ::_exit(13);
    } catch (const repy::ResourceForbiddenError& e) {
      ::_exit(std::string(e.what()).find("CAP_SYS_ADMIN") != std::string::npos ? 0 : 14);
    } catch (const std::exception&) {
      ::_exit(15);
    }
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ::unlink((one.path() + "b").c_str());
  ASSERT_TRUE(WIFEXITED(status));
  if (WEXITSTATUS(status) == 20)
    GTEST_SKIP() << "an unprivileged process cannot make a vdestack here (user "
                    "namespaces off or /dev/net/tun not open to it)";
  EXPECT_EQ(WEXITSTATUS(status), 0)
      << "10 setresuid, 11 no vde0, 12/15 other error, 13 no error, 14 message";
}
