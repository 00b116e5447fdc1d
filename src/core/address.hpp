// IP and port arguments: SPEC section 3's sanity rules, on Boost.Asio's address type.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <boost/asio/ip/address_v6.hpp>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace repy::detail {

using boost::asio::ip::address_v6;

/// The two families of Repy calls: the `_ipv6` ones and Repy V2's IPv4 ones. They
/// share every step but how an IP argument reads and how an address prints; an IPv4
/// address lives everywhere inside in its IPv4-mapped form (the sockets are dual-stack).
enum class Family { ipv6, ipv4 };

/// Turns a zone name into the index of that interface on the caller's stack; 0 when the
/// stack has no such interface.
using ZoneIndex = std::function<unsigned long(std::string_view name)>;

/// Parses an IP argument of `call`: an IPv6 literal, not ::, not multicast, no NUL or
/// spaces; a zone only on link-local addresses, a number or an interface name that
/// `zone_index` knows (without one, only numbers); an IPv4-mapped address only with a
/// valid IPv4 address (not 0.x.x.x, not 224.0.0.0 and above).
/// @throws RepyArgumentError naming the call, the argument and the value.
address_v6 parse_ip(std::string_view call, std::string_view argument, std::string_view value,
                    const ZoneIndex& zone_index = {});

/// What parse_ip() gave this thread for `value` lately, if it remembers: the hot path
/// of a call that sends to the same address again, before it builds a ZoneIndex.
std::optional<address_v6> remembered_ip(std::string_view value) noexcept;

/// Parses an IP argument of `call` of the IPv4 calls: a dotted quad of four decimal
/// parts 0..255, each one to three digits without a leading zero, not 0.x.x.x, not
/// 224.0.0.0 and above. Returns its IPv4-mapped form (::ffff:a.b.c.d).
/// @throws RepyArgumentError naming the call, the argument and the value.
address_v6 parse_ipv4(std::string_view call, std::string_view argument, std::string_view value);

/// Raises RepyArgumentError for a port outside min..65535.
[[noreturn]] void throw_bad_port(std::string_view call, std::string_view argument, int port,
                                 int min);

/// @throws RepyArgumentError unless min <= port <= 65535 (Repy's ports start at 1; a
/// lookup's service port may be 0). Inline: every sending call checks two ports.
inline void check_port(std::string_view call, std::string_view argument, int port, int min = 1) {
  if (port < min || port > 65535) throw_bad_port(call, argument, port, min);
}

/// ::1 or ::ffff:127.0.0.0/104, decided on the parsed address.
bool is_loopback(const address_v6& address) noexcept;

/// sockaddr_in6 for an address and port.
sockaddr_in6 to_sockaddr(const address_v6& address, int port) noexcept;
/// The address and port of a sockaddr (IPv4 ones come back IPv4-mapped).
std::pair<address_v6, int> from_sockaddr(const sockaddr_storage& sa) noexcept;

/// The canonical text (RFC 5952), with the zone as a number where it has one.
std::string to_text(const address_v6& address);

/// The text a call of `family` shows: an IPv4-mapped address dotted (127.0.0.1) for the
/// IPv4 calls, to_text() otherwise.
std::string to_text(const address_v6& address, Family family);

}  // namespace repy::detail
