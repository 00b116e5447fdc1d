// The objects behind TCPSocket, TCPServerSocket and UDPServerSocket.
#pragma once

#include <netinet/in.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>

#include "context/context_state.hpp"
#include "core/address.hpp"
#include "core/fd.hpp"
#include "nanny/nanny.hpp"
#include "repy/sockets.hpp"

namespace repy::detail {

/// What the three socket kinds share: the fd, its guard, the context and the held
/// insocket or outsocket.
///
/// Calls on the fd hold `guard_` shared; close() marks the socket closed, wakes anyone
/// waiting in poll() with shutdown(), then takes `guard_` exclusively before it closes
/// the fd, so no call ever uses an fd number after it was closed (and maybe reused).
class SocketBase {
 public:
  SocketBase(const SocketBase&) = delete;
  SocketBase& operator=(const SocketBase&) = delete;

  bool closed() const noexcept { return closed_.load(std::memory_order_acquire); }
  /// After closed() turned true: waits until close_fd() has really closed the fd, so
  /// that the address it held is free again.
  void wait_released() const noexcept { released_.wait(false, std::memory_order_acquire); }
  int native_handle() const noexcept;
  /// Waits until poll() reports `events` (or an error, hang-up, or local close).
  bool wait_for(short events, std::chrono::milliseconds timeout) const;

 protected:
  SocketBase(std::shared_ptr<ContextState> context, Fd fd, Hold hold) noexcept;
  ~SocketBase();

  /// Closes once; true the first time. Never throws.
  bool close_fd() noexcept;

  std::shared_ptr<ContextState> context_;
  mutable std::shared_mutex guard_;
  std::atomic<bool> closed_{false};
  std::atomic<bool> released_{false};
  Fd fd_;
  Hold hold_;
};

class TcpSocketImpl final : public SocketBase {
 public:
  TcpSocketImpl(std::shared_ptr<ContextState> context, Fd fd, Hold outsocket,
                const address_v6& peer, int local_port);
  ~TcpSocketImpl();

  std::string recv(std::size_t bytes);
  std::size_t send(std::string_view data);
  /// Repy's close: charges the FIN exchange, releases the outsocket.
  bool close(bool charge = true) noexcept;

 private:
  [[noreturn]] void fail(std::string_view call, int err);

  const Resource send_;  // loopsend or netsend, by the peer's address
  const Resource recv_;
  const int local_port_;
};

class TcpServerImpl final : public SocketBase {
 public:
  TcpServerImpl(std::shared_ptr<ContextState> context, Fd fd, Hold insocket,
                const address_v6& local, int local_port);
  ~TcpServerImpl();

  Connection getconnection();
  bool close() noexcept;

 private:
  const LocalKey key_;
  const bool loopback_;
};

class UdpServerImpl final : public SocketBase {
 public:
  UdpServerImpl(std::shared_ptr<ContextState> context, Fd fd, Hold insocket,
                const address_v6& local, int local_port);
  ~UdpServerImpl();

  Message getmessage();
  bool close() noexcept;

  /// Sends a datagram from this socket (sendmessage_ipv6 through a listener). Returns
  /// nothing when the socket was closed meanwhile, so the caller makes its own.
  std::optional<std::size_t> send_to(std::string_view call, const sockaddr_in6& to,
                                     std::string_view message);

 private:
  const LocalKey key_;
  const bool loopback_;
};

}  // namespace repy::detail
