// iothconf: the one-string configuration of iothpy ("eth,ip=fc00::1/64,gw=fc00::ff,
// dns=fc00::53"), read whole before anything is changed, then applied on a stack
// through its netlink and resolver. The Stack constructor's string is the same with
// "stack=" and "vnl=" added.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "stack/netlink.hpp"

namespace repy::detail {

class StackImpl;

/// What an iothconf string asks for, every value checked.
struct IothConf {
  struct Ip {
    IpAddress addr;
    int prefixlen = 0;
  };
  std::string ifname;
  int ifindex = 0;
  bool eth = false;
  bool has_mac = false;
  netlink::MacAddress mac{};
  std::vector<Ip> ips;
  std::vector<IpAddress> gws;
  std::vector<std::string> dns;
  std::vector<std::string> domains;
  /// Whether applying it changes a link (and so needs one).
  bool touches_link() const noexcept { return eth || has_mac || !ips.empty() || !gws.empty(); }
};

/// Parses iothconf items: eth, ip=ADDR/LEN, gw=, dns=, domain=, mac= (macaddr=), iface=
/// (ifname=), ifindex=; `call` names the call for messages.
/// @throws RepyArgumentError naming the key for a malformed value, an unknown key, an
/// automatic-configuration key (dhcp, rd, slaac, ...) or "stack="/"vnl=".
IothConf parse_iothconf(std::string_view call, std::string_view config);

/// Applies `conf` on `stack`: MAC, link up, addresses, default routes, then the
/// resolver. Without iface=/ifindex= the link is vde0, on a vdestack only.
/// @throws RepyArgumentError when no link is named where one is needed; NetworkError
/// (ResourceForbiddenError) when the stack refuses.
void apply_iothconf(std::string_view call, StackImpl& stack, const IothConf& conf,
                    std::string_view config);

/// What the Stack constructor is asked to make.
struct StackRequest {
  enum class Kind { host, vdestack };
  Kind kind = Kind::host;
  std::vector<std::string> vdeurls;
  std::string config;  // the iothconf items left once stack= and vnl= are taken out
  IothConf conf;       // `config`, parsed
};

/// Reads the Stack constructor's `stack` ("kernel", "host", "vdestack" or a
/// configuration string with stack= and vnl= items) with its `vdeurls`; every item is
/// checked here, before a stack is made, so a typo costs no namespace.
/// @throws RepyArgumentError naming the argument at fault.
StackRequest parse_stack_request(std::string_view stack, std::vector<std::string> vdeurls);

}  // namespace repy::detail
