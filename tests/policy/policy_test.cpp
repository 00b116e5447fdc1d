// Tests of repy::Policy: the resource table, unlimited(), loading files, the accessors,
// the extensions (ip, iface, nootherips).
// The restrictions syntax itself is tested in restrictions_syntax_test.cpp.
#include "repy/policy.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <set>
#include <string>
#include <vector>

#include "core/access.hpp"
#include "core/error_map.hpp"
#include "policy/policy_data.hpp"
#include "policy_test_support.hpp"
#include "repy/errors.hpp"
#include "test_support.hpp"

namespace {

using namespace std::chrono_literals;
using policy_test_support::parse_error;
using policy_test_support::TempDir;
using repy::Policy;
using repy::RepyArgumentError;
using repy::ResourceParseError;
using repy::detail::Resource;
using repy::detail::ResourceKind;
using ::testing::AllOf;
using ::testing::HasSubstr;

constexpr double inf = std::numeric_limits<double>::infinity();

const std::filesystem::path data_dir = REPY6_TEST_DATA;

// ---- names

TEST(policy_test, resource_names_round_trip) {
  for (std::size_t i = 0; i < repy::detail::resource_count; ++i) {
    auto r = static_cast<Resource>(i);
    auto name = repy::detail::resource_name(r);
    EXPECT_FALSE(name.empty());
    auto back = repy::detail::resource_from_name(name);
    ASSERT_TRUE(back.has_value()) << name;
    EXPECT_EQ(*back, r);
  }
  EXPECT_FALSE(repy::detail::resource_from_name("sockets").has_value());
  EXPECT_FALSE(repy::detail::resource_from_name("").has_value());
  EXPECT_FALSE(repy::detail::resource_from_name("NETSEND").has_value());
}

TEST(policy_test, resource_kinds_follow_repy) {
  using repy::detail::resource_kind;
  for (auto r :
       {Resource::netsend, Resource::netrecv, Resource::loopsend, Resource::looprecv, Resource::cpu,
        Resource::filewrite, Resource::fileread, Resource::lograte, Resource::random}) {
    EXPECT_EQ(resource_kind(r), ResourceKind::renewable);
  }
  for (auto r :
       {Resource::insockets, Resource::outsockets, Resource::events, Resource::filesopened}) {
    EXPECT_EQ(resource_kind(r), ResourceKind::fungible);
  }
  EXPECT_EQ(resource_kind(Resource::memory), ResourceKind::quantity);
  EXPECT_EQ(resource_kind(Resource::diskused), ResourceKind::quantity);
  EXPECT_EQ(resource_kind(Resource::messport), ResourceKind::individual);
  EXPECT_EQ(resource_kind(Resource::connport), ResourceKind::individual);
}

// ---- unlimited

TEST(policy_test, unlimited_has_no_limits_and_every_port) {
  Policy p = Policy::unlimited();
  for (std::size_t i = 0; i < repy::detail::resource_count; ++i) {
    auto name = repy::detail::resource_name(static_cast<Resource>(i));
    EXPECT_EQ(p.limit(name), inf) << name;
  }
  EXPECT_TRUE(repy::detail::data(p).any_port);
  EXPECT_TRUE(p.allows_connport(1));
  EXPECT_TRUE(p.allows_connport(65535));
  EXPECT_TRUE(p.allows_messport(12345));
  EXPECT_FALSE(p.allows_connport(0));
  EXPECT_FALSE(p.allows_messport(65536));
  EXPECT_FALSE(repy::detail::data(p).nootherips);
  EXPECT_TRUE(repy::detail::data(p).preferences.empty());
}

TEST(policy_test, unlimited_keeps_repy_socket_buffer_caps) {
  Policy p = Policy::unlimited();
  EXPECT_EQ(repy::detail::data(p).tcp_buffer, 10000);
  EXPECT_EQ(repy::detail::data(p).udp_buffer, 66000);
}

// ---- sample files

TEST(policy_test, twoports_sample_loads_exactly) {
  Policy p = Policy::load(data_dir / "twoports.txt");
  EXPECT_DOUBLE_EQ(p.limit("cpu"), 0.10);
  EXPECT_EQ(p.limit("memory"), 15000000);
  EXPECT_EQ(p.limit("diskused"), 100000000);
  EXPECT_EQ(p.limit("events"), 10);
  EXPECT_EQ(p.limit("filewrite"), 100000);
  EXPECT_EQ(p.limit("fileread"), 100000);
  EXPECT_EQ(p.limit("filesopened"), 5);
  EXPECT_EQ(p.limit("insockets"), 5);
  EXPECT_EQ(p.limit("outsockets"), 5);
  EXPECT_EQ(p.limit("netsend"), 10000);
  EXPECT_EQ(p.limit("netrecv"), 10000);
  EXPECT_EQ(p.limit("loopsend"), 1000000);
  EXPECT_EQ(p.limit("looprecv"), 1000000);
  EXPECT_EQ(p.limit("lograte"), 30000);
  EXPECT_EQ(p.limit("random"), 10000);
  EXPECT_EQ(repy::detail::data(p).messports, (std::set<int>{12345, 12346}));
  EXPECT_EQ(repy::detail::data(p).connports, (std::set<int>{12345, 12346}));
  EXPECT_FALSE(repy::detail::data(p).any_port);
  EXPECT_FALSE(p.allows_connport(12347));
  EXPECT_TRUE(repy::detail::data(p).preferences.empty());
  EXPECT_FALSE(repy::detail::data(p).nootherips);
}

TEST(policy_test, named_resources_are_the_lines_of_the_text) {
  Policy p = Policy::parse(
      "resource connport 2000\n"
      "resource loopsend 0\n"  // named even though its limit is the default
      "resource netsend 5\n"
      "resource connport 2001\n"  // a repeated port line names connport once
      "resource ip ::1\n"         // options, not resources
      "resource nootherips 1\n"
      "call gethostbyname_ex allow\n");
  EXPECT_EQ(p.named_resources(), (std::vector<std::string>{"netsend", "loopsend", "connport"}));
  EXPECT_TRUE(Policy::unlimited().named_resources().empty());
  EXPECT_TRUE(Policy::parse("# nothing\n").named_resources().empty());
  EXPECT_EQ(Policy::load(data_dir / "twoports.txt").named_resources().size(), 17u);
}

TEST(policy_test, tight_sample_loads) {
  Policy p = Policy::load(data_dir / "tight.txt");
  EXPECT_EQ(p.limit("insockets"), 1);
  EXPECT_EQ(p.limit("outsockets"), 1);
  EXPECT_EQ(p.limit("loopsend"), 2000);
  EXPECT_EQ(p.limit("looprecv"), 2000);
  EXPECT_EQ(p.limit("events"), 0);  // not mentioned
  EXPECT_TRUE(p.allows_messport(12345));
  EXPECT_TRUE(p.allows_connport(12345));
  EXPECT_FALSE(p.allows_connport(12346));
}

TEST(policy_test, bad_sample_fails_naming_line_and_resource) {
  try {
    Policy::load(data_dir / "bad-unknown-resource.txt");
    FAIL() << "bad-unknown-resource.txt parsed";
  } catch (const ResourceParseError& e) {
    EXPECT_THAT(e.what(), AllOf(HasSubstr("line 2"), HasSubstr("sockets"),
                                HasSubstr("bad-unknown-resource.txt")));
  }
}

TEST(policy_test, load_of_missing_file_names_the_path) {
  TempDir dir;
  auto missing = dir.path() / "no-such-restrictions.txt";
  try {
    Policy::load(missing);
    FAIL() << "a missing file loaded";
  } catch (const ResourceParseError& e) {
    EXPECT_THAT(e.what(), HasSubstr("no-such-restrictions.txt"));
  }
}

TEST(policy_test, load_of_a_directory_is_an_error) {
  TempDir dir;
  EXPECT_THROW(Policy::load(dir.path()), ResourceParseError);
}

TEST(policy_test, load_reads_a_written_file) {
  TempDir dir;
  auto file = dir.write("r.txt", "resource netsend 77\r\nresource messport 40000\r\n");
  Policy p = Policy::load(file);
  EXPECT_EQ(p.limit("netsend"), 77);
  EXPECT_TRUE(p.allows_messport(40000));
}

TEST(policy_test, seattle_crlf_sample_loads) {
  auto file = data_dir / "seattle-crlf.txt";
  // The point of the sample is its CRLF line ends; make sure nothing normalised them.
  std::ifstream in(file, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ASSERT_NE(bytes.find("\r\n"), std::string::npos);

  Policy p = Policy::load(file);
  EXPECT_DOUBLE_EQ(p.limit("cpu"), 0.10);
  EXPECT_EQ(p.limit("memory"), 15000000);
  EXPECT_EQ(p.limit("insockets"), 5);
  EXPECT_EQ(p.limit("random"), 10000);
  EXPECT_EQ(repy::detail::data(p).messports, (std::set<int>{50010, 50011}));
  EXPECT_EQ(repy::detail::data(p).connports, (std::set<int>{50010}));
}

// ---- load: only regular files, never blocking

// The message of the ResourceParseError that loading `file` raises, run on its own
// thread so that a load that blocks fails the test instead of hanging it.
std::string load_error(const std::filesystem::path& file) {
  auto outcome = repy_test::run_with_deadline([file] { Policy::load(file); }, 5s);
  if (!outcome.finished) {
    ADD_FAILURE() << "Policy::load(" << file << ") still blocked after 5 s";
    return "";
  }
  return repy_test::expect_throws<ResourceParseError>([&] { repy_test::rethrow(outcome); },
                                                      "Policy::load(" + file.string() + ")");
}

TEST(policy_test, load_refuses_a_fifo_without_blocking) {
  TempDir dir;
  auto fifo = dir.path() / "restrictions.fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0) << std::strerror(errno);
  EXPECT_THAT(load_error(fifo), AllOf(HasSubstr("Policy::load"), HasSubstr(fifo.string()),
                                      HasSubstr("not a regular file")));
}

TEST(policy_test, load_refuses_a_directory_naming_why) {
  TempDir dir;
  EXPECT_THAT(load_error(dir.path()),
              AllOf(HasSubstr(dir.path().string()), HasSubstr("not a regular file")));
}

TEST(policy_test, load_refuses_a_device) {
  EXPECT_THAT(load_error("/dev/zero"),
              AllOf(HasSubstr("/dev/zero"), HasSubstr("not a regular file")));
}

TEST(policy_test, load_of_missing_file_gives_the_errno_text) {
  TempDir dir;
  auto missing = dir.path() / "absent.txt";
  EXPECT_THAT(load_error(missing),
              AllOf(HasSubstr(missing.string()), HasSubstr(repy::detail::errno_text(ENOENT))));
}

TEST(policy_test, load_refuses_a_file_over_one_mebibyte) {
  constexpr std::size_t cap = 1 << 20;
  // Comment lines: the text itself would parse, only its size is wrong.
  std::string line = "# " + std::string(61, 'x') + "\n";
  std::string text;
  while (text.size() < cap) text += line;
  text.resize(cap);
  TempDir dir;
  auto at_cap = dir.write("at-cap.txt", text);
  EXPECT_EQ(Policy::load(at_cap).limit("netsend"), 0);
  auto over = dir.write("over-cap.txt", text + "\n");
  EXPECT_THAT(load_error(over), AllOf(HasSubstr(over.string()), HasSubstr("larger than 1048576")));
}

// ---- accessors

TEST(policy_test, limit_of_unknown_name_is_argument_error) {
  Policy p = Policy::unlimited();
  EXPECT_THROW(p.limit("sockets"), RepyArgumentError);
  EXPECT_THROW(p.limit(""), RepyArgumentError);
  EXPECT_THROW(p.limit("ip"), RepyArgumentError);
}

TEST(policy_test, out_of_range_ports_are_never_allowed) {
  Policy p = Policy::parse("resource connport 80\nresource messport 53\n");
  EXPECT_FALSE(p.allows_connport(-80));
  EXPECT_FALSE(p.allows_connport(80 + 65536));
  EXPECT_FALSE(p.allows_messport(0));
}

TEST(policy_test, with_socket_buffers_makes_a_changed_copy) {
  Policy base = Policy::parse("resource netsend 5\n");
  Policy changed = base.with_socket_buffers(0, 4096);
  EXPECT_EQ(repy::detail::data(changed).tcp_buffer, 0);
  EXPECT_EQ(repy::detail::data(changed).udp_buffer, 4096);
  EXPECT_EQ(changed.limit("netsend"), 5);
  EXPECT_EQ(repy::detail::data(base).tcp_buffer, 10000);  // the original is untouched
  EXPECT_EQ(repy::detail::data(base).udp_buffer, 66000);
}

TEST(policy_test, with_socket_buffers_rejects_negative_sizes) {
  Policy p = Policy::unlimited();
  EXPECT_THROW(p.with_socket_buffers(-1, 0), RepyArgumentError);
  EXPECT_THROW(p.with_socket_buffers(0, -1), RepyArgumentError);
}

TEST(policy_test, copies_share_data) {
  Policy a = Policy::parse("resource netsend 5\n");
  Policy b = a;
  EXPECT_EQ(&repy::detail::data(a), &repy::detail::data(b));
}

// ---- extensions: iface, nootherips, ip (ip last: it relies on the address parser)

TEST(policy_test, iface_lines_repeat_in_order) {
  Policy p = Policy::parse("resource iface eth0\nresource iface lo\n");
  const auto& prefs = repy::detail::data(p).preferences;
  ASSERT_EQ(prefs.size(), 2u);
  EXPECT_EQ(prefs[0].iface, "eth0");
  EXPECT_FALSE(prefs[0].ip.has_value());
  EXPECT_EQ(prefs[1].iface, "lo");
}

TEST(policy_test, bad_iface_name_is_an_error) {
  EXPECT_THAT(parse_error("resource iface a/b\n"), HasSubstr("line 1"));
  EXPECT_THAT(parse_error("resource iface abcdefghijklmnop\n"), HasSubstr("line 1"));
  EXPECT_THAT(parse_error("resource iface\n"), HasSubstr("line 1"));
}

TEST(policy_test, nootherips_takes_zero_or_one) {
  EXPECT_TRUE(repy::detail::data(Policy::parse("resource nootherips 1\n")).nootherips);
  EXPECT_FALSE(repy::detail::data(Policy::parse("resource nootherips 0\n")).nootherips);
  EXPECT_FALSE(repy::detail::data(Policy::parse("")).nootherips);
  EXPECT_THAT(parse_error("resource nootherips 2\n"), HasSubstr("line 1"));
  EXPECT_THAT(parse_error("resource nootherips yes\n"), HasSubstr("line 1"));
  EXPECT_THAT(parse_error("resource nootherips 1\nresource nootherips 1\n"), HasSubstr("line 2"));
}

TEST(policy_test, ip_and_iface_keep_their_order) {
  Policy p = Policy::parse(
      "resource ip 2001:db8::1\n"
      "resource iface eth0\n"
      "resource ip ::1\n"
      "resource nootherips 1\n");
  const auto& prefs = repy::detail::data(p).preferences;
  ASSERT_EQ(prefs.size(), 3u);
  ASSERT_TRUE(prefs[0].ip.has_value());
  EXPECT_EQ(*prefs[0].ip, boost::asio::ip::make_address_v6("2001:db8::1"));
  EXPECT_TRUE(prefs[0].iface.empty());
  EXPECT_FALSE(prefs[1].ip.has_value());
  EXPECT_EQ(prefs[1].iface, "eth0");
  ASSERT_TRUE(prefs[2].ip.has_value());
  EXPECT_EQ(*prefs[2].ip, boost::asio::ip::address_v6::loopback());
  EXPECT_TRUE(repy::detail::data(p).nootherips);
}

TEST(policy_test, ipv4_ip_is_kept_in_mapped_form) {
  // An IPv4 preference and its mapped spelling are one address (SPEC section 9).
  Policy p = Policy::parse("resource ip 10.0.0.1\nresource ip ::ffff:10.0.0.1\n");
  const auto& prefs = repy::detail::data(p).preferences;
  ASSERT_EQ(prefs.size(), 2u);
  ASSERT_TRUE(prefs[0].ip.has_value());
  EXPECT_EQ(*prefs[0].ip, boost::asio::ip::make_address_v6("::ffff:10.0.0.1"));
  EXPECT_EQ(prefs[0].ip, prefs[1].ip);
}

TEST(policy_test, bad_ip_is_a_parse_error_naming_the_line) {
  for (const char* value : {"not-an-ip", "::", "ff02::1", "localhost", "0.1.2.3", "224.0.0.1",
                            "127.000.0.1", "10.0.0", "::ffff:0.0.0.1"}) {
    std::string text = std::string("resource netsend 1\nresource ip ") + value + "\n";
    try {
      Policy::parse(text);
      ADD_FAILURE() << value << " accepted as an ip";
    } catch (const ResourceParseError& e) {
      EXPECT_THAT(e.what(), AllOf(HasSubstr("line 2"), HasSubstr(value)));
    }
  }
}

}  // namespace
