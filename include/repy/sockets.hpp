// repy6 — Repy's socket objects: TCPSocket, TCPServerSocket, UDPServerSocket.
//
// They are cheap shared handles: copies refer to the same socket, which closes when
// close() is called on any copy or when the last copy goes away. Every method is
// thread-safe and, except the wait_* helpers, never blocks.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "repy/export.hpp"

namespace repy {

namespace detail {
class TcpSocketImpl;
class TcpServerImpl;
class UdpServerImpl;
struct Access;
}  // namespace detail

/// A connected TCP socket (from openconnection_ipv6 or getconnection).
class REPY6_API TCPSocket {
 public:
  /// A handle to no socket: every call raises SocketClosedLocal, close() returns false.
  TCPSocket() noexcept = default;

  /// Receives between 1 and `bytes` bytes that have already arrived.
  /// @throws RepyArgumentError for bytes == 0; SocketWouldBlockError when nothing has
  /// arrived; SocketClosedRemote once the peer closed and every byte was read, or on a
  /// reset; SocketClosedLocal after close().
  std::string recv(std::size_t bytes);

  /// Sends as much of `data` as the socket buffer takes now; returns the count.
  /// @throws SocketWouldBlockError when the buffer is full; SocketClosedRemote when the
  /// peer closed or reset; SocketClosedLocal after close().
  std::size_t send(std::string_view data);

  /// Closes the socket; true on the first call, false after. Never throws.
  bool close() noexcept;

  /// Waits up to `timeout` until recv() would not raise SocketWouldBlockError (data,
  /// end of stream, error or local close). Returns false on timeout.
  bool wait_readable(std::chrono::milliseconds timeout) const;
  /// Waits up to `timeout` until send() would not raise SocketWouldBlockError.
  bool wait_writable(std::chrono::milliseconds timeout) const;

  /// The file descriptor, for poll/epoll/Asio users (-1 once closed). Do not close it.
  int native_handle() const noexcept;

  /// Same socket (copies of one handle compare equal).
  friend bool operator==(const TCPSocket& a, const TCPSocket& b) noexcept {
    return a.impl_ == b.impl_;
  }

 private:
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
  Connection getconnection();

  /// Stops listening; true on the first call, false after. Never throws.
  bool close() noexcept;

  /// Waits up to `timeout` until getconnection() would not raise SocketWouldBlockError.
  bool wait_readable(std::chrono::milliseconds timeout) const;
  int native_handle() const noexcept;

  friend bool operator==(const TCPServerSocket& a, const TCPServerSocket& b) noexcept {
    return a.impl_ == b.impl_;
  }

 private:
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
  Message getmessage();

  /// Stops listening; true on the first call, false after. Never throws.
  bool close() noexcept;

  /// Waits up to `timeout` until getmessage() would not raise SocketWouldBlockError.
  bool wait_readable(std::chrono::milliseconds timeout) const;
  int native_handle() const noexcept;

  friend bool operator==(const UDPServerSocket& a, const UDPServerSocket& b) noexcept {
    return a.impl_ == b.impl_;
  }

 private:
  friend struct detail::Access;
  explicit UDPServerSocket(std::shared_ptr<detail::UdpServerImpl> impl) noexcept
      : impl_(std::move(impl)) {}
  std::shared_ptr<detail::UdpServerImpl> impl_;
};

}  // namespace repy
