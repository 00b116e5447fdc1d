// Netlink configuration through Stack: every call is checked by reading the kernel's
// state back (netlink or `ip`), inside namespaces the test builds and removes.
#include "stack/netlink.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <string>

#include "core/access.hpp"
#include "stack/stack_impl.hpp"
#include "stack_fixtures.hpp"

using namespace stack_fixtures;
using repy::NetworkError;
using repy::RepyArgumentError;
using repy::ResourceForbiddenError;
using repy::Stack;
using testing::HasSubstr;

namespace {

bool has_address(Stack& s, const std::string& ifname, const std::string& ip) {
  auto want = boost::asio::ip::make_address_v6(ip);
  for (const auto& a : repy::detail::impl(s).interface_addresses(ifname)) {
    if (a == want) return true;
  }
  return false;
}

// errno of connecting a UDP socket of `s` toward `ip` (0 when a route exists).
int route_errno(const Stack& s, const std::string& ip) {
  OwnedFd fd(s.socket(AF_INET6, SOCK_DGRAM));
  auto dst = v6(ip, 9);
  return ::connect(fd.get(), reinterpret_cast<sockaddr*>(&dst), sizeof dst) == 0 ? 0 : errno;
}

// A namespace holding a veth pair r6a/r6b, both up, and its Stack.
struct VethHost {
  Netns ns;
  std::optional<Stack> stack;
  int a = 0, b = 0;
  void build() {
    stack = Stack::netns(ns.name());
    stack->iplink_add("r6a", 0, "veth", "r6b");
    a = stack->if_nametoindex("r6a");
    b = stack->if_nametoindex("r6b");
    stack->linksetupdown(a, true);
    stack->linksetupdown(b, true);
  }
};

}  // namespace

TEST(netlink_test, loopback_is_index_one_and_unknown_names_fail) {
  Netns ns;
  REQUIRE_NETNS(ns);
  Stack s = Stack::netns(ns.name());
  EXPECT_EQ(s.if_nametoindex("lo"), 1);
  try {
    s.if_nametoindex("r6nothere");
    ADD_FAILURE() << "unknown interface has an index";
  } catch (const NetworkError& e) {
    EXPECT_THAT(e.what(), HasSubstr("r6nothere"));
  }
  EXPECT_THROW(s.if_nametoindex(""), RepyArgumentError);
  EXPECT_THROW(s.if_nametoindex("a/b"), RepyArgumentError);
  EXPECT_THROW(s.if_nametoindex("sixteen-chars-xx"), RepyArgumentError);
}

TEST(netlink_test, veth_pair_is_made_in_the_stack_only) {
  VethHost h;
  REQUIRE_NETNS(h.ns);
  h.build();
  EXPECT_GT(h.a, 1);
  EXPECT_GT(h.b, 1);
  EXPECT_NE(h.a, h.b);
  // The host and another namespace never saw the request.
  EXPECT_THROW(Stack::host().if_nametoindex("r6a"), NetworkError);
  Netns other;
  ASSERT_TRUE(other.ok());
  EXPECT_THROW(Stack::netns(other.name()).if_nametoindex("r6a"), NetworkError);
  // Deleting one end of a veth pair deletes both.
  h.stack->iplink_del("r6a");
  EXPECT_THROW(h.stack->if_nametoindex("r6a"), NetworkError);
  EXPECT_THROW(h.stack->if_nametoindex("r6b"), NetworkError);
}

TEST(netlink_test, other_link_types_and_deletion_by_index) {
  Netns ns;
  REQUIRE_NETNS(ns);
  Stack s = Stack::netns(ns.name());
  s.iplink_add("r6br", 0, "bridge");
  int br = s.if_nametoindex("r6br");
  EXPECT_GT(br, 0);
  EXPECT_THAT(capture(fmt::format("ip -n {} -d -o link show r6br", ns.name())),
              HasSubstr("bridge"));
  s.iplink_del("", br);
  EXPECT_THROW(s.if_nametoindex("r6br"), NetworkError);
  // Asking for an index.
  s.iplink_add("r6br2", 4242, "bridge");
  EXPECT_EQ(s.if_nametoindex("r6br2"), 4242);
  try {
    s.iplink_add("r6x", 0, "nosuchlinktype");
    ADD_FAILURE() << "an unknown link type was created";
  } catch (const NetworkError& e) {
    EXPECT_THAT(e.what(), HasSubstr("nosuchlinktype"));
  }
  EXPECT_THROW(s.iplink_add("r6br2", 0, "bridge"), NetworkError);  // exists
  EXPECT_THROW(s.iplink_add("r6y", 0, ""), RepyArgumentError);
  EXPECT_THROW(s.iplink_add("r6v", 0, "veth", ""), RepyArgumentError);
  EXPECT_THROW(s.iplink_add("r6v", 0, "vlan", "r6br2"), RepyArgumentError);
  EXPECT_THROW(s.iplink_add("r6v", 0, "vlan", "r6br2:5000"), RepyArgumentError);
}

