// The first two steps of every call: sanity of the arguments (SPEC section 3) and
// permission by the policy.
#pragma once

#include <string_view>

#include "context/context_state.hpp"
#include "core/error_map.hpp"

namespace repy::detail {

/// The same address, compared as parsed addresses; a missing zone matches any zone.
bool same_address(const address_v6& a, const address_v6& b) noexcept;

/// An IP argument of `call`, read by its family's rule: parse_ip with a zone name
/// resolved on the context's stack, or parse_ipv4 (giving the mapped form).
/// @throws RepyArgumentError naming the argument and value.
address_v6 parse_local_ip(const ContextState& state, Family family, std::string_view call,
                          std::string_view argument, std::string_view value);

/// Sanity of the four address arguments of a sending call of `family`.
/// @throws RepyArgumentError for a bad IP or port, or a local end equal to the remote.
Endpoints check_endpoints(const ContextState& state, Family family, std::string_view call,
                          std::string_view destip, int destport, std::string_view localip,
                          int localport);

/// The local IP of `ends` must be allowed (nootherips), then its port must be in the
/// policy's connport (tcp) or messport set.
/// @throws ResourceForbiddenError naming what the policy does not allow.
void permit_local(const ContextState& state, std::string_view call, const Endpoints& ends,
                  bool tcp);

}  // namespace repy::detail
