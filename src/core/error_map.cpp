// The one place where an errno becomes a Repy exception.
#include "core/error_map.hpp"

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "core/text.hpp"
#include "repy/errors.hpp"

namespace repy::detail {

namespace {

// What an errno means for the call that got it; each kind is one Repy class.
enum class Kind {
  would_block,
  busy,  // the EADDRINUSE family: the holder decides
  binding,
  connectivity,
  refused,
  timed_out,
  closed_remote,
  forbidden,
  exhausted,
  network,     // foreseen, but nothing more specific to say: NetworkError
  unforeseen,  // closes a socket object; NetworkError elsewhere
};

bool is_bind(Op op) noexcept {
  return op == Op::listen_tcp || op == Op::listen_udp || op == Op::bind_connect ||
         op == Op::bind_send;
}

bool in_socket_object(Op op) noexcept {
  return op == Op::send || op == Op::recv || op == Op::accept;
}

// Every errno the library foresees, once.
Kind classify(Op op, int err) noexcept {
  // Connecting a UDP socket sends nothing: any refusal means there is no usable route.
  if (op == Op::probe_route && (err == EADDRNOTAVAIL || err == EINVAL)) return Kind::connectivity;
  switch (err) {
    case EAGAIN:
#if EWOULDBLOCK != EAGAIN
    case EWOULDBLOCK:
#endif
      return Kind::would_block;
    case EADDRINUSE:
      return Kind::busy;
    case EADDRNOTAVAIL:
      // connect() says so when the 4-tuple is taken; bind() when the address is not ours.
      return op == Op::connect ? Kind::busy : Kind::binding;
    case ENODEV:  // a zone that names no interface of the stack
    case EINVAL:
      return is_bind(op) ? Kind::binding : Kind::unforeseen;
    case ENETUNREACH:
    case EHOSTUNREACH:
    case ENETDOWN:
    case EHOSTDOWN:
      return Kind::connectivity;
    case ECONNREFUSED:
      return op == Op::connect ? Kind::refused : Kind::closed_remote;
    case ECONNABORTED:
      // SPEC section 4: a connection aborted while being set up was refused.
      return op == Op::connect ? Kind::refused : Kind::closed_remote;
    case ETIMEDOUT:
      return op == Op::connect ? Kind::timed_out : Kind::closed_remote;
    case ECONNRESET:
    case EPIPE:
    case ENOTCONN:
    case ESHUTDOWN:
      return Kind::closed_remote;
    case EACCES:
    case EPERM:
      return Kind::forbidden;
    case EMFILE:
    case ENFILE:
    case ENOBUFS:
    case ENOMEM:
      return Kind::exhausted;
    case EMSGSIZE:
      return Kind::network;
    default:
      return Kind::unforeseen;
  }
}

// One end as the call's family writes it: [::1]:80 or 127.0.0.1:80.
std::string end_text(const address_v6& address, int port, Family family) {
  return family == Family::ipv4 ? fmt::format("{}:{}", to_text(address, family), port)
                                : fmt::format("[{}]:{}", to_text(address), port);
}

std::string where(const Endpoints& ends) {
  std::string out = end_text(ends.local, ends.local_port, ends.family);
  if (!ends.remote.is_unspecified()) {
    out += " -> " + end_text(ends.remote, ends.remote_port, ends.family);
  }
  return out;
}

[[noreturn]] void throw_busy(std::string_view call, Op op, int err, const Endpoints& ends,
                             Holder holder) {
  const std::string at = where(ends);
  // A datagram's local end is busy "elsewhere" whoever holds it: only a listener of the
  // sending context would have been used, and it was not.
  if (op == Op::bind_send) holder = Holder::other;
  switch (holder) {
    case Holder::listener:
      throw AlreadyListeningError(fmt::format("{}: a listening socket already holds {}", call,
                                              end_text(ends.local, ends.local_port, ends.family)));
    case Holder::connection:
      throw DuplicateTupleError(
          fmt::format("{}: {} is already used by a live connection", call, at));
    case Holder::closing:
      throw CleanupInProgressError(fmt::format(
          "{}: {} is still being cleaned up by the operating system (TIME_WAIT or closing)", call,
          at));
    case Holder::other:
    case Holder::nobody:
      break;
  }
  throw DuplicateTupleError(
      fmt::format("{}: {} is already in use by another socket ({})", call, at, errno_text(err)));
}

[[noreturn]] void throw_binding(std::string_view call, int err, const Endpoints& ends) {
  std::string hint;
  if (ends.local.is_link_local() && ends.local.scope_id() == 0) {
    hint = fmt::format("; a link-local address needs a zone, e.g. {}%eth0 or {}%2",
                       to_text(ends.local), to_text(ends.local));
  }
  throw AddressBindingError(
      fmt::format("{}: cannot bind {}: the address is not usable on this stack ({}){}", call,
                  end_text(ends.local, ends.local_port, ends.family), errno_text(err), hint));
}

}  // namespace

std::string errno_text(int err) { return fmt::format("{} (errno {})", std::strerror(err), err); }

void throw_stack_error(std::string_view what, int err) {
  auto message = fmt::format("{}: {}", what, errno_text(err));
  if (err == EPERM || err == EACCES) throw ResourceForbiddenError(message);
  throw NetworkError(message);
}

void throw_argument_error(std::string_view call, std::string_view argument, std::string_view what,
                          std::string_view value) {
  throw RepyArgumentError(fmt::format("{}: {} {} (got {})", call, argument, what, quote(value)));
}

void throw_would_block(std::string_view call, std::string_view what) {
  throw SocketWouldBlockError(fmt::format("{}: {}", call, what));
}

const SocketWouldBlockError& would_block_error(NotReady call) noexcept {
  // Copies of a prepared std::runtime_error share its message (a reference count).
  static const SocketWouldBlockError prepared[] = {
      SocketWouldBlockError("TCPSocket.recv: no data has arrived yet"),
      SocketWouldBlockError("TCPSocket.send: the send buffer is full"),
      SocketWouldBlockError("TCPServerSocket.getconnection: no connection is pending"),
      SocketWouldBlockError("UDPServerSocket.getmessage: no message has arrived yet"),
  };
  return prepared[static_cast<int>(call)];
}

void throw_closed_local(std::string_view call) {
  throw SocketClosedLocal(fmt::format("{}: the socket is closed", call));
}

void throw_peer_closed(std::string_view call) {
  throw SocketClosedRemote(fmt::format("{}: the peer closed the connection", call));
}

void throw_no_connectivity(std::string_view call, std::string_view why) {
  throw InternetConnectivityError(fmt::format("{}: {}", call, why));
}

bool is_address_busy(Op op, int err) noexcept { return classify(op, err) == Kind::busy; }

bool closes_socket(Op op, int err) noexcept {
  return in_socket_object(op) && classify(op, err) == Kind::unforeseen;
}

void throw_network_error(std::string_view call, Op op, int err, const Endpoints& ends,
                         Holder holder) {
  const std::string why = errno_text(err);
  switch (classify(op, err)) {
    case Kind::would_block:
      throw_would_block(call, "the operation would block");
    case Kind::busy:
      throw_busy(call, op, err, ends, holder);
    case Kind::binding:
      throw_binding(call, err, ends);
    case Kind::connectivity:
      throw InternetConnectivityError(
          fmt::format("{}: no route from {}: {}", call, where(ends), why));
    case Kind::refused:
      throw ConnectionRefusedError(
          fmt::format("{}: {}: nobody accepts connections there ({})", call, where(ends), why));
    case Kind::timed_out:
      throw TimeoutError(fmt::format("{}: {} timed out", call, where(ends)));
    case Kind::closed_remote:
      throw SocketClosedRemote(fmt::format("{}: the peer closed the connection: {}", call, why));
    case Kind::forbidden:
      throw ResourceForbiddenError(
          fmt::format("{}: the operating system does not permit {}: {}", call, where(ends), why));
    case Kind::exhausted:
      throw ResourceExhaustedError(
          fmt::format("{}: the system is out of sockets or buffers: {}", call, why));
    case Kind::network:
    case Kind::unforeseen:
      break;
  }
  if (in_socket_object(op) && classify(op, err) == Kind::unforeseen) {
    throw SocketClosedLocal(
        fmt::format("{}: unexpected error, the socket was closed: {}", call, why));
  }
  throw NetworkError(fmt::format("{}: unexpected error on {}: {}", call, where(ends), why));
}

}  // namespace repy::detail

