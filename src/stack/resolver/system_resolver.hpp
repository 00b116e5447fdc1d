// The system resolver (getaddrinfo(3), getnameinfo(3)): what the host stack answers
// with until iothdns_update gives it servers of its own.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "repy/stack.hpp"
#include "stack/resolver/lookup.hpp"

namespace repy::detail {

/// getaddrinfo(3) through the system resolver, converted to AddrInfo.
/// @throws NetworkAddressError when the name does not resolve.
std::vector<AddrInfo> system_getaddrinfo(std::string_view host, std::string_view port, int family,
                                         int type, int proto, int flags);

/// getnameinfo(3) through the system resolver: (host, service) of `address`; `ip` is
/// its text, for messages.
/// @throws NetworkAddressError when nothing is found.
std::pair<std::string, std::string> system_getnameinfo(std::string_view ip,
                                                       const LookupAddress& address, int flags);

}  // namespace repy::detail
