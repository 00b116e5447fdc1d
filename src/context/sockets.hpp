// The objects behind TCPSocket, TCPServerSocket and UDPServerSocket.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "context/context_state.hpp"
#include "context/fd_guard.hpp"
#include "core/error_map.hpp"
#include "core/fd.hpp"
#include "nanny/nanny.hpp"
#include "net/registry.hpp"
#include "repy/errors.hpp"
#include "repy/sockets.hpp"

namespace repy::detail {

/// Enough for any datagram and for a generous TCP read.
inline constexpr std::size_t read_buffer_size = 65536;

/// This thread's read buffer, so that a receive copies only what arrived instead of
/// zero-filling what was asked for. A call uses it only until it returns.
inline char* read_buffer() {
  thread_local std::unique_ptr<char[]> buffer(new char[read_buffer_size]);
  return buffer.get();
}

/// What the three socket kinds share: the fd and its guard, the context, the held
/// insocket or outsocket, and the socket's registry entry.
///
/// Calls on the fd hold `guard_` shared; close() marks the socket closed, wakes anyone
/// waiting in poll() with shutdown(), then takes `guard_` exclusively before it closes
/// the fd, so no call ever uses an fd number after it was closed (and maybe reused).
class SocketBase : public Registered {
 public:
  SocketBase(const SocketBase&) = delete;
  SocketBase& operator=(const SocketBase&) = delete;

  bool closed() const noexcept override { return closed_.load(std::memory_order_acquire); }
  /// After closed() turned true: waits until close_fd() has really closed the fd, so
  /// that the address it held is free again.
  void wait_released() const noexcept override { released_.wait(false, std::memory_order_acquire); }
  int native_handle() const noexcept;

  /// When the nanny lets this socket's next call go (the rate limits it waits on).
  /// @throws ResourceExhaustedError for a limit of 0.
  Nanny::clock::time_point rate_ready_at(std::string_view call) const;

  /// Waits until poll() reports `events` (or an error, hang-up, or local close) and the
  /// nanny would let the next call go, within `timeout_ns` (0: poll once; -1: no
  /// limit). True when so (or when a limit is 0: the call fails at once), false on
  /// timeout.
  bool wait_ready(short events, std::int64_t timeout_ns) const;

  /// The socket's watcher for `key` (see TCPSocket::watcher): made once, nullptr once
  /// closed.
  std::shared_ptr<SocketWatcher> watcher(const void* key, const WatcherFactory& make) const;

 protected:
  /// `waits_on`: the renewable resources the socket's calls wait for (SPEC section 8).
  SocketBase(std::shared_ptr<ContextState> context, Fd fd, Hold hold,
             std::initializer_list<Resource> waits_on) noexcept;
  ~SocketBase();

  /// Whether the nanny would let a call go now.
  /// @throws ResourceExhaustedError for a limit of 0, as the call would.
  bool rate_ready(std::string_view call) const {
    // Inline: a socket with no rate limit to wait on pays one test on each call.
    return !metered_ || Nanny::reached(rate_ready_at(call));
  }

  /// Sleeps until the nanny lets a call go. A close() from another thread ends the
  /// sleep at once.
  /// @throws SocketClosedLocal when the socket is (or gets) closed;
  /// ResourceExhaustedError for a limit of 0.
  void wait_for_rates(std::string_view call) const;

  /// Runs one socket operation on the fd, under the shared guard. A call on a socket
  /// closed here, or cut short by a close() from another thread, raises SocketClosedLocal.
  template <class Call>
  auto on_fd(std::string_view call, Call&& operation) const {
    decltype(operation(0)) result;
    {
      std::shared_lock lock(guard_);
      if (closed()) throw_closed_local(call);
      result = operation(fd_.get());
    }
    if (!result && closed()) throw_closed_local(call);
    return result;
  }

  /// Raises the error of a failed operation. An error nobody foresaw ends the socket
  /// first (`close` is the kind's own close); a reset leaves it to the program.
  template <class Close>
  [[noreturn]] void fail(std::string_view call, Op op, int err, Close&& close) {
    if (closes_socket(op, err)) close();
    throw_network_error(call, op, err, Endpoints{});
  }

  /// Closes once; true the first time. Never throws.
  bool close_fd() noexcept;

  /// Makes an `Impl` on `context` and registers it in the stack's registry as the
  /// context's `role` at `local`, until it is closed: each kind's open().
  template <class Impl, class... Args>
  static std::shared_ptr<Impl> make_registered(Role role, const LocalKey& local,
                                               const std::shared_ptr<ContextState>& context,
                                               Args&&... args) {
    auto socket = std::make_shared<Impl>(context, std::forward<Args>(args)...);
    socket->entry_ = context->registry().add(role, local, context->owner(), socket);
    return socket;
  }

  std::shared_ptr<ContextState> context_;
  Registry::Entry entry_;

 private:
  /// Sleeps until `until` or a close(), whichever comes first.
  void sleep_until(Nanny::clock::time_point until) const;
  /// Tells every watcher closing(), once; close_fd() calls it before the fd goes.
  void tell_watchers() noexcept;

