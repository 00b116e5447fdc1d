// SPEC section 3: what counts as an IP argument, on the parsed address.
#include "core/address.hpp"

#include <gtest/gtest.h>

#include <string>

#include "repy/errors.hpp"

namespace {

using repy::RepyArgumentError;
using repy::detail::is_loopback;
using repy::detail::parse_ip;
using repy::detail::to_text;

repy::detail::address_v6 ip(std::string_view text) { return parse_ip("test", "ip", text); }

TEST(address_test, accepts_plain_literals) {
  EXPECT_EQ(to_text(ip("::1")), "::1");
  EXPECT_EQ(to_text(ip("0:0::1")), "::1");
  EXPECT_EQ(to_text(ip("2001:DB8::1")), "2001:db8::1");
  EXPECT_EQ(to_text(ip("fc00:0:0:0:0:0:0:5")), "fc00::5");
}

TEST(address_test, rejects_what_is_not_a_usable_unicast_literal) {
  for (std::string_view bad :
       {"", "::", "ff02::1", "ff00::", "localhost", "example.com", "1.2.3.4", " ::1", "::1 ",
        "::1\n", "[::1]", "::1%", "2001:db8::1%lo", "::ffff:0.1.2.3", "::ffff:224.0.0.1",
        "::ffff:255.255.255.255", "1::2::3", "12345::1", "::g"}) {
    EXPECT_THROW(ip(bad), RepyArgumentError) << "value " << bad;
  }
  EXPECT_THROW(ip(std::string_view("::1\0", 4)), RepyArgumentError);
  EXPECT_THROW(ip(std::string(1000, 'a')), RepyArgumentError);
}

TEST(address_test, accepts_valid_ipv4_mapped_and_link_local_zones) {
  EXPECT_TRUE(ip("::ffff:127.0.0.1").is_v4_mapped());
  EXPECT_TRUE(ip("::ffff:1.2.3.4").is_v4_mapped());
  EXPECT_EQ(ip("fe80::1%7").scope_id(), 7u);
  EXPECT_THROW(ip("fe80::1%0"), RepyArgumentError);
}

TEST(address_test, zone_names_are_asked_of_the_caller_never_of_the_host) {
  // The caller's stack answers names; here a stack with one interface "rv0", index 9.
  auto stack_index = [](std::string_view name) -> unsigned long { return name == "rv0" ? 9 : 0; };
  EXPECT_EQ(parse_ip("test", "ip", "fe80::1%rv0", stack_index).scope_id(), 9u);
  // The host has "lo", but this stack does not.
  EXPECT_THROW(parse_ip("test", "ip", "fe80::1%lo", stack_index), RepyArgumentError);
  EXPECT_THROW(parse_ip("test", "ip", "fe80::1%no-such-interface0", stack_index),
               RepyArgumentError);
  // Without a stack only numbers are zones.
  EXPECT_THROW(ip("fe80::1%lo"), RepyArgumentError);
  // An alias label or anything else that is no interface name is refused outright.
  for (std::string_view bad :
       {"fe80::1%lo:junk", "fe80::1%a/b", "fe80::1%a b", "fe80::1%0123456789abcdefg"}) {
    EXPECT_THROW(parse_ip("test", "ip", bad, [](std::string_view) { return 1ul; }),
                 RepyArgumentError)
        << bad;
  }
}

TEST(address_test, message_names_call_argument_and_value) {
  try {
    parse_ip("openconnection_ipv6", "destip", "not-an-ip");
    FAIL() << "no exception";
  } catch (const RepyArgumentError& e) {
    std::string what = e.what();
    EXPECT_NE(what.find("openconnection_ipv6"), std::string::npos) << what;
    EXPECT_NE(what.find("destip"), std::string::npos) << what;
    EXPECT_NE(what.find("not-an-ip"), std::string::npos) << what;
  }
}

TEST(address_test, nul_bytes_are_shown_escaped) {
  try {
    ip(std::string_view("::1\0x", 5));
    FAIL() << "no exception";
  } catch (const RepyArgumentError& e) {
    EXPECT_NE(std::string(e.what()).find("\\x00"), std::string::npos) << e.what();
  }
}

TEST(address_test, loopback_is_decided_on_the_parsed_address) {
  EXPECT_TRUE(is_loopback(ip("::1")));
  EXPECT_TRUE(is_loopback(ip("0:0:0:0:0:0:0:1")));
  EXPECT_TRUE(is_loopback(ip("::ffff:127.0.0.1")));
  EXPECT_TRUE(is_loopback(ip("::ffff:127.255.1.2")));
  // The old Python port compared prefixes of the text; these are not loopback.
  EXPECT_FALSE(is_loopback(ip("::100")));
  EXPECT_FALSE(is_loopback(ip("::1:0")));
  EXPECT_FALSE(is_loopback(ip("::ffff:128.0.0.1")));
  EXPECT_FALSE(is_loopback(ip("2001:db8::1")));
}

TEST(address_test, ports_must_be_in_range) {
  using repy::detail::check_port;
  EXPECT_NO_THROW(check_port("t", "port", 1));
  EXPECT_NO_THROW(check_port("t", "port", 65535));
  for (int bad : {0, -1, 65536, 1 << 30}) {
    EXPECT_THROW(check_port("t", "port", bad), RepyArgumentError) << bad;
  }
}

}  // namespace
