// openconnection in two halves: up to a connect under way (begin_connection), and from
// a completed connect to the handed-out socket (finish_connection). The plain call
// waits between them with poll(); an event loop waits with its reactor, through
// PendingConnection.
#pragma once

#include <chrono>
#include <string_view>

#include "context/context_state.hpp"
#include "core/error_map.hpp"
#include "core/fd.hpp"
#include "nanny/nanny.hpp"
#include "repy/sockets.hpp"

namespace repy::detail {

/// A connection between the two halves: outsocket held, socket bound, connect started.
struct Connecting {
  std::shared_ptr<ContextState> context;
  std::string_view call;  // the call's name, a literal
  Endpoints ends;
  Hold outsocket;
  Fd fd;
  std::chrono::steady_clock::time_point deadline;
  bool connected = false;  // the connect completed at once
  bool finished = false;   // handed out, or failed
};

/// Sanity of an openconnection call's arguments, its timeout among them, then its
/// permission.
/// @throws RepyArgumentError, ResourceForbiddenError.
Endpoints check_connection(const ContextState& state, Family family, std::string_view call,
                           std::string_view destip, int destport, std::string_view localip,
                           int localport, double timeout);

/// The outsocket, then a socket bound to the local end with its connect started.
/// @throws ResourceExhaustedError; the bind errors and the connect errors known at once.
Connecting begin_connection(const std::shared_ptr<ContextState>& context, std::string_view call,
                            const Endpoints& ends, double timeout);

/// Waits with poll() until the connect completes or its deadline passes.
/// @throws TimeoutError at the deadline.
void await_connection(const Connecting& connecting);

/// The connected socket, registered and charged, once the connect has completed.
/// @throws the connect's error (SO_ERROR).
TCPSocket finish_connection(Connecting& connecting);

}  // namespace repy::detail
