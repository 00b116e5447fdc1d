// Reverse-lookup addresses and getaddrinfo results.
#include "stack/resolver/lookup.hpp"

#include <netinet/in.h>

#include <algorithm>
#include <cstring>

#include "core/address.hpp"
#include "stack/arguments.hpp"

namespace repy::detail {

LookupAddress lookup_address(StackImpl& stack, std::string_view ip, int port) {
  constexpr std::string_view call = "getnameinfo";
  check_port(call, "port", port, 0);
  auto parsed = parse_stack_ip(call, "ip", 0, ip, &stack);
  LookupAddress out;
  out.port = port;
  if (parsed.is_v6()) {
    sockaddr_in6 sa = to_sockaddr(parsed.to_v6(), port);
    std::memcpy(&out.storage, &sa, sizeof sa);
    out.size = sizeof sa;
  } else {
    // An IPv4 address stays IPv4: its name is under in-addr.arpa, and a numeric answer
    // is dotted, as getnameinfo(3) gives it.
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(static_cast<std::uint16_t>(port));
    auto bytes = parsed.to_v4().to_bytes();
    std::memcpy(&sa.sin_addr, bytes.data(), bytes.size());
    std::memcpy(&out.storage, &sa, sizeof sa);
    out.size = sizeof sa;
  }
  return out;
}

AddrInfo to_addrinfo(const sockaddr* sa, socklen_t size, int socktype, int protocol) {
  sockaddr_storage storage{};
  std::memcpy(&storage, sa, std::min<std::size_t>(size, sizeof storage));
  auto [ip, port] = from_sockaddr(storage);
  AddrInfo info;
  info.family = storage.ss_family;
  info.socktype = socktype;
  info.protocol = protocol;
  info.port = port;
  if (storage.ss_family == AF_INET6) {
    info.flowinfo = ntohl(reinterpret_cast<const sockaddr_in6&>(storage).sin6_flowinfo);
    info.scope_id = static_cast<std::uint32_t>(ip.scope_id());
    ip.scope_id(0);  // the zone is scope_id's; ip is the bare address
    info.ip = to_text(ip);
  } else if (storage.ss_family == AF_INET) {
    info.ip = boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, ip).to_string();
  }
  return info;
}

}  // namespace repy::detail
