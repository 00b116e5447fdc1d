// repy::Stack and its host backend.
#include "repy/stack.hpp"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netdb.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <fmt/format.h>
#include <memory>
#include <string>

#include "detail/stack_impl.hpp"
#include "repy/errors.hpp"

namespace repy {
namespace detail {
namespace {

class HostStack final : public StackImpl {
 public:
  std::string_view kind() const noexcept override { return "host"; }

  int make_socket(int family, int type, int protocol) noexcept override {
    int fd = ::socket(family, type | SOCK_CLOEXEC, protocol);
    return fd >= 0 ? fd : -errno;
  }

  std::vector<AddrInfo> resolve(std::string_view host, std::string_view port, int family,
                                int type, int proto, int flags) override {
    addrinfo hints{};
    hints.ai_family = family;
    hints.ai_socktype = type;
    hints.ai_protocol = proto;
    hints.ai_flags = flags;
    addrinfo* res = nullptr;
    std::string h(host), p(port);
    int rc = ::getaddrinfo(h.empty() ? nullptr : h.c_str(), p.empty() ? nullptr : p.c_str(),
                           &hints, &res);
    if (rc != 0) {
      throw NetworkAddressError(
          fmt::format("getaddrinfo: '{}' does not resolve: {}", h, ::gai_strerror(rc)));
    }
    std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> guard(res, &::freeaddrinfo);
    std::vector<AddrInfo> out;
    for (addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
      AddrInfo info;
      info.family = ai->ai_family;
      info.socktype = ai->ai_socktype;
      info.protocol = ai->ai_protocol;
      if (ai->ai_canonname != nullptr) info.canonname = ai->ai_canonname;
      char text[INET6_ADDRSTRLEN] = {};
      if (ai->ai_family == AF_INET6) {
        const auto* sa = reinterpret_cast<const sockaddr_in6*>(ai->ai_addr);
        ::inet_ntop(AF_INET6, &sa->sin6_addr, text, sizeof text);
        info.port = ntohs(sa->sin6_port);
        info.flowinfo = ntohl(sa->sin6_flowinfo);
        info.scope_id = sa->sin6_scope_id;
      } else if (ai->ai_family == AF_INET) {
        const auto* sa = reinterpret_cast<const sockaddr_in*>(ai->ai_addr);
        ::inet_ntop(AF_INET, &sa->sin_addr, text, sizeof text);
        info.port = ntohs(sa->sin_port);
      }
      info.ip = text;
      out.push_back(std::move(info));
    }
    return out;
  }

  std::vector<boost::asio::ip::address_v6> interface_addresses(
      std::string_view ifname) override {
    std::vector<boost::asio::ip::address_v6> out;
    ifaddrs* list = nullptr;
    if (::getifaddrs(&list) != 0) return out;
    std::unique_ptr<ifaddrs, decltype(&::freeifaddrs)> guard(list, &::freeifaddrs);
    for (ifaddrs* it = list; it != nullptr; it = it->ifa_next) {
      if (it->ifa_addr == nullptr || ifname != it->ifa_name) continue;
      if (it->ifa_addr->sa_family == AF_INET6) {
        const auto* sa = reinterpret_cast<const sockaddr_in6*>(it->ifa_addr);
        boost::asio::ip::address_v6::bytes_type bytes;
        std::memcpy(bytes.data(), &sa->sin6_addr, bytes.size());
        out.emplace_back(bytes, sa->sin6_scope_id);
      } else if (it->ifa_addr->sa_family == AF_INET) {
        const auto* sa = reinterpret_cast<const sockaddr_in*>(it->ifa_addr);
        boost::asio::ip::address_v4 v4(ntohl(sa->sin_addr.s_addr));
        out.push_back(boost::asio::ip::make_address_v6(boost::asio::ip::v4_mapped, v4));
      }
    }
    return out;
  }
};

}  // namespace
}  // namespace detail

Stack Stack::host() {
  static const auto shared = std::make_shared<detail::HostStack>();
  return Stack(shared);
}

}  // namespace repy
