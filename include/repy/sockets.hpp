// repy6 — Repy's socket objects: TCPSocket, TCPServerSocket, UDPServerSocket.
//
// They are cheap shared handles: copies refer to the same socket, which closes when
// close() is called on any copy or when the last copy goes away. Every method is
// thread-safe and, except the wait_* helpers, never blocks.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "repy/errors.hpp"
#include "repy/export.hpp"

namespace repy {

namespace detail {

/// A wait's timeout in whole nanoseconds, rounded up: 0 polls once (zero, negative or
/// NaN), -1 waits without limit (too large to represent).
template <class Rep, class Period>
constexpr std::int64_t wait_nanoseconds(std::chrono::duration<Rep, Period> timeout) noexcept {
  const std::chrono::duration<long double, std::nano> exact = timeout;
  if (!(exact.count() > 0)) return 0;
  if (exact.count() >= 9.0e18L) return -1;
  const auto whole = static_cast<std::int64_t>(exact.count());
  return static_cast<long double>(whole) < exact.count() ? whole + 1 : whole;
}

class TcpSocketImpl;
class TcpServerImpl;
class UdpServerImpl;
struct Access;
}  // namespace detail

/// What an event loop keeps for one socket (its registration with a reactor, its
/// timers), so that it survives from one operation to the next; see
/// TCPSocket::watcher(). <repy/asio.hpp> is built on it.
class REPY6_API SocketWatcher {
 public:
  virtual ~SocketWatcher();

  /// Called once by the first close() of the socket, on the thread that closes it,
  /// after the socket was shut down and before its fd is closed, so that the fd number
  /// can be deregistered before the kernel hands it out again. Ends every wait of the
  /// event loop on the socket (they then find it closed). Must not call the socket.
  virtual void closing() noexcept = 0;

  /// Whether the watcher has let go of the socket for good because its event loop is
  /// gone; watcher() then makes a new one for the same key.
  virtual bool detached() const noexcept { return false; }
};

/// Makes the watcher of a socket whose fd is `fd` (see TCPSocket::watcher()).
using WatcherFactory = std::function<std::shared_ptr<SocketWatcher>(int fd)>;

/// A connected TCP socket (from openconnection_ipv6 or getconnection).
class REPY6_API TCPSocket {
 public:
  /// A handle to no socket: every call raises SocketClosedLocal, close() returns false.
  TCPSocket() noexcept = default;

  /// Receives between 1 and `bytes` bytes that have already arrived.
  /// @throws RepyArgumentError for bytes == 0; SocketWouldBlockError when nothing has
  /// arrived; SocketClosedRemote once the peer closed and every byte was read, or on a
  /// reset; SocketClosedLocal after close().
  std::string recv(std::size_t bytes) {
    if (auto data = recv_or_would_block(bytes)) return std::move(*data);
    throw would_block_error(false);
  }

  /// Sends as much of `data` as the socket buffer takes now; returns the count.
  /// @throws SocketWouldBlockError when the buffer is full; SocketClosedRemote when the
  /// peer closed or reset; SocketClosedLocal after close().
  std::size_t send(std::string_view data) {
    if (auto sent = send_or_would_block(data)) return *sent;
    throw would_block_error(true);
  }

  /// Closes the socket; true on the first call, false after. Never throws and never
  /// waits for the nanny: it charges afterwards, even over the limit. Wakes a call of
  /// another thread that waits for the nanny on this socket (SocketClosedLocal).
  bool close() noexcept;

  /// recv() that never blocks: nullopt when nothing has arrived or when the nanny would
  /// make the call wait for a rate limit.
  /// @throws as recv(), but never SocketWouldBlockError.
  std::optional<std::string> try_recv(std::size_t bytes);

  /// send() that never blocks: nullopt when the buffer takes nothing now or when the
  /// nanny would make the call wait for a rate limit.
  /// @throws as send(), but never SocketWouldBlockError.
  std::optional<std::size_t> try_send(std::string_view data);

