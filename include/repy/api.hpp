// repy6 — the Repy calls as free functions on the process-wide default context.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "repy/context.hpp"

namespace repy {

/// The process-wide context. On first use it loads the restrictions file named by the
/// environment variable REPY_RESTRICTIONS, or is unlimited when that is unset or empty.
/// @throws ResourceParseError when that file cannot be read or parsed (every call
/// retries until it can).
Context& default_context();

std::vector<AddrInfo> getAddripv6(std::string_view name);
std::string getmyip_ipv6();
std::size_t sendmessage_ipv6(std::string_view destip, int destport, std::string_view message,
                             std::string_view localip, int localport);
TCPSocket openconnection_ipv6(std::string_view destip, int destport, std::string_view localip,
                              int localport, double timeout);
TCPServerSocket listenforconnection_ipv6(std::string_view localip, int localport);
UDPServerSocket listenformessage_ipv6(std::string_view localip, int localport);
ResourceReport getresources();

}  // namespace repy
