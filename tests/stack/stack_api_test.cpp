// The Repy API (repy::Context) running on non-host stacks: TCP and UDP echo across two
// vdestacks and across two network namespaces, with exact resource totals; addresses,
// routes and names belong to the context's own stack.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <ifaddrs.h>
#include <net/if.h>

#include <chrono>
#include <string>

#include "repy/context.hpp"
#include "repy/errors.hpp"
#include "repy/policy.hpp"
#include "repy/sockets.hpp"
#include "stack_fixtures.hpp"

using namespace stack_fixtures;
using repy::Context;
using repy::Policy;
using repy::Stack;
using testing::ElementsAre;

namespace {

// Calls `f` until it stops raising SocketWouldBlockError (which charges nothing), or
// the deadline passes.
template <class F>
auto when_ready(F f) {
  return retry_while<repy::SocketWouldBlockError>(f, std::chrono::seconds(10),
                                                  std::chrono::milliseconds(2));
}

// A port free on ip in `stack` right now (bind port 0 there, read it back).
int free_port(const Stack& stack, const std::string& ip, int type) {
  OwnedFd fd(stack.socket(AF_INET6, type));
  auto a = v6(ip, 0);
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return 0;
  return local_port(fd.get());
}

struct Totals {
  double netsend, netrecv;
};
Totals totals(const Context& c) {
  auto r = c.getresources();
  return {r.totals.at("netsend"), r.totals.at("netrecv")};
}

// TCP: client on (a, a_ip) connects to server on (b, b_ip), sends "hello", gets it
// echoed, closes. Checks data and both contexts' totals to the unit.
void tcp_echo(const Stack& a, const std::string& a_ip, const Stack& b, const std::string& b_ip) {
  Context client(Policy::unlimited(), a);
  Context server(Policy::unlimited(), b);
  int sport = free_port(b, b_ip, SOCK_STREAM);
  int cport = free_port(a, a_ip, SOCK_STREAM);
  ASSERT_GT(sport, 0);
  ASSERT_GT(cport, 0);
  auto listener = server.listenforconnection_ipv6(b_ip, sport);
  auto conn = client.openconnection_ipv6(b_ip, sport, a_ip, cport, 5.0);
  auto accepted = when_ready([&] { return listener.getconnection(); });
  EXPECT_EQ(accepted.ip, a_ip);
  EXPECT_EQ(accepted.port, cport);
  ASSERT_EQ(conn.send("hello"), 5u);
  std::string got;
  int server_recvs = 0;
  while (got.size() < 5) {
    got += when_ready([&] { return accepted.socket.recv(5 - got.size()); });
    ++server_recvs;
  }
  EXPECT_EQ(got, "hello");
  ASSERT_EQ(accepted.socket.send(got), 5u);
  std::string back;
  int client_recvs = 0;
  while (back.size() < 5) {
    back += when_ready([&] { return conn.recv(5 - back.size()); });
    ++client_recvs;
  }
  EXPECT_EQ(back, "hello");
  EXPECT_TRUE(conn.close());
  EXPECT_TRUE(accepted.socket.close());
  EXPECT_TRUE(listener.close());
  // Client: open 128/64, send 64+5 / 64, each recv 64 (+ the bytes) / 64, close 128/64.
  auto c = totals(client);
  EXPECT_EQ(c.netsend, 128 + 69 + 64.0 * client_recvs + 128);
  EXPECT_EQ(c.netrecv, 64 + 64 + 64.0 * client_recvs + 5 + 64);
  // Server: getconnection 64/128, recvs, send 64+5 / 64, close 128/64.
  auto s = totals(server);
  EXPECT_EQ(s.netsend, 64 + 64.0 * server_recvs + 69 + 128);
  EXPECT_EQ(s.netrecv, 128 + 64.0 * server_recvs + 5 + 64 + 64);
  // Nothing of it was loopback traffic.
  EXPECT_EQ(client.getresources().totals.at("loopsend"), 0);
}

// UDP: a message and its reply between two listening sockets.
void udp_echo(const Stack& a, const std::string& a_ip, const Stack& b, const std::string& b_ip) {
  Context ca(Policy::unlimited(), a);
  Context cb(Policy::unlimited(), b);
  int aport = free_port(a, a_ip, SOCK_DGRAM);
  int bport = free_port(b, b_ip, SOCK_DGRAM);
  auto la = ca.listenformessage_ipv6(a_ip, aport);
  auto lb = cb.listenformessage_ipv6(b_ip, bport);
  EXPECT_EQ(ca.sendmessage_ipv6(b_ip, bport, "ping", a_ip, aport), 4u);
  auto m = when_ready([&] { return lb.getmessage(); });
  EXPECT_EQ(m.message, "ping");
  EXPECT_EQ(m.ip, a_ip);
  EXPECT_EQ(m.port, aport);  // sent through the listening socket
  EXPECT_EQ(cb.sendmessage_ipv6(m.ip, m.port, "pong!", b_ip, bport), 5u);
  auto r = when_ready([&] { return la.getmessage(); });
  EXPECT_EQ(r.message, "pong!");
  EXPECT_EQ(r.port, bport);
  auto ta = totals(ca);
  auto tb = totals(cb);
  EXPECT_EQ(ta.netsend, 64 + 4);
  EXPECT_EQ(ta.netrecv, 64 + 5);
  EXPECT_EQ(tb.netsend, 64 + 5);
  EXPECT_EQ(tb.netrecv, 64 + 4);
}

// Two vdestacks on one ptp link, fc00:PREFIX::1 and ::2.
struct VdePair {
  TmpPath link;
  std::optional<Stack> a, b;
  void build(const std::string& prefix) {
    a.emplace("stack=vdestack,vnl=ptp://" + link.path() + ",eth,ip=" + prefix + "::1/64");
    b.emplace("stack=vdestack,vnl=ptp://" + link.path() + ",eth,ip=" + prefix + "::2/64");
  }
};

// Two namespaces joined by a veth pair, fc00:PREFIX::1 and ::2 (nodad).
struct NetnsPair {
  Netns left, right;
  std::optional<Stack> a, b;
  bool build(const std::string& prefix) {
    if (!left.ok() || !right.ok()) return false;
    a = Stack::netns(left.name());
    b = Stack::netns(right.name());
    a->iplink_add("r6l", 0, "veth", "r6r");
    if (!left.ip(fmt::format("link set r6r netns {}", right.name()))) return false;
    return left.ip("link set r6l up") && right.ip("link set r6r up") &&
           left.ip(fmt::format("addr add {}::1/64 dev r6l nodad", prefix)) &&
           right.ip(fmt::format("addr add {}::2/64 dev r6r nodad", prefix));
  }
};

// A non-loopback address of this host, as Repy text (IPv4 ones mapped), or "".
std::string some_host_only_address() {
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) return {};
  std::string out;
  for (ifaddrs* it = list; it != nullptr && out.empty(); it = it->ifa_next) {
    if (it->ifa_addr == nullptr || (it->ifa_flags & IFF_LOOPBACK)) continue;
    char text[INET6_ADDRSTRLEN] = {};
    if (it->ifa_addr->sa_family == AF_INET) {
      ::inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(it->ifa_addr)->sin_addr, text,
                  sizeof text);
      out = std::string("::ffff:") + text;
    } else if (it->ifa_addr->sa_family == AF_INET6) {
      const auto* s6 = reinterpret_cast<sockaddr_in6*>(it->ifa_addr);
      if (IN6_IS_ADDR_LINKLOCAL(&s6->sin6_addr)) continue;
      ::inet_ntop(AF_INET6, &s6->sin6_addr, text, sizeof text);
      out = text;
    }
  }
  ::freeifaddrs(list);
  return out;
}

}  // namespace

