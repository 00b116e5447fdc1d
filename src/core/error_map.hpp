// The one place where an errno becomes a Repy exception.
#pragma once

#include <string>
#include <string_view>

#include "core/address.hpp"

namespace repy::detail {

class StackImpl;

/// What a failed system call was doing, which decides the Repy class of its errno.
enum class Op {
  bind_tcp_listen,   // listenforconnection_ipv6
  bind_udp_listen,   // listenformessage_ipv6
  bind_tcp_connect,  // openconnection_ipv6, binding the local end
  bind_udp_send,     // sendmessage_ipv6, binding the local end
  connect,           // openconnection_ipv6, connecting
  send,              // TCPSocket::send / sendmessage_ipv6
  recv,              // TCPSocket::recv / getmessage
  accept,            // getconnection
  other,             // anything else (setsockopt, socket, ...)
};

/// The local and remote ends involved, used to tell the EADDRINUSE family apart.
struct Endpoints {
  address_v6 local;
  int local_port = 0;
  address_v6 remote;  // unspecified when there is none
  int remote_port = 0;
};

/// Raises the Repy exception for `err` from `op` in `call`. For EADDRINUSE and
/// EADDRNOTAVAIL it looks at what holds the address in `stack`'s socket table to tell
/// AlreadyListeningError, DuplicateTupleError, CleanupInProgressError and
/// AddressBindingError apart. Messages name the call, the address and the errno.
[[noreturn]] void throw_network_error(std::string_view call, Op op, int err, StackImpl& stack,
                                      const Endpoints& ends);

/// Raises RepyArgumentError "call: argument: what (value)".
[[noreturn]] void throw_argument_error(std::string_view call, std::string_view argument,
                                       std::string_view what, std::string_view value);

}  // namespace repy::detail

namespace repy::detail {
/// "strerror (errno N)", the way every message shows an errno.
std::string errno_text(int err);

/// Raises the error of a stack operation that is not a socket call (making a stack,
/// netlink, a VDE plug): ResourceForbiddenError when a privilege is missing (EPERM,
/// EACCES), NetworkError otherwise; the message is "what: strerror (errno N)".
[[noreturn]] void throw_stack_error(std::string_view what, int err);

/// Whether an errno from send/recv/accept is one nobody foresaw, after which the socket
/// is closed and SocketClosedLocal raised (SPEC section 4).
bool closes_socket(int err) noexcept;
}  // namespace repy::detail

// ---- stack errors
namespace repy::detail {
/// Raises the error of a stack operation that failed without an errno to show (a
/// library's own error code, a file that is not what it should be): NetworkError with
/// `what` as the message.
[[noreturn]] void throw_stack_failure(std::string_view what);

/// Raises the error of making a socket on a stack (Stack::socket): RepyArgumentError
/// naming family, type or protocol when the stack has no such kind of socket
/// (EAFNOSUPPORT, EPROTONOSUPPORT, ESOCKTNOSUPPORT, EPROTOTYPE, EINVAL); otherwise as
/// throw_stack_error.
[[noreturn]] void throw_socket_create_error(std::string_view call, std::string_view stack_kind,
                                            int family, int type, int protocol, int err);

/// Raises NetworkAddressError for a name or address lookup that found nothing; `what`
/// names the call, the name and the resolver's reason.
[[noreturn]] void throw_lookup_error(std::string_view what);
}  // namespace repy::detail