  /// Waits up to `timeout` (any duration; rounded up, never down; zero or negative
  /// polls once; too large to represent waits without limit) until recv() would
  /// neither raise SocketWouldBlockError nor wait for the nanny: data, end of stream,
  /// an error or a local close, and the rate limits recv() waits on. True when so,
  /// false on timeout.
  template <class Rep, class Period>
  bool wait_readable(std::chrono::duration<Rep, Period> timeout) const {
    return wait_ready(false, detail::wait_nanoseconds(timeout));
  }
  /// As wait_readable(), for send().
  template <class Rep, class Period>
  bool wait_writable(std::chrono::duration<Rep, Period> timeout) const {
    return wait_ready(true, detail::wait_nanoseconds(timeout));
  }

  /// When the nanny lets the next recv() or send() go: not after now means at once (an
  /// event loop arms a timer for a later time).
  /// @throws ResourceExhaustedError when a limit the call waits on is 0.
  std::chrono::steady_clock::time_point rate_ready_at() const;

  /// The file descriptor, for poll/epoll/Asio users (-1 once closed). Do not close it.
  int native_handle() const noexcept;

  /// The socket's watcher for `key` (an event loop's own address, one per loop): made
  /// once by `make`, which gets the socket's fd, and kept until close() tells it
  /// closing(); a detached() one is made anew. nullptr once the socket is closed (a
  /// call then raises SocketClosedLocal). `make` runs under the socket's watcher lock:
  /// it must not call the socket.
  /// @throws whatever `make` throws.
  std::shared_ptr<SocketWatcher> watcher(const void* key, const WatcherFactory& make) const;

  /// Same socket (copies of one handle compare equal).
  friend bool operator==(const TCPSocket& a, const TCPSocket& b) noexcept {
    return a.impl_ == b.impl_;
  }

 private:
  // The plain calls are the polling ones but for the nanny, which they wait for, and
  // for "nothing ready", which they raise inline above: from the program's own frame,
  // since a C++ throw costs for every frame it unwinds and polling programs throw often.
  // The error is prepared once, so raising it formats and allocates nothing.
  std::optional<std::string> recv_or_would_block(std::size_t bytes);
  std::optional<std::size_t> send_or_would_block(std::string_view data);
  static const SocketWouldBlockError& would_block_error(bool sending) noexcept;
  bool wait_ready(bool write, std::int64_t timeout_ns) const;
  friend struct detail::Access;
  explicit TCPSocket(std::shared_ptr<detail::TcpSocketImpl> impl) noexcept
      : impl_(std::move(impl)) {}
  std::shared_ptr<detail::TcpSocketImpl> impl_;
};

/// What getconnection() returns: the peer's canonical IP text, its port, the socket.
struct Connection {
  std::string ip;
  int port = 0;
  TCPSocket socket;
};

/// What getmessage() returns: the sender's canonical IP text, its port, the datagram.
struct Message {
  std::string ip;
  int port = 0;
  std::string message;
};

/// A listening TCP socket (from listenforconnection_ipv6).
class REPY6_API TCPServerSocket {
 public:
  TCPServerSocket() noexcept = default;

  /// Accepts one pending connection.
  /// @throws SocketWouldBlockError when none is pending; SocketClosedLocal after
  /// close(); ResourceExhaustedError when no outsocket is left (the pending connection
  /// is closed).
  Connection getconnection() {
    if (auto connection = getconnection_or_would_block()) return std::move(*connection);
    throw would_block_error();
  }

  /// Stops listening; true on the first call, false after. Never throws.
  bool close() noexcept;

  /// getconnection() that never blocks: nullopt when none is pending or when the
  /// nanny would make the call wait for a rate limit.
  /// @throws as getconnection(), but never SocketWouldBlockError.
  std::optional<Connection> try_getconnection();

