// Repy V2's IPv4 calls (SPEC section 9), checked from the outside like the IPv6 ones in
// context_test: argument rules, round trips and exact charges over 127.0.0.0/8, dotted
// peers, one policy and one set of listeners for an address and its mapped form, the
// EADDRINUSE family, getmyip and gethostbyname, and the free functions.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <functional>
#include <limits>
#include <repy/repy.hpp>
#include <set>
#include <string>
#include <vector>

#include "test_support.hpp"

namespace {

using namespace repy_test;
using namespace std::chrono_literals;
using repy::Context;

/// Every place where an IPv4 call takes an IP argument.
struct IpSite {
  std::string name;
  std::function<void(Context&, std::string_view)> call;
};

std::vector<IpSite> ipv4_sites(int a, int b) {
  return {
      {"sendmessage destip",
       [=](Context& c, std::string_view ip) { c.sendmessage(ip, a, "x", "127.0.0.1", b); }},
      {"sendmessage localip",
       [=](Context& c, std::string_view ip) { c.sendmessage("127.0.0.1", a, "x", ip, b); }},
      {"openconnection destip",
       [=](Context& c, std::string_view ip) { c.openconnection(ip, a, "127.0.0.1", b, 1.0); }},
      {"openconnection localip",
       [=](Context& c, std::string_view ip) { c.openconnection("127.0.0.1", a, ip, b, 1.0); }},
      {"listenforconnection localip",
       [=](Context& c, std::string_view ip) { c.listenforconnection(ip, b); }},
      {"listenformessage localip",
       [=](Context& c, std::string_view ip) { c.listenformessage(ip, b); }},
  };
}

/// A context allowing no port: a call with good arguments stops at the permission check.
Context no_ports_context() { return context_with({}, {}); }

/// The dotted text of a raw IPv4 socket's peer or sender, and its port.
std::pair<std::string, int> v4_text(const sockaddr_in& sa) {
  char text[INET_ADDRSTRLEN] = {};
  ::inet_ntop(AF_INET, &sa.sin_addr, text, sizeof text);
  return {text, ntohs(sa.sin_port)};
}

}  // namespace

// ---- SPEC 9: IP arguments

TEST(ipv4_test, bad_ipv4_arguments_are_argument_errors_naming_call_argument_and_value) {
  auto ports = free_ports(2);
  Context ctx = no_ports_context();
  const std::vector<std::string> bad = {
      "",           "127.000.0.1",      "01.2.3.4",   "0.1.2.3",   "0.0.0.0",     "224.0.0.1",
      "240.0.0.1",  "255.255.255.255",  "256.0.0.1",  "1.2.3",     "1.2.3.4.5",   "127.1",
      "::1",        "::ffff:127.0.0.1", "fe80::1%lo", "localhost", "example.com", " 127.0.0.1",
      "127.0.0.1 ", "127.0.0.1/8",      "0x7f.0.0.1",
  };
  for (const auto& site : ipv4_sites(ports[0], ports[1])) {
    for (const auto& ip : bad) {
      const std::string where = site.name + " = '" + ip + "'";
      const std::string what =
          expect_throws<repy::RepyArgumentError>([&] { site.call(ctx, ip); }, where);
      if (what.empty()) continue;
      const auto space = site.name.find(' ');
      EXPECT_NE(what.find(site.name.substr(0, space)), std::string::npos) << where << ": " << what;
      EXPECT_NE(what.find(site.name.substr(space + 1)), std::string::npos) << where << ": " << what;
      if (!ip.empty()) {
        EXPECT_NE(what.find(ip), std::string::npos) << where << ": " << what;
      }
    }
  }
  EXPECT_EQ(ctx.getresources().usage["insockets"], 0);
}

TEST(ipv4_test, good_ipv4_arguments_reach_the_permission_check) {
  auto ports = free_ports(2);
  Context ctx = no_ports_context();
  for (const auto& site : ipv4_sites(ports[0], ports[1])) {
    for (const char* ip : {"127.0.0.1", "127.0.0.0", "1.0.0.0", "10.0.20.3", "223.255.255.255"}) {
      expect_throws<repy::ResourceForbiddenError>([&] { site.call(ctx, ip); },
                                                  site.name + " = " + ip);
    }
  }
}

