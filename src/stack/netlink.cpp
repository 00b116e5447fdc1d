// Netlink configuration through libnl-route-3, on a NETLINK_ROUTE socket made inside
// the stack (nl_socket_set_fd), so a request can only reach the stack it is meant for.
#include "stack/netlink.hpp"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <linux/if_addr.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <netlink/addr.h>
#include <netlink/cache.h>
#include <netlink/errno.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/link/veth.h>
#include <netlink/route/link/vlan.h>
#include <netlink/route/route.h>
#include <netlink/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <functional>
#include <memory>

#include "core/error_map.hpp"
#include "stack/arguments.hpp"
#include "stack/stack_impl.hpp"

namespace repy::detail::netlink {
namespace {

// One owner per libnl object, so every early exit frees what it allocated.
struct SockFree {
  void operator()(nl_sock* s) const noexcept { nl_socket_free(s); }
};
struct LinkPut {
  void operator()(rtnl_link* l) const noexcept { rtnl_link_put(l); }
};
struct AddrPut {
  void operator()(nl_addr* a) const noexcept { nl_addr_put(a); }
};
struct RtAddrPut {
  void operator()(rtnl_addr* a) const noexcept { rtnl_addr_put(a); }
};
struct RoutePut {
  void operator()(rtnl_route* r) const noexcept { rtnl_route_put(r); }
};
struct CacheFree {
  void operator()(nl_cache* c) const noexcept { nl_cache_free(c); }
};
using SockPtr = std::unique_ptr<nl_sock, SockFree>;
using LinkPtr = std::unique_ptr<rtnl_link, LinkPut>;
using NlAddrPtr = std::unique_ptr<nl_addr, AddrPut>;
using RtAddrPtr = std::unique_ptr<rtnl_addr, RtAddrPut>;
using RoutePtr = std::unique_ptr<rtnl_route, RoutePut>;
using CachePtr = std::unique_ptr<nl_cache, CacheFree>;

[[noreturn]] void throw_errno(std::string_view call, std::string_view what, int err,
                              std::string_view kind) {
  throw_stack_error(fmt::format("{}: {} on the {} stack", call, what, kind), err);
}

// libnl folds the kernel's errno into codes of its own. The ones that decide the Repy
// class (a missing privilege) or say it plainly go back to their errno for the error
// map; the rest keep libnl's words.
[[noreturn]] void throw_nl(std::string_view call, std::string_view what, int nlerr,
                           std::string_view kind) {
  int code = nlerr < 0 ? -nlerr : nlerr;
  int err = code == NLE_PERM       ? EPERM
            : code == NLE_NOACCESS ? EACCES
            : code == NLE_NOMEM    ? ENOMEM
                                   : 0;
  if (err != 0) {
    throw_stack_error(fmt::format("{}: {} refused by the {} stack's netlink", call, what, kind),
                      err);
  }
  throw_stack_failure(fmt::format("{}: {} refused by the {} stack's netlink: {}", call, what, kind,
                                  nl_geterror(code)));
}

[[noreturn]] void out_of_memory(std::string_view call) {
  throw_stack_error(fmt::format("{}: allocating a netlink object", call), ENOMEM);
}

// A connected libnl socket whose fd lives in `stack`.
SockPtr open_socket(StackImpl& stack, std::string_view call) {
  int fd = stack.make_socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE);
  if (fd < 0) throw_errno(call, "cannot make a NETLINK_ROUTE socket", -fd, stack.kind());
  // Bound before libnl sees it, so the kernel picks a unique port id and libnl reads
  // it back instead of inventing one.
  sockaddr_nl local{};
  local.nl_family = AF_NETLINK;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof local) != 0) {
    int err = errno;
    ::close(fd);
    throw_errno(call, "cannot bind the netlink socket", err, stack.kind());
  }
  SockPtr sk(nl_socket_alloc());
  if (!sk) {
    ::close(fd);
    out_of_memory(call);
  }
  if (int rc = nl_socket_set_fd(sk.get(), NETLINK_ROUTE, fd); rc < 0) {
    ::close(fd);
    throw_nl(call, "adopting the netlink socket", rc, stack.kind());
  }
  return sk;  // nl_socket_free closes fd from now on
}

