// repy::Stack: argument checks, iothconf-style configuration, and the host backend.
// Everything here runs on StackImpl::make_socket, so it works the same on every stack.
#include "repy/stack.hpp"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <net/if.h>
#include <sys/socket.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <memory>
#include <string>

#include "core/access.hpp"
#include "core/error_map.hpp"
#include "repy/errors.hpp"
#include "stack/backends/backends.hpp"
#include "stack/netlink.hpp"
#include "stack/resolver/resolver.hpp"
#include "stack/stack_impl.hpp"

namespace repy {
namespace detail {

// ---- StackImpl defaults, for stacks that are not StackBase (tests' fakes).
void StackImpl::configure_resolver(std::string_view) {
  throw NetworkError(
      fmt::format("iothdns_update: the {} stack has no configurable resolver", kind()));
}
std::pair<std::string, std::string> StackImpl::reverse_resolve(std::string_view ip, int, int) {
  throw NetworkAddressError(
      fmt::format("getnameinfo: the {} stack cannot look up '{}'", kind(), ip));
}
void StackImpl::add_vde_interface(std::string_view ifname, std::string_view) {
  throw NetworkError(
      fmt::format("iplink_add: interface '{}': VDE interfaces can only be added to a vdestack, not "
                  "to the {} stack",
                  ifname, kind()));
}

// ---- StackBase
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
  auto r = resolver();
  if (!r) return system_getnameinfo(ip, port, flags);
  return r->getnameinfo(ip, port, flags);
}

namespace {

class HostStack final : public StackBase {
 public:
  std::string_view kind() const noexcept override { return "host"; }

  int make_socket(int family, int type, int protocol) noexcept override {
    int fd = ::socket(family, type | SOCK_CLOEXEC, protocol);
    return fd >= 0 ? fd : -errno;
  }

 protected:
  bool system_resolver_until_configured() const noexcept override { return true; }
};

}  // namespace

std::shared_ptr<StackImpl> host_stack() {
  static const auto shared = std::make_shared<HostStack>();
  return shared;
}

}  // namespace detail

