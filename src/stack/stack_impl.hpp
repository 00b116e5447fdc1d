// The seam behind repy::Stack: a stack is, first of all, a way to make sockets.
#pragma once

#include <boost/asio/ip/address_v6.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "net/registry.hpp"
#include "net/socket_ops.hpp"
#include "repy/stack.hpp"

namespace repy::detail {

/// One network stack. Backends (host kernel, network namespace, VDE) differ only in
/// how they make sockets and how they are built and torn down; netlink configuration,
/// the socket table and the resolver are written once, on sockets the backend makes.
class StackImpl : public SocketOps {
 public:
  virtual ~StackImpl() = default;

  /// "host", "netns" or "vdestack", for messages.
  virtual std::string_view kind() const noexcept = 0;

  /// Resolves through this stack's resolver; `flags` etc. as getaddrinfo(3).
  /// @throws NetworkAddressError when the name does not resolve.
  virtual std::vector<AddrInfo> resolve(std::string_view host, std::string_view port, int family,
                                        int type, int proto, int flags) = 0;

  /// The IPv6 addresses (IPv4 ones as ::ffff:a.b.c.d) of an interface of this stack;
  /// empty when it has none or does not exist.
  virtual std::vector<boost::asio::ip::address_v6> interface_addresses(std::string_view ifname) = 0;

  // ---- added for the stack backends (src/stack*.cpp); defaults keep simple fakes
  //      (tests' own StackImpl subclasses) compiling.

  /// True for stacks this library builds itself (vdestack): addresses added to them
  /// skip duplicate address detection, so they are usable at once.
  virtual bool skip_dad() const noexcept { return false; }

  /// Replaces the stack's resolver configuration with resolv.conf text (nameserver,
  /// search, domain, options lines). From then on resolve() asks those servers
  /// through sockets made by make_socket().
  /// @throws RepyArgumentError for malformed text; NetworkError when the resolver
  /// cannot be set up.
  virtual void configure_resolver(std::string_view resolvconf_text);

  /// getnameinfo(3) through this stack's resolver: (host, service).
  /// @throws NetworkAddressError when the address has no name.
  virtual std::pair<std::string, std::string> reverse_resolve(std::string_view ip, int port,
                                                              int flags);

  /// Adds an interface that is a VDE plug (`url`) inside this stack. Only stacks
  /// built on VDE can; the default throws NetworkError.
  virtual void add_vde_interface(std::string_view ifname, std::string_view url);

  /// The sockets every context has open on this stack.
  Registry& registry() noexcept { return registry_; }

 private:
  Registry registry_;
};

}  // namespace repy::detail