LinkPtr get_link(nl_sock* sk, StackImpl& stack, std::string_view call, int ifindex,
                 std::string_view name) {
  rtnl_link* link = nullptr;
  std::string n(name);
  int rc = rtnl_link_get_kernel(sk, ifindex > 0 ? ifindex : 0,
                                ifindex > 0 || n.empty() ? nullptr : n.c_str(), &link);
  if (rc < 0) {
    if (ifindex > 0) {
      throw_nl(call, fmt::format("looking up interface index {}", ifindex), rc, stack.kind());
    }
    throw_nl(call, fmt::format("looking up interface '{}'", name), rc, stack.kind());
  }
  return LinkPtr(link);
}

// Applies `changes` to link `ifindex`.
void change_link(StackImpl& stack, std::string_view call, int ifindex,
                 const std::function<void(rtnl_link*)>& edit) {
  auto sk = open_socket(stack, call);
  auto orig = get_link(sk.get(), stack, call, ifindex, {});
  LinkPtr changes(rtnl_link_alloc());
  if (!changes) out_of_memory(call);
  edit(changes.get());
  if (int rc = rtnl_link_change(sk.get(), orig.get(), changes.get(), 0); rc < 0) {
    throw_nl(call, fmt::format("changing interface index {}", ifindex), rc, stack.kind());
  }
}

NlAddrPtr build_addr(const IpAddress& a, int prefixlen, std::string_view call) {
  nl_addr* out = nullptr;
  if (a.is_v4()) {
    auto bytes = a.to_v4().to_bytes();
    out = nl_addr_build(AF_INET, bytes.data(), bytes.size());
  } else {
    auto bytes = a.to_v6().to_bytes();
    out = nl_addr_build(AF_INET6, bytes.data(), bytes.size());
  }
  if (out == nullptr) out_of_memory(call);
  nl_addr_set_prefixlen(out, prefixlen);
  return NlAddrPtr(out);
}

}  // namespace

int link_index(StackImpl& stack, std::string_view name) {
  constexpr std::string_view call = "if_nametoindex";
  auto sk = open_socket(stack, call);
  auto link = get_link(sk.get(), stack, call, 0, name);
  return rtnl_link_get_ifindex(link.get());
}

int find_link_index(StackImpl& stack, std::string_view name) {
  constexpr std::string_view call = "if_nametoindex";
  auto sk = open_socket(stack, call);
  rtnl_link* raw = nullptr;
  int rc = rtnl_link_get_kernel(sk.get(), 0, std::string(name).c_str(), &raw);
  if (rc == -NLE_NODEV || rc == -NLE_OBJ_NOTFOUND) return 0;
  if (rc < 0) throw_nl(call, fmt::format("looking up interface '{}'", name), rc, stack.kind());
  LinkPtr link(raw);
  return rtnl_link_get_ifindex(link.get());
}

void link_set_updown(StackImpl& stack, int ifindex, bool up) {
  change_link(stack, "linksetupdown", ifindex, [up](rtnl_link* l) {
    if (up) {
      rtnl_link_set_flags(l, IFF_UP);
    } else {
      rtnl_link_unset_flags(l, IFF_UP);
    }
  });
}

std::string link_get_mac(StackImpl& stack, int ifindex) {
  constexpr std::string_view call = "linkgetaddr";
  auto sk = open_socket(stack, call);
  auto link = get_link(sk.get(), stack, call, ifindex, {});
  nl_addr* a = rtnl_link_get_addr(link.get());
  if (a == nullptr || nl_addr_get_len(a) == 0) return {};
  const auto* bytes = static_cast<const unsigned char*>(nl_addr_get_binary_addr(a));
  std::string out;
  for (unsigned i = 0; i < nl_addr_get_len(a); ++i) {
    if (i != 0) out += ':';
    out += fmt::format("{:02x}", bytes[i]);
  }
  return out;
}

void link_set_mac(StackImpl& stack, int ifindex, const MacAddress& mac) {
  NlAddrPtr a(nl_addr_build(AF_LLC, mac.data(), mac.size()));
  if (!a) out_of_memory("linksetaddr");
  change_link(stack, "linksetaddr", ifindex,
              [&a](rtnl_link* l) { rtnl_link_set_addr(l, a.get()); });
}

void link_set_mtu(StackImpl& stack, int ifindex, int mtu) {
  change_link(stack, "linksetmtu", ifindex,
              [mtu](rtnl_link* l) { rtnl_link_set_mtu(l, static_cast<unsigned>(mtu)); });
}

