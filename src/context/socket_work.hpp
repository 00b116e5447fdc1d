// The step of a call that acts on the stack: make the socket, bind it, connect it. On a
// busy address it asks who holds it (the registry, then the stack's socket table) and
// hands that to the error map.
#pragma once

#include <string_view>

#include "context/context_state.hpp"
#include "core/error_map.hpp"
#include "core/fd.hpp"

namespace repy::detail {

/// A non-blocking IPv6 socket of the context's stack that also takes IPv4-mapped
/// peers, with the policy's buffer caps; SO_REUSEADDR for TCP, as Repy does.
/// @throws the Repy error of the failed system call.
Fd open_socket(const ContextState& state, std::string_view call, int type, const Endpoints& ends);

/// Binds the local end of `ends`.
/// @throws the Repy error for `op`, told apart by who holds the address.
void bind_local(const ContextState& state, std::string_view call, Op op, const Fd& fd,
                const Endpoints& ends);

/// Connects to the remote end of `ends` within `timeout` seconds, waiting for the
/// outcome with poll() (no busy loop).
/// @throws TimeoutError, ConnectionRefusedError and the rest of the connect errors.
void connect_within(const ContextState& state, std::string_view call, const Fd& fd,
                    const Endpoints& ends, double timeout);

}  // namespace repy::detail
