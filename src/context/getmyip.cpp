// getmyip_ipv6: the policy's preferred addresses, else the routing table's answer.
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

// A public, stable IPv6 address to aim the unconnected probe at; connecting a UDP
// socket sends nothing, it only asks the routing table.
constexpr std::string_view route_probe = "2001:4860:4860::8888";

// Whether a UDP socket of the stack can bind the address (it is one of the stack's).
bool bindable(const ContextState& state, const address_v6& address) {
  Fd fd(state.ops().make_socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!fd) return false;
  return state.ops().setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, 0) == 0 &&
         state.ops().bind(fd.get(), to_sockaddr(address, 0)) == 0;
}

// What one preference offers: an `ip` line its address; an `iface` line the
// interface's own IPv6 addresses, global before link-local (never a mapped IPv4 one).
std::vector<address_v6> candidates(const ContextState& state,
                                   const PolicyData::Preference& preference) {
  if (preference.ip) return {*preference.ip};
  auto addresses = state.ops().interface_addresses(preference.iface);
  std::erase_if(addresses, [](const address_v6& a) { return a.is_v4_mapped(); });
  std::stable_partition(addresses.begin(), addresses.end(),
                        [](const address_v6& a) { return !a.is_link_local(); });
  return addresses;
}

std::optional<address_v6> preferred_address(const ContextState& state) {
  for (const auto& preference : data(state.policy).preferences) {
    for (const auto& candidate : candidates(state, preference)) {
      if (bindable(state, candidate)) return candidate;
    }
  }
  return std::nullopt;
}

address_v6 routed_address(const ContextState& state, std::string_view call) {
  const Endpoints ends{address_v6(), 0, boost::asio::ip::make_address_v6(route_probe), 53};
  Fd fd = open_socket(state, call, SOCK_DGRAM, ends);
  if (int err = state.ops().connect(fd.get(), to_sockaddr(ends.remote, ends.remote_port))) {
    throw_network_error(call, Op::probe_route, err, ends);
  }
  auto local = state.ops().local_address(fd.get());
  if (!local) throw_network_error(call, Op::probe_route, local.error, ends);
  address_v6 address = from_sockaddr(local.value).first;
  if (address.is_unspecified() || is_loopback(address)) {
    throw InternetConnectivityError(
        fmt::format("{}: the route to the IPv6 Internet has no usable source address", call));
  }
  return address;
}

}  // namespace
}  // namespace detail

using namespace detail;

std::string Context::getmyip_ipv6() {
  constexpr std::string_view call = "getmyip_ipv6";
  state_->nanny.wait(Resource::netsend, call);
  state_->nanny.wait(Resource::netrecv, call);
  std::optional<address_v6> address = preferred_address(*state_);
  if (!address) {
    const PolicyData& policy = data(state_->policy);
    if (policy.nootherips && !policy.preferences.empty()) {
      throw InternetConnectivityError(
          fmt::format("{}: none of the policy's preferred addresses is on this stack", call));
    }
    address = routed_address(*state_, call);
  }
  state_->nanny.charge(Resource::netsend, 256);
  state_->nanny.charge(Resource::netrecv, 128);
  return to_text(*address);
}

}  // namespace repy
