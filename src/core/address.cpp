// IP and port argument checks (SPEC section 3).
#include "core/address.hpp"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <net/if.h>
#include <netinet/in.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cstring>

#include "core/error_map.hpp"
#include "core/text.hpp"

namespace repy::detail {

namespace {

bool is_link_local(const address_v6& a) noexcept { return a.is_link_local(); }

// Repy's IPv4 rule: 0.x.x.x means "this network" and 224.0.0.0 and above are
// multicast or reserved; neither is a usable unicast peer.
bool valid_ipv4_first_octet(unsigned char first) noexcept { return first != 0 && first < 224; }

}  // namespace

namespace {

// Programs send to the same few addresses over and over; each thread remembers the last
// texts it parsed and printed, so the hot path skips inet_pton/inet_ntop. Only plain
// literals are remembered: a zone name's index can change with the interfaces. Plain
// arrays, so the thread-locals need no construction or guard on each use.
struct ParsedText {
  std::size_t size = 0;  // 0: an empty slot
  char text[INET6_ADDRSTRLEN] = {};
  address_v6::bytes_type bytes{};
};
constexpr std::size_t remembered = 4;
constinit thread_local ParsedText parsed_texts[remembered];
constinit thread_local std::size_t next_parsed = 0;

struct PrintedAddress {
  address_v6::bytes_type bytes{};
  unsigned long scope = 0;
  std::size_t size = 0;                       // 0: nothing printed yet
  char text[INET6_ADDRSTRLEN + 1 + 20] = {};  // literal, '%', zone number
};
constinit thread_local PrintedAddress last_printed;

address_v6 parse_ip_uncached(std::string_view call, std::string_view argument,
                             std::string_view value, const ZoneIndex& zone_index);

// Literals are a few bytes: a plain loop beats a call to memcmp (which std::equal and
// string comparison become).
bool same_chars(const char* a, const char* b, std::size_t n) noexcept {
  for (std::size_t i = 0; i < n; ++i) {
    if (a[i] != b[i]) return false;
  }
  return true;
}

}  // namespace

std::optional<address_v6> remembered_ip(std::string_view value) noexcept {
  for (const auto& entry : parsed_texts) {
    if (entry.size == value.size() && entry.size != 0 &&
        same_chars(entry.text, value.data(), entry.size)) {
      return address_v6(entry.bytes);
    }
  }
  return std::nullopt;
}

address_v6 parse_ip(std::string_view call, std::string_view argument, std::string_view value,
                    const ZoneIndex& zone_index) {
  if (auto known = remembered_ip(value)) return *known;
  address_v6 address = parse_ip_uncached(call, argument, value, zone_index);
  if (address.scope_id() == 0 && value.size() < INET6_ADDRSTRLEN) {
    ParsedText& slot = parsed_texts[next_parsed];
    slot.size = value.size();
    std::memcpy(slot.text, value.data(), value.size());
    slot.bytes = address.to_bytes();
    next_parsed = (next_parsed + 1) % remembered;
  }
  return address;
}

namespace {

address_v6 parse_ip_uncached(std::string_view call, std::string_view argument,
                             std::string_view value, const ZoneIndex& zone_index) {
  auto fail = [&](std::string_view what) { throw_argument_error(call, argument, what, value); };
  if (value.empty()) fail("is empty, expected an IPv6 address");
  if (value.find('\0') != std::string_view::npos) fail("contains a NUL byte");
  if (std::isspace(static_cast<unsigned char>(value.front())) ||
      std::isspace(static_cast<unsigned char>(value.back()))) {
    fail("has surrounding white space");
  }
  if (value.size() > INET6_ADDRSTRLEN + IF_NAMESIZE) fail("is too long for an IPv6 address");

  std::string_view literal = value;
  std::string_view zone;
  if (auto percent = value.find('%'); percent != std::string_view::npos) {
    literal = value.substr(0, percent);
    zone = value.substr(percent + 1);
    if (zone.empty()) fail("has an empty zone after '%'");
  }

  in6_addr raw{};
  std::string text(literal);
  if (::inet_pton(AF_INET6, text.c_str(), &raw) != 1) {
    fail("is not an IPv6 address literal");
  }
  address_v6::bytes_type bytes;
  std::memcpy(bytes.data(), &raw, bytes.size());
  address_v6 address(bytes);

  if (address.is_unspecified()) fail("is the unspecified address ::");
  if (address.is_multicast()) fail("is a multicast address (ff00::/8)");
  if (address.is_v4_mapped() && !valid_ipv4_first_octet(bytes[12])) {
    fail("maps an IPv4 address that Repy does not allow (0.x.x.x or 224.0.0.0 and above)");
  }

  if (!zone.empty()) {
    if (!is_link_local(address)) fail("has a zone, but only link-local addresses take one");
    unsigned long scope = 0;
    auto [end, ec] = std::from_chars(zone.data(), zone.data() + zone.size(), scope);
    if (ec == std::errc{} && end == zone.data() + zone.size()) {
      // A number is taken as it is: whether the stack has that interface is for the
      // bind to say (AddressBindingError).
      if (scope == 0 || scope > 0xffffffffUL) fail("has a zone number out of range");
    } else {
      // The kernel's rule for interface names (dev_valid_name): no '/', ':' or white
      // space, shorter than IF_NAMESIZE; "lo:1" is an alias label, not an interface.
      if (zone.size() >= IF_NAMESIZE ||
          zone.find_first_of("/: \t\n\r\v\f") != std::string_view::npos) {
        fail("has a zone that is not an interface name");
      }
      scope = zone_index ? zone_index(zone) : 0;
      if (scope == 0) fail("has a zone that names no interface of the stack");
    }
    address.scope_id(static_cast<unsigned long>(scope));
  }
  return address;
}

}  // namespace

address_v6 parse_ipv4(std::string_view call, std::string_view argument, std::string_view value) {
  auto fail = [&](std::string_view what) { throw_argument_error(call, argument, what, value); };
  if (value.empty()) fail("is empty, expected a dotted-quad IPv4 address");
  // Stricter than inet_pton: Repy takes exactly four decimal parts, and a leading zero
  // would read as octal to inet_aton, so the same text could name two addresses.
  boost::asio::ip::address_v4::bytes_type bytes{};
  std::string_view rest = value;
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    const bool last = i + 1 == bytes.size();
    const std::size_t dot = rest.find('.');
    if (last != (dot == std::string_view::npos)) {
      fail("is not a dotted-quad IPv4 address (four decimal parts joined by dots)");
    }
    const std::string_view part = rest.substr(0, dot);
    if (part.empty() || part.size() > 3 ||
        !std::all_of(part.begin(), part.end(), [](unsigned char c) { return std::isdigit(c); })) {
      fail("is not a dotted-quad IPv4 address (each part one to three decimal digits)");
    }
    if (part.size() > 1 && part.front() == '0') fail("has a part with a leading zero");
    const auto number = parse_int<int>(part, 0, 255);
    if (!number) fail("has a part above 255");
    bytes[i] = static_cast<unsigned char>(*number);
    if (!last) rest = rest.substr(dot + 1);
  }
  if (!valid_ipv4_first_octet(bytes[0])) {
    fail("is an IPv4 address that Repy does not allow (0.x.x.x or 224.0.0.0 and above)");
  }
  return boost::asio::ip::make_address_v6(boost::asio::ip::v4_mapped,
                                          boost::asio::ip::address_v4(bytes));
}

