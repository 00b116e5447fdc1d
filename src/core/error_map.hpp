// The one place where an errno becomes a Repy exception. It is pure: the caller says
// what it was doing and, for the EADDRINUSE family, who holds the address (the
// registry and the stack's socket table answer that, before the map is asked).
#pragma once

#include <cerrno>
#include <string>
#include <string_view>

#include "core/address.hpp"
#include "repy/errors.hpp"

namespace repy::detail {

/// What a failed system call was doing, which decides the Repy class of its errno.
enum class Op {
  listen_tcp,    // listenforconnection_ipv6: bind or listen
  listen_udp,    // listenformessage_ipv6: bind
  bind_connect,  // openconnection_ipv6, binding the local end
  bind_send,     // sendmessage_ipv6, binding the local end
  connect,       // openconnection_ipv6, connecting
  send,          // TCPSocket::send
  recv,          // TCPSocket::recv, UDPServerSocket::getmessage
  accept,        // TCPServerSocket::getconnection
  send_message,  // sendmessage_ipv6, sending the datagram
  probe_route,   // getmyip_ipv6, asking the routing table for a source address
  other,         // anything else outside a socket object (socket, setsockopt, probes)
};

/// The local and remote ends involved, for messages and for telling holders apart.
struct Endpoints {
  address_v6 local;
  int local_port = 0;
  address_v6 remote;  // unspecified when there is none
  int remote_port = 0;
  Family family = Family::ipv6;  // how messages print the ends
};

/// Who holds an address that a bind or connect found busy: this context's and this
/// stack's sockets first, then the stack's socket table.
enum class Holder {
  nobody,      // nothing holds it now (it may have let go since the call failed)
  listener,    // a listening socket: a TCP listener, or a UDPServerSocket
  connection,  // a live connection on the same 4-tuple
  closing,     // a connection on the same 4-tuple still being torn down (TIME_WAIT ...)
  other,       // another socket bound there, neither listening nor connected
};

/// The errnos that mean "try again when the socket is ready".
constexpr bool is_would_block(int err) noexcept { return err == EAGAIN || err == EWOULDBLOCK; }

/// Whether an errno is one of the EADDRINUSE family, whose class depends on the holder.
bool is_address_busy(Op op, int err) noexcept;

/// Raises the Repy exception for `err` from `op` in `call`. `holder` matters only
/// where is_address_busy(op, err). Messages name the call, the ends and the errno.
[[noreturn]] void throw_network_error(std::string_view call, Op op, int err, const Endpoints& ends,
                                      Holder holder = Holder::nobody);

/// Whether an errno from send/recv/accept is one nobody foresaw, after which the socket
/// is closed and SocketClosedLocal raised (SPEC section 4).
bool closes_socket(Op op, int err) noexcept;

/// Raises SocketWouldBlockError "call: what" (the plain calls' "nothing ready now").
[[noreturn]] void throw_would_block(std::string_view call, std::string_view what);

/// The socket calls whose "nothing ready now" is a prepared exception.
enum class NotReady { recv, send, getconnection, getmessage };

/// The SocketWouldBlockError of a socket call with nothing ready. Programs poll with it
/// in a loop, so the message is fixed and prepared once: no formatting, no string
/// allocation. The handles raise it inline (repy/sockets.hpp).
const SocketWouldBlockError& would_block_error(NotReady call) noexcept;

/// Raises SocketClosedLocal for a call on a socket closed here.
[[noreturn]] void throw_closed_local(std::string_view call);

/// Raises SocketClosedRemote for a call on a socket whose peer closed (end of stream).
[[noreturn]] void throw_peer_closed(std::string_view call);

/// Raises InternetConnectivityError "call: why" (no route, no usable source address).
[[noreturn]] void throw_no_connectivity(std::string_view call, std::string_view why);

/// Raises RepyArgumentError "call: argument what (got 'value')".
[[noreturn]] void throw_argument_error(std::string_view call, std::string_view argument,
                                       std::string_view what, std::string_view value);

/// "strerror (errno N)", the way every message shows an errno.
std::string errno_text(int err);

/// Raises the error of a stack operation that is not a socket call (making a stack,
/// netlink, a VDE plug): ResourceForbiddenError when a privilege is missing (EPERM,
/// EACCES), NetworkError otherwise; the message is "what: strerror (errno N)".
[[noreturn]] void throw_stack_error(std::string_view what, int err);

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
