// The per-stack resolver: resolv.conf parsing, and a real dnsmasq (started by the test,
// on ::1 or inside a namespace it builds) answering through the stack's own sockets.
#include "stack/resolver/resolver.hpp"

#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netdb.h>
#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <string>

#include "stack/stack_impl.hpp"
#include "stack_fixtures.hpp"

using namespace stack_fixtures;
using repy::NetworkAddressError;
using repy::RepyArgumentError;
using repy::Stack;
using repy::detail::parse_resolv_conf;
using repy::detail::resolv_conf_text;
using testing::AllOf;
using testing::ElementsAre;
using testing::HasSubstr;
using testing::StartsWith;

namespace {

std::vector<std::string> ips(const std::vector<repy::AddrInfo>& infos) {
  std::vector<std::string> out;
  for (const auto& i : infos) {
    if (std::find(out.begin(), out.end(), i.ip) == out.end()) out.push_back(i.ip);
  }
  return out;
}

// What dnsmasq knows: one AAAA, one name with a PTR, and NXDOMAIN for the rest of .test.
std::vector<std::string> zone_args() {
  return {"--address=/name.test/fc00::5", "--host-record=host.test,fc00::6", "--local=/test/",
          "--local=/0.0.c.f.ip6.arpa/"};
}

const char* kFastFail = "options timeout:1 attempts:1\n";

}  // namespace

TEST(resolver_test, parses_nameservers_search_and_options) {
  auto c = parse_resolv_conf(
      "# comment\n; also a comment\nnameserver ::1\nnameserver [fc00::53]:5353\n"
      "nameserver 10.0.0.53\nsearch a.test b.test\noptions ndots:2 timeout:3 attempts:4 "
      "rotate edns0\nsortlist 10.0.0.0\n");
  EXPECT_THAT(c.nameservers, ElementsAre("::1", "[fc00::53]:5353", "10.0.0.53"));
  EXPECT_THAT(c.search, ElementsAre("a.test", "b.test"));
  EXPECT_EQ(c.ndots, 2);
  EXPECT_EQ(c.timeout_s, 3);
  EXPECT_EQ(c.attempts, 4);
  EXPECT_TRUE(c.rotate);
  // The last of search/domain wins, as in libc.
  EXPECT_THAT(parse_resolv_conf("nameserver ::1\nsearch a.test\ndomain c.test\n").search,
              ElementsAre("c.test"));
}

