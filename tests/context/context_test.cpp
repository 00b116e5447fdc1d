// Context, checked from the outside against SPEC sections 3-6: argument rules and their
// order, the policy's permissions, the six calls and their errors, and the nanny's
// exact charges and limits. Only the public API and raw POSIX sockets are used.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <atomic>
#include <cmath>
#include <cstdlib>
#include <functional>
#include <limits>
#include <new>
#include <repy/repy.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "test_support.hpp"

// ---- allocation tracking: lets a test prove that recv(1 << 30) does not allocate a
// buffer of that size. Every operator new of this test binary goes through here.
namespace {
std::atomic<bool> g_track_allocations{false};
std::atomic<std::size_t> g_largest_allocation{0};

void note_allocation(std::size_t n) noexcept {
  if (!g_track_allocations.load(std::memory_order_relaxed)) return;
  std::size_t seen = g_largest_allocation.load(std::memory_order_relaxed);
  while (n > seen && !g_largest_allocation.compare_exchange_weak(seen, n)) {
  }
}
}  // namespace

void* operator new(std::size_t n) {
  note_allocation(n);
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n) {
  note_allocation(n);
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }

namespace {

using namespace repy_test;
using namespace std::chrono_literals;
using repy::Context;

constexpr double inf = std::numeric_limits<double>::infinity();

/// A context that allows no port at all but is generous in everything else, so that a
/// call with valid arguments stops at the permission check (ResourceForbiddenError)
/// without touching the network, and a call with a bad argument stops before it.
Context no_ports_context() { return context_with({}, {}); }

/// Every place where a call takes an IP argument.
struct IpSite {
  std::string name;
  std::function<void(Context&, std::string_view)> call;
};

std::vector<IpSite> ip_sites(int a, int b) {
  return {
      {"sendmessage_ipv6 destip",
       [=](Context& c, std::string_view ip) { c.sendmessage_ipv6(ip, a, "x", "::1", b); }},
      {"sendmessage_ipv6 localip",
       [=](Context& c, std::string_view ip) { c.sendmessage_ipv6("::1", a, "x", ip, b); }},
      {"openconnection_ipv6 destip",
       [=](Context& c, std::string_view ip) { c.openconnection_ipv6(ip, a, "::1", b, 1.0); }},
      {"openconnection_ipv6 localip",
       [=](Context& c, std::string_view ip) { c.openconnection_ipv6("::1", a, ip, b, 1.0); }},
      {"listenforconnection_ipv6 localip",
       [=](Context& c, std::string_view ip) { c.listenforconnection_ipv6(ip, b); }},
      {"listenformessage_ipv6 localip",
       [=](Context& c, std::string_view ip) { c.listenformessage_ipv6(ip, b); }},
  };
}

/// Every place where a call takes a port argument.
struct PortSite {
  std::string name;
  std::function<void(Context&, int)> call;
};

std::vector<PortSite> port_sites(int a, int b) {
  return {
      {"sendmessage_ipv6 destport",
       [=](Context& c, int p) { c.sendmessage_ipv6("::1", p, "x", "::1", b); }},
      {"sendmessage_ipv6 localport",
       [=](Context& c, int p) { c.sendmessage_ipv6("::1", a, "x", "::1", p); }},
      {"openconnection_ipv6 destport",
       [=](Context& c, int p) { c.openconnection_ipv6("::1", p, "::1", b, 1.0); }},
      {"openconnection_ipv6 localport",
       [=](Context& c, int p) { c.openconnection_ipv6("::1", a, "::1", p, 1.0); }},
      {"listenforconnection_ipv6 localport",
       [=](Context& c, int p) { c.listenforconnection_ipv6("::1", p); }},
      {"listenformessage_ipv6 localport",
       [=](Context& c, int p) { c.listenformessage_ipv6("::1", p); }},
  };
}

/// A message about `site` ("call argument") names both the call and the argument.
void expect_names_call_and_argument(const std::string& what, const std::string& site) {
  if (what.empty()) return;  // the failure to throw was reported already
  const auto space = site.find(' ');
  const std::string call = site.substr(0, space);
  const std::string argument = site.substr(space + 1);
  EXPECT_NE(what.find(call), std::string::npos) << "message does not name the call: " << what;
  EXPECT_NE(what.find(argument), std::string::npos)
      << "message does not name the argument " << argument << ": " << what;
}

std::string printable(std::string_view s) {
  std::string out;
  for (char ch : s) {
    if (ch == '\0') {
      out += "\\0";
    } else {
      out += ch;
    }
  }
  return "'" + out + "'";
}

/// Receives one datagram on a raw UDP socket; returns (sender port, data).
std::pair<int, std::string> raw_recvfrom(int fd, std::chrono::milliseconds timeout = 5s) {
  if (!poll_fd(fd, POLLIN, timeout)) return {-1, {}};
  std::string buf(65536, '\0');
  sockaddr_in6 from{};
  socklen_t len = sizeof from;
  ssize_t n = ::recvfrom(fd, buf.data(), buf.size(), 0, reinterpret_cast<sockaddr*>(&from), &len);
  if (n < 0) return {-1, {}};
  buf.resize(static_cast<std::size_t>(n));
  return {ntohs(from.sin6_port), buf};
}

}  // namespace

// =====================================================================================
// Section 3: argument rules
// =====================================================================================

TEST(context_test, invalid_ips_are_argument_errors_everywhere) {
  auto ports = free_ports(2);
  Context ctx = no_ports_context();
  const std::vector<std::string> bad = {
      "",
      "::",
      "0:0:0:0:0:0:0:0",
      "ff02::1",
      "ff0e::1234",
      "1.2.3.4",
      "127.0.0.1",
      "localhost",
      "example",
      "::1 ",
      " ::1",
      "[::1]",
      "::1/128",
      "1::2::3",
      "12345::1",
      std::string("::1\0", 4),
      std::string("::\0"
                  "1",
                  4),
      std::string("fe80::1\0%lo", 11),
      "::ffff:0.1.2.3",
      "::ffff:0.0.0.0",
      "::ffff:224.0.0.1",
      "::ffff:255.255.255.255",
      "::1%lo",
      "::1%1",
      "2001:db8::1%lo",
      "fd00::1%1",
  };
  for (const auto& site : ip_sites(ports[0], ports[1])) {
    for (const auto& ip : bad) {
      const std::string where = site.name + " = " + printable(ip);
      std::string what = expect_throws<repy::RepyArgumentError>([&] { site.call(ctx, ip); }, where);
      // The message must name the offending value (checked where it is printable).
      if (!ip.empty() && ip.find('\0') == std::string::npos && !what.empty()) {
        EXPECT_NE(what.find(ip), std::string::npos)
            << where << ": message does not name the value: " << what;
      }
      expect_names_call_and_argument(what, site.name);
    }
  }
}

TEST(context_test, valid_ips_pass_the_argument_check) {
  // With no port allowed, a valid call stops at the permission check.
  auto ports = free_ports(2);
  Context ctx = no_ports_context();
  const std::vector<std::string> good = {
      "::1",
      "0:0::1",
      "0:0:0:0:0:0:0:1",
      "2001:db8::1",
      "fd00::1234",
      "fe80::1",
      "fe80::1%lo",
      "fe80::1%1",
      "::ffff:127.0.0.1",
      "::ffff:10.1.2.3",
      "::ffff:223.255.255.255",
  };
  for (const auto& site : ip_sites(ports[0], ports[1])) {
    for (const auto& ip : good) {
      expect_throws<repy::ResourceForbiddenError>([&] { site.call(ctx, ip); },
                                                  site.name + " = " + printable(ip));
    }
  }
}