  /// Waits up to `timeout` (as TCPSocket::wait_readable) until getconnection() would
  /// neither raise SocketWouldBlockError nor wait for the nanny.
  template <class Rep, class Period>
  bool wait_readable(std::chrono::duration<Rep, Period> timeout) const {
    return wait_ready(detail::wait_nanoseconds(timeout));
  }
  /// When the nanny lets the next getconnection() go (as TCPSocket::rate_ready_at).
  /// @throws ResourceExhaustedError when a limit the call waits on is 0.
  std::chrono::steady_clock::time_point rate_ready_at() const;
  /// The listening fd, for poll/epoll/Asio users (-1 once closed). Do not close it.
  int native_handle() const noexcept;
  /// The socket's watcher for `key` (as TCPSocket::watcher).
  /// @throws whatever `make` throws.
  std::shared_ptr<SocketWatcher> watcher(const void* key, const WatcherFactory& make) const;

  friend bool operator==(const TCPServerSocket& a, const TCPServerSocket& b) noexcept {
    return a.impl_ == b.impl_;
  }

 private:
  // As TCPSocket's recv_or_would_block.
  std::optional<Connection> getconnection_or_would_block();
  static const SocketWouldBlockError& would_block_error() noexcept;
  bool wait_ready(std::int64_t timeout_ns) const;
  friend struct detail::Access;
  explicit TCPServerSocket(std::shared_ptr<detail::TcpServerImpl> impl) noexcept
      : impl_(std::move(impl)) {}
  std::shared_ptr<detail::TcpServerImpl> impl_;
};

/// A bound UDP socket (from listenformessage_ipv6).
class REPY6_API UDPServerSocket {
 public:
  UDPServerSocket() noexcept = default;

  /// Takes one datagram that has already arrived.
  /// @throws SocketWouldBlockError when none has; SocketClosedLocal after close().
  Message getmessage() {
    if (auto message = getmessage_or_would_block()) return std::move(*message);
    throw would_block_error();
  }

  /// Stops listening; true on the first call, false after. Never throws.
  bool close() noexcept;

  /// getmessage() that never blocks: nullopt when none has arrived or when the nanny
  /// would make the call wait for a rate limit.
  /// @throws as getmessage(), but never SocketWouldBlockError.
  std::optional<Message> try_getmessage();

  /// Waits up to `timeout` (as TCPSocket::wait_readable) until getmessage() would
  /// neither raise SocketWouldBlockError nor wait for the nanny.
  template <class Rep, class Period>
  bool wait_readable(std::chrono::duration<Rep, Period> timeout) const {
    return wait_ready(detail::wait_nanoseconds(timeout));
  }
  /// When the nanny lets the next getmessage() go (as TCPSocket::rate_ready_at).
  /// @throws ResourceExhaustedError when a limit the call waits on is 0.
  std::chrono::steady_clock::time_point rate_ready_at() const;
  /// The bound fd, for poll/epoll/Asio users (-1 once closed). Do not close it.
  int native_handle() const noexcept;
  /// The socket's watcher for `key` (as TCPSocket::watcher).
  /// @throws whatever `make` throws.
  std::shared_ptr<SocketWatcher> watcher(const void* key, const WatcherFactory& make) const;

  friend bool operator==(const UDPServerSocket& a, const UDPServerSocket& b) noexcept {
    return a.impl_ == b.impl_;
  }

 private:
  // As TCPSocket's recv_or_would_block.
  std::optional<Message> getmessage_or_would_block();
  static const SocketWouldBlockError& would_block_error() noexcept;
  bool wait_ready(std::int64_t timeout_ns) const;
  friend struct detail::Access;
  explicit UDPServerSocket(std::shared_ptr<detail::UdpServerImpl> impl) noexcept
      : impl_(std::move(impl)) {}
  std::shared_ptr<detail::UdpServerImpl> impl_;
};

}  // namespace repy
