// Repy V2's IPv4 calls on a network namespace's stack (SPEC sections 7 and 9): the
// routing table, the addresses, the listeners and the resolver are the namespace's.
// Everything runs inside a namespace the test builds; nothing leaves it.
#include <gtest/gtest.h>

#include <string>

#include "repy/repy.hpp"
#include "stack_fixtures.hpp"
#include "test_support.hpp"

namespace {

using namespace std::chrono_literals;
using repy::Context;
using repy::Policy;
using repy::Stack;
using repy_test::net_totals;
using stack_fixtures::Netns;

/// A namespace with 192.0.2.1/24 on one end of a veth pair, both ends up.
bool give_ipv4_address(const Netns& ns) {
  return ns.ip("link add rv0 type veth peer name rv1") && ns.ip("link set rv0 up") &&
         ns.ip("link set rv1 up") && ns.ip("addr add 192.0.2.1/24 dev rv0");
}

}  // namespace

TEST(ipv4_stack_test, getmyip_asks_the_routing_table_of_the_stack) {
  Netns ns;
  REQUIRE_NETNS(ns);
  ASSERT_TRUE(give_ipv4_address(ns));
  Context inside(Policy::unlimited(), Stack::netns(ns.name()));
  // Only the /24 is routed: there is no way to the Internet of either family.
  EXPECT_THROW(inside.getmyip(), repy::InternetConnectivityError);
  EXPECT_THROW(inside.getmyip_ipv6(), repy::InternetConnectivityError);
  // A default route makes the address the answer; the gateway need not exist, since
  // connecting a UDP socket only asks the routing table.
  ASSERT_TRUE(ns.ip("route add default via 192.0.2.254 dev rv0"));
  EXPECT_EQ(inside.getmyip(), "192.0.2.1");
  EXPECT_THROW(inside.getmyip_ipv6(), repy::InternetConnectivityError);
}

TEST(ipv4_stack_test, calls_use_the_addresses_and_listeners_of_the_stack) {
  Netns ns;
  REQUIRE_NETNS(ns);
  ASSERT_TRUE(give_ipv4_address(ns));
  Context inside(Policy::unlimited(), Stack::netns(ns.name()));
  Context host;
  auto ports = repy_test::free_ports(2, repy_test::free_port_both_families);

  // 192.0.2.1 is not loopback: its traffic is charged to netsend / netrecv.
  auto udp = inside.listenformessage("192.0.2.1", ports[0]);
  auto t0 = net_totals(inside);
  EXPECT_EQ(inside.sendmessage("192.0.2.1", ports[0], "hello", "192.0.2.1", ports[1]), 5u);
  auto d = net_totals(inside) - t0;
  EXPECT_EQ(d.netsend, 69);
  EXPECT_EQ(d.loopsend, 0);
  ASSERT_TRUE(udp.wait_readable(5s));
  repy::Message m = udp.getmessage();
  EXPECT_EQ(m.ip, "192.0.2.1");
  EXPECT_EQ(m.port, ports[1]);
  // The host does not have the namespace's address.
  EXPECT_THROW(host.listenformessage("192.0.2.1", ports[0]), repy::AddressBindingError);

  // The namespace's 127.0.0.1 is its own: the same address and port on the host is
  // another listener.
  auto tcp_inside = inside.listenforconnection("127.0.0.1", ports[0]);
  auto tcp_host = host.listenforconnection("127.0.0.1", ports[0]);
  auto client = inside.openconnection("127.0.0.1", ports[0], "127.0.0.1", ports[1], 5.0);
  ASSERT_TRUE(tcp_inside.wait_readable(5s));
  repy::Connection c = tcp_inside.getconnection();
  EXPECT_EQ(c.ip, "127.0.0.1");
  EXPECT_EQ(c.port, ports[1]);
  EXPECT_THROW(tcp_host.getconnection(), repy::SocketWouldBlockError);
  EXPECT_THROW(inside.listenforconnection("127.0.0.1", ports[0]), repy::AlreadyListeningError);
}

TEST(ipv4_stack_test, gethostbyname_asks_the_resolver_of_the_stack_for_ipv4) {
  if (!stack_fixtures::have_dnsmasq()) GTEST_SKIP() << "/usr/sbin/dnsmasq is not installed";
  Netns ns;
  REQUIRE_NETNS(ns);
  stack_fixtures::Dnsmasq dns({"--host-record=v4.test,192.0.2.9", "--host-record=v6.test,fc00::6",
                               "--local=/test/", "--port=53", "--listen-address=127.0.0.1"},
                              ns.name());
  Stack stack = Stack::netns(ns.name());
  stack.iothdns_update("nameserver 127.0.0.1\noptions timeout:1 attempts:1\n");
  Context inside(Policy::unlimited(), stack);
  EXPECT_EQ(stack_fixtures::eventually([&] { return inside.gethostbyname("v4.test"); }),
            "192.0.2.9");
  ASSERT_TRUE(dns.running());
  // A name with only an IPv6 address has no answer here, and one under .test that the
  // server does not know does not resolve at all.
  EXPECT_THROW(inside.gethostbyname("v6.test"), repy::NetworkAddressError);
  EXPECT_THROW(inside.gethostbyname("nothing.test"), repy::NetworkAddressError);
  EXPECT_EQ(inside.getAddripv6("v6.test").front().ip, "fc00::6");
  // Literals and the names RFC 6761 reserves never reach the server.
  EXPECT_EQ(inside.gethostbyname("localhost"), "127.0.0.1");
  EXPECT_EQ(inside.gethostbyname("192.0.2.200"), "192.0.2.200");
}
