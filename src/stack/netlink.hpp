// Netlink configuration of one stack, written once on the stack's own sockets: every
// request goes through a NETLINK_ROUTE socket that the stack's make_socket() created,
// so configuring one stack never touches another or the host.
#pragma once

#include <sys/socket.h>

#include <array>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/address_v6.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace repy::detail {

class StackImpl;

/// An IP address of either family: netlink configures IPv4 as well as IPv6.
using IpAddress = boost::asio::ip::address;

namespace netlink {

/// A MAC address.
using MacAddress = std::array<unsigned char, 6>;

/// All calls below raise NetworkError when the stack cannot make its netlink socket or
/// the kernel refuses the request (ResourceForbiddenError when the reason is a
/// missing privilege); messages name the call, the interface and the kernel's reason.

/// The index of interface `name`. @throws NetworkError when there is none.
int link_index(StackImpl& stack, std::string_view name);
/// The index of interface `name`, or 0 when the stack has none of that name.
int find_link_index(StackImpl& stack, std::string_view name);
void link_set_updown(StackImpl& stack, int ifindex, bool up);
/// "80:00:42:0e:e7:3a"; empty when the link has no hardware address.
std::string link_get_mac(StackImpl& stack, int ifindex);
void link_set_mac(StackImpl& stack, int ifindex, const MacAddress& mac);
void link_set_mtu(StackImpl& stack, int ifindex, int mtu);
/// The MTU of a link (for tests and checks).
int link_get_mtu(StackImpl& stack, int ifindex);

/// Creates a link. `ifindex` > 0 asks for that index. `type` is a kernel link kind
/// ("dummy", "bridge", ...); "veth" takes the peer's name in `data` (checked by the
/// caller); "vlan" takes "PARENT:ID" in `data`.
/// @throws RepyArgumentError for malformed vlan `data`.
void link_add(StackImpl& stack, std::string_view name, int ifindex, std::string_view type,
              std::string_view data);
/// Deletes a link, by name or (when `ifindex` > 0) by index.
void link_del(StackImpl& stack, std::string_view name, int ifindex);

/// Adds (or deletes) an address (IPv4 or IPv6, no zone); `nodad` skips duplicate
/// address detection.
void addr_change(StackImpl& stack, bool add, const IpAddress& addr, int prefixlen, int ifindex,
                 bool nodad);

/// Adds (or deletes) a route in the main table, of `dst`'s family. `dst_prefixlen` 0
/// with an unspecified `dst` is the default route; no gateway means "directly on
/// ifindex".
void route_change(StackImpl& stack, bool add, const std::optional<IpAddress>& gateway,
                  const IpAddress& dst, int dst_prefixlen, int ifindex);

/// The addresses of interface `ifname` (IPv4 ones as ::ffff:a.b.c.d; IPv6 link-local
/// ones carry the interface index as scope). Empty when it has none, does not exist,
/// or the table cannot be read; never throws.
std::vector<boost::asio::ip::address_v6> addresses(StackImpl& stack,
                                                   std::string_view ifname) noexcept;

}  // namespace netlink
}  // namespace repy::detail