TEST(context_test, link_local_zone_is_not_an_argument_error_when_binding) {
  // The host may well not have fe80::1 on lo; whatever binding it does, the zone
  // itself must have passed the argument check.
  auto ports = free_ports(2);
  Context ctx;
  expect_not_thrown<repy::RepyArgumentError>(
      [&] { ctx.listenformessage_ipv6("fe80::1%lo", ports[0]); }, "listenformessage");
  expect_not_thrown<repy::RepyArgumentError>(
      [&] { ctx.listenforconnection_ipv6("fe80::1%lo", ports[0]); }, "listenforconnection");
  expect_not_thrown<repy::RepyArgumentError>(
      [&] { ctx.listenformessage_ipv6("fe80::1%1", ports[1]); }, "listenformessage zone 1");
}

TEST(context_test, invalid_ports_are_argument_errors_everywhere) {
  auto ports = free_ports(2);
  Context ctx = no_ports_context();
  const std::vector<int> bad = {
      0, -1, 65536, 100000, std::numeric_limits<int>::min(), std::numeric_limits<int>::max()};
  for (const auto& site : port_sites(ports[0], ports[1])) {
    for (int port : bad) {
      const std::string where = site.name + " = " + std::to_string(port);
      std::string what =
          expect_throws<repy::RepyArgumentError>([&] { site.call(ctx, port); }, where);
      if (!what.empty()) {
        EXPECT_NE(what.find(std::to_string(port)), std::string::npos)
            << where << ": message does not name the value: " << what;
      }
      expect_names_call_and_argument(what, site.name);
    }
  }
}

TEST(context_test, edge_ports_pass_the_argument_check) {
  auto ports = free_ports(2);
  Context ctx = no_ports_context();
  for (const auto& site : port_sites(ports[0], ports[1])) {
    for (int port : {1, 65535}) {
      expect_throws<repy::ResourceForbiddenError>([&] { site.call(ctx, port); },
                                                  site.name + " = " + std::to_string(port));
    }
  }
}

TEST(context_test, invalid_timeouts_are_argument_errors) {
  auto ports = free_ports(2);
  Context ctx = no_ports_context();
  struct Case {
    double value;
    std::string shown;  // what the message must contain (case-insensitive)
  };
  const std::vector<Case> bad = {
      {0.0, "0"}, {-0.0, "0"}, {-1.0, "-1"}, {std::nan(""), "nan"}, {inf, "inf"}, {-inf, "inf"},
  };
  for (const auto& c : bad) {
    const std::string where = "timeout " + c.shown;
    std::string what = expect_throws<repy::RepyArgumentError>(
        [&] { ctx.openconnection_ipv6("::1", ports[0], "::1", ports[1], c.value); }, where);
    if (!what.empty()) {
      EXPECT_TRUE(contains_nocase(what, c.shown)) << where << ": " << what;
    }
  }
  for (double ok : {1e-3, 0.5, 30.0}) {
    expect_throws<repy::ResourceForbiddenError>(
        [&] { ctx.openconnection_ipv6("::1", ports[0], "::1", ports[1], ok); },
        "timeout " + std::to_string(ok));
  }
}

TEST(context_test, same_local_and_remote_endpoint_is_argument_error) {
  const int p = free_port();
  const int q = free_port();
  Context ctx = no_ports_context();
  const std::vector<std::pair<std::string, std::string>> same = {
      {"::1", "::1"},
      {"::1", "0:0::1"},
      {"0:0:0:0:0:0:0:1", "::0:1"},
      {"2001:db8::5", "2001:DB8:0::5"},
  };
  for (const auto& [dest, local] : same) {
    const std::string where = dest + " vs " + local;
    expect_throws<repy::RepyArgumentError>([&] { ctx.openconnection_ipv6(dest, p, local, p, 1.0); },
                                           "openconnection " + where);
    expect_throws<repy::RepyArgumentError>([&] { ctx.sendmessage_ipv6(dest, p, "x", local, p); },
                                           "sendmessage " + where);
  }
  // Same address, different ports, or same port, different addresses, are fine.
  expect_throws<repy::ResourceForbiddenError>(
      [&] { ctx.openconnection_ipv6("::1", p, "0:0::1", q, 1.0); }, "different ports");
  expect_throws<repy::ResourceForbiddenError>(
      [&] { ctx.openconnection_ipv6("2001:db8::5", p, "::1", p, 1.0); }, "different ips");
  expect_throws<repy::ResourceForbiddenError>(
      [&] { ctx.sendmessage_ipv6("::1", p, "x", "::1", q); }, "udp different ports");
}

TEST(context_test, udp_message_size_limit_is_9216_bytes) {
  auto ports = free_ports(2);
  Context ctx = no_ports_context();
  for (std::size_t n : {std::size_t{0}, std::size_t{1}, std::size_t{9216}}) {
    expect_throws<repy::ResourceForbiddenError>(
        [&] { ctx.sendmessage_ipv6("::1", ports[0], std::string(n, 'm'), "::1", ports[1]); },
        "message of " + std::to_string(n) + " bytes");
  }
  for (std::size_t n : {std::size_t{9217}, std::size_t{65536}}) {
    std::string what = expect_throws<repy::RepyArgumentError>(
        [&] { ctx.sendmessage_ipv6("::1", ports[0], std::string(n, 'm'), "::1", ports[1]); },
        "message of " + std::to_string(n) + " bytes");
    if (!what.empty()) {
      EXPECT_NE(what.find(std::to_string(n)), std::string::npos)
          << "message should name the length: " << what;
    }
  }
}

TEST(context_test, recv_zero_is_argument_error) {
  Pair p = connected_pair();
  std::string what = expect_throws<repy::RepyArgumentError>([&] { p.client.recv(0); }, "recv(0)");
  if (!what.empty()) {
    EXPECT_NE(what.find('0'), std::string::npos) << what;
  }
  // The socket is still usable after the rejected call.
  EXPECT_EQ(p.accepted.send("ok"), 2u);
  EXPECT_EQ(recv_exactly(p.client, 2), "ok");
}

// ---- order of checks ----------------------------------------------------------------

TEST(context_test, bad_argument_beats_forbidden_port) {
  auto ports = free_ports(2);
  Context ctx = no_ports_context();  // every port forbidden
  expect_throws<repy::RepyArgumentError>([&] { ctx.listenforconnection_ipv6("ff02::1", ports[0]); },
                                         "bad ip, forbidden port");
  expect_throws<repy::RepyArgumentError>(
      [&] { ctx.openconnection_ipv6("::1", ports[0], "::1", ports[1], -1.0); },
      "bad timeout, forbidden port");
  expect_throws<repy::RepyArgumentError>(
      [&] { ctx.sendmessage_ipv6("::1", ports[0], std::string(9217, 'x'), "::1", ports[1]); },
      "long message, forbidden port");
}

TEST(context_test, forbidden_port_beats_connection_failure) {
  // Nothing listens at the destination, so an unchecked connect would be refused.
  Fd not_listening = raw_bound(SOCK_STREAM);
  const int dest = local_port(not_listening.get());
  const int local = free_port();
  Context ctx = no_ports_context();
  expect_throws<repy::ResourceForbiddenError>(
      [&] { ctx.openconnection_ipv6("::1", dest, "::1", local, 1.0); }, "openconnection");
  // And a forbidden port beats AlreadyListeningError from the system.
  Fd listener = raw_listener();
  expect_throws<repy::ResourceForbiddenError>(
      [&] { ctx.listenforconnection_ipv6("::1", local_port(listener.get())); },
      "listen on a busy, forbidden port");
}

TEST(context_test, forbidden_port_beats_rate_wait) {
  auto ports = free_ports(2);
  // loopsend 0 would raise ResourceExhaustedError, but the port check comes first.
  Context ctx = context_with({}, {}, {{"loopsend", "0"}});
  expect_throws<repy::ResourceForbiddenError>(
      [&] { ctx.sendmessage_ipv6("::1", ports[0], "x", "::1", ports[1]); }, "sendmessage");
  // And a bad argument beats both.
  Context allowed = context_with({}, {ports[1]}, {{"loopsend", "0"}});
  expect_throws<repy::RepyArgumentError>(
      [&] { allowed.sendmessage_ipv6("::1", 0, "x", "::1", ports[1]); }, "bad destport");
}

