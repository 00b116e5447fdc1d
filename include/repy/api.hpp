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

// Repy V2's IPv4 calls on the default context; see Context for what each does.

/// @throws as Context::gethostbyname.
std::string gethostbyname(std::string_view name);
/// @throws as Context::getmyip.
std::string getmyip();
/// @throws as Context::sendmessage.
std::size_t sendmessage(std::string_view destip, int destport, std::string_view message,
                        std::string_view localip, int localport);
/// @throws as Context::openconnection.
TCPSocket openconnection(std::string_view destip, int destport, std::string_view localip,
                         int localport, double timeout);
/// @throws as Context::listenforconnection.
TCPServerSocket listenforconnection(std::string_view localip, int localport);
/// @throws as Context::listenformessage.
UDPServerSocket listenformessage(std::string_view localip, int localport);

}  // namespace repy
