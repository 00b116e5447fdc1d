// repy::Stack, the public facade: each call checks its arguments (stack/arguments.hpp)
// and hands the work to the stack's implementation, its netlink or its resolver.
#include "repy/stack.hpp"

#include <string>

#include "core/error_map.hpp"
#include "stack/arguments.hpp"
#include "stack/backends/backends.hpp"
#include "stack/iothconf.hpp"
#include "stack/netlink.hpp"
#include "stack/resolver/resolv_conf.hpp"
#include "stack/stack_impl.hpp"

namespace repy {

Stack Stack::host() { return Stack(detail::host_stack()); }

Stack Stack::netns(std::string_view name_or_path) {
  return Stack(detail::make_netns_stack(name_or_path));
}

Stack::Stack(std::string_view stack, std::vector<std::string> vdeurls,
             std::string_view config_dns) {
  // Everything is checked before a stack is made: a typo costs no namespace.
  std::string dns_text;
  if (!config_dns.empty()) {
    dns_text = detail::resolv_conf_text(config_dns, "Stack", "config_dns");
    detail::parse_resolv_conf(dns_text, "Stack", "config_dns");
  }
  auto request = detail::parse_stack_request(stack, std::move(vdeurls));
  impl_ = request.kind == detail::StackRequest::Kind::host ? detail::host_stack()
                                                           : detail::make_vdestack(request.vdeurls);
  if (!request.config.empty())
    detail::apply_iothconf("Stack", *impl_, request.conf, request.config);
  if (!dns_text.empty()) impl_->configure_resolver(dns_text);
}

int Stack::if_nametoindex(std::string_view ifname) const {
  detail::check_ifname("if_nametoindex", "ifname", ifname);
  return detail::netlink::link_index(*impl_, ifname);
}

void Stack::linksetupdown(int ifindex, bool up) {
  detail::check_ifindex("linksetupdown", ifindex);
  detail::netlink::link_set_updown(*impl_, ifindex, up);
}

std::string Stack::linkgetaddr(int ifindex) const {
  detail::check_ifindex("linkgetaddr", ifindex);
  return detail::netlink::link_get_mac(*impl_, ifindex);
}

void Stack::linksetaddr(int ifindex, std::string_view mac) {
  detail::check_ifindex("linksetaddr", ifindex);
  detail::netlink::link_set_mac(*impl_, ifindex, detail::parse_mac("linksetaddr", mac));
}

void Stack::linksetmtu(int ifindex, int mtu) {
  detail::check_ifindex("linksetmtu", ifindex);
  detail::check_mtu("linksetmtu", mtu);
  detail::netlink::link_set_mtu(*impl_, ifindex, mtu);
}

void Stack::iplink_add(std::string_view ifname, int ifindex, std::string_view type,
                       std::string_view data) {
  constexpr std::string_view call = "iplink_add";
  detail::check_ifname(call, "ifname", ifname);
  if (type.empty() || type.find('\0') != std::string_view::npos) {
    detail::throw_argument_error(call, "type",
                                 "must name a link type (dummy, veth, vlan, vde, ...)", type);
  }
  if (type == "vde") {
    if (data.empty()) detail::throw_argument_error(call, "data", "must be a VDE URL", data);
    impl_->add_vde_interface(ifname, data);
    return;
  }
  if (type == "veth") detail::check_ifname(call, "data", data);
  detail::netlink::link_add(*impl_, ifname, ifindex, type, data);
}

void Stack::iplink_del(std::string_view ifname, int ifindex) {
  if (ifindex <= 0) detail::check_ifname("iplink_del", "ifname", ifname);
  detail::netlink::link_del(*impl_, ifname, ifindex);
}

void Stack::ipaddr_add(int family, std::string_view addr, int prefixlen, int ifindex) {
  constexpr std::string_view call = "ipaddr_add";
  auto a = detail::parse_stack_ip(call, "addr", family, addr);
  detail::check_prefix(call, detail::family_of(a), prefixlen);
  detail::check_ifindex(call, ifindex);
  detail::netlink::addr_change(*impl_, true, a, prefixlen, ifindex, impl_->skip_dad());
}

void Stack::ipaddr_del(int family, std::string_view addr, int prefixlen, int ifindex) {
  constexpr std::string_view call = "ipaddr_del";
  auto a = detail::parse_stack_ip(call, "addr", family, addr);
  detail::check_prefix(call, detail::family_of(a), prefixlen);
  detail::check_ifindex(call, ifindex);
  detail::netlink::addr_change(*impl_, false, a, prefixlen, ifindex, false);
}

void Stack::iproute_add(int family, std::string_view gw, std::string_view dst, int dst_prefixlen,
                        int ifindex) {
  auto r = detail::parse_route("iproute_add", family, gw, dst, dst_prefixlen, ifindex);
  detail::netlink::route_change(*impl_, true, r.gateway, r.destination, r.prefixlen, r.ifindex);
}

void Stack::iproute_del(int family, std::string_view gw, std::string_view dst, int dst_prefixlen,
                        int ifindex) {
  auto r = detail::parse_route("iproute_del", family, gw, dst, dst_prefixlen, ifindex);
  detail::netlink::route_change(*impl_, false, r.gateway, r.destination, r.prefixlen, r.ifindex);
}

void Stack::iothconfig(std::string_view config) {
  auto conf = detail::parse_iothconf("iothconfig", config);
  detail::apply_iothconf("iothconfig", *impl_, conf, config);
}

void Stack::iothdns_update(std::string_view resolvconf) {
  impl_->configure_resolver(detail::resolv_conf_text(resolvconf));
}

std::vector<AddrInfo> Stack::getaddrinfo(std::string_view host, std::string_view port, int family,
                                         int type, int proto, int flags) const {
  constexpr std::string_view call = "getaddrinfo";
  if (host.find('\0') != std::string_view::npos) {
    detail::throw_argument_error(call, "host", "contains a NUL byte", host);
  }
  if (host.empty() && port.empty()) {
    detail::throw_argument_error(call, "host", "and port cannot both be empty", host);
  }
  return impl_->resolve(host, port, family, type, proto, flags);
}

std::pair<std::string, std::string> Stack::getnameinfo(std::string_view ip, int port,
                                                       int flags) const {
  return impl_->reverse_resolve(ip, port, flags);
}

int Stack::socket(int family, int type, int protocol) const {
  int fd = impl_->make_socket(family, type, protocol);
  if (fd < 0)
    detail::throw_socket_create_error("socket", impl_->kind(), family, type, protocol, -fd);
  return fd;
}

}  // namespace repy
