// The system resolver, converted to repy6's types and errors.
#include "stack/resolver/system_resolver.hpp"

#include <fmt/format.h>
#include <netdb.h>

#include <memory>

#include "core/error_map.hpp"

namespace repy::detail {

std::vector<AddrInfo> system_getaddrinfo(std::string_view host, std::string_view port, int family,
                                         int type, int proto, int flags) {
  addrinfo hints{};
  hints.ai_family = family;
  hints.ai_socktype = type;
  hints.ai_protocol = proto;
  hints.ai_flags = flags;
  addrinfo* res = nullptr;
  std::string h(host), p(port);
  int rc =
      ::getaddrinfo(h.empty() ? nullptr : h.c_str(), p.empty() ? nullptr : p.c_str(), &hints, &res);
  if (rc != 0) {
    throw_lookup_error(
        fmt::format("getaddrinfo: '{}' does not resolve: {}", h, ::gai_strerror(rc)));
  }
  std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> guard(res, &::freeaddrinfo);
  std::vector<AddrInfo> out;
  for (addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
    AddrInfo info = to_addrinfo(ai->ai_addr, ai->ai_addrlen, ai->ai_socktype, ai->ai_protocol);
    if (ai->ai_canonname != nullptr) info.canonname = ai->ai_canonname;
    out.push_back(std::move(info));
  }
  return out;
}

std::pair<std::string, std::string> system_getnameinfo(std::string_view ip,
                                                       const LookupAddress& address, int flags) {
  char host[NI_MAXHOST] = {};
  char serv[NI_MAXSERV] = {};
  int rc = ::getnameinfo(address.get(), address.size, host, sizeof host, serv, sizeof serv, flags);
  if (rc != 0) {
    throw_lookup_error(fmt::format("getnameinfo: '{}' has no name: {}", ip, ::gai_strerror(rc)));
  }
  return {host, serv};
}

}  // namespace repy::detail
