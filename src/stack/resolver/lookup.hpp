// What both resolvers of a stack (c-ares and the system's) share: the checked address of
// a reverse lookup, and the AddrInfo of a socket address.
#pragma once

#include <sys/socket.h>

#include <string_view>

#include "repy/stack.hpp"

namespace repy::detail {

class StackImpl;

/// The socket address getnameinfo asks about, with its port.
struct LookupAddress {
  sockaddr_storage storage{};
  socklen_t size = 0;
  int port = 0;
  const sockaddr* get() const noexcept { return reinterpret_cast<const sockaddr*>(&storage); }
};

/// getnameinfo's `ip` (IPv6, with an optional zone that names an interface of `stack`
/// or is a number, or IPv4) and `port` (0..65535), checked.
/// @throws RepyArgumentError naming the argument and value.
LookupAddress lookup_address(StackImpl& stack, std::string_view ip, int port);

/// One getaddrinfo result from the socket address a resolver gave (`size` bytes).
AddrInfo to_addrinfo(const sockaddr* sa, socklen_t size, int socktype, int protocol);

}  // namespace repy::detail