int link_get_mtu(StackImpl& stack, int ifindex) {
  constexpr std::string_view call = "linkgetmtu";
  auto sk = open_socket(stack, call);
  auto link = get_link(sk.get(), stack, call, ifindex, {});
  return static_cast<int>(rtnl_link_get_mtu(link.get()));
}

void link_add(StackImpl& stack, std::string_view name, int ifindex, std::string_view type,
              std::string_view data) {
  constexpr std::string_view call = "iplink_add";
  LinkPtr link;
  if (type == "veth") {
    link.reset(rtnl_link_veth_alloc());
    if (!link) out_of_memory(call);
    // rtnl_link_veth_get_peer() hands out a reference of its own: the LinkPtr gives it
    // back (the peer itself goes with the link).
    LinkPtr peer(rtnl_link_veth_get_peer(link.get()));
    rtnl_link_set_name(peer.get(), std::string(data).c_str());
  } else if (type == "vlan") {
    auto vlan = parse_vlan_data(call, data);
    auto sk = open_socket(stack, call);
    auto parent = get_link(sk.get(), stack, call, 0, vlan.parent);
    link.reset(rtnl_link_vlan_alloc());
    if (!link) out_of_memory(call);
    rtnl_link_set_link(link.get(), rtnl_link_get_ifindex(parent.get()));
    rtnl_link_vlan_set_id(link.get(), static_cast<std::uint16_t>(vlan.id));
  } else {
    link.reset(rtnl_link_alloc());
    if (!link) out_of_memory(call);
    if (int rc = rtnl_link_set_type(link.get(), std::string(type).c_str()); rc < 0) {
      throw_nl(call, fmt::format("link type '{}'", type), rc, stack.kind());
    }
  }
  rtnl_link_set_name(link.get(), std::string(name).c_str());
  if (ifindex > 0) rtnl_link_set_ifindex(link.get(), ifindex);
  auto sk = open_socket(stack, call);
  if (int rc = rtnl_link_add(sk.get(), link.get(), NLM_F_CREATE | NLM_F_EXCL); rc < 0) {
    throw_nl(call, fmt::format("adding {} link '{}'", type, name), rc, stack.kind());
  }
}

void link_del(StackImpl& stack, std::string_view name, int ifindex) {
  constexpr std::string_view call = "iplink_del";
  LinkPtr link(rtnl_link_alloc());
  if (!link) out_of_memory(call);
  if (ifindex > 0) {
    rtnl_link_set_ifindex(link.get(), ifindex);
  } else {
    rtnl_link_set_name(link.get(), std::string(name).c_str());
  }
  auto sk = open_socket(stack, call);
  if (int rc = rtnl_link_delete(sk.get(), link.get()); rc < 0) {
    throw_nl(call, fmt::format("deleting link '{}' (index {})", name, ifindex), rc, stack.kind());
  }
}

void addr_change(StackImpl& stack, bool add, const IpAddress& addr, int prefixlen, int ifindex,
                 bool nodad) {
  std::string_view call = add ? "ipaddr_add" : "ipaddr_del";
  RtAddrPtr a(rtnl_addr_alloc());
  if (!a) out_of_memory(call);
  auto local = build_addr(addr, prefixlen, call);
  rtnl_addr_set_ifindex(a.get(), ifindex);
  rtnl_addr_set_family(a.get(), family_of(addr));
  if (int rc = rtnl_addr_set_local(a.get(), local.get()); rc < 0) {
    throw_nl(call, "setting the local address", rc, stack.kind());
  }
  rtnl_addr_set_prefixlen(a.get(), prefixlen);
  if (add && nodad && addr.is_v6()) rtnl_addr_set_flags(a.get(), IFA_F_NODAD);
  auto sk = open_socket(stack, call);
  char text[INET6_ADDRSTRLEN + 8] = {};
  nl_addr2str(local.get(), text, sizeof text);
  int rc = add ? rtnl_addr_add(sk.get(), a.get(), NLM_F_CREATE | NLM_F_EXCL)
               : rtnl_addr_delete(sk.get(), a.get(), 0);
  if (rc < 0) {
    throw_nl(call, fmt::format("address {} on interface index {}", text, ifindex), rc,
             stack.kind());
  }
}