namespace {

using detail::netlink::IpAddress;
using detail::netlink::MacAddress;

[[noreturn]] void bad_argument(std::string_view call, std::string_view argument,
                               std::string_view what, std::string_view value) {
  throw RepyArgumentError(fmt::format("{}: {}: {} (value '{}')", call, argument, what, value));
}

bool parse_int(std::string_view s, int& out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return !s.empty() && ec == std::errc() && p == s.data() + s.size();
}

// `family` 0 means "whichever the text is".
IpAddress parse_ip(std::string_view call, std::string_view argument, int family,
                   std::string_view text) {
  if (family != 0 && family != AF_INET && family != AF_INET6) {
    bad_argument(call, "family", "must be AF_INET6 or AF_INET", std::to_string(family));
  }
  IpAddress out;
  std::string s(text);
  if (s.find('\0') == std::string::npos) {
    if ((family == 0 || family == AF_INET6) &&
        ::inet_pton(AF_INET6, s.c_str(), out.bytes.data()) == 1) {
      out.family = AF_INET6;
      return out;
    }
    if ((family == 0 || family == AF_INET) &&
        ::inet_pton(AF_INET, s.c_str(), out.bytes.data()) == 1) {
      out.family = AF_INET;
      return out;
    }
  }
  bad_argument(call, argument,
               family == AF_INET    ? "not an IPv4 address"
               : family == AF_INET6 ? "not an IPv6 address"
                                    : "not an IP address",
               text);
}

void check_prefix(std::string_view call, int family, int prefixlen) {
  int max = family == AF_INET ? 32 : 128;
  if (prefixlen < 0 || prefixlen > max) {
    bad_argument(call, "prefixlen", fmt::format("must be 0..{}", max), std::to_string(prefixlen));
  }
}

void check_ifindex(std::string_view call, int ifindex) {
  if (ifindex <= 0) bad_argument(call, "ifindex", "must be > 0", std::to_string(ifindex));
}

void check_ifname(std::string_view call, std::string_view ifname) {
  // The kernel's own rule (dev_valid_name): 1..15 bytes, no '/', ':' or white space.
  bool ok = !ifname.empty() && ifname.size() < IFNAMSIZ && ifname != "." && ifname != ".." &&
            ifname.find_first_of(std::string_view("/: \t\n\r\v\f\0", 10)) == std::string_view::npos;
  if (!ok) bad_argument(call, "ifname", "not a valid interface name", ifname);
}

MacAddress parse_mac(std::string_view call, std::string_view text) {
  MacAddress mac{};
  std::size_t pos = 0;
  for (std::size_t i = 0; i < mac.size(); ++i) {
    if (i != 0) {
      if (pos >= text.size() || (text[pos] != ':' && text[pos] != '-')) {
        bad_argument(call, "mac", "not a MAC address like 80:00:42:0e:e7:3a", text);
      }
      ++pos;
    }
    unsigned value = 0;
    auto [p, ec] =
        std::from_chars(text.data() + pos, text.data() + std::min(pos + 2, text.size()), value, 16);
    if (ec != std::errc() || p != text.data() + pos + 2) {
      bad_argument(call, "mac", "not a MAC address like 80:00:42:0e:e7:3a", text);
    }
    mac[i] = static_cast<unsigned char>(value);
    pos += 2;
  }
  if (pos != text.size()) {
    bad_argument(call, "mac", "not a MAC address like 80:00:42:0e:e7:3a", text);
  }
  // An interface cannot own a group address; say so here rather than as a kernel error.
  if (mac[0] & 1) bad_argument(call, "mac", "is a multicast address", text);
  return mac;
}

// One "key" or "key=value" item of an iothconf string.
struct ConfItem {
  std::string_view key;
  std::string_view value;
  bool has_value = false;
};

std::vector<ConfItem> split_config(std::string_view call, std::string_view config) {
  std::vector<ConfItem> out;
  while (!config.empty()) {
    auto comma = config.find(',');
    auto item = config.substr(0, comma);
    config = comma == std::string_view::npos ? std::string_view{} : config.substr(comma + 1);
    if (item.empty()) continue;
    ConfItem c;
    auto eq = item.find('=');
    c.key = item.substr(0, eq);
    if (eq != std::string_view::npos) {
      c.value = item.substr(eq + 1);
      c.has_value = true;
    }
    if (c.key.empty()) bad_argument(call, "config", "an item has no key", item);
    out.push_back(c);
  }
  return out;
}

[[noreturn]] void throw_socket_errno(std::string_view call, int family, int type, int err,
                                     std::string_view kind) {
  auto what = fmt::format("{}: family {} type {} on the {} stack", call, family, type, kind);
  switch (err) {
    case EAFNOSUPPORT:
    case EINVAL:
    case EPROTONOSUPPORT:
    case ESOCKTNOSUPPORT:
    case EPROTOTYPE:
      throw RepyArgumentError(fmt::format("{}: {}", what, detail::errno_text(err)));
    default:
      detail::throw_stack_error(what, err);
  }
}

}  // namespace

