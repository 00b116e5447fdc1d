// The arguments of the Stack calls, checked before anything reaches a stack: IP text of
// either family (netlink configures IPv4 too), MAC addresses, interface names and
// indexes, prefix lengths, MTUs, vlan data and routes. Every failure is a
// RepyArgumentError in the one format of detail::throw_argument_error.
#pragma once

#include <sys/socket.h>

#include <boost/asio/ip/address.hpp>
#include <optional>
#include <string_view>

#include "stack/netlink.hpp"

namespace repy::detail {

class StackImpl;

/// AF_INET or AF_INET6, as `a` is.
inline int family_of(const IpAddress& a) noexcept { return a.is_v4() ? AF_INET : AF_INET6; }

/// The unspecified address (0.0.0.0 or ::) of `family`, AF_INET or AF_INET6.
IpAddress any_address(int family);

/// An IPv6 literal (when `family` is AF_INET6 or 0) or an IPv4 dotted quad (AF_INET or
/// 0), without a zone; nullopt when `text` is neither. The one reader of IP text in the
/// stack layer.
std::optional<IpAddress> ip_literal(std::string_view text, int family = 0);

/// The IP argument `argument` of `call`; `family` is AF_INET6, AF_INET or 0 (either).
/// An IPv6 address may carry a zone ("%3" or "%eth0") only when `zones` is given; a zone
/// name is an interface of that stack, never of the host.
/// @throws RepyArgumentError for a bad family, text that is no address of the family, a
/// zone where none is allowed, or a zone that names no interface of `zones`.
IpAddress parse_stack_ip(std::string_view call, std::string_view argument, int family,
                         std::string_view text, StackImpl* zones = nullptr);

/// @throws RepyArgumentError unless 0 <= prefixlen <= 32 (AF_INET) or 128 (AF_INET6).
void check_prefix(std::string_view call, int family, int prefixlen);

/// @throws RepyArgumentError unless ifindex > 0.
void check_ifindex(std::string_view call, int ifindex);

/// The kernel's rule for an interface name (dev_valid_name): 1..15 bytes, not "." or
/// "..", no '/', ':' or white space.
bool is_valid_ifname(std::string_view ifname) noexcept;

/// @throws RepyArgumentError unless `ifname` (the argument `argument`) is a valid
/// interface name.
void check_ifname(std::string_view call, std::string_view argument, std::string_view ifname);

/// @throws RepyArgumentError unless 68 <= mtu <= 65535.
void check_mtu(std::string_view call, int mtu);

/// A unicast MAC address "80:00:42:0e:e7:3a" (or with '-').
/// @throws RepyArgumentError for anything else, a group address included.
netlink::MacAddress parse_mac(std::string_view call, std::string_view text);

/// What a vlan link's data "PARENT:ID" says.
struct VlanData {
  std::string_view parent;
  int id = 0;
};

/// @throws RepyArgumentError unless `data` is "PARENT:ID" with 1 <= ID <= 4094.
VlanData parse_vlan_data(std::string_view call, std::string_view data);

/// A route of iproute_add/iproute_del, checked; its family is the destination's.
struct Route {
  std::optional<IpAddress> gateway;  // none: the destination is on the link itself
  IpAddress destination;             // the unspecified address for the default route
  int prefixlen = 0;
  int ifindex = 0;  // 0: whichever link reaches the gateway
};

/// Checks the arguments of iproute_add/iproute_del: `gw` and `dst` are addresses of
/// `family` (0: as they are, which needs one of them), an empty `dst` is the default
/// route (prefix 0), and an empty `gw` needs an ifindex > 0.
/// @throws RepyArgumentError naming the argument at fault.
Route parse_route(std::string_view call, int family, std::string_view gw, std::string_view dst,
                  int dst_prefixlen, int ifindex);

}  // namespace repy::detail