// =====================================================================================
// Section 3: permission
// =====================================================================================

TEST(context_test, connport_and_messport_are_separate_sets) {
  auto ports = free_ports(3);
  const int tcp_only = ports[0], udp_only = ports[1], neither = ports[2];
  Context ctx = context_with({tcp_only}, {udp_only});

  auto tcp = ctx.listenforconnection_ipv6("::1", tcp_only);
  auto udp = ctx.listenformessage_ipv6("::1", udp_only);
  expect_throws<repy::ResourceForbiddenError>(
      [&] { ctx.listenforconnection_ipv6("::1", udp_only); }, "TCP on a messport");
  expect_throws<repy::ResourceForbiddenError>([&] { ctx.listenformessage_ipv6("::1", tcp_only); },
                                              "UDP on a connport");
  expect_throws<repy::ResourceForbiddenError>([&] { ctx.listenformessage_ipv6("::1", neither); },
                                              "UDP on no port");
  expect_throws<repy::ResourceForbiddenError>(
      [&] { ctx.sendmessage_ipv6("::1", udp_only, "x", "::1", tcp_only); }, "send from a connport");
  expect_throws<repy::ResourceForbiddenError>(
      [&] { ctx.openconnection_ipv6("::1", tcp_only, "::1", udp_only, 1.0); },
      "connect from a messport");
  // The destination port is not restricted: only the local one is.
  Fd sink = raw_bound(SOCK_DGRAM);
  EXPECT_EQ(ctx.sendmessage_ipv6("::1", local_port(sink.get()), "hey", "::1", udp_only), 3u);
  EXPECT_EQ(raw_recvfrom(sink.get()).second, "hey");

  auto report = ctx.getresources();
  EXPECT_FALSE(report.any_port);
  EXPECT_EQ(report.allowed_connports, std::set<int>{tcp_only});
  EXPECT_EQ(report.allowed_messports, std::set<int>{udp_only});
}

TEST(context_test, nootherips_allows_only_listed_ips_and_loopback) {
  const int p = free_port();
  const std::string extra =
      "resource ip 2001:db8:0:0::5\n"
      "resource nootherips 1\n";
  Context ctx = context_with({p}, {p}, {}, extra);

  // Not listed: forbidden before any binding.
  expect_throws<repy::ResourceForbiddenError>([&] { ctx.listenformessage_ipv6("2001:db8::6", p); },
                                              "unlisted ip, UDP");
  expect_throws<repy::ResourceForbiddenError>(
      [&] { ctx.listenforconnection_ipv6("2001:db8::6", p); }, "unlisted ip, TCP");
  expect_throws<repy::ResourceForbiddenError>(
      [&] { ctx.sendmessage_ipv6("::1", 9, "x", "2001:db8::6", p); }, "unlisted ip, send");
  // Listed (another spelling): allowed, so it fails later because the host lacks it.
  expect_throws<repy::AddressBindingError>([&] { ctx.listenformessage_ipv6("2001:db8::5", p); },
                                           "listed ip, UDP");
  expect_throws<repy::AddressBindingError>(
      [&] { ctx.listenforconnection_ipv6("2001:0db8::0:5", p); }, "listed ip, TCP");
  // Loopback is always allowed, whatever its spelling.
  auto udp = ctx.listenformessage_ipv6("0:0:0:0:0:0:0:1", p);
  auto tcp = ctx.listenforconnection_ipv6("::1", p);
  EXPECT_TRUE(udp.close());
  EXPECT_TRUE(tcp.close());
}

TEST(context_test, without_nootherips_any_local_ip_is_allowed) {
  const int p = free_port();
  Context ctx = context_with({p}, {p}, {}, "resource ip 2001:db8::5\n");
  // Allowed by the policy; the host does not have it.
  expect_throws<repy::AddressBindingError>([&] { ctx.listenformessage_ipv6("2001:db8::6", p); },
                                           "other ip");
}

// =====================================================================================
// Section 4: getAddripv6, getmyip_ipv6
// =====================================================================================

TEST(context_test, getaddripv6_literal_comes_back_unchanged) {
  Context ctx;
  auto before = net_totals(ctx);
  auto result = ctx.getAddripv6("::1");
  ASSERT_FALSE(result.empty());
  for (const auto& ai : result) {
    EXPECT_EQ(ai.ip, "::1");
    EXPECT_EQ(ai.family, AF_INET6);
  }
  auto d = net_totals(ctx) - before;
  EXPECT_EQ(d.netsend, 1024);
  EXPECT_EQ(d.netrecv, 4096);
  EXPECT_EQ(d.loopsend, 0);
  EXPECT_EQ(d.looprecv, 0);

  auto doc = ctx.getAddripv6("2001:db8::42");
  ASSERT_FALSE(doc.empty());
  for (const auto& ai : doc) EXPECT_EQ(ai.ip, "2001:db8::42");
}

TEST(context_test, localhost_names_answer_loopback) {
  Context ctx;
  for (const char* name : {"localhost", "foo.localhost", "a.b.localhost"}) {
    std::vector<repy::AddrInfo> result;
    try {
      result = ctx.getAddripv6(name);
    } catch (const std::exception& e) {
      ADD_FAILURE() << name << ": " << type_of(e) << ": " << e.what();
      continue;
    }
    ASSERT_FALSE(result.empty()) << name;
    for (const auto& ai : result) {
      EXPECT_EQ(ai.ip, "::1") << name;
      EXPECT_EQ(ai.family, AF_INET6) << name;
    }
  }
}

TEST(context_test, names_that_do_not_resolve_to_ipv6_are_address_errors) {
  Context ctx;
  for (const char* name : {"x.invalid", "a.b.invalid", "127.0.0.1"}) {
    auto o = run_with_deadline([ctx, name]() mutable { ctx.getAddripv6(name); }, 10s);
    ASSERT_TRUE(o.finished) << name << " did not return within 10 s";
    expect_throws<repy::NetworkAddressError>([&] { rethrow(o); }, name);
  }
  // An empty name is no name: an argument error or an address error, never a result.
  try {
    auto r = ctx.getAddripv6("");
    ADD_FAILURE() << "getAddripv6(\"\") returned " << r.size() << " results";
  } catch (const repy::RepyArgumentError&) {
  } catch (const repy::NetworkAddressError&) {
  }
}

TEST(context_test, getmyip_is_an_ipv6_address_or_connectivity_error) {
  Context ctx;
  auto before = net_totals(ctx);
  try {
    std::string ip = ctx.getmyip_ipv6();
    in6_addr a{};
    ASSERT_EQ(::inet_pton(AF_INET6, ip.c_str(), &a), 1) << "not IPv6 text: '" << ip << "'";
    EXPECT_FALSE(IN6_IS_ADDR_UNSPECIFIED(&a)) << ip;
    EXPECT_FALSE(IN6_IS_ADDR_MULTICAST(&a)) << ip;
    auto d = net_totals(ctx) - before;
    EXPECT_EQ(d.netsend, 256);
    EXPECT_EQ(d.netrecv, 128);
  } catch (const repy::InternetConnectivityError& e) {
    RecordProperty("getmyip", e.what());
  }
}

TEST(context_test, getmyip_with_an_iface_preference_answers_its_ipv6_addresses_only) {
  // lo has 127.0.0.1 too; an IPv6 call never answers it in mapped form.
  Context ctx(
      repy::Policy::parse("resource iface lo\n"
                          "resource netsend 1000000\n"
                          "resource netrecv 1000000\n"));
  EXPECT_EQ(ctx.getmyip_ipv6(), "::1");
}