  mutable FdGuard guard_;
  // What rate waits sleep on, so that close() can end them.
  mutable std::mutex sleep_mutex_;
  mutable std::condition_variable woken_;
  // Event loops' watchers by key: usually none or one, so a vector.
  mutable std::mutex watch_mutex_;
  mutable std::vector<std::pair<const void*, std::shared_ptr<SocketWatcher>>> watchers_;
  std::array<Resource, 2> waits_on_{};
  std::size_t wait_count_ = 0;
  bool metered_ = false;  // one of waits_on_ has a limit (the policy never changes)
  std::atomic<bool> closed_{false};
  std::atomic<bool> released_{false};
  Fd fd_;
  Hold hold_;
};

class TcpSocketImpl final : public SocketBase {
 public:
  /// A connected socket, registered as `context`'s connection on `local`.
  static std::shared_ptr<TcpSocketImpl> open(std::shared_ptr<ContextState> context, Fd fd,
                                             Hold outsocket, const address_v6& peer,
                                             const LocalKey& local);
  TcpSocketImpl(std::shared_ptr<ContextState> context, Fd fd, Hold outsocket,
                const address_v6& peer);
  ~TcpSocketImpl();

  /// The plain calls wait for the nanny, then act once; nullopt is "nothing ready now",
  /// which the handle raises as SocketWouldBlockError in its own frame (a throw costs
  /// per frame it unwinds, and programs poll with it).
  std::optional<std::string> recv(std::size_t bytes);
  std::optional<std::size_t> send(std::string_view data);
  std::optional<std::string> try_recv(std::size_t bytes);
  std::optional<std::size_t> try_send(std::string_view data);
  /// Repy's close: charges the FIN exchange (afterwards, never waiting), releases the
  /// outsocket.
  bool close(bool charge = true) noexcept;

 private:
  /// What is there to read now (charged); nullopt when nothing is.
  std::optional<std::string> recv_now(std::string_view call, std::size_t bytes);
  /// What the buffer takes now (charged); nullopt when it takes nothing.
  std::optional<std::size_t> send_now(std::string_view call, std::string_view data);

  const Resource send_;  // loopsend or netsend, by the peer's address
  const Resource recv_;
};

class TcpServerImpl final : public SocketBase {
 public:
  /// A listening socket, registered as `context`'s TCP listener on `local`; it
  /// reports peers as calls of `family` print addresses.
  static std::shared_ptr<TcpServerImpl> open(std::shared_ptr<ContextState> context, Fd fd,
                                             Hold insocket, const LocalKey& local, Family family);
  TcpServerImpl(std::shared_ptr<ContextState> context, Fd fd, Hold insocket, const LocalKey& local,
                Family family);
  ~TcpServerImpl();

  std::optional<Connection> getconnection();  // nullopt: as TcpSocketImpl::recv
  std::optional<Connection> try_getconnection();
  bool close() noexcept;

 private:
  /// One pending connection (charged); nullopt when none is.
  std::optional<Connection> accept_now(std::string_view call);

  const LocalKey local_;
  const Family family_;
};

class UdpServerImpl final : public SocketBase {
 public:
  /// A bound UDP socket, registered as `context`'s UDP listener on `local`; it
  /// reports peers as calls of `family` print addresses.
  static std::shared_ptr<UdpServerImpl> open(std::shared_ptr<ContextState> context, Fd fd,
                                             Hold insocket, const LocalKey& local, Family family);
  UdpServerImpl(std::shared_ptr<ContextState> context, Fd fd, Hold insocket, const LocalKey& local,
                Family family);
  ~UdpServerImpl();

  std::optional<Message> getmessage();  // nullopt: as TcpSocketImpl::recv
  std::optional<Message> try_getmessage();
  bool close() noexcept;

  /// Sends a datagram from this socket (sendmessage_ipv6 through a listener). Returns
  /// nothing when the socket was closed before or during the send, so the caller makes
  /// its own. Inline, so that no frame of its own stays on the stack across the system
  /// call (see TcpSocketImpl::recv).
  std::optional<std::size_t> send_to(std::string_view call, const Endpoints& ends,
                                     std::string_view message) {
    const sockaddr_in6 to = to_sockaddr(ends.remote, ends.remote_port);
    SysResult<std::size_t> sent;
    try {
      sent = on_fd(call, [&](int fd) {
        return context_->ops().sendto(fd, message.data(), message.size(),
                                      MSG_DONTWAIT | MSG_NOSIGNAL, to);
      });
    } catch (const SocketClosedLocal&) {
      // Closed before or while sending (a close() shuts the fd down under the send): the
      // caller sends from a socket of its own, which needs the address free first.
      wait_released();
      return std::nullopt;
    }
    if (!sent) throw_network_error(call, Op::send_message, sent.error, ends);
    return sent.value;
  }

 private:
  /// One datagram that has arrived (charged); nullopt when none has.
  std::optional<Message> receive_now(std::string_view call);

  const LocalKey local_;
  const Family family_;
};

}  // namespace repy::detail