// ---- stack errors
namespace repy::detail {

void throw_stack_failure(std::string_view what) { throw NetworkError(std::string(what)); }

void throw_socket_create_error(std::string_view call, std::string_view stack_kind, int family,
                               int type, int protocol, int err) {
  // socket(2) says which part of the triple the stack lacks; EINVAL may be any of them.
  std::string_view argument;
  std::string value;
  switch (err) {
    case EAFNOSUPPORT:
      argument = "family";
      value = std::to_string(family);
      break;
    case EPROTONOSUPPORT:
      argument = "protocol";
      value = std::to_string(protocol);
      break;
    case ESOCKTNOSUPPORT:
    case EPROTOTYPE:
      argument = "type";
      value = std::to_string(type);
      break;
    case EINVAL:
      argument = "family, type or protocol";
      value = fmt::format("{}, {}, {}", family, type, protocol);
      break;
    default:
      throw_stack_error(fmt::format("{}: family {} type {} protocol {} on the {} stack", call,
                                    family, type, protocol, stack_kind),
                        err);
  }
  throw_argument_error(
      call, argument,
      fmt::format("is not supported by the {} stack: {}", stack_kind, errno_text(err)), value);
}

void throw_lookup_error(std::string_view what) { throw NetworkAddressError(std::string(what)); }

}  // namespace repy::detail
