// Argument checks of the Stack calls.
#include "stack/arguments.hpp"

#include <fmt/format.h>
#include <net/if.h>

#include <charconv>
#include <string>

#include "core/error_map.hpp"
#include "core/text.hpp"
#include "stack/stack_impl.hpp"

namespace repy::detail {

namespace {

// `either`: 0 stands for "as the address is".
void check_family(std::string_view call, int family, bool either) {
  if ((family != 0 || !either) && family != AF_INET && family != AF_INET6) {
    throw_argument_error(call, "family", "must be AF_INET6 or AF_INET", std::to_string(family));
  }
}

// The interface index a zone names on `zones`: a number, or an interface name there.
unsigned long zone_index(std::string_view call, std::string_view argument, std::string_view text,
                         std::string_view zone, StackImpl& zones) {
  if (auto number = parse_int<unsigned long>(zone, 1, 0xffffffffUL)) return *number;
  int index = is_valid_ifname(zone) ? netlink::find_link_index(zones, zone) : 0;
  if (index <= 0) {
    throw_argument_error(
        call, argument,
        fmt::format("has a zone that names no interface of the {} stack", zones.kind()), text);
  }
  return static_cast<unsigned long>(index);
}

}  // namespace

IpAddress any_address(int family) {
  return family == AF_INET ? IpAddress(boost::asio::ip::address_v4())
                           : IpAddress(boost::asio::ip::address_v6());
}

std::optional<IpAddress> ip_literal(std::string_view text, int family) {
  // Boost reads a "%zone" itself (through the host's interfaces) and stops at a NUL:
  // neither may reach it.
  if (text.find_first_of(std::string_view("%\0", 2)) != std::string_view::npos) return {};
  std::string s(text);
  boost::system::error_code ec;
  if (family == 0 || family == AF_INET6) {
    auto v6 = boost::asio::ip::make_address_v6(s, ec);
    if (!ec) return IpAddress(v6);
  }
  if (family == 0 || family == AF_INET) {
    auto v4 = boost::asio::ip::make_address_v4(s, ec);
    if (!ec) return IpAddress(v4);
  }
  return {};
}

IpAddress parse_stack_ip(std::string_view call, std::string_view argument, int family,
                         std::string_view text, StackImpl* zones) {
  check_family(call, family, true);
  auto percent = text.find('%');
  if (percent != std::string_view::npos && zones == nullptr) {
    throw_argument_error(call, argument, "takes no zone ('%')", text);
  }
  auto parsed = ip_literal(text.substr(0, percent), family);
  if (!parsed) {
    throw_argument_error(call, argument,
                         family == AF_INET    ? "is not an IPv4 address"
                         : family == AF_INET6 ? "is not an IPv6 address"
                                              : "is not an IP address",
                         text);
  }
  if (percent == std::string_view::npos) return *parsed;
  if (parsed->is_v4()) throw_argument_error(call, argument, "has a zone, but is IPv4", text);
  auto v6 = parsed->to_v6();
  v6.scope_id(zone_index(call, argument, text, text.substr(percent + 1), *zones));
  return IpAddress(v6);
}

void check_prefix(std::string_view call, int family, int prefixlen) {
  int max = family == AF_INET ? 32 : 128;
  if (prefixlen < 0 || prefixlen > max) {
    throw_argument_error(call, "prefixlen", fmt::format("must be 0..{}", max),
                         std::to_string(prefixlen));
  }
}

void check_ifindex(std::string_view call, int ifindex) {
  if (ifindex <= 0) {
    throw_argument_error(call, "ifindex", "must be > 0", std::to_string(ifindex));
  }
}

bool is_valid_ifname(std::string_view ifname) noexcept {
  return !ifname.empty() && ifname.size() < IFNAMSIZ && ifname != "." && ifname != ".." &&
         ifname.find_first_of(std::string_view("/: \t\n\r\v\f\0", 10)) == std::string_view::npos;
}

void check_ifname(std::string_view call, std::string_view argument, std::string_view ifname) {
  if (!is_valid_ifname(ifname)) {
    throw_argument_error(call, argument, "is not a valid interface name", ifname);
  }
}

void check_mtu(std::string_view call, int mtu) {
  if (mtu < 68 || mtu > 65535) {
    throw_argument_error(call, "mtu", "must be 68..65535", std::to_string(mtu));
  }
}

netlink::MacAddress parse_mac(std::string_view call, std::string_view text) {
  auto fail = [&] {
    throw_argument_error(call, "mac", "is not a MAC address like 80:00:42:0e:e7:3a", text);
  };
  netlink::MacAddress mac{};
  std::size_t pos = 0;
  for (std::size_t i = 0; i < mac.size(); ++i) {
    if (i != 0) {
      if (pos >= text.size() || (text[pos] != ':' && text[pos] != '-')) fail();
      ++pos;
    }
    unsigned value = 0;
    auto [p, ec] =
        std::from_chars(text.data() + pos, text.data() + std::min(pos + 2, text.size()), value, 16);
    if (ec != std::errc() || p != text.data() + pos + 2) fail();
    mac[i] = static_cast<unsigned char>(value);
    pos += 2;
  }
  if (pos != text.size()) fail();
  // An interface cannot own a group address; say so here rather than as a kernel error.
  if (mac[0] & 1) throw_argument_error(call, "mac", "is a multicast address", text);
  return mac;
}

VlanData parse_vlan_data(std::string_view call, std::string_view data) {
  auto colon = data.rfind(':');
  std::optional<int> id;
  if (colon != std::string_view::npos && colon > 0) {
    id = parse_int(data.substr(colon + 1), 1, 4094);
  }
  if (!id) {
    throw_argument_error(call, "data", "must be 'PARENT:ID' with 1 <= ID <= 4094 for a vlan link",
                         data);
  }
  return {data.substr(0, colon), *id};
}

Route parse_route(std::string_view call, int family, std::string_view gw, std::string_view dst,
                  int dst_prefixlen, int ifindex) {
  Route route;
  if (!gw.empty()) {
    route.gateway = parse_stack_ip(call, "gw", family, gw);
    family = family_of(*route.gateway);
  }
  if (!dst.empty()) {
    route.destination = parse_stack_ip(call, "dst", family, dst);
    family = family_of(route.destination);
  } else if (dst_prefixlen != 0) {
    throw_argument_error(call, "dst_prefixlen", "must be 0 for the default route (empty dst)",
                         std::to_string(dst_prefixlen));
  }
  check_family(call, family, false);
  check_prefix(call, family, dst_prefixlen);
  if (dst.empty()) route.destination = any_address(family);
  if (gw.empty() && ifindex <= 0) {
    throw_argument_error(call, "gw", "is needed when there is no ifindex", gw);
  }
  if (ifindex < 0) throw_argument_error(call, "ifindex", "must be >= 0", std::to_string(ifindex));
  route.prefixlen = dst_prefixlen;
  route.ifindex = ifindex;
  return route;
}

}  // namespace repy::detail