TEST(context_test, getmyip_answers_the_first_bindable_preference) {
  Context ctx(repy::Policy::parse(
      policy_text({}, {}, {}, "resource ip 2001:db8::77\nresource ip 0:0::1\n")));
  EXPECT_EQ(ctx.getmyip_ipv6(), "::1");
}

// =====================================================================================
// Section 4: sendmessage_ipv6 / listenformessage_ipv6
// =====================================================================================

TEST(context_test, udp_round_trip_keeps_bytes_and_sender) {
  auto ports = free_ports(2);
  Context ctx;
  auto listener = ctx.listenformessage_ipv6("::1", ports[0]);
  std::string payload;
  for (int i = 0; i < 256; ++i) payload += static_cast<char>(i);
  EXPECT_EQ(ctx.sendmessage_ipv6("::1", ports[0], payload, "::1", ports[1]), payload.size());
  ASSERT_TRUE(listener.wait_readable(5s));
  repy::Message m = listener.getmessage();
  EXPECT_EQ(m.ip, "::1");
  EXPECT_EQ(m.port, ports[1]);
  EXPECT_EQ(m.message, payload);
  expect_throws<repy::SocketWouldBlockError>([&] { listener.getmessage(); }, "second getmessage");
}

TEST(context_test, udp_largest_message_round_trips) {
  auto ports = free_ports(2);
  Context ctx;
  auto listener = ctx.listenformessage_ipv6("::1", ports[0]);
  std::string payload(9216, '\0');
  for (std::size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<char>(i % 251);
  EXPECT_EQ(ctx.sendmessage_ipv6("0:0::1", ports[0], payload, "::1", ports[1]), 9216u);
  ASSERT_TRUE(listener.wait_readable(5s));
  repy::Message m = listener.getmessage();
  EXPECT_EQ(m.message, payload);
  EXPECT_EQ(m.port, ports[1]);
}

TEST(context_test, send_uses_the_contexts_own_listener) {
  auto ports = free_ports(1);
  const int a = ports[0];
  Fd peer = raw_bound(SOCK_DGRAM);
  const int peer_port = local_port(peer.get());
  Context ctx;
  auto listener = ctx.listenformessage_ipv6("::1", a);

  // Through the listener: no DuplicateTupleError, and the datagram comes from port a
  // (also when the local IP is spelled differently).
  EXPECT_EQ(ctx.sendmessage_ipv6("::1", peer_port, "ping", "::1", a), 4u);
  auto [from1, data1] = raw_recvfrom(peer.get());
  EXPECT_EQ(from1, a);
  EXPECT_EQ(data1, "ping");
  EXPECT_EQ(ctx.sendmessage_ipv6("::1", peer_port, "pong", "0:0::1", a), 4u);
  auto [from2, data2] = raw_recvfrom(peer.get());
  EXPECT_EQ(from2, a);
  EXPECT_EQ(data2, "pong");

  // A reply to the sending port reaches the listener.
  sockaddr_in6 to = loopback_address(a);
  ASSERT_EQ(::sendto(peer.get(), "reply", 5, 0, reinterpret_cast<sockaddr*>(&to), sizeof to), 5);
  ASSERT_TRUE(listener.wait_readable(5s));
  auto reply = listener.getmessage();
  EXPECT_EQ(reply.message, "reply");
  EXPECT_EQ(reply.port, peer_port);

  // Once the listener is closed, the next send makes its own socket on the same port.
  EXPECT_TRUE(listener.close());
  EXPECT_EQ(ctx.sendmessage_ipv6("::1", peer_port, "again", "::1", a), 5u);
  auto [from3, data3] = raw_recvfrom(peer.get());
  EXPECT_EQ(from3, a);
  EXPECT_EQ(data3, "again");
  // The port is really free again: a raw socket can bind it.
  EXPECT_NO_THROW(raw_bound(SOCK_DGRAM, a));
}

TEST(context_test, address_not_on_host_is_address_binding_error) {
  auto ports = free_ports(2);
  Fd peer = raw_bound(SOCK_DGRAM);
  const int peer_port = local_port(peer.get());
  Context ctx;
  expect_throws<repy::AddressBindingError>(
      [&] { ctx.sendmessage_ipv6("::1", peer_port, "x", "2001:db8::1", ports[0]); }, "sendmessage");
  expect_throws<repy::AddressBindingError>(
      [&] { ctx.listenformessage_ipv6("2001:db8::1", ports[0]); }, "listenformessage");
  expect_throws<repy::AddressBindingError>(
      [&] { ctx.listenforconnection_ipv6("2001:db8::1", ports[0]); }, "listenforconnection");
  Fd listener = raw_listener();
  expect_throws<repy::AddressBindingError>(
      [&] {
        ctx.openconnection_ipv6("::1", local_port(listener.get()), "2001:db8::1", ports[1], 2.0);
      },
      "openconnection");
  // Nothing reached the peer: the bind failed before anything was sent.
  EXPECT_FALSE(poll_fd(peer.get(), POLLIN, 50ms));
  auto report = ctx.getresources();
  EXPECT_EQ(report.usage["insockets"], 0);
  EXPECT_EQ(report.usage["outsockets"], 0);
}

TEST(context_test, send_from_a_port_held_elsewhere_is_duplicate_tuple) {
  auto ports = free_ports(2);
  Fd holder = raw_bound(SOCK_DGRAM, ports[1]);
  Fd peer = raw_bound(SOCK_DGRAM);
  Context ctx;
  expect_throws<repy::DuplicateTupleError>(
      [&] { ctx.sendmessage_ipv6("::1", local_port(peer.get()), "x", "::1", ports[1]); },
      "raw socket holds the local port");

  // Another context's listener is "elsewhere" too.
  Context other;
  auto their = other.listenformessage_ipv6("::1", ports[0]);
  expect_throws<repy::DuplicateTupleError>(
      [&] { ctx.sendmessage_ipv6("::1", local_port(peer.get()), "x", "::1", ports[0]); },
      "another context listens on the local port");
}

TEST(context_test, second_udp_listener_is_already_listening) {
  auto ports = free_ports(2);
  Context ctx;
  auto first = ctx.listenformessage_ipv6("::1", ports[0]);
  expect_throws<repy::AlreadyListeningError>([&] { ctx.listenformessage_ipv6("0:0::1", ports[0]); },
                                             "same context");
  Context other;
  expect_throws<repy::AlreadyListeningError>([&] { other.listenformessage_ipv6("::1", ports[0]); },
                                             "second context");
  // A raw UDP socket of this process holding the address: it is a message listener in
  // all but name; either member of the EADDRINUSE family is acceptable, nothing else.
  Fd holder = raw_bound(SOCK_DGRAM, ports[1]);
  try {
    ctx.listenformessage_ipv6("::1", ports[1]);
    ADD_FAILURE() << "listen on a port held by a raw UDP socket succeeded";
  } catch (const repy::AlreadyListeningError&) {
  } catch (const repy::DuplicateTupleError&) {
  }
  // After close, the same context can listen there again.
  EXPECT_TRUE(first.close());
  EXPECT_NO_THROW(ctx.listenformessage_ipv6("::1", ports[0]).close());
}

TEST(context_test, udp_and_tcp_listeners_on_one_port_coexist) {
  const int p = free_port();
  Context ctx;
  auto tcp = ctx.listenforconnection_ipv6("::1", p);
  auto udp = ctx.listenformessage_ipv6("::1", p);
  // Both work.
  auto client = ctx.openconnection_ipv6("::1", p, "::1", free_port(), 5.0);
  ASSERT_TRUE(tcp.wait_readable(5s));
  EXPECT_EQ(tcp.getconnection().ip, "::1");
  ctx.sendmessage_ipv6("::1", p, "u", "::1", free_port());
  ASSERT_TRUE(udp.wait_readable(5s));
  EXPECT_EQ(udp.getmessage().message, "u");
  EXPECT_EQ(ctx.getresources().usage["insockets"], 2);
}

// =====================================================================================
// Section 4: listenforconnection_ipv6 / openconnection_ipv6
// =====================================================================================

TEST(context_test, tcp_connect_and_getconnection) {
  auto ports = free_ports(2);
  Context ctx;
  auto server = ctx.listenforconnection_ipv6("::1", ports[0]);
  expect_throws<repy::SocketWouldBlockError>([&] { server.getconnection(); }, "nothing pending");
  auto client = ctx.openconnection_ipv6("::1", ports[0], "::1", ports[1], 5.0);
  ASSERT_TRUE(server.wait_readable(5s));
  repy::Connection c = server.getconnection();
  EXPECT_EQ(c.ip, "::1");
  EXPECT_EQ(c.port, ports[1]);
  EXPECT_EQ(client.send("hello"), 5u);
  EXPECT_EQ(recv_exactly(c.socket, 5), "hello");
  EXPECT_EQ(c.socket.send("world"), 5u);
  EXPECT_EQ(recv_exactly(client, 5), "world");
  expect_throws<repy::SocketWouldBlockError>([&] { server.getconnection(); },
                                             "nothing pending after accept");
}

TEST(context_test, connection_to_a_raw_listener_uses_the_chosen_local_port) {
  Fd listener = raw_listener();
  const int local = free_port();
  Context ctx;
  auto s = ctx.openconnection_ipv6("0:0::1", local_port(listener.get()), "::1", local, 5.0);
  ASSERT_TRUE(poll_fd(listener.get(), POLLIN));
  sockaddr_in6 peer{};
  socklen_t len = sizeof peer;
  Fd accepted(::accept(listener.get(), reinterpret_cast<sockaddr*>(&peer), &len));
  ASSERT_TRUE(accepted);
  EXPECT_EQ(ntohs(peer.sin6_port), local);
  EXPECT_TRUE(IN6_IS_ADDR_LOOPBACK(&peer.sin6_addr));
}

TEST(context_test, second_tcp_listener_is_already_listening) {
  auto ports = free_ports(2);
  Context ctx;
  auto first = ctx.listenforconnection_ipv6("::1", ports[0]);
  expect_throws<repy::AlreadyListeningError>(
      [&] { ctx.listenforconnection_ipv6("0:0::1", ports[0]); }, "same context");
  Context other;
  expect_throws<repy::AlreadyListeningError>(
      [&] { other.listenforconnection_ipv6("::1", ports[0]); }, "second context");
  Fd raw = raw_listener(ports[1]);
  expect_throws<repy::AlreadyListeningError>([&] { ctx.listenforconnection_ipv6("::1", ports[1]); },
                                             "raw POSIX listener");
  EXPECT_EQ(ctx.getresources().usage["insockets"], 1);
  EXPECT_TRUE(first.close());
  EXPECT_FALSE(first.close());
  EXPECT_NO_THROW(other.listenforconnection_ipv6("::1", ports[0]).close());
}

TEST(context_test, listen_on_a_port_bound_by_a_raw_socket_is_duplicate_tuple) {
  Fd bound = raw_bound(SOCK_STREAM);  // bound, not listening
  Context ctx;
  expect_throws<repy::DuplicateTupleError>(
      [&] { ctx.listenforconnection_ipv6("::1", local_port(bound.get())); }, "listen");
}

TEST(context_test, connect_from_a_listening_port_is_already_listening) {
  Fd dest = raw_listener();
  const int dest_port = local_port(dest.get());
  const int p = free_port();
  Context ctx;
  auto server = ctx.listenforconnection_ipv6("::1", p);
  expect_throws<repy::AlreadyListeningError>(
      [&] { ctx.openconnection_ipv6("::1", dest_port, "::1", p, 2.0); }, "own listener");
  expect_throws<repy::AlreadyListeningError>(
      [&] { ctx.openconnection_ipv6("::1", dest_port, "0::1", p, 2.0); },
      "own listener, other spelling");
  Fd raw = raw_listener();
  expect_throws<repy::AlreadyListeningError>(
      [&] { ctx.openconnection_ipv6("::1", dest_port, "::1", local_port(raw.get()), 2.0); },
      "raw listener");
  EXPECT_EQ(ctx.getresources().usage["outsockets"], 0);
}

TEST(context_test, repeated_four_tuple_is_duplicate_tuple) {
  Fd dest = raw_listener();
  const int dest_port = local_port(dest.get());
  const int p = free_port();
  Context ctx;
  auto first = ctx.openconnection_ipv6("::1", dest_port, "::1", p, 5.0);
  expect_throws<repy::DuplicateTupleError>(
      [&] { ctx.openconnection_ipv6("::1", dest_port, "::1", p, 2.0); }, "same context");
  Context other;
  expect_throws<repy::DuplicateTupleError>(
      [&] { other.openconnection_ipv6("0:0::1", dest_port, "::1", p, 2.0); }, "second context");
  EXPECT_EQ(ctx.getresources().usage["outsockets"], 1);
  EXPECT_EQ(other.getresources().usage["outsockets"], 0);
}

TEST(context_test, connect_from_a_port_bound_by_a_raw_socket_is_duplicate_tuple) {
  Fd dest = raw_listener();
  Fd bound = raw_bound(SOCK_STREAM);
  Context ctx;
  expect_throws<repy::DuplicateTupleError>(
      [&] {
        ctx.openconnection_ipv6("::1", local_port(dest.get()), "::1", local_port(bound.get()), 2.0);
      },
      "raw bound socket");
}

TEST(context_test, connect_without_listener_is_refused) {
  Fd not_listening = raw_bound(SOCK_STREAM);
  Context ctx;
  auto start = clock_type::now();
  expect_throws<repy::ConnectionRefusedError>(
      [&] {
        ctx.openconnection_ipv6("::1", local_port(not_listening.get()), "::1", free_port(), 5.0);
      },
      "openconnection");
  EXPECT_LT(seconds_since(start), 2.0) << "a refusal on loopback is immediate";
  EXPECT_EQ(ctx.getresources().usage["outsockets"], 0);
}

TEST(context_test, connect_to_a_full_backlog_times_out) {
  // Backlog 0 holds one completed connection; once it is taken, further SYNs are
  // dropped, so a connect can only end by its timeout.
  Fd listener = raw_listener(0, 0);
  const int port = local_port(listener.get());
  Fd filler(::socket(AF_INET6, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  sockaddr_in6 to = loopback_address(port);
  ::connect(filler.get(), reinterpret_cast<sockaddr*>(&to), sizeof to);
  ASSERT_TRUE(poll_fd(filler.get(), POLLOUT)) << "filler connection did not complete";
  Context ctx;
  const double timeout = 1.0;
  auto o = run_with_deadline(
      [ctx, port, timeout]() mutable {
        ctx.openconnection_ipv6("::1", port, "::1", free_port(), timeout);
      },
      10s);
  ASSERT_TRUE(o.finished) << "openconnection did not honour its timeout";
  expect_throws<repy::TimeoutError>([&] { rethrow(o); }, "openconnection");
  EXPECT_GT(o.seconds, 0.7 * timeout);
  EXPECT_LT(o.seconds, timeout + 2.0);
  EXPECT_EQ(ctx.getresources().usage["outsockets"], 0);
}

namespace {

/// Reconnects over a 4-tuple whose previous connection is being torn down. The kernel
/// (Linux with tcp_tw_reuse, the default for loopback) may allow the reuse at once, or
/// after a few milliseconds; then the call rightly succeeds and must give a working
/// connection. Otherwise the only acceptable error is CleanupInProgressError.
void expect_cleanup_in_progress_or_reuse(Context& ctx, repy::TCPServerSocket& server,
                                         int server_port, int client_port, const char* what) {
  try {
    auto again = ctx.openconnection_ipv6("::1", server_port, "::1", client_port, 5.0);
    ::testing::Test::RecordProperty(what, "kernel allowed reuse; the call succeeded");
    ASSERT_TRUE(server.wait_readable(5s)) << what << ": reconnection never arrived";
    repy::Connection c = server.getconnection();
    EXPECT_EQ(c.port, client_port) << what;
    EXPECT_EQ(again.send("re"), 2u) << what;
    EXPECT_EQ(recv_exactly(c.socket, 2), "re") << what;
  } catch (const repy::CleanupInProgressError&) {
  } catch (const std::exception& e) {
    ADD_FAILURE() << what << ": expected CleanupInProgressError (or success), got " << type_of(e)
                  << ": " << e.what();
  }
}

/// A connection from ports[1] to a listener on ports[0] whose client closed first, once
/// the server has seen the FIN.
struct ClientClosedFirst {
  repy::TCPServerSocket server;
  repy::TCPSocket accepted;
};

ClientClosedFirst close_client_first(Context& ctx, const std::vector<int>& ports) {
  auto server = ctx.listenforconnection_ipv6("::1", ports[0]);
  auto client = ctx.openconnection_ipv6("::1", ports[0], "::1", ports[1], 5.0);
  EXPECT_TRUE(server.wait_readable(5s)) << "no connection to accept";
  auto accepted = server.getconnection().socket;
  EXPECT_TRUE(client.close());
  EXPECT_TRUE(accepted.wait_readable(5s)) << "no FIN within 5 s";
  expect_throws<repy::SocketClosedRemote>([&] { accepted.recv(10); }, "server sees FIN");
  return {server, accepted};
}

}  // namespace

TEST(context_test, reusing_a_tuple_in_time_wait_is_cleanup_in_progress) {
  // Both ends close, the client first, so its end of the tuple goes to TIME_WAIT.
  auto ports = free_ports(2);
  Context ctx;
  auto closed = close_client_first(ctx, ports);
  EXPECT_TRUE(closed.accepted.close());
  expect_cleanup_in_progress_or_reuse(ctx, closed.server, ports[0], ports[1], "time_wait");
}

TEST(context_test, reusing_a_tuple_still_closing_is_cleanup_in_progress) {
  // The client closes but the server keeps its end open: the client's old socket is in
  // FIN_WAIT2, a tear-down state.
  auto ports = free_ports(2);
  Context ctx;
  auto closed = close_client_first(ctx, ports);
  expect_cleanup_in_progress_or_reuse(ctx, closed.server, ports[0], ports[1], "fin_wait2");
}

// =====================================================================================
// Section 4: failed calls hold nothing
// =====================================================================================

TEST(context_test, failed_calls_leak_no_fd_and_no_socket_slot) {
  Fd not_listening = raw_bound(SOCK_STREAM);
  Fd udp_holder = raw_bound(SOCK_DGRAM);
  Fd tcp_listener = raw_listener();
  auto ports = free_ports(2);
  Context ctx = context_with({ports[0], ports[1], local_port(tcp_listener.get())},
                             {ports[0], local_port(udp_holder.get())},
                             {{"insockets", "3"}, {"outsockets", "3"}});
  auto held = ctx.listenforconnection_ipv6("::1", ports[0]);
  const int fds_before = open_fd_count();
  const auto before = ctx.getresources().usage;
  for (int i = 0; i < 10; ++i) {
    EXPECT_THROW(
        ctx.openconnection_ipv6("::1", local_port(not_listening.get()), "::1", ports[1], 2.0),
        repy::ConnectionRefusedError);
    EXPECT_THROW(ctx.listenforconnection_ipv6("2001:db8::1", ports[1]), repy::AddressBindingError);
    EXPECT_THROW(ctx.listenforconnection_ipv6("::1", ports[0]), repy::AlreadyListeningError);
    EXPECT_THROW(ctx.listenforconnection_ipv6("::1", local_port(tcp_listener.get())),
                 repy::AlreadyListeningError);
    EXPECT_THROW(ctx.sendmessage_ipv6("::1", ports[1], "x", "::1", local_port(udp_holder.get())),
                 repy::DuplicateTupleError);
    EXPECT_THROW(ctx.sendmessage_ipv6("::1", ports[1], "x", "2001:db8::1", ports[0]),
                 repy::AddressBindingError);
    EXPECT_THROW(
        ctx.openconnection_ipv6("::1", local_port(tcp_listener.get()), "::1", ports[0], 2.0),
        repy::AlreadyListeningError);
  }
  EXPECT_EQ(open_fd_count(), fds_before) << "a failed call left a file descriptor open";
  auto after = ctx.getresources().usage;
  EXPECT_EQ(after["insockets"], before.at("insockets"));
  EXPECT_EQ(after["outsockets"], before.at("outsockets"));
  EXPECT_EQ(after["insockets"], 1);
  EXPECT_EQ(after["outsockets"], 0);
}

// =====================================================================================
// Section 4: recv with a huge size
// =====================================================================================

TEST(context_test, huge_recv_returns_what_arrived_without_a_huge_buffer) {
  Pair p = connected_pair();
  EXPECT_EQ(p.accepted.send("abc"), 3u);
  ASSERT_TRUE(p.client.wait_readable(5s));
  g_largest_allocation = 0;
  g_track_allocations = true;
  std::string got;
  try {
    got = p.client.recv(std::size_t{1} << 30);
  } catch (...) {
    g_track_allocations = false;
    throw;
  }
  g_track_allocations = false;
  EXPECT_EQ(got, "abc");
  EXPECT_LT(g_largest_allocation.load(), std::size_t{1} << 20)
      << "recv(1 GiB) allocated " << g_largest_allocation.load() << " bytes at once";
  // The charge is for what arrived, not for what was asked.
  EXPECT_EQ(p.accepted.send("de"), 2u);
  ASSERT_TRUE(p.client.wait_readable(5s));
  const auto mid = net_totals(p.ctx);
  EXPECT_EQ(p.client.recv(std::size_t{1} << 30), "de");
  auto d = net_totals(p.ctx) - mid;
  EXPECT_EQ(d.looprecv, 64 + 2);
  EXPECT_EQ(d.loopsend, 64);
}

// =====================================================================================
// Section 5: the nanny through the API
// =====================================================================================

TEST(context_test, every_call_charges_exactly_its_table_amount) {
  auto ports = free_ports(4);
  Context ctx;

  auto t0 = net_totals(ctx);
  auto server = ctx.listenforconnection_ipv6("::1", ports[0]);
  auto d = net_totals(ctx) - t0;
  EXPECT_EQ(d.loopsend, 0) << "listenforconnection";
  EXPECT_EQ(d.looprecv, 0) << "listenforconnection";
  EXPECT_EQ(ctx.getresources().usage["insockets"], 1);

  t0 = net_totals(ctx);
  auto client = ctx.openconnection_ipv6("::1", ports[0], "::1", ports[1], 5.0);
  d = net_totals(ctx) - t0;
  EXPECT_EQ(d.loopsend, 128) << "openconnection";
  EXPECT_EQ(d.looprecv, 64) << "openconnection";
  EXPECT_EQ(d.netsend, 0) << "openconnection";
  EXPECT_EQ(d.netrecv, 0) << "openconnection";
  EXPECT_EQ(ctx.getresources().usage["outsockets"], 1);

  ASSERT_TRUE(server.wait_readable(5s));
  t0 = net_totals(ctx);
  auto accepted = server.getconnection().socket;
  d = net_totals(ctx) - t0;
  EXPECT_EQ(d.looprecv, 128) << "getconnection";
  EXPECT_EQ(d.loopsend, 64) << "getconnection";
  EXPECT_EQ(ctx.getresources().usage["outsockets"], 2);

  t0 = net_totals(ctx);
  EXPECT_EQ(client.send("hello"), 5u);
  d = net_totals(ctx) - t0;
  EXPECT_EQ(d.loopsend, 64 + 5) << "send";
  EXPECT_EQ(d.looprecv, 64) << "send";

  t0 = net_totals(ctx);
  EXPECT_EQ(client.send(""), 0u);
  d = net_totals(ctx) - t0;
  EXPECT_EQ(d.loopsend, 64) << "send(\"\")";
  EXPECT_EQ(d.looprecv, 64) << "send(\"\")";

  ASSERT_TRUE(accepted.wait_readable(5s));
  t0 = net_totals(ctx);
  EXPECT_EQ(accepted.recv(100), "hello");
  d = net_totals(ctx) - t0;
  EXPECT_EQ(d.looprecv, 64 + 5) << "recv";
  EXPECT_EQ(d.loopsend, 64) << "recv";

  t0 = net_totals(ctx);
  EXPECT_TRUE(client.close());
  d = net_totals(ctx) - t0;
  EXPECT_EQ(d.loopsend, 128) << "close";
  EXPECT_EQ(d.looprecv, 64) << "close";
  EXPECT_EQ(ctx.getresources().usage["outsockets"], 1);

  t0 = net_totals(ctx);
  EXPECT_FALSE(client.close());
  d = net_totals(ctx) - t0;
  EXPECT_EQ(d.loopsend, 0) << "second close";
  EXPECT_EQ(d.looprecv, 0) << "second close";

  t0 = net_totals(ctx);
  EXPECT_TRUE(server.close());
  d = net_totals(ctx) - t0;
  EXPECT_EQ(d.loopsend, 0) << "server close";
  EXPECT_EQ(d.looprecv, 0) << "server close";
  EXPECT_EQ(ctx.getresources().usage["insockets"], 0);

  auto udp = ctx.listenformessage_ipv6("::1", ports[2]);
  t0 = net_totals(ctx);
  EXPECT_EQ(ctx.sendmessage_ipv6("::1", ports[2], "12345", "::1", ports[3]), 5u);
  d = net_totals(ctx) - t0;
  EXPECT_EQ(d.loopsend, 69) << "sendmessage";
  EXPECT_EQ(d.looprecv, 0) << "sendmessage";
  EXPECT_EQ(d.netsend, 0) << "sendmessage";

  ASSERT_TRUE(udp.wait_readable(5s));
  t0 = net_totals(ctx);
  EXPECT_EQ(udp.getmessage().message, "12345");
  d = net_totals(ctx) - t0;
  EXPECT_EQ(d.looprecv, 69) << "getmessage";
  EXPECT_EQ(d.loopsend, 0) << "getmessage";

  // Loopback is decided on the parsed address, not on the spelling.
  t0 = net_totals(ctx);
  EXPECT_EQ(ctx.sendmessage_ipv6("0:0:0:0:0:0:0:1", ports[2], "abc", "::1", ports[3]), 3u);
  d = net_totals(ctx) - t0;
  EXPECT_EQ(d.loopsend, 67) << "sendmessage to 0:0:0:0:0:0:0:1";
  EXPECT_EQ(d.netsend, 0) << "sendmessage to 0:0:0:0:0:0:0:1";
}

TEST(context_test, insockets_exhaustion_holds_nothing) {
  auto ports = free_ports(3);
  Context ctx = context_with(ports, ports, {{"insockets", "1"}});
  auto first = ctx.listenforconnection_ipv6("::1", ports[0]);
  EXPECT_EQ(ctx.getresources().usage["insockets"], 1);
  const int fds = open_fd_count();
  expect_throws<repy::ResourceExhaustedError>([&] { ctx.listenformessage_ipv6("::1", ports[1]); },
                                              "UDP listener over the limit");
  expect_throws<repy::ResourceExhaustedError>(
      [&] { ctx.listenforconnection_ipv6("::1", ports[2]); }, "TCP listener over the limit");
  EXPECT_EQ(ctx.getresources().usage["insockets"], 1);
  EXPECT_EQ(open_fd_count(), fds);
  // The failed calls did not take the ports either.
  EXPECT_NO_THROW(raw_bound(SOCK_DGRAM, ports[1]));
  EXPECT_NO_THROW(raw_bound(SOCK_STREAM, ports[2]));
  // Closing frees the slot.
  EXPECT_TRUE(first.close());
  EXPECT_EQ(ctx.getresources().usage["insockets"], 0);
  auto second = ctx.listenformessage_ipv6("::1", ports[1]);
  EXPECT_EQ(ctx.getresources().usage["insockets"], 1);
}

TEST(context_test, outsockets_exhaustion_holds_nothing) {
  Fd dest = raw_listener();
  const int dest_port = local_port(dest.get());
  auto ports = free_ports(3);
  Context ctx = context_with(ports, {}, {{"outsockets", "1"}});
  auto first = ctx.openconnection_ipv6("::1", dest_port, "::1", ports[0], 5.0);
  EXPECT_EQ(ctx.getresources().usage["outsockets"], 1);
  const int fds = open_fd_count();
  expect_throws<repy::ResourceExhaustedError>(
      [&] { ctx.openconnection_ipv6("::1", dest_port, "::1", ports[1], 5.0); },
      "second connection");
  EXPECT_EQ(ctx.getresources().usage["outsockets"], 1);
  EXPECT_EQ(open_fd_count(), fds);
  EXPECT_TRUE(first.close());
  EXPECT_EQ(ctx.getresources().usage["outsockets"], 0);
  auto second = ctx.openconnection_ipv6("::1", dest_port, "::1", ports[2], 5.0);
  EXPECT_EQ(ctx.getresources().usage["outsockets"], 1);
}

TEST(context_test, getconnection_without_outsocket_closes_the_pending_connection) {
  const int p = free_port();
  Context server_ctx = context_with({p}, {}, {{"insockets", "1"}, {"outsockets", "0"}});
  Context client_ctx;
  auto server = server_ctx.listenforconnection_ipv6("::1", p);
  auto client = client_ctx.openconnection_ipv6("::1", p, "::1", free_port(), 5.0);
  ASSERT_TRUE(server.wait_readable(5s));
  expect_throws<repy::ResourceExhaustedError>([&] { server.getconnection(); }, "getconnection");
  EXPECT_EQ(server_ctx.getresources().usage["outsockets"], 0);
  // The client learns that its connection is gone.
  ASSERT_TRUE(client.wait_readable(5s)) << "pending connection was not closed";
  expect_throws<repy::SocketClosedRemote>([&] { client.recv(10); }, "client recv");
  // The listener itself still works.
  expect_throws<repy::SocketWouldBlockError>([&] { server.getconnection(); },
                                             "nothing pending any more");
}

TEST(context_test, zero_rate_limit_fails_at_once) {
  auto ports = free_ports(2);
  Fd sink = raw_bound(SOCK_DGRAM);
  Fd dest = raw_listener();
  const int sink_port = local_port(sink.get());
  const int dest_port = local_port(dest.get());
  Context ctx = context_with({ports[0]}, {ports[1]}, {{"loopsend", "0"}, {"netsend", "0"}});

  auto o = run_with_deadline(
      [=]() mutable { ctx.sendmessage_ipv6("::1", sink_port, "x", "::1", ports[1]); }, 5s);
  ASSERT_TRUE(o.finished) << "sendmessage hung on a zero loopsend limit";
  expect_throws<repy::ResourceExhaustedError>([&] { rethrow(o); }, "sendmessage");
  EXPECT_LT(o.seconds, 2.0);

  o = run_with_deadline(
      [=]() mutable { ctx.openconnection_ipv6("::1", dest_port, "::1", ports[0], 2.0); }, 5s);
  ASSERT_TRUE(o.finished) << "openconnection hung on a zero loopsend limit";
  expect_throws<repy::ResourceExhaustedError>([&] { rethrow(o); }, "openconnection");
  EXPECT_EQ(ctx.getresources().usage["outsockets"], 0);

  o = run_with_deadline([=]() mutable { ctx.getAddripv6("::1"); }, 5s);
  ASSERT_TRUE(o.finished) << "getAddripv6 hung on a zero netsend limit";
  expect_throws<repy::ResourceExhaustedError>([&] { rethrow(o); }, "getAddripv6");
}

TEST(context_test, zero_net_limit_does_not_touch_loopback) {
  auto ports = free_ports(1);
  Fd sink = raw_bound(SOCK_DGRAM);
  Context ctx = context_with({}, {ports[0]}, {{"netsend", "0"}, {"netrecv", "0"}});
  auto o = run_with_deadline(
      [=, port = local_port(sink.get())]() mutable {
        ctx.sendmessage_ipv6("::1", port, "loop", "::1", ports[0]);
      },
      5s);
  ASSERT_TRUE(o.finished);
  EXPECT_FALSE(o.error) << "loopback traffic must not need netsend";
  EXPECT_EQ(raw_recvfrom(sink.get()).second, "loop");
}

TEST(context_test, loopsend_rate_limit_holds) {
  // 40 datagrams of 2000 bytes (82560 units with the 64-unit overheads) at 20000/s:
  // the first 20000 pass at once, the rest drain at the limit, about 3 s in all.
  const int p = free_port();
  Fd sink = raw_bound(SOCK_DGRAM);
  const int sink_port = local_port(sink.get());
  Context ctx = context_with({}, {p}, {{"loopsend", "20000"}});
  const std::string chunk(2000, 'r');
  auto o = run_with_deadline(
      [=]() mutable {
        for (int i = 0; i < 40; ++i) ctx.sendmessage_ipv6("::1", sink_port, chunk, "::1", p);
      },
      20s);
  ASSERT_TRUE(o.finished);
  ASSERT_FALSE(o.error);
  const double expected = (80000.0 - 20000.0) / 20000.0;
  EXPECT_GT(o.seconds, 0.8 * expected) << "the rate limit was not enforced";
  EXPECT_LT(o.seconds, 1.5 * expected) << "the rate limit was over-enforced";
  EXPECT_EQ(total(ctx, "loopsend"), 40 * (64 + 2000));
  auto report = ctx.getresources();
  EXPECT_EQ(report.limits["loopsend"], 20000);
  EXPECT_GT(report.usage["loopsend"], 0);
  EXPECT_LE(report.usage["loopsend"], 20000 + 64 + 2000);
}

TEST(context_test, getresources_reports_every_resource) {
  const std::vector<std::string> names = {"netsend",     "netrecv",   "loopsend",   "looprecv",
                                          "cpu",         "filewrite", "fileread",   "lograte",
                                          "random",      "insockets", "outsockets", "events",
                                          "filesopened", "memory",    "diskused"};
  Context unlimited;
  auto report = unlimited.getresources();
  for (const auto& name : names) {
    ASSERT_TRUE(report.limits.count(name)) << name << " missing from limits";
    EXPECT_EQ(report.limits[name], inf) << name;
  }
  for (const char* name : {"netsend", "netrecv", "loopsend", "looprecv"}) {
    EXPECT_TRUE(report.totals.count(name)) << name << " missing from totals";
    EXPECT_EQ(report.totals[name], 0) << name;
    EXPECT_TRUE(report.usage.count(name)) << name << " missing from usage";
  }
  for (const char* name : {"insockets", "outsockets"}) {
    EXPECT_TRUE(report.usage.count(name)) << name << " missing from usage";
    EXPECT_EQ(report.usage[name], 0) << name;
  }
  EXPECT_TRUE(report.any_port);

  // A parsed policy: what it says, and 0 for what it does not mention.
  Context parsed(
      repy::Policy::parse("resource loopsend 20000\nresource insockets 3\n"
                          "resource connport 40000\n"));
  auto r2 = parsed.getresources();
  for (const auto& name : names) ASSERT_TRUE(r2.limits.count(name)) << name;
  EXPECT_EQ(r2.limits["loopsend"], 20000);
  EXPECT_EQ(r2.limits["insockets"], 3);
  EXPECT_EQ(r2.limits["netsend"], 0);
  EXPECT_EQ(r2.limits["outsockets"], 0);
  EXPECT_FALSE(r2.any_port);
  EXPECT_EQ(r2.allowed_connports, std::set<int>{40000});
  EXPECT_TRUE(r2.allowed_messports.empty());
}

TEST(context_test, copies_share_state) {
  auto ports = free_ports(2);
  Context a;
  Context b = a;
  EXPECT_TRUE(a == b);
  EXPECT_FALSE(a == Context());
  auto listener = a.listenformessage_ipv6("::1", ports[0]);
  EXPECT_EQ(b.getresources().usage["insockets"], 1);
  expect_throws<repy::AlreadyListeningError>([&] { b.listenformessage_ipv6("::1", ports[0]); },
                                             "copy sees the listener");
  b.sendmessage_ipv6("::1", ports[0], "s", "::1", ports[1]);
  EXPECT_EQ(total(a, "loopsend"), 65);
}

// =====================================================================================
// IPv4-mapped addresses: valid arguments, and ::ffff:127.0.0.0/104 is loopback
// =====================================================================================

namespace {

Fd raw_v4_bound(int type) {
  Fd fd(::socket(AF_INET, type | SOCK_CLOEXEC, 0));
  if (!fd) throw std::runtime_error(errno_text("socket"));
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
    throw std::runtime_error(errno_text("bind 127.0.0.1"));
  }
  return fd;
}

int v4_port(int fd) {
  sockaddr_in sa{};
  socklen_t len = sizeof sa;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len);
  return ntohs(sa.sin_port);
}

}  // namespace

TEST(context_test, v4_mapped_loopback_is_loopback) {
  Fd sink = raw_v4_bound(SOCK_DGRAM);
  const int local = free_port();
  Context ctx;
  auto t0 = net_totals(ctx);
  EXPECT_EQ(ctx.sendmessage_ipv6("::ffff:127.0.0.1", v4_port(sink.get()), "v4", "::ffff:127.0.0.1",
                                 local),
            2u);
  auto d = net_totals(ctx) - t0;
  EXPECT_EQ(d.loopsend, 66);
  EXPECT_EQ(d.netsend, 0);
  ASSERT_TRUE(poll_fd(sink.get(), POLLIN));
  sockaddr_in from{};
  socklen_t len = sizeof from;
  char buf[16];
  ASSERT_EQ(::recvfrom(sink.get(), buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &len),
            2);
  EXPECT_EQ(ntohs(from.sin_port), local);
  EXPECT_EQ(ntohl(from.sin_addr.s_addr), INADDR_LOOPBACK);
}

TEST(context_test, v4_mapped_listener_reports_canonical_peer) {
  const int port = free_port();
  Context ctx;
  auto server = ctx.listenforconnection_ipv6("::ffff:127.0.0.1", port);
  Fd client = raw_v4_bound(SOCK_STREAM);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  to.sin_port = htons(static_cast<std::uint16_t>(port));
  ASSERT_EQ(::connect(client.get(), reinterpret_cast<sockaddr*>(&to), sizeof to), 0)
      << std::strerror(errno);
  ASSERT_TRUE(server.wait_readable(5s));
  auto t0 = net_totals(ctx);
  repy::Connection c = server.getconnection();
  auto d = net_totals(ctx) - t0;
  EXPECT_EQ(c.ip, "::ffff:127.0.0.1");
  EXPECT_EQ(c.port, v4_port(client.get()));
  EXPECT_EQ(d.looprecv, 128) << "a v4-mapped loopback peer is loopback";
  EXPECT_EQ(d.netrecv, 0);
}