void route_change(StackImpl& stack, bool add, const std::optional<IpAddress>& gateway,
                  const IpAddress& dst, int dst_prefixlen, int ifindex) {
  std::string_view call = add ? "iproute_add" : "iproute_del";
  RoutePtr r(rtnl_route_alloc());
  if (!r) out_of_memory(call);
  rtnl_route_set_family(r.get(), static_cast<std::uint8_t>(family_of(dst)));
  rtnl_route_set_table(r.get(), RT_TABLE_MAIN);
  // A delete matches on protocol and scope when they are given: leave them open so a
  // route that `ip route add` (protocol boot) made can be deleted too.
  rtnl_route_set_protocol(r.get(), add ? RTPROT_STATIC : RTPROT_UNSPEC);
  rtnl_route_set_type(r.get(), RTN_UNICAST);
  auto dst_addr = build_addr(dst, dst_prefixlen, call);
  if (int rc = rtnl_route_set_dst(r.get(), dst_addr.get()); rc < 0) {
    throw_nl(call, "setting the destination", rc, stack.kind());
  }
  // Without a gateway the destination is on the link itself.
  if (add) {
    rtnl_route_set_scope(r.get(), gateway ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK);
  } else {
    rtnl_route_set_scope(r.get(), RT_SCOPE_NOWHERE);
  }
  rtnl_nexthop* nh = rtnl_route_nh_alloc();
  if (nh == nullptr) out_of_memory(call);
  if (ifindex > 0) rtnl_route_nh_set_ifindex(nh, ifindex);
  if (gateway) {
    auto gw = build_addr(*gateway, gateway->is_v6() ? 128 : 32, call);
    rtnl_route_nh_set_gateway(nh, gw.get());  // takes its own reference
  }
  rtnl_route_add_nexthop(r.get(), nh);  // the route owns nh now
  auto sk = open_socket(stack, call);
  int rc = add ? rtnl_route_add(sk.get(), r.get(), NLM_F_CREATE | NLM_F_EXCL)
               : rtnl_route_delete(sk.get(), r.get(), 0);
  if (rc < 0) {
    char text[INET6_ADDRSTRLEN + 8] = {};
    nl_addr2str(dst_addr.get(), text, sizeof text);
    throw_nl(call, fmt::format("route to {}", dst_prefixlen == 0 ? "default" : text), rc,
             stack.kind());
  }
}

std::vector<boost::asio::ip::address_v6> addresses(StackImpl& stack,
                                                   std::string_view ifname) noexcept {
  std::vector<boost::asio::ip::address_v6> out;
  try {
    auto sk = open_socket(stack, "interface_addresses");
    rtnl_link* link = nullptr;
    if (rtnl_link_get_kernel(sk.get(), 0, std::string(ifname).c_str(), &link) < 0) {
      return out;
    }
    int ifindex = rtnl_link_get_ifindex(link);
    rtnl_link_put(link);
    nl_cache* raw = nullptr;
    if (rtnl_addr_alloc_cache(sk.get(), &raw) < 0) return out;
    CachePtr cache(raw);
    for (nl_object* obj = nl_cache_get_first(cache.get()); obj != nullptr;
         obj = nl_cache_get_next(obj)) {
      auto* a = reinterpret_cast<rtnl_addr*>(obj);
      if (rtnl_addr_get_ifindex(a) != ifindex) continue;
      nl_addr* local = rtnl_addr_get_local(a);
      if (local == nullptr) continue;
      const auto* bytes = static_cast<const unsigned char*>(nl_addr_get_binary_addr(local));
      if (rtnl_addr_get_family(a) == AF_INET6 && nl_addr_get_len(local) == 16) {
        boost::asio::ip::address_v6::bytes_type b;
        std::memcpy(b.data(), bytes, b.size());
        boost::asio::ip::address_v6 v6(b);
        // Link-local addresses only mean something together with their interface.
        if (v6.is_link_local()) v6.scope_id(static_cast<unsigned long>(ifindex));
        out.push_back(v6);
      } else if (rtnl_addr_get_family(a) == AF_INET && nl_addr_get_len(local) == 4) {
        boost::asio::ip::address_v4::bytes_type b;
        std::memcpy(b.data(), bytes, b.size());
        out.push_back(boost::asio::ip::make_address_v6(boost::asio::ip::v4_mapped,
                                                       boost::asio::ip::address_v4(b)));
      }
    }
  } catch (...) {
    out.clear();
  }
  return out;
}

}  // namespace repy::detail::netlink