TEST(netlink_test, vlan_on_a_parent_link) {
  VethHost h;
  REQUIRE_NETNS(h.ns);
  h.build();
  try {
    h.stack->iplink_add("r6a.7", 0, "vlan", "r6a:7");
  } catch (const NetworkError& e) {
    GTEST_SKIP() << "this kernel has no 8021q support: " << e.what();
  }
  EXPECT_THAT(capture(fmt::format("ip -n {} -d -o link show r6a.7", h.ns.name())),
              HasSubstr("vlan protocol 802.1Q id 7"));
}

TEST(netlink_test, mac_address_round_trip) {
  VethHost h;
  REQUIRE_NETNS(h.ns);
  h.build();
  h.stack->linksetaddr(h.a, "02:12:34:56:78:9a");
  EXPECT_EQ(h.stack->linkgetaddr(h.a), "02:12:34:56:78:9a");
  h.stack->linksetaddr(h.a, "02-AB-CD-EF-00-01");
  EXPECT_EQ(h.stack->linkgetaddr(h.a), "02:ab:cd:ef:00:01");
  EXPECT_THROW(h.stack->linksetaddr(h.a, "02:12:34:56:78"), RepyArgumentError);
  EXPECT_THROW(h.stack->linksetaddr(h.a, "03:12:34:56:78:9a"), RepyArgumentError);
  EXPECT_THROW(h.stack->linksetaddr(0, "02:12:34:56:78:9a"), RepyArgumentError);
  EXPECT_EQ(h.stack->linkgetaddr(1), "00:00:00:00:00:00");  // loopback
}

TEST(netlink_test, mtu_and_up_down_are_applied) {
  VethHost h;
  REQUIRE_NETNS(h.ns);
  h.build();
  h.stack->linksetmtu(h.a, 1400);
  EXPECT_EQ(repy::detail::netlink::link_get_mtu(repy::detail::impl(*h.stack), h.a), 1400);
  EXPECT_THAT(capture(fmt::format("ip -n {} -o link show r6a", h.ns.name())),
              HasSubstr("mtu 1400"));
  EXPECT_THROW(h.stack->linksetmtu(h.a, 0), RepyArgumentError);
  h.stack->linksetupdown(h.a, false);
  EXPECT_THAT(capture(fmt::format("ip -n {} -o link show r6a", h.ns.name())),
              testing::Not(HasSubstr(",UP")));
  h.stack->linksetupdown(h.a, true);
  EXPECT_THAT(capture(fmt::format("ip -n {} -o link show r6a", h.ns.name())), HasSubstr(",UP"));
  try {
    h.stack->linksetupdown(98765, true);
    ADD_FAILURE() << "a missing link was set up";
  } catch (const NetworkError& e) {
    EXPECT_THAT(e.what(), HasSubstr("98765"));
  }
}

TEST(netlink_test, addresses_are_added_listed_and_deleted) {
  VethHost h;
  REQUIRE_NETNS(h.ns);
  h.build();
  h.stack->ipaddr_add(AF_INET6, "fc00:20::1", 64, h.a);
  h.stack->ipaddr_add(AF_INET, "10.20.0.1", 24, h.a);
  EXPECT_TRUE(has_address(*h.stack, "r6a", "fc00:20::1"));
  EXPECT_TRUE(has_address(*h.stack, "r6a", "::ffff:10.20.0.1"));
  EXPECT_FALSE(has_address(*h.stack, "r6b", "fc00:20::1"));
  // Link-local addresses carry their interface as scope.
  for (const auto& a : repy::detail::impl(*h.stack).interface_addresses("r6a")) {
    if (a.is_link_local()) {
      EXPECT_EQ(a.scope_id(), static_cast<unsigned long>(h.a));
    }
  }
  EXPECT_THROW(h.stack->ipaddr_add(AF_INET6, "fc00:20::1", 64, h.a), NetworkError);
  h.stack->ipaddr_del(AF_INET6, "fc00:20::1", 64, h.a);
  h.stack->ipaddr_del(AF_INET, "10.20.0.1", 24, h.a);
  EXPECT_FALSE(has_address(*h.stack, "r6a", "fc00:20::1"));
  EXPECT_FALSE(has_address(*h.stack, "r6a", "::ffff:10.20.0.1"));
  EXPECT_TRUE(repy::detail::impl(Stack::host()).interface_addresses("r6a").empty());
  EXPECT_THROW(h.stack->ipaddr_add(AF_INET6, "10.0.0.1", 64, h.a), RepyArgumentError);
  EXPECT_THROW(h.stack->ipaddr_add(AF_INET, "fc00::1", 24, h.a), RepyArgumentError);
  EXPECT_THROW(h.stack->ipaddr_add(AF_INET6, "fc00::1", 129, h.a), RepyArgumentError);
  EXPECT_THROW(h.stack->ipaddr_add(AF_INET6, "fc00::1", 64, 0), RepyArgumentError);
  EXPECT_THROW(h.stack->ipaddr_add(AF_UNIX, "fc00::1", 64, h.a), RepyArgumentError);
}