TEST(ipv4_test, the_ipv6_calls_take_an_ipv4_address_only_in_mapped_form) {
  const int a = free_port(), b = free_port();
  Context ctx = no_ports_context();
  const std::vector<std::function<void(std::string_view)>> calls = {
      [&](std::string_view ip) { ctx.sendmessage_ipv6(ip, a, "x", "::1", b); },
      [&](std::string_view ip) { ctx.openconnection_ipv6("::1", a, ip, b, 1.0); },
      [&](std::string_view ip) { ctx.listenforconnection_ipv6(ip, b); },
      [&](std::string_view ip) { ctx.listenformessage_ipv6(ip, b); },
  };
  for (std::size_t i = 0; i < calls.size(); ++i) {
    const std::string site = "ipv6 call " + std::to_string(i);
    expect_throws<repy::RepyArgumentError>([&] { calls[i]("127.0.0.1"); }, site);
    expect_throws<repy::ResourceForbiddenError>([&] { calls[i]("::ffff:127.0.0.1"); }, site);
  }
}

TEST(ipv4_test, ports_timeouts_sizes_and_equal_ends_follow_the_ipv6_rules) {
  const int p = free_port_both_families();
  Context ctx;
  for (int bad : {0, -1, 65536}) {
    EXPECT_THROW(ctx.listenformessage("127.0.0.1", bad), repy::RepyArgumentError) << bad;
    EXPECT_THROW(ctx.sendmessage("127.0.0.1", bad, "x", "127.0.0.1", p), repy::RepyArgumentError);
  }
  for (double t : {0.0, -1.0, std::numeric_limits<double>::infinity()}) {
    EXPECT_THROW(ctx.openconnection("127.0.0.1", 9, "127.0.0.1", p, t), repy::RepyArgumentError);
  }
  EXPECT_THROW(ctx.sendmessage("127.0.0.1", p, "x", "127.0.0.1", p), repy::RepyArgumentError);
  EXPECT_THROW(ctx.sendmessage("127.0.0.1", 9, std::string(9217, 'x'), "127.0.0.1", p),
               repy::RepyArgumentError);
}

// ---- round trips, charges and dotted peers

TEST(ipv4_test, udp_round_trip_charges_loopback_exactly_and_reports_the_sender_dotted) {
  auto ports = free_ports(2, free_port_both_families);
  Context ctx;
  auto listener = ctx.listenformessage("127.0.0.1", ports[0]);
  auto t0 = net_totals(ctx);
  EXPECT_EQ(ctx.sendmessage("127.0.0.1", ports[0], "hello", "127.0.0.1", ports[1]), 5u);
  auto d = net_totals(ctx) - t0;
  EXPECT_EQ(d.loopsend, 69);
  EXPECT_EQ(d.netsend, 0);
  ASSERT_TRUE(listener.wait_readable(5s));
  t0 = net_totals(ctx);
  repy::Message m = listener.getmessage();
  d = net_totals(ctx) - t0;
  EXPECT_EQ(m.ip, "127.0.0.1");
  EXPECT_EQ(m.port, ports[1]);
  EXPECT_EQ(m.message, "hello");
  EXPECT_EQ(d.looprecv, 69);
  EXPECT_EQ(d.netrecv, 0);
}

TEST(ipv4_test, tcp_round_trip_charges_loopback_exactly_and_reports_the_peer_dotted) {
  auto ports = free_ports(2, free_port_both_families);
  Context ctx;
  auto server = ctx.listenforconnection("127.0.0.1", ports[0]);
  auto t0 = net_totals(ctx);
  auto client = ctx.openconnection("127.0.0.1", ports[0], "127.0.0.1", ports[1], 5.0);
  auto d = net_totals(ctx) - t0;
  EXPECT_EQ(d.loopsend, 128);
  EXPECT_EQ(d.looprecv, 64);
  ASSERT_TRUE(server.wait_readable(5s));
  t0 = net_totals(ctx);
  repy::Connection c = server.getconnection();
  d = net_totals(ctx) - t0;
  EXPECT_EQ(c.ip, "127.0.0.1");
  EXPECT_EQ(c.port, ports[1]);
  EXPECT_EQ(d.looprecv, 128);
  EXPECT_EQ(d.loopsend, 64);
  t0 = net_totals(ctx);
  EXPECT_EQ(client.send("hello"), 5u);
  EXPECT_EQ(recv_exactly(c.socket, 5), "hello");
  d = net_totals(ctx) - t0;
  EXPECT_EQ(d.loopsend, 69 + 64);
  EXPECT_EQ(d.looprecv, 64 + 69);
  EXPECT_EQ(d.netsend + d.netrecv, 0);
  EXPECT_EQ(ctx.getresources().usage["outsockets"], 2);
  EXPECT_EQ(ctx.getresources().usage["insockets"], 1);
}