namespace {

// What an iothconf string asks for, checked before anything is changed.
struct IothConf {
  std::string ifname;
  int ifindex = 0;
  bool eth = false;
  bool has_mac = false;
  MacAddress mac{};
  struct Ip {
    IpAddress addr;
    int prefixlen;
  };
  std::vector<Ip> ips;
  std::vector<IpAddress> gws;
  std::vector<std::string> dns;
  std::vector<std::string> domains;
  bool touches_link() const { return eth || has_mac || !ips.empty() || !gws.empty(); }
};

IothConf parse_iothconf(std::string_view config) {
  constexpr std::string_view call = "iothconfig";
  IothConf c;
  auto need_value = [&](const ConfItem& item) {
    if (!item.has_value || item.value.empty()) {
      bad_argument(call, item.key, fmt::format("'{}=' needs a value", item.key), config);
    }
  };
  for (const auto& item : split_config(call, config)) {
    const auto key = item.key;
    if (key == "eth") {
      if (item.has_value) bad_argument(call, "eth", "'eth' takes no value", item.value);
      c.eth = true;
    } else if (key == "ip") {
      need_value(item);
      auto slash = item.value.find('/');
      int len = -1;
      if (slash == std::string_view::npos || !parse_int(item.value.substr(slash + 1), len)) {
        bad_argument(call, "ip", "needs ADDRESS/PREFIXLEN", item.value);
      }
      auto a = parse_ip(call, "ip", 0, item.value.substr(0, slash));
      check_prefix(call, a.family, len);
      c.ips.push_back({a, len});
    } else if (key == "gw") {
      need_value(item);
      c.gws.push_back(parse_ip(call, "gw", 0, item.value));
    } else if (key == "dns") {
      need_value(item);
      parse_ip(call, "dns", 0, item.value);
      c.dns.emplace_back(item.value);
    } else if (key == "domain") {
      need_value(item);
      if (item.value.find_first_of(" \t") != std::string_view::npos) {
        bad_argument(call, "domain", "a domain has no spaces", item.value);
      }
      c.domains.emplace_back(item.value);
    } else if (key == "mac" || key == "macaddr") {
      need_value(item);
      c.mac = parse_mac(call, item.value);
      c.has_mac = true;
    } else if (key == "iface" || key == "ifname") {
      need_value(item);
      check_ifname(call, item.value);
      c.ifname = item.value;
    } else if (key == "ifindex") {
      need_value(item);
      if (!parse_int(item.value, c.ifindex) || c.ifindex <= 0) {
        bad_argument(call, "ifindex", "must be a number > 0", item.value);
      }
    } else if (key == "dhcp" || key == "dhcp4" || key == "dhcp6" || key == "rd" || key == "rd6" ||
               key == "slaac" || key == "auto" || key == "auto4" || key == "auto6" ||
               key == "fqdn" || key == "debug") {
      bad_argument(call, key,
                   fmt::format("'{}' (automatic configuration) is not supported; use "
                               "ip=, gw=, dns=",
                               key),
                   config);
    } else if (key == "stack" || key == "vnl") {
      bad_argument(call, key, fmt::format("'{}=' only belongs in the Stack constructor", key),
                   config);
    } else {
      bad_argument(call, key, fmt::format("unknown key '{}'", key), config);
    }
  }
  if (c.dns.empty() && !c.domains.empty()) {
    bad_argument(call, "dns", "domain= needs at least one dns= server", config);
  }
  return c;
}

void apply_iothconf(Stack& stack, const IothConf& c, std::string_view config) {
  auto& impl = detail::impl(stack);
  int ifindex = c.ifindex;
  if (ifindex == 0 && c.touches_link()) {
    // The VDE stacks name their first interface vde0; elsewhere the caller must say.
    if (c.ifname.empty() && impl.kind() != "vdestack") {
      bad_argument("iothconfig", "iface",
                   fmt::format("the {} stack needs iface= or ifindex=", impl.kind()), config);
    }
    ifindex = stack.if_nametoindex(c.ifname.empty() ? "vde0" : c.ifname);
  }
  // A MAC change must come before the link is up; addresses and routes need it up.
  if (c.has_mac) detail::netlink::link_set_mac(impl, ifindex, c.mac);
  if (c.touches_link()) detail::netlink::link_set_updown(impl, ifindex, true);
  for (const auto& ip : c.ips) {
    detail::netlink::addr_change(impl, true, ip.addr, ip.prefixlen, ifindex, impl.skip_dad());
  }
  for (const auto& gw : c.gws) {
    IpAddress any;
    any.family = gw.family;
    detail::netlink::route_change(impl, true, gw.family, gw, any, 0, ifindex);
  }
  if (!c.dns.empty()) {
    std::string text;
    for (const auto& d : c.dns) text += fmt::format("nameserver {}\n", d);
    if (!c.domains.empty()) text += fmt::format("search {}\n", fmt::join(c.domains, " "));
    impl.configure_resolver(text);
  }
}

}  // namespace

Stack Stack::host() { return Stack(detail::host_stack()); }

Stack Stack::netns(std::string_view name_or_path) {
  return Stack(detail::make_netns_stack(name_or_path));
}

