// The stack backends and what they share. A backend only says how to make a socket
// and how it is built and torn down; resolver and netlink configuration are written
// once here, on the sockets the backend makes.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "stack/backends/tap_plug.hpp"
#include "stack/resolver/resolver.hpp"
#include "stack/stack_impl.hpp"

namespace repy::detail {

/// Common part of every backend (backends/stack_base.cpp): the resolver (c-ares on the
/// stack's sockets once configured), interface addresses read through the stack's
/// netlink, and VDE interfaces plugged in by repy6.
class StackBase : public StackImpl {
 public:
  StackBase();
  ~StackBase() override;
  StackBase(const StackBase&) = delete;
  StackBase& operator=(const StackBase&) = delete;

  std::vector<AddrInfo> resolve(std::string_view host, std::string_view port, int family, int type,
                                int proto, int flags) override;
  std::vector<boost::asio::ip::address_v6> interface_addresses(std::string_view ifname) override;
  void configure_resolver(std::string_view resolvconf_text) override;
  /// Checks `port` and `ip` (a zone name is an interface of this stack), then asks the
  /// resolver.
  std::pair<std::string, std::string> reverse_resolve(std::string_view ip, int port,
                                                      int flags) override;
  /// A tap interface `ifname` made inside this stack (entering its namespace, which
  /// needs CAP_SYS_ADMIN) and plugged into the VDE network `url` by a thread that
  /// lives as long as the stack.
  void add_vde_interface(std::string_view ifname, std::string_view url) override;

 protected:
  /// Stops the VDE interfaces' threads; a backend calls it before tearing its
  /// namespace down.
  void stop_vde_interfaces() noexcept;

  /// The host stack answers from the system resolver until configured; other stacks
  /// use c-ares on their own sockets with the system's resolv.conf until then.
  virtual bool system_resolver_until_configured() const noexcept { return false; }

 private:
  std::shared_ptr<Resolver> resolver();  // the configured one, or the default, or null

  std::mutex mu_;
  std::shared_ptr<Resolver> resolver_;  // shared so a reconfiguration never pulls it
                                        // from under a query that is running
  std::mutex plugs_mu_;
  std::vector<TapPlugPtr> plugs_;
};

/// This process's kernel stack (one shared instance).
std::shared_ptr<StackImpl> host_stack();

/// A network namespace: "NAME" (/run/netns/NAME) or a path.
/// @throws RepyArgumentError, NetworkError, ResourceForbiddenError.
std::shared_ptr<StackImpl> make_netns_stack(std::string_view name_or_path);

/// A VDE user-level stack (libvdestack) with one interface vde0, vde1, ... per URL and
/// loopback up.
/// @throws RepyArgumentError for an empty URL; NetworkError when it cannot be made.
std::shared_ptr<StackImpl> make_vdestack(const std::vector<std::string>& urls);

}  // namespace repy::detail
