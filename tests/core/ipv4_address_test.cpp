// SPEC section 9: the IP arguments of Repy V2's IPv4 calls, and how they print.
#include <gtest/gtest.h>

#include <string>

#include "core/address.hpp"
#include "repy/errors.hpp"

namespace {

using repy::RepyArgumentError;
using repy::detail::Family;
using repy::detail::is_loopback;
using repy::detail::parse_ipv4;
using repy::detail::to_text;

repy::detail::address_v6 ip4(std::string_view text) { return parse_ipv4("test", "ip", text); }

TEST(ipv4_address_test, a_dotted_quad_reads_as_its_mapped_form) {
  EXPECT_EQ(ip4("127.0.0.1"), boost::asio::ip::make_address_v6("::ffff:127.0.0.1"));
  EXPECT_EQ(ip4("10.20.30.40"), boost::asio::ip::make_address_v6("::ffff:10.20.30.40"));
  // "0" alone is a part; only the first part may not be 0.
  EXPECT_EQ(to_text(ip4("1.0.0.0"), Family::ipv4), "1.0.0.0");
  EXPECT_EQ(to_text(ip4("223.255.255.255"), Family::ipv4), "223.255.255.255");
  EXPECT_EQ(to_text(ip4("100.10.0.9"), Family::ipv4), "100.10.0.9");
}

TEST(ipv4_address_test, refuses_every_other_form) {
  for (std::string_view bad : {
           "",           "127.000.0.1", "01.2.3.4",         "1.2.3.04",   "127.0.0.01",
           "0.1.2.3",    "0.0.0.0",     "224.0.0.1",        "239.1.2.3",  "255.255.255.255",
           "256.1.2.3",  "1.2.3.256",   "1.2.3.1000",       "1.2.3",      "1.2.3.4.5",
           "1..2.3",     "1.2.3.",      ".1.2.3",           "127.1",      "2130706433",
           "0x7f.0.0.1", "1.2.3.-4",    "+1.2.3.4",         " 127.0.0.1", "127.0.0.1 ",
           "1.2.3.4/8",  "::1",         "::ffff:127.0.0.1", "localhost",  "127.0.0.1%lo",
           "1.2.3.4:80", "a.b.c.d",     "１.2.3.4",
       }) {
    EXPECT_THROW(ip4(bad), RepyArgumentError) << "value " << bad;
  }
  EXPECT_THROW(ip4(std::string_view("127.0.0.1\0", 10)), RepyArgumentError);
}

TEST(ipv4_address_test, message_names_call_argument_value_and_the_rule) {
  const std::pair<std::string_view, std::string_view> cases[] = {
      {"127.000.0.1", "leading zero"}, {"0.1.2.3", "0.x.x.x"}, {"224.0.0.1", "224.0.0.0"},
      {"1.2.3.300", "above 255"},      {"::1", "dotted-quad"},
  };
  for (auto [value, rule] : cases) {
    try {
      parse_ipv4("openconnection", "destip", value);
      ADD_FAILURE() << value << " accepted";
    } catch (const RepyArgumentError& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find("openconnection"), std::string::npos) << what;
      EXPECT_NE(what.find("destip"), std::string::npos) << what;
      EXPECT_NE(what.find(value), std::string::npos) << what;
      EXPECT_NE(what.find(rule), std::string::npos) << what;
    }
  }
}

TEST(ipv4_address_test, the_ipv6_rule_still_refuses_a_dotted_quad) {
  EXPECT_THROW(repy::detail::parse_ip("sendmessage_ipv6", "destip", "127.0.0.1"),
               RepyArgumentError);
  EXPECT_TRUE(
      repy::detail::parse_ip("sendmessage_ipv6", "destip", "::ffff:127.0.0.1").is_v4_mapped());
}

TEST(ipv4_address_test, the_whole_127_network_is_loopback) {
  EXPECT_TRUE(is_loopback(ip4("127.0.0.1")));
  EXPECT_TRUE(is_loopback(ip4("127.0.0.2")));
  EXPECT_TRUE(is_loopback(ip4("127.255.255.254")));
  EXPECT_FALSE(is_loopback(ip4("126.255.255.255")));
  EXPECT_FALSE(is_loopback(ip4("128.0.0.1")));
}

TEST(ipv4_address_test, each_family_prints_its_own_way) {
  const auto mapped = ip4("192.0.2.5");
  EXPECT_EQ(to_text(mapped, Family::ipv4), "192.0.2.5");
  EXPECT_EQ(to_text(mapped, Family::ipv6), "::ffff:192.0.2.5");
  // An IPv6 address stays IPv6 text whatever the family asks.
  const auto v6 = boost::asio::ip::make_address_v6("2001:db8::1");
  EXPECT_EQ(to_text(v6, Family::ipv4), "2001:db8::1");
}

}  // namespace
