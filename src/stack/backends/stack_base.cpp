// What every backend shares: StackImpl's defaults (for stacks that are not StackBase,
// such as tests' fakes) and StackBase, the resolver glue and the VDE interfaces.
#include <fmt/format.h>

#include <memory>
#include <string>

#include "core/error_map.hpp"
#include "stack/backends/backends.hpp"
#include "stack/netlink.hpp"
#include "stack/resolver/lookup.hpp"
#include "stack/resolver/system_resolver.hpp"
#include "stack/stack_impl.hpp"

namespace repy::detail {

// ---- StackImpl defaults
void StackImpl::configure_resolver(std::string_view) {
  throw_stack_failure(
      fmt::format("iothdns_update: the {} stack has no configurable resolver", kind()));
}

std::pair<std::string, std::string> StackImpl::reverse_resolve(std::string_view ip, int, int) {
  throw_lookup_error(fmt::format("getnameinfo: the {} stack cannot look up '{}'", kind(), ip));
}

void StackImpl::add_vde_interface(std::string_view ifname, std::string_view) {
  throw_stack_failure(
      fmt::format("iplink_add: interface '{}': VDE interfaces can only be added to a vdestack, "
                  "not to the {} stack",
                  ifname, kind()));
}

// ---- StackBase: resolver glue
StackBase::StackBase() = default;
StackBase::~StackBase() { stop_vde_interfaces(); }

std::shared_ptr<Resolver> StackBase::resolver() {
  std::lock_guard lock(mu_);
  if (!resolver_ && !system_resolver_until_configured()) {
    resolver_ = std::make_shared<Resolver>(*this, nullptr);
  }
  return resolver_;
}

std::vector<AddrInfo> StackBase::resolve(std::string_view host, std::string_view port, int family,
                                         int type, int proto, int flags) {
  // Without a host there is nothing to ask a server; getaddrinfo(3) answers the
  // wildcard or loopback address locally.
  if (host.empty()) return system_getaddrinfo(host, port, family, type, proto, flags);
  auto r = resolver();
  if (!r) return system_getaddrinfo(host, port, family, type, proto, flags);
  return r->getaddrinfo(host, port, family, type, proto, flags);
}

std::vector<boost::asio::ip::address_v6> StackBase::interface_addresses(std::string_view ifname) {
  return netlink::addresses(*this, ifname);
}

void StackBase::configure_resolver(std::string_view resolvconf_text) {
  auto conf = parse_resolv_conf(resolvconf_text);
  auto fresh = std::make_shared<Resolver>(*this, &conf);
  std::lock_guard lock(mu_);
  resolver_ = std::move(fresh);
}

std::pair<std::string, std::string> StackBase::reverse_resolve(std::string_view ip, int port,
                                                               int flags) {
  auto address = lookup_address(*this, ip, port);
  auto r = resolver();
  if (!r) return system_getnameinfo(ip, address, flags);
  return r->getnameinfo(ip, address, flags);
}

// ---- StackBase: VDE interfaces
void StackBase::stop_vde_interfaces() noexcept {
  std::lock_guard lock(plugs_mu_);
  plugs_.clear();
}

void StackBase::add_vde_interface(std::string_view ifname, std::string_view url) {
  auto plug = plug_vde_interface(*this, ifname, url, "iplink_add");
  std::lock_guard lock(plugs_mu_);
  plugs_.push_back(std::move(plug));
}

}  // namespace repy::detail