TEST(netlink_test, default_and_prefix_routes) {
  VethHost h;
  REQUIRE_NETNS(h.ns);
  h.build();
  h.stack->ipaddr_add(AF_INET6, "fc00:21::1", 64, h.a);
  EXPECT_EQ(route_errno(*h.stack, "2001:db8::1"), ENETUNREACH);
  h.stack->iproute_add(AF_INET6, "fc00:21::ff");  // default route
  EXPECT_EQ(route_errno(*h.stack, "2001:db8::1"), 0);
  EXPECT_THAT(capture(fmt::format("ip -n {} -6 route show default", h.ns.name())),
              HasSubstr("via fc00:21::ff"));
  h.stack->iproute_del(AF_INET6, "fc00:21::ff");
  EXPECT_EQ(route_errno(*h.stack, "2001:db8::1"), ENETUNREACH);
  h.stack->iproute_add(AF_INET6, "fc00:21::fe", "fd00:99::", 64, h.a);
  EXPECT_EQ(route_errno(*h.stack, "fd00:99::5"), 0);
  EXPECT_EQ(route_errno(*h.stack, "fd00:98::5"), ENETUNREACH);
  h.stack->iproute_add(AF_INET6, "", "fd00:97::", 64, h.b);  // on-link, no gateway
  EXPECT_EQ(route_errno(*h.stack, "fd00:97::5"), 0);
  EXPECT_THROW(h.stack->iproute_add(AF_INET6, "fc00:21::fe", "fd00:99::", 64, h.a),
               NetworkError);  // exists
  // Routes made by others (ip: protocol boot) can be deleted too, IPv4 ones as well.
  ASSERT_TRUE(h.ns.ip("addr add 10.21.0.1/24 dev r6a"));
  ASSERT_TRUE(h.ns.ip("route add 10.99.0.0/16 via 10.21.0.254"));
  h.stack->iproute_del(AF_INET, "10.21.0.254", "10.99.0.0", 16);
  EXPECT_EQ(capture(fmt::format("ip -n {} route show 10.99.0.0/16", h.ns.name())), "");
  ASSERT_TRUE(h.ns.ip("-6 route add fd00:96::/64 via fc00:21::fd"));
  h.stack->iproute_del(AF_INET6, "fc00:21::fd", "fd00:96::", 64);
  EXPECT_EQ(route_errno(*h.stack, "fd00:96::5"), ENETUNREACH);
  h.stack->iproute_add(AF_INET, "10.21.0.254");  // an IPv4 default route
  EXPECT_THAT(capture(fmt::format("ip -n {} route show default", h.ns.name())),
              HasSubstr("via 10.21.0.254"));
  EXPECT_THROW(h.stack->iproute_add(AF_INET6, ""), RepyArgumentError);
  EXPECT_THROW(h.stack->iproute_add(AF_INET6, "gw"), RepyArgumentError);
  EXPECT_THROW(h.stack->iproute_add(AF_INET6, "fc00:21::ff", "", 64), RepyArgumentError);
}

TEST(netlink_test, veth_between_two_namespaces_carries_traffic) {
  Netns left, right;
  REQUIRE_NETNS(left);
  ASSERT_TRUE(right.ok());
  Stack l = Stack::netns(left.name());
  Stack r = Stack::netns(right.name());
  l.iplink_add("r6l", 0, "veth", "r6r");
  ASSERT_TRUE(left.ip(fmt::format("link set r6r netns {}", right.name())));
  int li = l.if_nametoindex("r6l");
  int ri = r.if_nametoindex("r6r");
  l.linksetupdown(li, true);
  r.linksetupdown(ri, true);
  // Only vdestacks skip DAD: here an address is tentative for a moment, so wait (with
  // a deadline) until it can be bound.
  l.ipaddr_add(AF_INET6, "fc00:22::1", 64, li);
  r.ipaddr_add(AF_INET6, "fc00:22::2", 64, ri);
  auto bindable = [](const Stack& s, const std::string& ip) {
    auto end = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < end) {
      try {
        return udp_bound(s, ip);
      } catch (const std::runtime_error&) {
        ::poll(nullptr, 0, 50);
      }
    }
    return udp_bound(s, ip);
  };
  OwnedFd rx(bindable(r, "fc00:22::2"));
  OwnedFd tx(bindable(l, "fc00:22::1"));
  auto dst = v6("fc00:22::2", local_port(rx.get()));
  ASSERT_EQ(::sendto(tx.get(), "veth", 4, 0, reinterpret_cast<sockaddr*>(&dst), sizeof dst), 4);
  ASSERT_TRUE(wait_readable(rx.get()));
  char buf[16];
  EXPECT_EQ(::recv(rx.get(), buf, sizeof buf, 0), 4);
}

TEST(netlink_test, missing_privilege_is_resource_forbidden) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to drop privileges from";
  // A child without privileges asks the host's kernel for a change it must refuse.
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    if (::setresuid(65534, 65534, 65534) != 0) ::_exit(3);
    try {
      Stack::host().linksetmtu(1, 65536 - 1);
    } catch (const ResourceForbiddenError&) {
      ::_exit(0);
    } catch (...) {
      ::_exit(1);
    }
    ::_exit(2);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "1: another error, 2: no error, 3: setresuid";
}