TEST(ipv4_test, the_whole_127_network_is_loopback_even_with_no_net_budget) {
  auto ports = free_ports(2, free_port_both_families);
  // A zero net limit would fail at once: only loopback charges may be made here.
  Context ctx = context_with({ports[0], ports[1]}, {ports[0], ports[1]},
                             {{"netsend", "0"}, {"netrecv", "0"}});
  auto listener = ctx.listenformessage("127.0.0.2", ports[0]);
  EXPECT_EQ(ctx.sendmessage("127.0.0.2", ports[0], "abc", "127.0.0.3", ports[1]), 3u);
  ASSERT_TRUE(listener.wait_readable(5s));
  repy::Message m = listener.getmessage();
  EXPECT_EQ(m.ip, "127.0.0.3");
  EXPECT_EQ(total(ctx, "loopsend"), 67);
  EXPECT_EQ(total(ctx, "looprecv"), 67);

  auto server = ctx.listenforconnection("127.0.0.2", ports[1]);
  auto client = ctx.openconnection("127.0.0.2", ports[1], "127.0.0.1", ports[0], 5.0);
  ASSERT_TRUE(server.wait_readable(5s));
  EXPECT_EQ(server.getconnection().ip, "127.0.0.1");
  EXPECT_EQ(total(ctx, "netsend"), 0);
  EXPECT_EQ(total(ctx, "netrecv"), 0);
}

TEST(ipv4_test, a_raw_ipv4_peer_sees_the_chosen_local_end) {
  Fd sink = raw_bound_v4(SOCK_DGRAM);
  const int local = free_port_both_families();
  Context ctx;
  EXPECT_EQ(ctx.sendmessage("127.0.0.1", local_port(sink.get()), "v4", "127.0.0.1", local), 2u);
  ASSERT_TRUE(poll_fd(sink.get(), POLLIN));
  sockaddr_in from{};
  socklen_t len = sizeof from;
  char buf[8];
  ASSERT_EQ(::recvfrom(sink.get(), buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &len),
            2);
  EXPECT_EQ(v4_text(from), std::make_pair(std::string("127.0.0.1"), local));
}

// ---- one address, one policy, one set of listeners for both families

TEST(ipv4_test, listeners_on_127_0_0_1_and_on_1_are_distinct) {
  auto ports = free_ports(3, free_port_both_families);
  const int p = ports[0];
  Context ctx;
  auto tcp4 = ctx.listenforconnection("127.0.0.1", p);
  auto tcp6 = ctx.listenforconnection_ipv6("::1", p);
  auto udp4 = ctx.listenformessage("127.0.0.1", p);
  auto udp6 = ctx.listenformessage_ipv6("::1", p);
  EXPECT_EQ(ctx.getresources().usage["insockets"], 4);

  auto c4 = ctx.openconnection("127.0.0.1", p, "127.0.0.1", ports[1], 5.0);
  ASSERT_TRUE(tcp4.wait_readable(5s));
  EXPECT_EQ(tcp4.getconnection().ip, "127.0.0.1");
  EXPECT_THROW(tcp6.getconnection(), repy::SocketWouldBlockError);
  auto c6 = ctx.openconnection_ipv6("::1", p, "::1", ports[2], 5.0);
  ASSERT_TRUE(tcp6.wait_readable(5s));
  EXPECT_EQ(tcp6.getconnection().ip, "::1");

  ctx.sendmessage("127.0.0.1", p, "four", "127.0.0.1", ports[1]);
  ASSERT_TRUE(udp4.wait_readable(5s));
  EXPECT_EQ(udp4.getmessage().message, "four");
  EXPECT_THROW(udp6.getmessage(), repy::SocketWouldBlockError);
}

