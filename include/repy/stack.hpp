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
  /// The kernel stack of this process (one shared stack).
  static Stack host();

  /// An existing network namespace: "NAME" (/run/netns/NAME) or a path such as
  /// /proc/PID/ns/net.
  /// @throws RepyArgumentError for an empty name; NetworkError when it cannot be opened
  /// (ResourceForbiddenError when a privilege is missing).
  static Stack netns(std::string_view name_or_path);

  /// iothpy's constructor: "kernel", "vdestack" (one interface vde0, vde1, ... per URL
  /// in `vdeurls`), or a one-string configuration such as
  /// "stack=vdestack,vnl=ptp:///tmp/x,eth,ip=fc00::1/64,gw=fc00::ff". `config_dns` is
  /// resolv.conf text or the path of such a file (see iothdns_update).
  /// @throws RepyArgumentError for an unknown stack, a malformed configuration item, an
  /// empty VDE URL or bad config_dns (all checked before a stack is made);
  /// NetworkError when the stack cannot be made or configured; ResourceForbiddenError
  /// when a privilege is missing.
  explicit Stack(std::string_view stack, std::vector<std::string> vdeurls = {},
                 std::string_view config_dns = {});

  /// The index of interface `ifname` in this stack (not the host's, unless this is
  /// the host stack).
  /// @throws RepyArgumentError unless `ifname` is a valid interface name (1..15 bytes,
  /// no '/', ':' or white space); NetworkError when the stack has no such interface.
  int if_nametoindex(std::string_view ifname) const;

  /// Brings interface `ifindex` up or down.
  /// @throws RepyArgumentError unless ifindex > 0; NetworkError when the kernel refuses
  /// (no such interface, say); ResourceForbiddenError without CAP_NET_ADMIN.
  void linksetupdown(int ifindex, bool up);

  /// The hardware address of interface `ifindex`, as "80:00:42:0e:e7:3a"; empty when
  /// it has none (loopback).
  /// @throws RepyArgumentError unless ifindex > 0; NetworkError when there is no such
  /// interface.
  std::string linkgetaddr(int ifindex) const;

  /// Sets the hardware address of interface `ifindex`; `mac` is six hex pairs joined
  /// by ':' or '-', and not a group (multicast) address.
  /// @throws RepyArgumentError for a bad ifindex or MAC; NetworkError when the kernel
  /// refuses; ResourceForbiddenError without CAP_NET_ADMIN.
  void linksetaddr(int ifindex, std::string_view mac);

  /// Sets the MTU of interface `ifindex` (68..65535).
  /// @throws RepyArgumentError for a bad ifindex or MTU; NetworkError when the kernel
  /// refuses; ResourceForbiddenError without CAP_NET_ADMIN.
  void linksetmtu(int ifindex, int mtu);

  /// Creates interface `ifname` of kernel link type `type` ("dummy", "bridge", ...),
  /// with index `ifindex` when > 0. `data` is the peer's name for "veth", "PARENT:ID"
  /// (1 <= ID <= 4094) for "vlan", and the VDE URL for "vde" (a tap interface plugged
  /// into that VDE network, which needs CAP_SYS_ADMIN).
  /// @throws RepyArgumentError for a bad name, an empty type or malformed data;
  /// NetworkError when the kernel refuses (the name exists, an unknown type);
  /// ResourceForbiddenError when a privilege is missing.
  void iplink_add(std::string_view ifname, int ifindex, std::string_view type,
                  std::string_view data = {});

  /// Deletes an interface: by index when `ifindex` > 0, else by name.
  /// @throws RepyArgumentError for a bad name (when it is used); NetworkError when the
  /// kernel refuses; ResourceForbiddenError without CAP_NET_ADMIN.
  void iplink_del(std::string_view ifname, int ifindex = 0);

  /// Adds address `addr`/`prefixlen` to interface `ifindex`. `family` is AF_INET6,
  /// AF_INET or 0 (as `addr` is); `addr` has no zone. On a vdestack an IPv6 address
  /// skips duplicate address detection, so it is usable at once.
  /// @throws RepyArgumentError for a bad family, address, prefix length (0..128, or
  /// 0..32 for IPv4) or ifindex; NetworkError when the kernel refuses (the address
  /// exists, no such interface); ResourceForbiddenError without CAP_NET_ADMIN.
  void ipaddr_add(int family, std::string_view addr, int prefixlen, int ifindex);

  /// Removes address `addr`/`prefixlen` from interface `ifindex`; arguments as
  /// ipaddr_add.
  /// @throws RepyArgumentError for bad arguments; NetworkError when the kernel refuses
  /// (no such address); ResourceForbiddenError without CAP_NET_ADMIN.
  void ipaddr_del(int family, std::string_view addr, int prefixlen, int ifindex);

  /// Adds a route to `dst`/`dst_prefixlen` (an empty `dst`, with prefix 0, is the
  /// default route) through gateway `gw` and/or out of interface `ifindex` (an empty
  /// `gw` needs an ifindex > 0). `family` is AF_INET6, AF_INET or 0 (as the addresses
  /// are; needed when both are empty).
  /// @throws RepyArgumentError for a bad family, address, prefix length or ifindex;
  /// NetworkError when the kernel refuses (the route exists, the gateway is
  /// unreachable); ResourceForbiddenError without CAP_NET_ADMIN.
  void iproute_add(int family, std::string_view gw, std::string_view dst = {},
                   int dst_prefixlen = 0, int ifindex = 0);

  /// Deletes a route; arguments as iproute_add.
  /// @throws RepyArgumentError for bad arguments; NetworkError when the kernel refuses
  /// (no such route); ResourceForbiddenError without CAP_NET_ADMIN.
  void iproute_del(int family, std::string_view gw, std::string_view dst = {},
                   int dst_prefixlen = 0, int ifindex = 0);

  /// Applies an iothconf string: comma-separated items eth, ip=ADDR/LEN, gw=ADDR,
  /// dns=ADDR, domain=NAME (needs a dns=), mac=MAC (alias macaddr=), iface=NAME (alias
  /// ifname=), ifindex=N. The interface is iface=/ifindex=, or vde0 on a vdestack.
  /// Every item is checked before anything changes. Automatic configuration (dhcp,
  /// rd, slaac, auto, ...) is not supported.
  /// @throws RepyArgumentError naming the key of a malformed, unknown or unsupported
  /// item, or when no interface is named where one is needed; NetworkError when the
  /// kernel refuses; ResourceForbiddenError without CAP_NET_ADMIN.
  void iothconfig(std::string_view config);

  /// Gives the stack's resolver new servers: `resolvconf` is resolv.conf text
  /// (nameserver, search, domain, options lines; a nameserver may be "[ADDR]:PORT"), or
  /// the path of a regular file of at most 64 KiB holding it. From then on the stack's
  /// lookups ask those servers through the stack's own sockets.
  /// @throws RepyArgumentError when a line is malformed, there is no nameserver, or the
  /// path is not a readable regular file (the message says why); NetworkError when the
  /// resolver cannot be set up.
  void iothdns_update(std::string_view resolvconf);

  /// getaddrinfo(3) through this stack's resolver: `host` (a name or a literal; empty
  /// for the wildcard or loopback address), `port` (a number or service name), and
  /// family, type, proto and AI_* flags as getaddrinfo(3) takes them.
  /// @throws RepyArgumentError when host has a NUL byte or both host and port are
  /// empty; NetworkAddressError when the name does not resolve.
  std::vector<AddrInfo> getaddrinfo(std::string_view host, std::string_view port = {},
                                    int family = 0, int type = 0, int proto = 0,
                                    int flags = 0) const;

  /// getnameinfo(3) through this stack's resolver: the (host, service) names of `ip`
  /// (IPv6, optionally with a zone that is a number or an interface of this stack, or
  /// IPv4) and `port` (0..65535); `flags` are NI_* values.
  /// @throws RepyArgumentError for a bad ip, zone or port; NetworkAddressError when the
  /// address has no name (with NI_NAMEREQD) or the lookup fails.
  std::pair<std::string, std::string> getnameinfo(std::string_view ip, int port,
                                                  int flags = 0) const;
  /// A plain socket inside the stack; the caller owns (and closes) the fd.
  /// @throws RepyArgumentError when the stack has no such family, type or protocol;
  /// NetworkError for any other failure (a shortage of fds included);
  /// ResourceForbiddenError when a privilege is missing.
  int socket(int family, int type, int protocol = 0) const;

  friend bool operator==(const Stack& a, const Stack& b) noexcept { return a.impl_ == b.impl_; }

 private:
  friend struct detail::Access;
  explicit Stack(std::shared_ptr<detail::StackImpl> impl) noexcept : impl_(std::move(impl)) {}
  std::shared_ptr<detail::StackImpl> impl_;
};

}  // namespace repy