TEST(stack_api_test, tcp_echo_across_two_vdestacks) {
  REQUIRE_VDE();
  VdePair p;
  p.build("fc00:50");
  tcp_echo(*p.a, "fc00:50::1", *p.b, "fc00:50::2");
}

TEST(stack_api_test, udp_echo_across_two_vdestacks) {
  REQUIRE_VDE();
  VdePair p;
  p.build("fc00:51");
  udp_echo(*p.a, "fc00:51::1", *p.b, "fc00:51::2");
}

TEST(stack_api_test, tcp_echo_across_two_namespaces) {
  NetnsPair p;
  REQUIRE_NETNS(p.left);
  ASSERT_TRUE(p.build("fc00:52"));
  tcp_echo(*p.a, "fc00:52::1", *p.b, "fc00:52::2");
}

TEST(stack_api_test, udp_echo_across_two_namespaces) {
  NetnsPair p;
  REQUIRE_NETNS(p.left);
  ASSERT_TRUE(p.build("fc00:53"));
  udp_echo(*p.a, "fc00:53::1", *p.b, "fc00:53::2");
}

TEST(stack_api_test, an_address_only_the_host_has_is_not_bindable_in_a_stack) {
  REQUIRE_VDE();
  std::string host_ip = some_host_only_address();
  if (host_ip.empty()) GTEST_SKIP() << "this host has no address besides loopback";
  Stack s("vdestack");
  Context c(Policy::unlimited(), s);
  int port = free_port(s, "::1", SOCK_DGRAM);
  EXPECT_THROW(c.listenformessage_ipv6(host_ip, port), repy::AddressBindingError) << host_ip;
  EXPECT_THROW(c.listenforconnection_ipv6(host_ip, port), repy::AddressBindingError);
  EXPECT_THROW(c.sendmessage_ipv6("::1", port, "x", host_ip, port), repy::AddressBindingError);
  // The same address works on the host stack.
  Context h;
  int hport = free_port(Stack::host(), host_ip, SOCK_DGRAM);
  EXPECT_NO_THROW(h.listenformessage_ipv6(host_ip, hport).close());
}