TEST(ipv4_test, an_address_and_its_mapped_form_are_one_listener_address) {
  const int p = free_port_both_families();
  Context ctx;
  auto tcp = ctx.listenforconnection("127.0.0.1", p);
  auto udp = ctx.listenformessage_ipv6("::ffff:127.0.0.1", p);
  expect_throws<repy::AlreadyListeningError>(
      [&] { ctx.listenforconnection_ipv6("::ffff:127.0.0.1", p); }, "TCP, mapped form");
  expect_throws<repy::AlreadyListeningError>([&] { ctx.listenformessage("127.0.0.1", p); },
                                             "UDP, dotted form");
  // sendmessage from the listener's address goes out through it, whatever the spelling
  // (a socket of its own could not bind there).
  Fd raw = raw_bound_v4(SOCK_DGRAM);
  EXPECT_EQ(ctx.sendmessage("127.0.0.1", local_port(raw.get()), "via", "127.0.0.1", p), 3u);
  ASSERT_TRUE(poll_fd(raw.get(), POLLIN));
  sockaddr_in from{};
  socklen_t len = sizeof from;
  char buf[8];
  ASSERT_EQ(::recvfrom(raw.get(), buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &len), 3);
  EXPECT_EQ(ntohs(from.sin_port), p);
}

TEST(ipv4_test, connport_and_messport_are_one_policy_for_both_families) {
  auto ports = free_ports(3, free_port_both_families);
  const int tcp_only = ports[0], udp_only = ports[1], neither = ports[2];
  Context ctx = context_with({tcp_only}, {udp_only});
  auto t4 = ctx.listenforconnection("127.0.0.1", tcp_only);
  auto t6 = ctx.listenforconnection_ipv6("::1", tcp_only);
  auto u4 = ctx.listenformessage("127.0.0.1", udp_only);
  expect_throws<repy::ResourceForbiddenError>(
      [&] { ctx.listenforconnection("127.0.0.1", udp_only); }, "TCP on a messport");
  expect_throws<repy::ResourceForbiddenError>([&] { ctx.listenformessage("127.0.0.1", tcp_only); },
                                              "UDP on a connport");
  expect_throws<repy::ResourceForbiddenError>([&] { ctx.listenformessage("127.0.0.1", neither); },
                                              "UDP on no port");
  expect_throws<repy::ResourceForbiddenError>(
      [&] { ctx.openconnection("127.0.0.1", tcp_only, "127.0.0.1", udp_only, 1.0); },
      "connect from a messport");
  auto report = ctx.getresources();
  EXPECT_EQ(report.used_connports, std::set<int>{tcp_only});
  EXPECT_EQ(report.used_messports, std::set<int>{udp_only});
}

TEST(ipv4_test, insockets_are_counted_across_families) {
  auto ports = free_ports(2, free_port_both_families);
  Context ctx = context_with({ports[0]}, {ports[0]}, {{"insockets", "1"}});
  auto udp = ctx.listenformessage("127.0.0.1", ports[0]);
  expect_throws<repy::ResourceExhaustedError>(
      [&] { ctx.listenforconnection_ipv6("::1", ports[0]); }, "second insocket");
  expect_throws<repy::ResourceExhaustedError>(
      [&] { ctx.listenforconnection("127.0.0.1", ports[0]); }, "second insocket, IPv4");
  EXPECT_TRUE(udp.close());
  EXPECT_NO_THROW(ctx.listenforconnection("127.0.0.1", ports[0]).close());
}

TEST(ipv4_test, nootherips_takes_an_ipv4_ip_line_and_the_whole_loopback_network) {
  const int p = free_port_both_families();
  Context ctx = context_with({p}, {p}, {}, "resource ip 192.0.2.5\nresource nootherips 1\n");
  expect_throws<repy::ResourceForbiddenError>([&] { ctx.listenformessage("192.0.2.6", p); },
                                              "unlisted, UDP");
  expect_throws<repy::ResourceForbiddenError>(
      [&] { ctx.listenforconnection_ipv6("::ffff:192.0.2.6", p); }, "unlisted, mapped form");
  expect_throws<repy::ResourceForbiddenError>(
      [&] { ctx.sendmessage("127.0.0.1", 9, "x", "192.0.2.6", p); }, "unlisted, send");
  // Listed, in either form: allowed, so it fails later because the host lacks it.
  expect_throws<repy::AddressBindingError>([&] { ctx.listenformessage("192.0.2.5", p); },
                                           "listed, UDP");
  expect_throws<repy::AddressBindingError>(
      [&] { ctx.listenforconnection_ipv6("::ffff:192.0.2.5", p); }, "listed, mapped form");
  // 127.0.0.0/8 and ::1 are always allowed.
  ctx.listenformessage("127.0.0.2", p).close();
  ctx.listenforconnection("127.0.0.1", p).close();
  ctx.listenformessage_ipv6("::1", p).close();
}

