// getmyip and getmyip_ipv6: the policy's preferred addresses, else the routing table's
// answer.
#include <fmt/format.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>

#include "context/context_state.hpp"
#include "context/socket_work.hpp"
#include "repy/context.hpp"
#include "repy/errors.hpp"

namespace repy {

namespace detail {
namespace {

// Public, stable addresses to aim the route probe at, one per family; connecting a UDP
// socket sends nothing, it only asks the routing table.
constexpr std::string_view route_probe_v6 = "2001:4860:4860::8888";
constexpr std::string_view route_probe_v4 = "::ffff:8.8.8.8";

std::string_view family_name(Family family) { return family == Family::ipv4 ? "IPv4" : "IPv6"; }

// Whether an address is of the family a call answers in (IPv4 ones are held mapped).
bool of_family(const address_v6& address, Family family) {
  return address.is_v4_mapped() == (family == Family::ipv4);
}

// Whether a UDP socket of the stack can bind the address (it is one of the stack's).
bool bindable(const ContextState& state, const address_v6& address) {
  Fd fd(state.ops().make_socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!fd) return false;
  return state.ops().setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, 0) == 0 &&
         state.ops().bind(fd.get(), to_sockaddr(address, 0)) == 0;
}

// What one preference offers a call of `family`: an `ip` line of that family its
// address; an `iface` line the interface's own addresses of that family, global before
// link-local.
std::vector<address_v6> candidates(const ContextState& state,
                                   const PolicyData::Preference& preference, Family family) {
  std::vector<address_v6> addresses;
  if (preference.ip) {
    addresses = {*preference.ip};
  } else {
    addresses = state.ops().interface_addresses(preference.iface);
  }
  std::erase_if(addresses, [&](const address_v6& a) { return !of_family(a, family); });
  std::stable_partition(addresses.begin(), addresses.end(),
                        [](const address_v6& a) { return !a.is_link_local(); });
  return addresses;
}

std::optional<address_v6> preferred_address(const ContextState& state, Family family) {
  for (const auto& preference : data(state.policy).preferences) {
    for (const auto& candidate : candidates(state, preference, family)) {
      if (bindable(state, candidate)) return candidate;
    }
  }
  return std::nullopt;
}

address_v6 routed_address(const ContextState& state, Family family, std::string_view call) {
  Endpoints ends;
  ends.family = family;
  ends.remote =
      boost::asio::ip::make_address_v6(family == Family::ipv4 ? route_probe_v4 : route_probe_v6);
  ends.remote_port = 53;
  Fd fd = open_socket(state, call, SOCK_DGRAM, ends);
  if (int err = state.ops().connect(fd.get(), to_sockaddr(ends.remote, ends.remote_port))) {
    throw_network_error(call, Op::probe_route, err, ends);
  }
  auto local = state.ops().local_address(fd.get());
  if (!local) throw_network_error(call, Op::probe_route, local.error, ends);
  address_v6 address = from_sockaddr(local.value).first;
  if (address.is_unspecified() || is_loopback(address) || !of_family(address, family)) {
    throw_no_connectivity(call,
                          fmt::format("the route to the {} Internet has no usable source address",
                                      family_name(family)));
  }
  return address;
}

// getmyip and getmyip_ipv6: the first bindable preference of the family, else (unless
// nootherips makes the preferences the only addresses allowed) the routing table's.
std::string my_ip(ContextState& state, Family family, std::string_view call) {
  state.nanny.wait(Resource::netsend, call);
  state.nanny.wait(Resource::netrecv, call);
  std::optional<address_v6> address = preferred_address(state, family);
  if (!address) {
    const PolicyData& policy = data(state.policy);
    if (policy.nootherips && !policy.preferences.empty()) {
      throw_no_connectivity(
          call,
          fmt::format("none of the policy's preferred addresses is an {} address on this stack",
                      family_name(family)));
    }
    address = routed_address(state, family, call);
  }
  state.nanny.charge(Resource::netsend, 256);
  state.nanny.charge(Resource::netrecv, 128);
  return to_text(*address, family);
}

}  // namespace
}  // namespace detail

using namespace detail;

std::string Context::getmyip_ipv6() { return my_ip(*state_, Family::ipv6, "getmyip_ipv6"); }

std::string Context::getmyip() { return my_ip(*state_, Family::ipv4, "getmyip"); }

}  // namespace repy