TEST(stack_api_test, getmyip_needs_a_route_in_the_stack) {
  REQUIRE_VDE();
  TmpPath link;
  Stack no_route("stack=vdestack,vnl=ptp://" + link.path() + ",eth,ip=fc00:54::1/64");
  EXPECT_THROW(Context(Policy::unlimited(), no_route).getmyip_ipv6(),
               repy::InternetConnectivityError);
  // With a default route the answer is the stack's own address (finding it sends no
  // packet: a UDP connect only picks the route).
  TmpPath link2;
  Stack routed("stack=vdestack,vnl=ptp://" + link2.path() + ",eth,ip=fc00:55::1/64,gw=fc00:55::ff");
  EXPECT_EQ(Context(Policy::unlimited(), routed).getmyip_ipv6(), "fc00:55::1");
}

TEST(stack_api_test, getaddripv6_asks_the_stacks_resolver) {
  if (!have_dnsmasq()) GTEST_SKIP() << "/usr/sbin/dnsmasq is not installed";
  Netns ns;
  REQUIRE_NETNS(ns);
  Dnsmasq dns(
      {"--address=/name.test/fc00::5", "--local=/test/", "--port=53", "--listen-address=::1"},
      ns.name());
  Stack s = Stack::netns(ns.name());
  s.iothdns_update("nameserver ::1\noptions timeout:1 attempts:1\n");
  eventually([&] { return s.getaddrinfo("name.test", "", AF_INET6); });  // server is up
  Context c(Policy::unlimited(), s);
  auto found = c.getAddripv6("name.test");
  ASSERT_FALSE(found.empty());
  EXPECT_EQ(found.front().ip, "fc00::5");
  EXPECT_THROW(c.getAddripv6("missing.test"), repy::NetworkAddressError);
  auto t = c.getresources().totals;
  EXPECT_EQ(t.at("netsend"), 1024);  // one successful lookup
  EXPECT_EQ(t.at("netrecv"), 4096);
}

// `resource iface` + `resource nootherips 1`: the interface's addresses (read from the
// context's own stack) and loopback are the only local addresses allowed, and
// getmyip_ipv6 answers the interface's global address.
TEST(stack_api_test, nootherips_allows_only_the_named_interface_of_the_stack) {
  NetnsPair p;
  REQUIRE_NETNS(p.left);
  ASSERT_TRUE(p.build("fc00:56"));
  ASSERT_TRUE(p.left.ip("addr add fc00:57::9/128 dev lo"));
  const int port = free_port(*p.a, "fc00:56::1", SOCK_DGRAM);
  ASSERT_GT(port, 0);
  Context c(Policy::parse(fmt::format("resource iface r6l\n"
                                      "resource nootherips 1\n"
                                      "resource messport {}\n"
                                      "resource insockets 4\n"
                                      "resource netsend 1000000\n"
                                      "resource netrecv 1000000\n",
                                      port)),
            *p.a);
  EXPECT_EQ(c.getmyip_ipv6(), "fc00:56::1");
  EXPECT_NO_THROW(c.listenformessage_ipv6("fc00:56::1", port).close());
  EXPECT_NO_THROW(c.listenformessage_ipv6("::1", port).close());
  // On the stack, but not on the named interface.
  EXPECT_THROW(c.listenformessage_ipv6("fc00:57::9", port), repy::ResourceForbiddenError);
  // Only the host has this one; the policy refuses it before the stack is asked.
  EXPECT_THROW(c.listenformessage_ipv6("fc00:58::1", port), repy::ResourceForbiddenError);
}
