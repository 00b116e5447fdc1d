// The one place where an errno becomes a Repy exception.
#include "core/error_map.hpp"

#include <fmt/format.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "net/socket_table.hpp"
#include "repy/errors.hpp"

namespace repy::detail {

std::string errno_text(int err) { return fmt::format("{} (errno {})", std::strerror(err), err); }

void throw_stack_error(std::string_view what, int err) {
  auto message = fmt::format("{}: {}", what, errno_text(err));
  if (err == EPERM || err == EACCES) throw ResourceForbiddenError(message);
  throw NetworkError(message);
}

namespace {

std::string where(const Endpoints& ends) {
  std::string out = fmt::format("[{}]:{}", to_text(ends.local), ends.local_port);
  if (!ends.remote.is_unspecified()) {
    out += fmt::format(" -> [{}]:{}", to_text(ends.remote), ends.remote_port);
  }
  return out;
}

bool is_bind(Op op) noexcept {
  return op == Op::bind_tcp_listen || op == Op::bind_udp_listen || op == Op::bind_tcp_connect ||
         op == Op::bind_udp_send;
}

// Kernel states in which a connection still owns its 4-tuple and is alive.
bool is_active(int state) noexcept {
  return state == TCP_ESTABLISHED || state == TCP_SYN_SENT || state == TCP_SYN_RECV ||
         state == TCP_CLOSE_WAIT;
}

// Linux 6.6 and later report sockets that are bound but neither listening nor
// connected under this state when asked for it.
constexpr int tcp_bound_inactive = 13;

// Tells the EADDRINUSE/EADDRNOTAVAIL family apart by what the stack's socket table
// says holds the address. A socket of our own context was looked at by the caller.
[[noreturn]] void throw_address_in_use(std::string_view call, Op op, int err, StackImpl& stack,
                                       const Endpoints& ends) {
  const std::string at = where(ends);
  const bool tcp = op != Op::bind_udp_listen && op != Op::bind_udp_send;
  auto holders =
      sockets_holding(stack, tcp ? IPPROTO_TCP : IPPROTO_UDP, ends.local, ends.local_port);
  if (!tcp) {
    throw DuplicateTupleError(fmt::format("{}: [{}]:{} is already bound by another socket ({})",
                                          call, to_text(ends.local), ends.local_port,
                                          errno_text(err)));
  }
  bool listening = false, active = false, cleaning = false;
  const bool has_remote = !ends.remote.is_unspecified();
  for (const auto& s : holders) {
    if (s.state == TCP_LISTEN) {
      listening = true;
      continue;
    }
    // Bound but idle sockets fall through to the DuplicateTupleError below.
    if (s.state == tcp_bound_inactive || s.state == TCP_CLOSE) continue;
    // For a connect, only the same 4-tuple is a conflict; for a listener, any user.
    if (has_remote && (s.remote != ends.remote || s.remote_port != ends.remote_port)) continue;
    (is_active(s.state) ? active : cleaning) = true;
  }
  // A listener asks "who holds the port": a listening socket first, since its accepted
  // connections share the port. A connect asks "who holds my 4-tuple".
  if (listening && !has_remote) {
    throw AlreadyListeningError(fmt::format("{}: a TCP listener already holds [{}]:{}", call,
                                            to_text(ends.local), ends.local_port));
  }
  if (active) {
    throw DuplicateTupleError(fmt::format("{}: {} is already used by a live connection", call, at));
  }
  if (listening) {
    throw AlreadyListeningError(fmt::format("{}: a TCP listener already holds [{}]:{}", call,
                                            to_text(ends.local), ends.local_port));
  }
  if (cleaning) {
    throw CleanupInProgressError(fmt::format(
        "{}: {} is still being cleaned up by the operating system (TIME_WAIT or closing)", call,
        at));
  }
  throw DuplicateTupleError(
      fmt::format("{}: {} is already in use by another socket ({})", call, at, errno_text(err)));
}

}  // namespace

void throw_argument_error(std::string_view call, std::string_view argument, std::string_view what,
                          std::string_view value) {
  throw RepyArgumentError(fmt::format("{}: {} {} (got {})", call, argument, what, quote(value)));
}

void throw_network_error(std::string_view call, Op op, int err, StackImpl& stack,
                         const Endpoints& ends) {
  const std::string why = errno_text(err);
  switch (err) {
    case EAGAIN:
      throw SocketWouldBlockError(fmt::format("{}: the operation would block", call));
    case EADDRINUSE:
      throw_address_in_use(call, op, err, stack, ends);
    case EADDRNOTAVAIL:
      if (op == Op::connect) throw_address_in_use(call, op, err, stack, ends);
      throw AddressBindingError(
          fmt::format("{}: cannot bind [{}]:{}: the address is not one of this stack's ({})", call,
                      to_text(ends.local), ends.local_port, why));
    case ENETUNREACH:
    case EHOSTUNREACH:
    case ENETDOWN:
    case EHOSTDOWN:
      throw InternetConnectivityError(
          fmt::format("{}: no route from {}: {}", call, where(ends), why));
    case ECONNREFUSED:
      if (op == Op::connect) {
        throw ConnectionRefusedError(
            fmt::format("{}: {}: nobody listens there ({})", call, where(ends), why));
      }
      throw SocketClosedRemote(fmt::format("{}: the peer refused: {}", call, why));
    case ETIMEDOUT:
      if (op == Op::connect) {
        throw TimeoutError(fmt::format("{}: {} timed out", call, where(ends)));
      }
      throw SocketClosedRemote(fmt::format("{}: the connection timed out: {}", call, why));
    case ECONNRESET:
    case EPIPE:
    case ECONNABORTED:
    case ENOTCONN:
    case ESHUTDOWN:
      throw SocketClosedRemote(fmt::format("{}: the peer closed the connection: {}", call, why));
    case EACCES:
    case EPERM:
      throw ResourceForbiddenError(
          fmt::format("{}: the operating system does not permit {}: {}", call, where(ends), why));
    case EMFILE:
    case ENFILE:
      throw ResourceExhaustedError(
          fmt::format("{}: the system has no file descriptors left: {}", call, why));
    case EINVAL:
      if (is_bind(op)) {
        throw AddressBindingError(fmt::format("{}: cannot bind [{}]:{}: {}", call,
                                              to_text(ends.local), ends.local_port, why));
      }
      break;
    default:
      break;
  }
  if (op == Op::send || op == Op::recv || op == Op::accept) {
    throw SocketClosedLocal(
        fmt::format("{}: unexpected error, the socket was closed: {}", call, why));
  }
  throw NetworkError(fmt::format("{}: unexpected error on {}: {}", call, where(ends), why));
}

bool closes_socket(int err) noexcept {
  switch (err) {
    case EAGAIN:
    case EADDRINUSE:
    case EADDRNOTAVAIL:
    case ENETUNREACH:
    case EHOSTUNREACH:
    case ENETDOWN:
    case EHOSTDOWN:
    case ECONNREFUSED:
    case ETIMEDOUT:
    case ECONNRESET:
    case EPIPE:
    case ECONNABORTED:
    case ENOTCONN:
    case ESHUTDOWN:
    case EACCES:
    case EPERM:
    case EMFILE:
    case ENFILE:
    case EMSGSIZE:
    case ENOBUFS:
    case ENOMEM:
      return false;
    default:
      return true;
  }
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
