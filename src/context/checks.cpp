// Argument sanity and policy permission, shared by every call.
#include "context/checks.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "repy/errors.hpp"
#include "stack/netlink.hpp"

namespace repy::detail {

bool same_address(const address_v6& a, const address_v6& b) noexcept {
  return a.to_bytes() == b.to_bytes() &&
         (a.scope_id() == 0 || b.scope_id() == 0 || a.scope_id() == b.scope_id());
}

namespace {

// Out of line, so that the ZoneIndex it builds costs nothing when the thread's memory of
// parsed literals answers.
[[gnu::noinline]] address_v6 parse_ipv6_argument(const ContextState& state, std::string_view call,
                                                 std::string_view argument,
                                                 std::string_view value) {
  // Zone names are the stack's own interfaces, not the host's.
  return parse_ip(call, argument, value, [&](std::string_view name) {
    return static_cast<unsigned long>(netlink::find_link_index(state.ops(), name));
  });
}

}  // namespace

address_v6 parse_local_ip(const ContextState& state, Family family, std::string_view call,
                          std::string_view argument, std::string_view value) {
  if (family == Family::ipv4) return parse_ipv4(call, argument, value);
  if (auto known = remembered_ip(value)) return *known;
  return parse_ipv6_argument(state, call, argument, value);
}

Endpoints check_endpoints(const ContextState& state, Family family, std::string_view call,
                          std::string_view destip, int destport, std::string_view localip,
                          int localport) {
  Endpoints ends;
  ends.family = family;
  ends.remote = parse_local_ip(state, family, call, "destip", destip);
  check_port(call, "destport", destport);
  ends.local = parse_local_ip(state, family, call, "localip", localip);
  check_port(call, "localport", localport);
  ends.remote_port = destport;
  ends.local_port = localport;
  if (same_address(ends.local, ends.remote) && localport == destport) {
    throw_argument_error(call, "localip/localport", "is the same as destip/destport",
                         family == Family::ipv4 ? fmt::format("{}:{}", localip, localport)
                                                : fmt::format("[{}]:{}", localip, localport));
  }
  return ends;
}

namespace {

bool allowed_local_ip(const ContextState& state, const address_v6& local) {
  const PolicyData& policy = data(state.policy);
  if (!policy.nootherips || is_loopback(local)) return true;
  return std::any_of(policy.preferences.begin(), policy.preferences.end(), [&](const auto& p) {
    if (p.ip) return same_address(*p.ip, local);
    auto addresses = state.ops().interface_addresses(p.iface);
    return std::any_of(addresses.begin(), addresses.end(),
                       [&](const address_v6& a) { return same_address(a, local); });
  });
}

}  // namespace

void permit_local(const ContextState& state, std::string_view call, const Endpoints& ends,
                  bool tcp) {
  if (!allowed_local_ip(state, ends.local)) {
    throw ResourceForbiddenError(
        fmt::format("{}: localip {} is not allowed by the policy (nootherips)", call,
                    to_text(ends.local, ends.family)));
  }
  const int port = ends.local_port;
  const bool port_ok =
      tcp ? state.policy.allows_connport(port) : state.policy.allows_messport(port);
  if (!port_ok) {
    throw ResourceForbiddenError(fmt::format("{}: localport {} is not allowed by the policy ({})",
                                             call, port, tcp ? "connport" : "messport"));
  }
}

}  // namespace repy::detail