// ---- errors: the EADDRINUSE family and the rest, as for the IPv6 calls

TEST(ipv4_test, busy_addresses_are_classified_as_for_the_ipv6_calls) {
  auto ports = free_ports(2, free_port_both_families);
  Context ctx, other;
  auto first = ctx.listenforconnection("127.0.0.1", ports[0]);
  expect_throws<repy::AlreadyListeningError>(
      [&] { other.listenforconnection("127.0.0.1", ports[0]); }, "another context's listener");
  Fd raw_listening = raw_listener(0, 16, true);
  expect_throws<repy::AlreadyListeningError>(
      [&] { ctx.listenforconnection("127.0.0.1", local_port(raw_listening.get())); },
      "a raw IPv4 listener");
  Fd raw_tcp = raw_bound_v4(SOCK_STREAM);
  expect_throws<repy::DuplicateTupleError>(
      [&] { ctx.listenforconnection("127.0.0.1", local_port(raw_tcp.get())); },
      "a raw bound IPv4 socket");
  const int dest = local_port(raw_listening.get());
  expect_throws<repy::AlreadyListeningError>(
      [&] { ctx.openconnection("127.0.0.1", dest, "127.0.0.1", ports[0], 2.0); },
      "connect from a listening port");
  auto conn = ctx.openconnection("127.0.0.1", dest, "127.0.0.1", ports[1], 5.0);
  expect_throws<repy::DuplicateTupleError>(
      [&] {
        other.openconnection_ipv6("::ffff:127.0.0.1", dest, "::ffff:127.0.0.1", ports[1], 2.0);
      },
      "the same 4-tuple through the mapped form");
  Fd raw_udp = raw_bound_v4(SOCK_DGRAM);
  expect_throws<repy::DuplicateTupleError>(
      [&] { ctx.sendmessage("127.0.0.1", 9, "x", "127.0.0.1", local_port(raw_udp.get())); },
      "send from a port a raw IPv4 socket holds");
  EXPECT_EQ(ctx.getresources().usage["outsockets"], 1);
  EXPECT_EQ(other.getresources().usage["outsockets"], 0);
}

TEST(ipv4_test, refused_and_unbindable_print_dotted_ends) {
  const int p = free_port_both_families();
  Context ctx;
  Fd not_listening = raw_bound_v4(SOCK_STREAM);
  const int dest = local_port(not_listening.get());
  expect_throws<repy::ConnectionRefusedError>(
      [&] { ctx.openconnection("127.0.0.1", dest, "127.0.0.1", p, 5.0); }, "refused");
  // 192.0.2.0/24 is documentation space: no host has it, and a failed bind sends nothing.
  const std::string what = expect_throws<repy::AddressBindingError>(
      [&] { ctx.listenformessage("192.0.2.1", p); }, "not on this host");
  EXPECT_NE(what.find("192.0.2.1:" + std::to_string(p)), std::string::npos) << what;
  EXPECT_EQ(what.find("::ffff"), std::string::npos) << what;
  EXPECT_EQ(ctx.getresources().usage["outsockets"], 0);
  EXPECT_EQ(ctx.getresources().usage["insockets"], 0);
}

// ---- getmyip, gethostbyname

TEST(ipv4_test, getmyip_answers_the_first_bindable_ipv4_preference) {
  Context ctx(repy::Policy::parse(
      policy_text({}, {}, {}, "resource ip 192.0.2.77\nresource ip ::1\nresource ip 127.0.0.1\n")));
  auto t0 = net_totals(ctx);
  EXPECT_EQ(ctx.getmyip(), "127.0.0.1");
  auto d = net_totals(ctx) - t0;
  EXPECT_EQ(d.netsend, 256);
  EXPECT_EQ(d.netrecv, 128);
  EXPECT_EQ(ctx.getmyip_ipv6(), "::1");
}

TEST(ipv4_test, getmyip_ipv6_skips_ipv4_preferences) {
  Context ctx(
      repy::Policy::parse(policy_text({}, {}, {}, "resource ip 127.0.0.1\nresource ip ::1\n")));
  EXPECT_EQ(ctx.getmyip_ipv6(), "::1");
  EXPECT_EQ(ctx.getmyip(), "127.0.0.1");
}

