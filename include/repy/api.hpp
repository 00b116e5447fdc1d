// repy6 — the Repy calls as free functions on the process-wide default context.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "repy/context.hpp"
#include "repy/export.hpp"

namespace repy {

/// The process-wide context. On first use it loads the restrictions file named by the
/// environment variable REPY_RESTRICTIONS, or is unlimited when that is unset or empty.
/// @throws ResourceParseError when that file cannot be read or parsed (every call
/// retries until it can).
REPY6_API Context& default_context();

REPY6_API std::vector<AddrInfo> getAddripv6(std::string_view name);
REPY6_API std::string getmyip_ipv6();
REPY6_API std::size_t sendmessage_ipv6(std::string_view destip, int destport,
                                       std::string_view message, std::string_view localip,
                                       int localport);
REPY6_API TCPSocket openconnection_ipv6(std::string_view destip, int destport,
                                        std::string_view localip, int localport, double timeout);
REPY6_API TCPServerSocket listenforconnection_ipv6(std::string_view localip, int localport);
REPY6_API UDPServerSocket listenformessage_ipv6(std::string_view localip, int localport);
REPY6_API ResourceReport getresources();

// Repy V2's IPv4 calls on the default context; see Context for what each does.

/// @throws as Context::gethostbyname.
REPY6_API std::string gethostbyname(std::string_view name);
/// @throws as Context::getmyip.
REPY6_API std::string getmyip();
/// @throws as Context::sendmessage.
REPY6_API std::size_t sendmessage(std::string_view destip, int destport, std::string_view message,
                                  std::string_view localip, int localport);
/// @throws as Context::openconnection.
REPY6_API TCPSocket openconnection(std::string_view destip, int destport, std::string_view localip,
                                   int localport, double timeout);
/// @throws as Context::listenforconnection.
REPY6_API TCPServerSocket listenforconnection(std::string_view localip, int localport);
/// @throws as Context::listenformessage.
REPY6_API UDPServerSocket listenformessage(std::string_view localip, int localport);

}  // namespace repy
