// Tests of Policy::parse: Repy's restrictions syntax (SPEC section 5), what real Seattle
// files contain, the value rules per resource kind.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/access.hpp"
#include "policy/policy_data.hpp"
#include "policy_test_support.hpp"
#include "repy/errors.hpp"
#include "repy/policy.hpp"

namespace {

using policy_test_support::parse_error;
using repy::Policy;
using repy::ResourceParseError;
using repy::detail::Resource;
using ::testing::AllOf;
using ::testing::HasSubstr;

// ---- parse: accepted forms

TEST(restrictions_syntax_test, parses_resource_lines) {
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

TEST(restrictions_syntax_test, unmentioned_resource_has_limit_zero) {
  Policy p = Policy::parse("resource netsend 10000\n");
  EXPECT_EQ(p.limit("netrecv"), 0);
  EXPECT_EQ(p.limit("outsockets"), 0);
  EXPECT_EQ(p.limit("memory"), 0);
}

TEST(restrictions_syntax_test, unmentioned_port_is_forbidden) {
  Policy p = Policy::parse("resource connport 12345\n");
  EXPECT_FALSE(repy::detail::data(p).any_port);
  EXPECT_TRUE(p.allows_connport(12345));
  EXPECT_FALSE(p.allows_connport(12346));
  EXPECT_FALSE(p.allows_messport(12345));  // connport does not open the UDP port
  EXPECT_TRUE(repy::detail::data(p).messports.empty());
}

TEST(restrictions_syntax_test, empty_text_denies_everything) {
  Policy p = Policy::parse("");
  for (std::size_t i = 0; i < repy::detail::resource_count; ++i) {
    auto name = repy::detail::resource_name(static_cast<Resource>(i));
    EXPECT_EQ(p.limit(name), 0) << name;
  }
  EXPECT_FALSE(p.allows_connport(12345));
  EXPECT_FALSE(p.allows_messport(12345));
}

TEST(restrictions_syntax_test, ports_repeat_and_accumulate) {
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

TEST(restrictions_syntax_test, blank_lines_and_comments_are_ignored) {
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

TEST(restrictions_syntax_test, call_lines_are_ignored) {
  Policy p = Policy::parse(
      "call gethostbyname_ex allow\n"
      "call sendmess allow # comment\n"
      "resource netsend 5\n");
  EXPECT_EQ(p.limit("netsend"), 5);
}

TEST(restrictions_syntax_test, tabs_and_runs_of_spaces_separate_words) {
  Policy p = Policy::parse("\tresource\t netsend \t 42 \t\n  resource   netrecv    7");
  EXPECT_EQ(p.limit("netsend"), 42);
  EXPECT_EQ(p.limit("netrecv"), 7);  // last line without a newline
}

TEST(restrictions_syntax_test, crlf_line_endings_parse) {
  Policy p = Policy::parse(
      "# saved on Windows\r\n"
      "resource netsend 100\r\n"
      "resource connport 12345\r\n"
      "\r\n");
  EXPECT_EQ(p.limit("netsend"), 100);
  EXPECT_TRUE(p.allows_connport(12345));
}

TEST(restrictions_syntax_test, crlf_error_names_line_without_carriage_return) {
  std::string message = parse_error("resource netsend 1\r\nbogus line\r\n");
  EXPECT_THAT(message, AllOf(HasSubstr("line 2"), HasSubstr("bogus line")));
  EXPECT_THAT(message, ::testing::Not(HasSubstr("\\r")));
}

TEST(restrictions_syntax_test, utf8_byte_order_mark_is_skipped) {
  Policy p = Policy::parse("\xEF\xBB\xBFresource netsend 9\n");
  EXPECT_EQ(p.limit("netsend"), 9);
}

TEST(restrictions_syntax_test, zero_and_large_values_are_kept) {
  Policy p = Policy::parse("resource netsend 0\nresource netrecv 1e12\n");
  EXPECT_EQ(p.limit("netsend"), 0);
  EXPECT_EQ(p.limit("netrecv"), 1e12);
}

// ---- parse: errors

TEST(restrictions_syntax_test, unknown_line_is_an_error_naming_the_line) {
  std::string message = parse_error("resource netsend 1\nallow everything\n");
  EXPECT_THAT(message, AllOf(HasSubstr("line 2"), HasSubstr("allow everything")));
}

TEST(restrictions_syntax_test, unknown_resource_is_an_error) {
  std::string message = parse_error("# header\n\nresource sockets 5\n");
  EXPECT_THAT(message, AllOf(HasSubstr("line 3"), HasSubstr("sockets")));
}

TEST(restrictions_syntax_test, names_are_case_sensitive) {
  EXPECT_THAT(parse_error("resource NetSend 5\n"), HasSubstr("line 1"));
  EXPECT_THAT(parse_error("Resource netsend 5\n"), HasSubstr("line 1"));
}

TEST(restrictions_syntax_test, repeated_resource_is_an_error) {
  std::string message = parse_error("resource netsend 1\nresource netrecv 1\nresource netsend 2\n");
  EXPECT_THAT(message, AllOf(HasSubstr("line 3"), HasSubstr("netsend 2")));
}

TEST(restrictions_syntax_test, non_number_value_is_an_error) {
  for (const char* value : {"abc", "10k", "1,000", "0x10", "nan", "--5", "+-5", "+", "."}) {
    std::string text = std::string("resource netsend ") + value + "\n";
    EXPECT_THAT(parse_error(text), AllOf(HasSubstr("line 1"), HasSubstr(value))) << value;
  }
}

TEST(restrictions_syntax_test, negative_value_is_an_error) {
  std::string message = parse_error("\nresource netsend -1\n");
  EXPECT_THAT(message, AllOf(HasSubstr("line 2"), HasSubstr("negative")));
}

TEST(restrictions_syntax_test, missing_or_extra_word_is_an_error) {
  EXPECT_THAT(parse_error("resource netsend\n"), HasSubstr("line 1"));
  EXPECT_THAT(parse_error("resource\n"), HasSubstr("line 1"));
  EXPECT_THAT(parse_error("resource netsend 1 2\n"), HasSubstr("line 1"));
  // A comment after the value is not an extra word.
  EXPECT_EQ(parse_error("resource netsend 1 # 2\n"), "");
}

TEST(restrictions_syntax_test, bad_ports_are_errors) {
  for (const char* value : {"0", "65536", "1.5", "-1", "port", "1e9"}) {
    std::string text = std::string("resource netsend 1\nresource messport ") + value + "\n";
    EXPECT_THAT(parse_error(text), HasSubstr("line 2")) << value;
    text = std::string("resource connport ") + value + "\n";
    EXPECT_THAT(parse_error(text), HasSubstr("line 1")) << value;
  }
}

TEST(restrictions_syntax_test, error_is_a_repy_exception) {
  EXPECT_THROW(Policy::parse("nonsense\n"), ResourceParseError);
  EXPECT_THROW(Policy::parse("nonsense\n"), repy::RepyException);
}

// ---- SPEC section 5: values by resource kind

// Every resource name a `resource` line may carry a number for.
std::vector<std::string> all_names() {
  std::vector<std::string> names;
  for (std::size_t i = 0; i < repy::detail::resource_count; ++i) {
    names.emplace_back(repy::detail::resource_name(static_cast<Resource>(i)));
  }
  return names;
}

const std::vector<std::string> count_names = {"insockets",   "outsockets", "events",
                                              "filesopened", "memory",     "diskused"};
const std::vector<std::string> rate_names = {"netsend",   "netrecv",  "loopsend", "looprecv", "cpu",
                                             "filewrite", "fileread", "lograte",  "random"};

TEST(restrictions_syntax_test, counts_refuse_fractions) {
  for (const auto& name : count_names) {
    for (const char* value : {"2.5", ".5", "1e-3", "0.000001"}) {
      std::string line = "resource " + name + " " + value;
      EXPECT_THAT(parse_error("# counts\n" + line + "\n"),
                  AllOf(HasSubstr("line 2"), HasSubstr(line), HasSubstr("whole number")))
          << line;
    }
  }
  EXPECT_THAT(parse_error("resource insockets 2.5\n"), HasSubstr("'resource insockets 2.5'"));
}

TEST(restrictions_syntax_test, counts_take_whole_numbers_in_any_notation) {
  // Seattle's node manager writes every value with Python's str(float): "5.0".
  for (const auto& name : count_names) {
    for (const auto& [value, expected] :
         {std::pair{"0", 0.0}, {"5", 5.0}, {"5.0", 5.0}, {"+7", 7.0}, {"1e3", 1000.0}}) {
      std::string text = "resource " + name + " " + value + "\n";
      ASSERT_EQ(parse_error(text), "") << text;
      EXPECT_EQ(Policy::parse(text).limit(name), expected) << text;
    }
  }
}

TEST(restrictions_syntax_test, ports_take_whole_numbers_from_1_to_65535) {
  for (const char* value : {"0.5", "12345.5", "65535.5", "65536", "0", "100000"}) {
    EXPECT_THAT(parse_error(std::string("resource messport ") + value + "\n"),
                AllOf(HasSubstr("line 1"), HasSubstr(value)))
        << value;
  }
  Policy p =
      Policy::parse("resource messport 12345.0\nresource connport 1\nresource connport 65535\n");
  EXPECT_TRUE(p.allows_messport(12345));
  EXPECT_TRUE(p.allows_connport(1));
  EXPECT_TRUE(p.allows_connport(65535));
}

TEST(restrictions_syntax_test, rates_take_any_finite_non_negative_number) {
  for (const auto& name : rate_names) {
    for (const auto& [value, expected] : {std::pair{"2.5", 2.5},
                                          {".10", 0.10},
                                          {"1e-3", 1e-3},
                                          {"0", 0.0},
                                          {"5.", 5.0},
                                          {"1e300", 1e300}}) {
      std::string text = "resource " + name + " " + value + "\n";
      ASSERT_EQ(parse_error(text), "") << text;
      EXPECT_DOUBLE_EQ(Policy::parse(text).limit(name), expected) << text;
    }
  }
}

TEST(restrictions_syntax_test, non_finite_values_are_errors_for_every_resource) {
  for (const auto& name : all_names()) {
    for (const char* value :
         {"nan", "NaN", "-nan", "+NAN", "nan(1)", "inf", "INF", "+inf", "-inf", "Inf", "infinity",
          "-Infinity", "INFINITY", "1e999", "-1e999", "1e99999999999999999999"}) {
      std::string line = "resource " + name + " " + value;
      EXPECT_THAT(parse_error("\n" + line + "\n"), AllOf(HasSubstr("line 2"), HasSubstr(line)))
          << line;
    }
  }
}

TEST(restrictions_syntax_test, negative_zero_reads_as_positive_zero) {
  for (const auto& name : all_names()) {
    if (name == "messport" || name == "connport") continue;  // 0 is not a port
    for (const char* value : {"-0", "-0.0", "-.0", "-0e5"}) {
      std::string text = "resource " + name + " " + value + "\n";
      ASSERT_EQ(parse_error(text), "") << text;
      double limit = Policy::parse(text).limit(name);
      EXPECT_EQ(limit, 0) << text;
      EXPECT_FALSE(std::signbit(limit)) << text;
    }
  }
  EXPECT_THAT(parse_error("resource connport -0\n"), HasSubstr("line 1"));
}

TEST(restrictions_syntax_test, negative_values_are_errors_for_every_resource) {
  for (const auto& name : all_names()) {
    for (const char* value : {"-1", "-0.5", "-1e-3", "-12345"}) {
      std::string line = "resource " + name + " " + value;
      EXPECT_THAT(parse_error("resource events 1\n" + line + "\n"),
                  AllOf(HasSubstr("line 2"), HasSubstr(line), HasSubstr("negative")))
          << line;
    }
  }
}

TEST(restrictions_syntax_test, values_too_small_for_a_double_read_as_zero) {
  // Python's float(), which Repy uses, reads them as 0.0; only overflow is an error.
  Policy p = Policy::parse("resource netsend 1e-400\nresource insockets -1e-400\n");
  EXPECT_EQ(p.limit("netsend"), 0);
  EXPECT_EQ(p.limit("insockets"), 0);
  EXPECT_FALSE(std::signbit(p.limit("insockets")));
}

// ---- SPEC section 5: what real Seattle files contain

TEST(restrictions_syntax_test, real_seattle_lines_load) {
  Policy p = Policy::parse(
      "resource cpu .10\r\n"
      "resource\tmemory\t\t15000000   # 15 Million bytes\r\n"
      "resource   netsend    10000   \t \r\n"
      "resource messport 50011#used for testing purposes only\r\n"
      "resource connport 50010 #registration server\r\n"
      "call\r\n"
      "call gethostbyname_ex allow\r\n"
      "call socket.close allow \t\t# let's not restrict\r\n"
      "call foo bar baz qux\r\n"
      "\tcall\t\r\n");
  EXPECT_DOUBLE_EQ(p.limit("cpu"), 0.10);
  EXPECT_EQ(p.limit("memory"), 15000000);
  EXPECT_EQ(p.limit("netsend"), 10000);
  EXPECT_TRUE(p.allows_messport(50011));
  EXPECT_TRUE(p.allows_connport(50010));
  EXPECT_EQ(repy::detail::data(p).messports, (std::set<int>{50011}));
}

TEST(restrictions_syntax_test, call_lines_of_any_shape_are_ignored) {
  for (const char* line : {"call", "call gethostbyname_ex allow", "call foo bar baz qux",
                           "call 1 2 3 4 5 6 7 8", "  call  # nothing else", "call#x"}) {
    EXPECT_EQ(parse_error(std::string(line) + "\n"), "") << line;
  }
}

TEST(restrictions_syntax_test, errors_name_the_line_number_and_the_line) {
  for (const char* line : {"resource insockets 2.5", "resource netsend nan", "resource cpu -1",
                           "resource messport 70000", "resource netsend 1e999", "bogus",
                           "resource nosuch 1", "resource netsend"}) {
    EXPECT_THAT(
        parse_error(std::string("# one\n\nresource events 1\n") + line + "\n"),
        AllOf(HasSubstr("Policy::parse: line 4: "), HasSubstr(std::string("'") + line + "'")))
        << line;
  }
}

}  // namespace
