// The step of a call that acts on the stack: make the socket, bind it, connect it. On a
// busy address it asks who holds it (the registry, then the stack's socket table) and
// hands that to the error map.
#pragma once

#include <chrono>
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

/// Starts a non-blocking connect to the remote end of `ends`: true when it completed
/// at once, false when it is under way.
/// @throws the connect errors the kernel reports at once (a busy 4-tuple told apart by
/// who holds it).
bool start_connect(const ContextState& state, std::string_view call, const Fd& fd,
                   const Endpoints& ends);

/// Waits up to `wait` (0: only looks) for a connect under way to complete, with
/// poll() (no busy loop). True when it has, either way; check_connected() tells which.
/// @throws the error of the poll, as a connect error.
bool connect_completed(const ContextState& state, std::string_view call, const Fd& fd,
                       const Endpoints& ends, std::chrono::milliseconds wait);

/// The outcome of a completed connect (SO_ERROR).
/// @throws ConnectionRefusedError, InternetConnectivityError and the rest of the
/// connect errors.
void check_connected(const ContextState& state, std::string_view call, const Fd& fd,
                     const Endpoints& ends);

}  // namespace repy::detail