TEST(ipv4_test, getmyip_with_an_iface_preference_answers_its_ipv4_address) {
  Context ctx(repy::Policy::parse(policy_text({}, {}, {}, "resource iface lo\n")));
  EXPECT_EQ(ctx.getmyip(), "127.0.0.1");
  EXPECT_EQ(ctx.getmyip_ipv6(), "::1");
}

TEST(ipv4_test, getmyip_with_only_ipv6_addresses_allowed_has_no_answer) {
  Context ctx(
      repy::Policy::parse(policy_text({}, {}, {}, "resource ip ::1\nresource nootherips 1\n")));
  EXPECT_THROW(ctx.getmyip(), repy::InternetConnectivityError);
}

TEST(ipv4_test, getmyip_without_preferences_is_an_ipv4_address_or_connectivity_error) {
  Context ctx;
  try {
    const std::string ip = ctx.getmyip();
    in_addr a{};
    EXPECT_EQ(::inet_pton(AF_INET, ip.c_str(), &a), 1) << "not dotted: '" << ip << "'";
  } catch (const repy::InternetConnectivityError& e) {
    RecordProperty("getmyip", e.what());
  }
}

TEST(ipv4_test, gethostbyname_answers_literals_and_localhost_without_dns) {
  Context ctx;
  auto t0 = net_totals(ctx);
  EXPECT_EQ(ctx.gethostbyname("127.0.0.1"), "127.0.0.1");
  auto d = net_totals(ctx) - t0;
  EXPECT_EQ(d.netsend, 1024);
  EXPECT_EQ(d.netrecv, 4096);
  EXPECT_EQ(d.loopsend + d.looprecv, 0);
  EXPECT_EQ(ctx.gethostbyname("192.0.2.44"), "192.0.2.44");
  for (const char* name : {"localhost", "LocalHost", "foo.localhost", "a.b.localhost."}) {
    EXPECT_EQ(ctx.gethostbyname(name), "127.0.0.1") << name;
  }
}

TEST(ipv4_test, gethostbyname_of_invalid_names_and_ipv6_literals_is_an_address_error) {
  Context ctx;
  for (const char* name : {"x.invalid", "a.b.INVALID", "::1", "fe80::1%lo"}) {
    auto o = run_with_deadline([ctx, name]() mutable { ctx.gethostbyname(name); }, 10s);
    ASSERT_TRUE(o.finished) << name << " did not return within 10 s";
    expect_throws<repy::NetworkAddressError>([&] { rethrow(o); }, name);
  }
  EXPECT_THROW(ctx.gethostbyname(""), repy::RepyArgumentError);
  EXPECT_THROW(ctx.gethostbyname("a b"), repy::RepyArgumentError);
}

// ---- the free functions on the default context

TEST(ipv4_test, free_functions_run_on_the_default_context) {
  auto ports = free_ports(3, free_port_both_families);
  EXPECT_EQ(repy::gethostbyname("localhost"), "127.0.0.1");
  auto udp = repy::listenformessage("127.0.0.1", ports[0]);
  const double before = total(repy::default_context(), "loopsend");
  EXPECT_EQ(repy::sendmessage("127.0.0.1", ports[0], "hello", "127.0.0.1", ports[1]), 5u);
  EXPECT_EQ(total(repy::default_context(), "loopsend") - before, 69);
  ASSERT_TRUE(udp.wait_readable(5s));
  EXPECT_EQ(udp.getmessage().ip, "127.0.0.1");

  auto tcp = repy::listenforconnection("127.0.0.1", ports[0]);
  auto client = repy::openconnection("127.0.0.1", ports[0], "127.0.0.1", ports[2], 5.0);
  ASSERT_TRUE(tcp.wait_readable(5s));
  repy::Connection c = tcp.getconnection();
  EXPECT_EQ(c.ip, "127.0.0.1");
  EXPECT_EQ(c.port, ports[2]);
  EXPECT_THROW(repy::listenformessage("::1", ports[1]), repy::RepyArgumentError);
  try {
    in_addr a{};
    EXPECT_EQ(::inet_pton(AF_INET, repy::getmyip().c_str(), &a), 1);
  } catch (const repy::InternetConnectivityError&) {
  }
}