Stack::Stack(std::string_view stack, std::vector<std::string> vdeurls,
             std::string_view config_dns) {
  constexpr std::string_view call = "Stack";
  std::string rest;  // iothconf items to apply once the stack exists
  IothConf conf;
  std::string dns_text;
  if (!config_dns.empty()) {
    dns_text = detail::resolv_conf_text(config_dns);
    detail::parse_resolv_conf(dns_text);  // checked before a stack is made
  }
  if (stack == "kernel" || stack == "host") {
    if (!vdeurls.empty()) {
      bad_argument(call, "vdeurls", "the kernel stack takes no VDE URLs", vdeurls.front());
    }
    impl_ = detail::host_stack();
  } else if (stack == "vdestack") {
    impl_ = detail::make_vdestack(vdeurls);
  } else if (stack.find('=') != std::string_view::npos ||
             stack.find(',') != std::string_view::npos) {
    std::string_view kind = "vdestack";  // iothconf's default for a configured stack
    for (const auto& item : split_config(call, stack)) {
      if (item.key == "stack") {
        if (!item.has_value || item.value.empty()) {
          bad_argument(call, "stack", "stack= needs a name", stack);
        }
        kind = item.value;
      } else if (item.key == "vnl") {
        if (!item.has_value || item.value.empty()) {
          bad_argument(call, "stack", "vnl= needs a VDE URL", stack);
        }
        vdeurls.emplace_back(item.value);
      } else {
        if (!rest.empty()) rest += ',';
        rest.append(item.key);
        if (item.has_value) {
          rest += '=';
          rest.append(item.value);
        }
      }
    }
    // Every key is checked before a stack is made, so a typo costs no namespace.
    conf = parse_iothconf(rest);
    if (kind == "kernel" || kind == "host") {
      if (!vdeurls.empty()) {
        bad_argument(call, "vnl", "the kernel stack takes no VDE URLs", vdeurls.front());
      }
      impl_ = detail::host_stack();
    } else if (kind == "vdestack") {
      impl_ = detail::make_vdestack(vdeurls);
    } else {
      bad_argument(call, "stack", "unknown stack (kernel or vdestack)", kind);
    }
  } else {
    bad_argument(call, "stack",
                 "unknown stack: 'kernel', 'vdestack' or a configuration "
                 "'stack=vdestack,vnl=URL,...'",
                 stack);
  }
  if (!rest.empty()) apply_iothconf(*this, conf, rest);
  if (!dns_text.empty()) impl_->configure_resolver(dns_text);
}

int Stack::if_nametoindex(std::string_view ifname) const {
  check_ifname("if_nametoindex", ifname);
  return detail::netlink::link_index(*impl_, ifname);
}

void Stack::linksetupdown(int ifindex, bool up) {
  check_ifindex("linksetupdown", ifindex);
  detail::netlink::link_set_updown(*impl_, ifindex, up);
}

std::string Stack::linkgetaddr(int ifindex) const {
  check_ifindex("linkgetaddr", ifindex);
  return detail::netlink::link_get_mac(*impl_, ifindex);
}

void Stack::linksetaddr(int ifindex, std::string_view mac) {
  check_ifindex("linksetaddr", ifindex);
  detail::netlink::link_set_mac(*impl_, ifindex, parse_mac("linksetaddr", mac));
}

void Stack::linksetmtu(int ifindex, int mtu) {
  check_ifindex("linksetmtu", ifindex);
  if (mtu < 68 || mtu > 65535) {
    bad_argument("linksetmtu", "mtu", "must be 68..65535", std::to_string(mtu));
  }
  detail::netlink::link_set_mtu(*impl_, ifindex, mtu);
}

void Stack::iplink_add(std::string_view ifname, int ifindex, std::string_view type,
                       std::string_view data) {
  constexpr std::string_view call = "iplink_add";
  check_ifname(call, ifname);
  if (type.empty() || type.find('\0') != std::string_view::npos) {
    bad_argument(call, "type", "needs a link type (dummy, veth, vlan, vde, ...)", type);
  }
  if (type == "vde") {
    if (data.empty()) bad_argument(call, "data", "a vde link needs its VDE URL", data);
    impl_->add_vde_interface(ifname, data);
    return;
  }
  if (type == "veth") check_ifname(call, data);
  detail::netlink::link_add(*impl_, ifname, ifindex, type, data);
}