void throw_bad_port(std::string_view call, std::string_view argument, int port, int min) {
  throw_argument_error(call, argument, fmt::format("is not a port between {} and 65535", min),
                       std::to_string(port));
}

bool is_loopback(const address_v6& address) noexcept {
  if (address.is_loopback()) return true;
  if (address.is_v4_mapped()) return address.to_bytes()[12] == 127;
  return false;
}

std::string to_text(const address_v6& address) {
  const auto bytes = address.to_bytes();
  if (last_printed.size != 0 && last_printed.scope == address.scope_id() &&
      bytes == last_printed.bytes) {
    return std::string(last_printed.text, last_printed.size);
  }
  char buffer[INET6_ADDRSTRLEN] = {};
  ::inet_ntop(AF_INET6, bytes.data(), buffer, sizeof buffer);
  std::string text = address.scope_id() != 0 ? fmt::format("{}%{}", buffer, address.scope_id())
                                             : std::string(buffer);
  if (text.size() < sizeof last_printed.text) {
    last_printed.bytes = bytes;
    last_printed.scope = address.scope_id();
    last_printed.size = text.size();
    std::memcpy(last_printed.text, text.data(), text.size());
  }
  return text;
}

std::string to_text(const address_v6& address, Family family) {
  if (family == Family::ipv4 && address.is_v4_mapped()) {
    const auto bytes = address.to_bytes();
    return fmt::format("{}.{}.{}.{}", bytes[12], bytes[13], bytes[14], bytes[15]);
  }
  return to_text(address);
}

sockaddr_in6 to_sockaddr(const address_v6& address, int port) noexcept {
  sockaddr_in6 sa{};
  sa.sin6_family = AF_INET6;
  sa.sin6_port = htons(static_cast<std::uint16_t>(port));
  auto bytes = address.to_bytes();
  std::memcpy(&sa.sin6_addr, bytes.data(), bytes.size());
  sa.sin6_scope_id = static_cast<std::uint32_t>(address.scope_id());
  return sa;
}

std::pair<address_v6, int> from_sockaddr(const sockaddr_storage& storage) noexcept {
  if (storage.ss_family == AF_INET6) {
    const auto& sa = reinterpret_cast<const sockaddr_in6&>(storage);
    address_v6::bytes_type bytes;
    std::memcpy(bytes.data(), &sa.sin6_addr, bytes.size());
    return {address_v6(bytes, sa.sin6_scope_id), ntohs(sa.sin6_port)};
  }
  if (storage.ss_family == AF_INET) {
    const auto& sa = reinterpret_cast<const sockaddr_in&>(storage);
    boost::asio::ip::address_v4 v4(ntohl(sa.sin_addr.s_addr));
    return {boost::asio::ip::make_address_v6(boost::asio::ip::v4_mapped, v4), ntohs(sa.sin_port)};
  }
  return {address_v6(), 0};
}

}  // namespace repy::detail
