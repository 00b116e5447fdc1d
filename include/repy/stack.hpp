// repy6 — network stacks: where sockets live, how names resolve, how links are set up.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "repy/export.hpp"

namespace repy {

namespace detail {
class StackImpl;
struct Access;
}  // namespace detail

/// One getaddrinfo() result.
struct AddrInfo {
  int family = 0;    // AF_INET6
  int socktype = 0;  // SOCK_STREAM, SOCK_DGRAM, SOCK_RAW ...
  int protocol = 0;
  std::string canonname;
  std::string ip;  // textual address
  int port = 0;
  std::uint32_t flowinfo = 0;
  std::uint32_t scope_id = 0;

  friend bool operator==(const AddrInfo&, const AddrInfo&) = default;
};

/// A network stack: the host kernel's, an existing network namespace, or a VDE
/// user-level stack. Cheap copyable handle; the stack lives while any handle, context
/// or socket on it does.
class REPY6_API Stack {
 public:
  /// The kernel stack of this process.
  static Stack host();

  /// An existing network namespace: "NAME" (/run/netns/NAME) or a path such as
  /// /proc/PID/ns/net.
  /// @throws RepyArgumentError for an empty name; NetworkError when it cannot be opened
  /// (ResourceForbiddenError when a privilege is missing).
  static Stack netns(std::string_view name_or_path);

  /// iothpy's constructor: "kernel", "vdestack" (one interface vde0, vde1, ... per URL
  /// in `vdeurls`), or a one-string configuration such as
  /// "stack=vdestack,vnl=ptp:///tmp/x,eth,ip=fc00::1/64,gw=fc00::ff". `config_dns` is
  /// resolv.conf text or the path of such a file.
  explicit Stack(std::string_view stack, std::vector<std::string> vdeurls = {},
                 std::string_view config_dns = {});

  int if_nametoindex(std::string_view ifname) const;
  void linksetupdown(int ifindex, bool up);
  std::string linkgetaddr(int ifindex) const;
  void linksetaddr(int ifindex, std::string_view mac);
  void linksetmtu(int ifindex, int mtu);
  void iplink_add(std::string_view ifname, int ifindex, std::string_view type,
                  std::string_view data = {});
  void iplink_del(std::string_view ifname, int ifindex = 0);
  void ipaddr_add(int family, std::string_view addr, int prefixlen, int ifindex);
  void ipaddr_del(int family, std::string_view addr, int prefixlen, int ifindex);
  void iproute_add(int family, std::string_view gw, std::string_view dst = {},
                   int dst_prefixlen = 0, int ifindex = 0);
  void iproute_del(int family, std::string_view gw, std::string_view dst = {},
                   int dst_prefixlen = 0, int ifindex = 0);
  void iothconfig(std::string_view config);
  void iothdns_update(std::string_view resolvconf);
  std::vector<AddrInfo> getaddrinfo(std::string_view host, std::string_view port = {},
                                    int family = 0, int type = 0, int proto = 0,
                                    int flags = 0) const;
  std::pair<std::string, std::string> getnameinfo(std::string_view ip, int port,
                                                  int flags = 0) const;
  /// A plain socket inside the stack; the caller owns (and closes) the fd.
  int socket(int family, int type, int protocol = 0) const;

  friend bool operator==(const Stack& a, const Stack& b) noexcept { return a.impl_ == b.impl_; }

 private:
  friend struct detail::Access;
  explicit Stack(std::shared_ptr<detail::StackImpl> impl) noexcept : impl_(std::move(impl)) {}
  std::shared_ptr<detail::StackImpl> impl_;
};

}  // namespace repy
