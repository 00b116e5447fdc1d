// repy6 — Boost.Asio completion-token operations on repy6's sockets and calls (SPEC
// sections 8 and 9). The one public header that needs Boost.Asio.
//
// Each operation first tries its call the way that never waits (try_recv, ...), as
// Asio's own sockets try speculatively, and waits only when the call has nothing now:
// for readiness on the reactor of the executor's context, or for the nanny on a timer
// set to rate_ready_at(). No thread blocks. What an operation waits with outlives it:
// per socket and execution context one Watcher (repy/detail/asio_watcher.hpp) holds the socket's
// reactor registration (an Asio descriptor on the socket's own fd, released and never closed by
// Asio) and its nanny timer, made on the first wait and kept until close() of the socket, which
// tells the watcher closing() before the fd is closed. That ends every wait on the
// socket, and each operation then finds the socket closed (SocketClosedLocal). A
// service of the execution context holds the watchers too, so that destroying the
// context lets go of every socket's registration without calling a handler.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <cstddef>
#include <exception>
#include <string>
#include <utility>

#include "repy/detail/asio_operations.hpp"
#include "repy/repy.hpp"

namespace repy {

using boost::asio::any_io_executor;

// Every operation below completes exactly once with (std::exception_ptr, R): a null
// pointer and the result, or the Repy exception the plain call would have raised (never
// SocketWouldBlockError: the operation waits instead) and an empty R. Its handler runs
// on its associated executor (by default `ex`), never inside the initiating call. It
// waits on the reactor and timers of `ex`'s execution context, blocking no thread.
// close() of the socket, from any thread, completes the operations pending on it with
// SocketClosedLocal; destroying the context with operations pending calls no handler.
// With boost::asio::use_awaitable the Repy exception is rethrown in the coroutine; with
// boost::asio::use_future, by get(). Charges, holds and errors are the plain call's.

/// TCPSocket::recv, waited for: 1..bytes bytes once some have arrived.
template <class Token>
auto async_recv(any_io_executor ex, TCPSocket s, std::size_t bytes, Token&& token) {
  using namespace detail::async;
  return launch<void(std::exception_ptr, std::string)>(
      ex, SocketOp<Recv>(ex, Recv{std::move(s), bytes}), std::forward<Token>(token));
}

/// All of `data`, in as many TCPSocket::send calls as it takes (each charged as a plain
/// send). R is data.size(); after an error, the bytes sent before it.
template <class Token>
auto async_send(any_io_executor ex, TCPSocket s, std::string data, Token&& token) {
  using namespace detail::async;
  return launch<void(std::exception_ptr, std::size_t)>(
      ex, SocketOp<Send>(ex, Send{std::move(s), std::move(data)}), std::forward<Token>(token));
}

/// TCPServerSocket::getconnection, waited for.
template <class Token>
auto async_getconnection(any_io_executor ex, TCPServerSocket s, Token&& token) {
  using namespace detail::async;
  return launch<void(std::exception_ptr, Connection)>(
      ex, SocketOp<Accept>(ex, Accept{std::move(s)}), std::forward<Token>(token));
}

/// UDPServerSocket::getmessage, waited for.
template <class Token>
auto async_getmessage(any_io_executor ex, UDPServerSocket s, Token&& token) {
  using namespace detail::async;
  return launch<void(std::exception_ptr, Message)>(ex, SocketOp<Receive>(ex, Receive{std::move(s)}),
                                                   std::forward<Token>(token));
}

/// Context::openconnection_ipv6, event-driven: the connect's outcome comes from the
/// reactor, its timeout from a timer.
template <class Token>
auto async_openconnection_ipv6(any_io_executor ex, Context ctx, std::string destip, int destport,
                               std::string localip, int localport, double timeout, Token&& token) {
  return detail::async::connect(std::move(ex), std::move(ctx), false, std::move(destip), destport,
                                std::move(localip), localport, timeout, std::forward<Token>(token));
}

/// Context::sendmessage_ipv6, waited for.
template <class Token>
auto async_sendmessage_ipv6(any_io_executor ex, Context ctx, std::string destip, int destport,
                            std::string message, std::string localip, int localport,
                            Token&& token) {
  return detail::async::send_message(std::move(ex), std::move(ctx), false, std::move(destip),
                                     destport, std::move(message), std::move(localip), localport,
                                     std::forward<Token>(token));
}

/// Context::openconnection (IPv4), as async_openconnection_ipv6.
template <class Token>
auto async_openconnection(any_io_executor ex, Context ctx, std::string destip, int destport,
                          std::string localip, int localport, double timeout, Token&& token) {
  return detail::async::connect(std::move(ex), std::move(ctx), true, std::move(destip), destport,
                                std::move(localip), localport, timeout, std::forward<Token>(token));
}

/// Context::sendmessage (IPv4), as async_sendmessage_ipv6.
template <class Token>
auto async_sendmessage(any_io_executor ex, Context ctx, std::string destip, int destport,
                       std::string message, std::string localip, int localport, Token&& token) {
  return detail::async::send_message(std::move(ex), std::move(ctx), true, std::move(destip),
                                     destport, std::move(message), std::move(localip), localport,
                                     std::forward<Token>(token));
}

}  // namespace repy
