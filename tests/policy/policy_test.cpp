// Tests of repy::Policy: Repy's restrictions syntax, deny by default, the extensions.
#include "repy/policy.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>

#include "core/access.hpp"
#include "policy/policy_data.hpp"
#include "repy/errors.hpp"

namespace {

using repy::Policy;
using repy::RepyArgumentError;
using repy::ResourceParseError;
using repy::detail::Resource;
using repy::detail::ResourceKind;
using ::testing::AllOf;
using ::testing::HasSubstr;

constexpr double inf = std::numeric_limits<double>::infinity();

const std::filesystem::path data_dir = REPY6_TEST_DATA;

// The message of the ResourceParseError that parsing `text` raises ("" if none).
std::string parse_error(std::string_view text) {
  try {
    Policy::parse(text);
  } catch (const ResourceParseError& e) {
    return e.what();
  }
  return "";
}

// A file in a fresh temporary directory, removed with it.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "policy_test.XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  std::filesystem::path write(const std::string& name, std::string_view text) const {
    auto file = path_ / name;
    std::ofstream out(file, std::ios::binary);
    out << text;
    return file;
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

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

// ---- parse: accepted forms

TEST(policy_test, parses_resource_lines) {
  Policy p = Policy::parse(
      "resource netsend 10000\n"
      "resource netrecv 2500.5\n"
      "resource cpu .10\n"
      "resource memory 15000000\n"
      "resource loopsend 1e4\n"
      "resource looprecv +7\n"
      "resource insockets 5\n");
  EXPECT_EQ(p.limit("netsend"), 10000);
  EXPECT_EQ(p.limit("netrecv"), 2500.5);
  EXPECT_DOUBLE_EQ(p.limit("cpu"), 0.10);
  EXPECT_EQ(p.limit("memory"), 15000000);
  EXPECT_EQ(p.limit("loopsend"), 10000);
  EXPECT_EQ(p.limit("looprecv"), 7);
  EXPECT_EQ(p.limit("insockets"), 5);
}

TEST(policy_test, unmentioned_resource_has_limit_zero) {
  Policy p = Policy::parse("resource netsend 10000\n");
  EXPECT_EQ(p.limit("netrecv"), 0);
  EXPECT_EQ(p.limit("outsockets"), 0);
  EXPECT_EQ(p.limit("memory"), 0);
}

TEST(policy_test, unmentioned_port_is_forbidden) {
  Policy p = Policy::parse("resource connport 12345\n");
  EXPECT_FALSE(repy::detail::data(p).any_port);
  EXPECT_TRUE(p.allows_connport(12345));
  EXPECT_FALSE(p.allows_connport(12346));
  EXPECT_FALSE(p.allows_messport(12345));  // connport does not open the UDP port
  EXPECT_TRUE(repy::detail::data(p).messports.empty());
}

TEST(policy_test, empty_text_denies_everything) {
  Policy p = Policy::parse("");
  for (std::size_t i = 0; i < repy::detail::resource_count; ++i) {
    auto name = repy::detail::resource_name(static_cast<Resource>(i));
    EXPECT_EQ(p.limit(name), 0) << name;
  }
  EXPECT_FALSE(p.allows_connport(12345));
  EXPECT_FALSE(p.allows_messport(12345));
}

TEST(policy_test, ports_repeat_and_accumulate) {
  Policy p = Policy::parse(
      "resource messport 12345\n"
      "resource messport 12346\n"
      "resource messport 12345\n"
      "resource connport 1\n"
      "resource connport 65535\n");
  EXPECT_EQ(repy::detail::data(p).messports, (std::set<int>{12345, 12346}));
  EXPECT_EQ(repy::detail::data(p).connports, (std::set<int>{1, 65535}));
  EXPECT_TRUE(p.allows_messport(12346));
  EXPECT_TRUE(p.allows_connport(65535));
  // The limit of a port resource is how many ports it allows.
  EXPECT_EQ(p.limit("messport"), 2);
  EXPECT_EQ(p.limit("connport"), 2);
}

TEST(policy_test, blank_lines_and_comments_are_ignored) {
  Policy p = Policy::parse(
      "\n"
      "   \n"
      "# a whole-line comment\n"
      "   # an indented comment\n"
      "resource netsend 10000   # a trailing comment\n"
      "resource netrecv 20#no space before the comment\n"
      "\t\n");
  EXPECT_EQ(p.limit("netsend"), 10000);
  EXPECT_EQ(p.limit("netrecv"), 20);
}

TEST(policy_test, call_lines_are_ignored) {
  Policy p = Policy::parse(
      "call gethostbyname_ex allow\n"
      "call sendmess allow # comment\n"
      "resource netsend 5\n");
  EXPECT_EQ(p.limit("netsend"), 5);
}

TEST(policy_test, tabs_and_runs_of_spaces_separate_words) {
  Policy p = Policy::parse("\tresource\t netsend \t 42 \t\n  resource   netrecv    7");
  EXPECT_EQ(p.limit("netsend"), 42);
  EXPECT_EQ(p.limit("netrecv"), 7);  // last line without a newline
}

TEST(policy_test, crlf_line_endings_parse) {
  Policy p = Policy::parse(
      "# saved on Windows\r\n"
      "resource netsend 100\r\n"
      "resource connport 12345\r\n"
      "\r\n");
  EXPECT_EQ(p.limit("netsend"), 100);
  EXPECT_TRUE(p.allows_connport(12345));
}

TEST(policy_test, crlf_error_names_line_without_carriage_return) {
  std::string message = parse_error("resource netsend 1\r\nbogus line\r\n");
  EXPECT_THAT(message, AllOf(HasSubstr("line 2"), HasSubstr("bogus line")));
  EXPECT_THAT(message, ::testing::Not(HasSubstr("\\r")));
}

TEST(policy_test, utf8_byte_order_mark_is_skipped) {
  Policy p = Policy::parse("\xEF\xBB\xBFresource netsend 9\n");
  EXPECT_EQ(p.limit("netsend"), 9);
}

TEST(policy_test, zero_and_large_values_are_kept) {
  Policy p = Policy::parse("resource netsend 0\nresource netrecv 1e12\n");
  EXPECT_EQ(p.limit("netsend"), 0);
  EXPECT_EQ(p.limit("netrecv"), 1e12);
}

TEST(policy_test, inf_value_means_unlimited) {
  Policy p = Policy::parse("resource netsend inf\n");
  EXPECT_EQ(p.limit("netsend"), inf);
}

// ---- parse: errors

TEST(policy_test, unknown_line_is_an_error_naming_the_line) {
  std::string message = parse_error("resource netsend 1\nallow everything\n");
  EXPECT_THAT(message, AllOf(HasSubstr("line 2"), HasSubstr("allow everything")));
}

TEST(policy_test, unknown_resource_is_an_error) {
  std::string message = parse_error("# header\n\nresource sockets 5\n");
  EXPECT_THAT(message, AllOf(HasSubstr("line 3"), HasSubstr("sockets")));
}

TEST(policy_test, names_are_case_sensitive) {
  EXPECT_THAT(parse_error("resource NetSend 5\n"), HasSubstr("line 1"));
  EXPECT_THAT(parse_error("Resource netsend 5\n"), HasSubstr("line 1"));
}

TEST(policy_test, repeated_resource_is_an_error) {
  std::string message = parse_error("resource netsend 1\nresource netrecv 1\nresource netsend 2\n");
  EXPECT_THAT(message, AllOf(HasSubstr("line 3"), HasSubstr("netsend 2")));
}

TEST(policy_test, non_number_value_is_an_error) {
  for (const char* value : {"abc", "10k", "1,000", "0x10", "nan", "--5", "+-5", "+", "."}) {
    std::string text = std::string("resource netsend ") + value + "\n";
    EXPECT_THAT(parse_error(text), AllOf(HasSubstr("line 1"), HasSubstr(value))) << value;
  }
}

TEST(policy_test, negative_value_is_an_error) {
  std::string message = parse_error("\nresource netsend -1\n");
  EXPECT_THAT(message, AllOf(HasSubstr("line 2"), HasSubstr("negative")));
}

TEST(policy_test, missing_or_extra_word_is_an_error) {
  EXPECT_THAT(parse_error("resource netsend\n"), HasSubstr("line 1"));
  EXPECT_THAT(parse_error("resource\n"), HasSubstr("line 1"));
  EXPECT_THAT(parse_error("resource netsend 1 2\n"), HasSubstr("line 1"));
  // A comment after the value is not an extra word.
  EXPECT_EQ(parse_error("resource netsend 1 # 2\n"), "");
}

TEST(policy_test, bad_ports_are_errors) {
  for (const char* value : {"0", "65536", "1.5", "-1", "port", "1e9"}) {
    std::string text = std::string("resource netsend 1\nresource messport ") + value + "\n";
    EXPECT_THAT(parse_error(text), HasSubstr("line 2")) << value;
    text = std::string("resource connport ") + value + "\n";
    EXPECT_THAT(parse_error(text), HasSubstr("line 1")) << value;
  }
}

TEST(policy_test, error_is_a_repy_exception) {
  EXPECT_THROW(Policy::parse("nonsense\n"), ResourceParseError);
  EXPECT_THROW(Policy::parse("nonsense\n"), repy::RepyException);
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

TEST(policy_test, bad_ip_is_a_parse_error_naming_the_line) {
  for (const char* value : {"not-an-ip", "::", "ff02::1", "10.0.0.1", "localhost"}) {
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