TEST(resolver_test, malformed_resolv_conf_names_the_line) {
  auto message = [](const std::string& text) {
    try {
      parse_resolv_conf(text);
    } catch (const RepyArgumentError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_THAT(message("nameserver ::1\nnameserver dns.example\n"), HasSubstr("line 2"));
  EXPECT_THAT(message("nameserver [::1]:0\n"), HasSubstr("[::1]:0"));
  EXPECT_THAT(message("nameserver [::1]:99999\n"), HasSubstr("line 1"));
  EXPECT_THAT(message("nameserver\n"), HasSubstr("needs an address"));
  EXPECT_THAT(message("nameserver ::1\noptions ndots:x\n"), HasSubstr("ndots"));
  EXPECT_THAT(message("search a.test\n"), HasSubstr("no 'nameserver'"));
  EXPECT_THAT(message(""), HasSubstr("no 'nameserver'"));
}

TEST(resolver_test, text_or_path) {
  EXPECT_EQ(resolv_conf_text("nameserver ::1"), "nameserver ::1");
  std::string path = fmt::format("/tmp/{}", unique_name("repy6-resolv-"));
  { std::ofstream(path) << "nameserver fc00::53\n"; }
  EXPECT_EQ(resolv_conf_text(path), "nameserver fc00::53\n");
  std::remove(path.c_str());
  EXPECT_THROW(resolv_conf_text(path), RepyArgumentError);
  EXPECT_THROW(Stack::host().iothdns_update("/nonexistent/resolv.conf"), RepyArgumentError);
}

namespace {

// The RepyArgumentError messages of the two calls that take resolv.conf text or a path:
// the constructor's config_dns and iothdns_update's resolvconf.
std::vector<std::string> path_errors(const std::string& path) {
  return {argument_error([&] { Stack("kernel", {}, path); }),
          argument_error([&] { Stack::host().iothdns_update(path); })};
}

// A temporary directory for files the test makes, removed with everything in it.
struct TmpDir {
  std::string path = fmt::format("/tmp/{}", unique_name("repy6-resolv-dir-"));
  TmpDir() { std::filesystem::create_directory(path); }
  ~TmpDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

}  // namespace

TEST(resolver_test, resolv_conf_path_must_be_a_small_regular_file) {
  TmpDir dir;
  // Valid resolv.conf text, but more of it than any resolv.conf needs.
  std::string big = dir.path + "/big.conf";
  {
    std::ofstream out(big);
    out << "nameserver ::1\n";
    for (int i = 0; i < 2000; ++i) out << "# a comment line that only makes the file large\n";
  }
  ASSERT_GT(std::filesystem::file_size(big), 64u * 1024);
  struct Case {
    std::string path, why;
  };
  for (const auto& c : {Case{"/dev/zero", "not a regular file"},
                        Case{dir.path, "not a regular file"}, Case{big, "larger than"}}) {
    auto messages = path_errors(c.path);
    EXPECT_THAT(messages[0], AllOf(HasSubstr("config_dns"), HasSubstr(c.path), HasSubstr(c.why)))
        << c.path;
    EXPECT_THAT(messages[1], AllOf(HasSubstr("resolvconf"), HasSubstr(c.path), HasSubstr(c.why)))
        << c.path;
  }
}

TEST(resolver_test, a_fifo_as_resolv_conf_path_is_refused_without_blocking) {
  TmpDir dir;
  std::string fifo = dir.path + "/fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0) << std::strerror(errno);
  auto errors = std::async(std::launch::async, [&] { return path_errors(fifo); });
  if (errors.wait_for(std::chrono::seconds(10)) != std::future_status::ready) {
    ADD_FAILURE() << "reading a FIFO as resolv.conf blocked";
    // Let the blocked reader go (it sees end of file), so the test ends instead of hanging.
    while (errors.wait_for(std::chrono::milliseconds(100)) != std::future_status::ready) {
      int writer = ::open(fifo.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
      if (writer >= 0) ::close(writer);
    }
  }
  auto messages = errors.get();
  EXPECT_THAT(messages[0],
              AllOf(HasSubstr("config_dns"), HasSubstr(fifo), HasSubstr("not a regular file")));
  EXPECT_THAT(messages[1],
              AllOf(HasSubstr("resolvconf"), HasSubstr(fifo), HasSubstr("not a regular file")));
}

TEST(resolver_test, getnameinfo_zone_names_are_the_stacks_interfaces) {
  Netns ns;
  REQUIRE_NETNS(ns);
  std::string ifname = "r6zone";
  ASSERT_TRUE(ns.ip(fmt::format("link add {} type veth peer name r6zpeer", ifname)));
  Stack s = Stack::netns(ns.name());
  int index = s.if_nametoindex(ifname);
  // A numeric host needs no server: only the zone is looked at.
  auto named = s.getnameinfo("fe80::1%" + ifname, 80, NI_NUMERICHOST | NI_NUMERICSERV);
  EXPECT_THAT(named.first, StartsWith("fe80::1"));
  EXPECT_EQ(named.second, "80");
  EXPECT_THAT(s.getnameinfo(fmt::format("fe80::1%{}", index), 80, NI_NUMERICHOST).first,
              StartsWith("fe80::1"));
  // The host has no such interface, and a zone names an interface of the stack asked.
  EXPECT_THAT(
      argument_error([&] { Stack::host().getnameinfo("fe80::1%" + ifname, 80, NI_NUMERICHOST); }),
      HasSubstr(ifname));
  EXPECT_THAT(argument_error([&] { s.getnameinfo("fe80::1%r6nothere", 80, NI_NUMERICHOST); }),
              HasSubstr("r6nothere"));
  EXPECT_THAT(argument_error([&] { s.getnameinfo("fe80::1", 65536, NI_NUMERICHOST); }),
              HasSubstr("65536"));
}

TEST(resolver_test, host_stack_asks_the_configured_server) {
  if (!have_dnsmasq()) GTEST_SKIP() << "/usr/sbin/dnsmasq is not installed";
  auto dns = start_host_dns(zone_args());
  ASSERT_TRUE(dns.server) << "dnsmasq never came up on [::1]";
  const int port = dns.port;
  // Stack::host() is one shared stack; this process's other tests never resolve names.
  Stack host = Stack::host();
  host.iothdns_update(fmt::format("nameserver [::1]:{}\n{}", port, kFastFail));
  auto found = eventually([&] { return host.getaddrinfo("name.test", "", AF_INET6); });
  ASSERT_TRUE(dns.server->running()) << "dnsmasq exited";
  EXPECT_THAT(ips(found), ElementsAre("fc00::5"));
  EXPECT_THAT(ips(host.getaddrinfo("deep.name.test", "80", AF_INET6, SOCK_STREAM)),
              ElementsAre("fc00::5"));
  EXPECT_EQ(host.getaddrinfo("deep.name.test", "80", AF_INET6, SOCK_STREAM).front().port, 80);
  try {
    host.getaddrinfo("missing.test", "", AF_INET6);
    ADD_FAILURE() << "missing.test resolved";
  } catch (const NetworkAddressError& e) {
    EXPECT_THAT(e.what(), HasSubstr("missing.test"));
  }
  // Literals never need a server.
  EXPECT_THAT(ips(host.getaddrinfo("fc00::77", "", AF_INET6)), ElementsAre("fc00::77"));
  // Reverse lookups go to the same server.
  EXPECT_EQ(host.getnameinfo("fc00::6", 80, NI_NUMERICSERV).first, "host.test");
  EXPECT_EQ(host.getnameinfo("fc00::6", 80, NI_NUMERICSERV).second, "80");
  EXPECT_EQ(host.getnameinfo("fc00::6", 80, NI_NUMERICHOST).first, "fc00::6");
  EXPECT_THROW(host.getnameinfo("fc00::66", 80, NI_NAMEREQD), NetworkAddressError);
  EXPECT_THROW(host.getnameinfo("not-an-ip", 80), RepyArgumentError);
}

TEST(resolver_test, netns_resolver_queries_from_inside_the_namespace) {
  if (!have_dnsmasq()) GTEST_SKIP() << "/usr/sbin/dnsmasq is not installed";
  Netns with_dns, without_dns;
  REQUIRE_NETNS(with_dns);
  ASSERT_TRUE(without_dns.ok());
  auto args = zone_args();
  args.insert(args.end(), {"--port=53", "--listen-address=::1"});
  Dnsmasq dns(args, with_dns.name());
  Stack a = Stack::netns(with_dns.name());
  Stack b = Stack::netns(without_dns.name());
  // The same text for both: "::1" is a different host in each stack.
  a.iothdns_update(std::string("nameserver ::1\n") + kFastFail);
  b.iothdns_update(std::string("nameserver ::1\n") + kFastFail);
  auto found = eventually([&] { return a.getaddrinfo("name.test", "", AF_INET6); });
  ASSERT_TRUE(dns.running());
  EXPECT_THAT(ips(found), ElementsAre("fc00::5"));
  EXPECT_THROW(b.getaddrinfo("name.test", "", AF_INET6), NetworkAddressError);
}

TEST(resolver_test, vdestack_resolver_reaches_a_server_over_vde) {
  if (!have_dnsmasq()) GTEST_SKIP() << "/usr/sbin/dnsmasq is not installed";
  REQUIRE_VDE();
  Netns server;
  REQUIRE_NETNS(server);
  TmpPath link;
  // The server's namespace joins the VDE link with an interface repy6 plugs in.
  Stack srv = Stack::netns(server.name());
  srv.iplink_add("vde0", 0, "vde", "ptp://" + link.path());
  ASSERT_TRUE(server.ip("link set vde0 up"));
  ASSERT_TRUE(server.ip("addr add fc00:30::53/64 dev vde0 nodad"));
  auto args = zone_args();
  args.insert(args.end(), {"--port=53", "--listen-address=fc00:30::53"});
  Dnsmasq dns(args, server.name());
  Stack client("stack=vdestack,vnl=ptp://" + link.path() +
               ",eth,ip=fc00:30::1/64,dns=fc00:30::53,domain=test");
  // The search domain from domain= applies to a single-label name.
  auto found = eventually([&] { return client.getaddrinfo("name", "", AF_INET6); });
  ASSERT_TRUE(dns.running());
  EXPECT_THAT(ips(found), ElementsAre("fc00::5"));
  EXPECT_EQ(client.getnameinfo("fc00::6", 53, NI_NUMERICSERV).first, "host.test");
}

TEST(resolver_test, config_dns_of_the_constructor_configures_the_resolver) {
  if (!have_dnsmasq()) GTEST_SKIP() << "/usr/sbin/dnsmasq is not installed";
  REQUIRE_VDE();
  // A lone vdestack whose own ::1 runs nothing: the query is refused inside the stack,
  // quickly, instead of reaching the host's ::1.
  auto host_dns = start_host_dns(zone_args());
  ASSERT_TRUE(host_dns.server) << "dnsmasq never came up on [::1]";
  const int port = host_dns.port;
  Stack host = Stack::host();
  host.iothdns_update(fmt::format("nameserver [::1]:{}\n{}", port, kFastFail));
  ASSERT_NO_THROW(eventually([&] { return host.getaddrinfo("name.test", "", AF_INET6); }));
  Stack lonely("vdestack", {}, fmt::format("nameserver [::1]:{}\n{}", port, kFastFail));
  EXPECT_THROW(lonely.getaddrinfo("name.test", "", AF_INET6), NetworkAddressError);
  EXPECT_THROW(Stack("vdestack", {}, "nameserver not-an-ip"), RepyArgumentError);
}