void Stack::iplink_del(std::string_view ifname, int ifindex) {
  constexpr std::string_view call = "iplink_del";
  if (ifindex <= 0) check_ifname(call, ifname);
  detail::netlink::link_del(*impl_, ifname, ifindex);
}

void Stack::ipaddr_add(int family, std::string_view addr, int prefixlen, int ifindex) {
  constexpr std::string_view call = "ipaddr_add";
  auto a = parse_ip(call, "addr", family, addr);
  check_prefix(call, a.family, prefixlen);
  check_ifindex(call, ifindex);
  detail::netlink::addr_change(*impl_, true, a, prefixlen, ifindex, impl_->skip_dad());
}

void Stack::ipaddr_del(int family, std::string_view addr, int prefixlen, int ifindex) {
  constexpr std::string_view call = "ipaddr_del";
  auto a = parse_ip(call, "addr", family, addr);
  check_prefix(call, a.family, prefixlen);
  check_ifindex(call, ifindex);
  detail::netlink::addr_change(*impl_, false, a, prefixlen, ifindex, false);
}

namespace {

void route_call(detail::StackImpl& impl, std::string_view call, bool add, int family,
                std::string_view gw, std::string_view dst, int dst_prefixlen, int ifindex) {
  IpAddress gateway;
  if (!gw.empty()) {
    gateway = parse_ip(call, "gw", family, gw);
    family = gateway.family;
  }
  IpAddress destination;
  if (!dst.empty()) {
    destination = parse_ip(call, "dst", family, dst);
    family = destination.family;
  } else if (dst_prefixlen != 0) {
    bad_argument(call, "dst_prefixlen", "the default route (empty dst) has prefix 0",
                 std::to_string(dst_prefixlen));
  }
  if (family != AF_INET && family != AF_INET6) {
    bad_argument(call, "family", "must be AF_INET6 or AF_INET", std::to_string(family));
  }
  check_prefix(call, family, dst_prefixlen);
  if (gw.empty() && ifindex <= 0) {
    bad_argument(call, "gw", "a route needs a gateway or an ifindex", gw);
  }
  if (ifindex < 0) bad_argument(call, "ifindex", "must be >= 0", std::to_string(ifindex));
  detail::netlink::route_change(impl, add, family, gateway, destination, dst_prefixlen, ifindex);
}

}  // namespace

void Stack::iproute_add(int family, std::string_view gw, std::string_view dst, int dst_prefixlen,
                        int ifindex) {
  route_call(*impl_, "iproute_add", true, family, gw, dst, dst_prefixlen, ifindex);
}

void Stack::iproute_del(int family, std::string_view gw, std::string_view dst, int dst_prefixlen,
                        int ifindex) {
  route_call(*impl_, "iproute_del", false, family, gw, dst, dst_prefixlen, ifindex);
}

void Stack::iothconfig(std::string_view config) {
  apply_iothconf(*this, parse_iothconf(config), config);
}

void Stack::iothdns_update(std::string_view resolvconf) {
  impl_->configure_resolver(detail::resolv_conf_text(resolvconf));
}

std::vector<AddrInfo> Stack::getaddrinfo(std::string_view host, std::string_view port, int family,
                                         int type, int proto, int flags) const {
  if (host.find('\0') != std::string_view::npos) {
    bad_argument("getaddrinfo", "host", "contains a NUL byte", host);
  }
  if (host.empty() && port.empty()) {
    bad_argument("getaddrinfo", "host", "host and port cannot both be empty", host);
  }
  return impl_->resolve(host, port, family, type, proto, flags);
}

std::pair<std::string, std::string> Stack::getnameinfo(std::string_view ip, int port,
                                                       int flags) const {
  return impl_->reverse_resolve(ip, port, flags);
}

int Stack::socket(int family, int type, int protocol) const {
  int fd = impl_->make_socket(family, type, protocol);
  if (fd < 0) throw_socket_errno("socket", family, type, -fd, impl_->kind());
  return fd;
}

}  // namespace repy
