// repy6 — Boost.Asio completion-token operations on repy6's sockets and calls (SPEC
// sections 8 and 9). The one public header that needs Boost.Asio.
//
// Each operation first tries its call the way that never waits (try_recv, ...), as
// Asio's own sockets try speculatively, and waits only when the call has nothing now:
// for readiness on the reactor of the executor's context, or for the nanny on a timer
// set to rate_ready_at(). No thread blocks. What an operation waits with outlives it:
// per socket and execution context one Watcher holds the socket's reactor registration
// (an Asio descriptor on the socket's own fd, released and never closed by Asio) and
// its nanny timer, made on the first wait and kept until close() of the socket, which
// tells the watcher closing() before the fd is closed. That ends every wait on the
// socket, and each operation then finds the socket closed (SocketClosedLocal). A
// service of the execution context holds the watchers too, so that destroying the
// context lets go of every socket's registration without calling a handler.
#pragma once

#include <algorithm>
#include <atomic>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/compose.hpp>
#include <boost/asio/execution/context.hpp>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/execution_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/asio/query.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstddef>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

#include "repy/repy.hpp"

namespace repy {

using boost::asio::any_io_executor;

namespace detail::async {

namespace net = boost::asio;
using clock = std::chrono::steady_clock;
using wait_type = net::posix::descriptor_base::wait_type;

class WatcherService;

/// One socket's registration with the reactor of one execution context, and its nanny
/// timer. Thread-safe: initiations, completions and closing() may come from any thread.
class Watcher final : public SocketWatcher, public std::enable_shared_from_this<Watcher> {
 public:
  /// Registers `fd` with the reactor of `ex`'s context.
  /// @throws NetworkError when the reactor refuses it.
  Watcher(WatcherService& service, const any_io_executor& ex, int fd);
  ~Watcher() override {
    // Never close the socket's fd: only the socket does that.
    if (descriptor_) descriptor_->release();
  }

  int fd() const noexcept { return fd_; }

  void closing() noexcept override { let_go(false); }
  bool detached() const noexcept override { return detached_.load(std::memory_order_acquire); }
  /// The context is shutting down: lets go of everything, calling no handler.
  void detach() noexcept { let_go(true); }

  /// Runs `handler` (with an error_code) once the fd is ready for `what`, or at once
  /// when the socket was let go.
  template <class Handler>
  void wait_ready(wait_type what, Handler&& handler) {
    {
      std::lock_guard lock(mutex_);
      if (descriptor_) return descriptor_->async_wait(what, std::forward<Handler>(handler));
    }
    net::post(std::forward<Handler>(handler));
  }

  /// Runs `handler` (with an error_code) at `when`, earlier when the socket was let go.
  template <class Handler>
  void wait_until(clock::time_point when, Handler&& handler) {
    {
      std::lock_guard lock(mutex_);
      if (descriptor_) {
        // Operations on the socket share the timer: a new expiry ends the others'
        // waits early, and they ask the nanny again.
        if (timer().expiry() != when) timer().expires_at(when);
        return timer().async_wait(std::forward<Handler>(handler));
      }
    }
    net::post(std::forward<Handler>(handler));
  }

  /// For a connect: at `deadline`, ends the waits for readiness.
  void arm_deadline(clock::time_point deadline) {
    std::lock_guard lock(mutex_);
    if (!descriptor_) return;
    timer().expires_at(deadline);
    timer().async_wait([weak = weak_from_this()](const boost::system::error_code& error) {
      auto self = weak.lock();
      if (error || !self) return;
      std::lock_guard again(self->mutex_);
      if (self->descriptor_) self->descriptor_->cancel();
    });
  }

  /// Ends the wait of arm_deadline().
  void disarm() noexcept {
    std::lock_guard lock(mutex_);
    if (timer_) timer_->cancel();
  }

 private:
  net::steady_timer& timer() {
    if (!timer_) timer_.emplace(descriptor_->get_executor());
    return *timer_;
  }
  inline void let_go(bool detaching) noexcept;

  std::mutex mutex_;
  WatcherService* service_;  // null once let go
  const int fd_;
  std::optional<net::posix::stream_descriptor> descriptor_;  // empty once let go
  std::optional<net::steady_timer> timer_;
  std::atomic<bool> detached_{false};
};

/// The watchers of one execution context, so that its shutdown lets go of them all.
class WatcherService final : public net::execution_context::service {
 public:
  static inline net::execution_context::id id;

  explicit WatcherService(net::execution_context& context) : service(context) {}

  /// The service of `ex`'s execution context.
  static WatcherService& of(const any_io_executor& ex) {
    return net::use_service<WatcherService>(net::query(ex, net::execution::context));
  }

  /// Whether the context has shut down (it is being destroyed).
  bool stopped() const noexcept { return stopped_.load(std::memory_order_acquire); }

  /// The watcher of `socket` in this context, made once; nullptr once it is closed.
  /// @throws NetworkError when the reactor refuses the socket.
  template <class Socket>
  std::shared_ptr<Watcher> watcher_of(const Socket& socket, const any_io_executor& ex) {
    return std::static_pointer_cast<Watcher>(socket.watcher(
        this, [&](int fd) -> std::shared_ptr<SocketWatcher> { return adopt(ex, fd); }));
  }

  /// A new watcher of `fd`, held here until it is let go.
  /// @throws NetworkError when the reactor refuses the fd.
  std::shared_ptr<Watcher> adopt(const any_io_executor& ex, int fd) {
    auto watcher = std::make_shared<Watcher>(*this, ex, fd);
    {
      std::lock_guard lock(mutex_);
      if (!stopped()) {
        watchers_.emplace(watcher.get(), watcher);
        return watcher;
      }
    }
    watcher->detach();
    return watcher;
  }

  /// Drops a watcher that let go; the caller destroys it outside its own lock.
  std::shared_ptr<Watcher> forget(Watcher* watcher) noexcept {
    std::lock_guard lock(mutex_);
    auto found = watchers_.find(watcher);
    if (found == watchers_.end()) return nullptr;
    auto kept = std::move(found->second);
    watchers_.erase(found);
    return kept;
  }

 private:
  void shutdown() override {
    decltype(watchers_) watchers;
    {
      std::lock_guard lock(mutex_);
      stopped_.store(true, std::memory_order_release);
      watchers.swap(watchers_);
    }
    for (auto& entry : watchers) entry.second->detach();
  }

  std::mutex mutex_;
  std::atomic<bool> stopped_{false};
  std::unordered_map<Watcher*, std::shared_ptr<Watcher>> watchers_;
};

inline Watcher::Watcher(WatcherService& service, const any_io_executor& ex, int fd)
    : service_(&service), fd_(fd) {
  // The registration must not keep the context running; pending operations do.
  descriptor_.emplace(net::prefer(ex, net::execution::outstanding_work.untracked));
  boost::system::error_code error;
  descriptor_->assign(fd, error);
  if (error) {
    descriptor_.reset();
    throw NetworkError("cannot watch socket fd " + std::to_string(fd) +
                       " with the event loop: " + error.message());
  }
}

inline void Watcher::let_go(bool detaching) noexcept {
  std::shared_ptr<Watcher> forgotten;  // destroyed after the lock is released
  std::lock_guard lock(mutex_);
  if (detaching) detached_.store(true, std::memory_order_release);
  if (!descriptor_) return;
  // Deregisters the fd without closing it; its pending waits complete with
  // operation_aborted, and so do the timer's.
  descriptor_->release();
  descriptor_.reset();
  timer_.reset();
  if (!detaching) forgotten = service_->forget(this);
  service_ = nullptr;
}

/// An operation's outcome, and how it reaches the handler: never from inside the
/// initiating call (it is posted first), otherwise directly, since every later step
/// already runs on the handler's associated executor.
template <class R>
class Outcome {
 public:
  /// True for the first step of the operation, the one inside the initiating call.
  bool first_step() noexcept { return std::exchange(first_, false); }
  bool ready() const noexcept { return ready_; }

  void set(std::exception_ptr error, R result) {
    error_ = std::move(error);
    result_ = std::move(result);
    ready_ = true;
  }

  template <class Self>
  void deliver(Self& self, bool first) {
    if (first) return net::post(std::move(self));
    self.complete(std::move(error_), std::move(result_));
  }

 private:
  bool first_ = true;
  bool ready_ = false;
  std::exception_ptr error_;
  R result_{};
};

/// An operation on a socket: tries `Step`, and while it has nothing now waits for the
/// nanny (on the watcher's timer) or for readiness (on the watcher's descriptor), then
/// tries again. Every wake-up, whatever woke it, is just another try: the try knows
/// about close(), errors and the nanny.
template <class Step>
class SocketOp {
 public:
  using result_type = typename Step::result_type;

  SocketOp(any_io_executor ex, Step step) : ex_(std::move(ex)), step_(std::move(step)) {}

  template <class Self>
  void operator()(Self& self, boost::system::error_code = {}) {
    const bool first = out_.first_step();
    if (!out_.ready()) {
      try {
        if (auto result = step_()) {
          out_.set(nullptr, std::move(*result));
        } else {
          return wait(self);
        }
      } catch (...) {
        out_.set(std::current_exception(), step_.partial());
      }
    }
    out_.deliver(self, first);
  }

 private:
  // Everything that can throw comes before `self` is handed on.
  template <class Self>
  void wait(Self& self) {
    const auto when = step_.socket.rate_ready_at();
    WatcherService& service = WatcherService::of(ex_);
    // A context being destroyed drops its operations, as Asio's own do.
    if (service.stopped()) return;
    if (!watcher_) watcher_ = service.watcher_of(step_.socket, ex_);
    // Closed since the try: the next try says so.
    if (!watcher_) return net::post(std::move(self));
    if (when != clock::time_point::min() && when > clock::now()) {
      return watcher_->wait_until(when, std::move(self));
    }
    watcher_->wait_ready(Step::ready_for, std::move(self));
  }

  any_io_executor ex_;
  Step step_;
  std::shared_ptr<Watcher> watcher_;
  Outcome<result_type> out_;
};

struct Recv {
  using result_type = std::string;
  static constexpr wait_type ready_for = wait_type::wait_read;
  TCPSocket socket;
  std::size_t bytes;
  std::optional<std::string> operator()() { return socket.try_recv(bytes); }
  std::string partial() const { return {}; }
};

// All of `data`, one plain send at a time; after a short send the buffer is full, so
// the next one waits for room instead of trying at once.
struct Send {
  using result_type = std::size_t;
  static constexpr wait_type ready_for = wait_type::wait_write;
  TCPSocket socket;
  std::string data;
  std::size_t sent = 0;
  std::optional<std::size_t> operator()() {
    auto n = socket.try_send(std::string_view(data).substr(sent));
    if (!n) return std::nullopt;
    sent += *n;
    if (sent == data.size()) return sent;
    return std::nullopt;
  }
  std::size_t partial() const { return sent; }
};

struct Accept {
  using result_type = Connection;
  static constexpr wait_type ready_for = wait_type::wait_read;
  TCPServerSocket socket;
  std::optional<Connection> operator()() { return socket.try_getconnection(); }
  Connection partial() const { return {}; }
};

struct Receive {
  using result_type = Message;
  static constexpr wait_type ready_for = wait_type::wait_read;
  UDPServerSocket socket;
  std::optional<Message> operator()() { return socket.try_getmessage(); }
  Message partial() const { return {}; }
};

/// The arguments of openconnection/sendmessage and what their operation waits with; on
/// the heap, so that the timer stays put while the operation moves.
struct CallState {
  CallState(Context ctx, bool v4, std::string dest, int dport, std::string local, int lport)
      : context(std::move(ctx)),
        ipv4(v4),
        destip(std::move(dest)),
        destport(dport),
        localip(std::move(local)),
        localport(lport) {}
  CallState(const CallState&) = delete;
  CallState& operator=(const CallState&) = delete;

  Context context;
  bool ipv4;
  std::string destip;
  int destport;
  std::string localip;
  int localport;
  std::optional<net::steady_timer> timer;  // the nanny's waits, before the call acts

  template <class Self>
  void wait_until(const any_io_executor& ex, clock::time_point when, Self& self) {
    if (!timer) timer.emplace(ex);
    timer->expires_at(when);
    timer->async_wait(std::move(self));
  }
};

/// sendmessage_ipv6 / sendmessage: waits for the nanny on a timer, then sends.
class SendMessageOp {
 public:
  struct State : CallState {
    using CallState::CallState;
    std::string message;
    // A datagram socket whose send buffer is full (a busy listener's, which sends
    // replies) is the context's own and cannot be watched from here; the kernel empties
    // it as datagrams leave, so the send is tried again after a growing pause.
    clock::duration pause{};
  };

  SendMessageOp(any_io_executor ex, std::unique_ptr<State> state)
      : ex_(std::move(ex)), state_(std::move(state)) {}

  template <class Self>
  void operator()(Self& self, boost::system::error_code = {}) {
    const bool first = out_.first_step();
    if (!out_.ready()) {
      try {
        if (auto sent = try_send()) {
          out_.set(nullptr, *sent);
        } else {
          return state_->wait_until(ex_, next_try(), self);
        }
      } catch (...) {
        out_.set(std::current_exception(), 0);
      }
    }
    out_.deliver(self, first);
  }

 private:
  std::optional<std::size_t> try_send() {
    State& s = *state_;
    try {
      return s.ipv4 ? s.context.try_sendmessage(s.destip, s.destport, s.message, s.localip,
                                                s.localport)
                    : s.context.try_sendmessage_ipv6(s.destip, s.destport, s.message, s.localip,
                                                     s.localport);
    } catch (const SocketWouldBlockError&) {
      using namespace std::chrono_literals;
      s.pause = std::clamp<clock::duration>(s.pause * 2, 1ms, 64ms);
      return std::nullopt;
    }
  }

  clock::time_point next_try() {
    State& s = *state_;
    if (s.pause != clock::duration::zero()) return clock::now() + std::exchange(s.pause, {});
    return s.context.rate_ready_at(Context::RateCall::sendmessage, s.destip);
  }

  any_io_executor ex_;
  std::unique_ptr<State> state_;
  Outcome<std::size_t> out_;
};

/// openconnection_ipv6 / openconnection: waits for the nanny on a timer, starts the
/// connect, then waits for the socket to be writable on the reactor, with a timer for
/// the deadline; the registration then stays with the new socket.
class ConnectOp {
 public:
  struct State : CallState {
    using CallState::CallState;
    double timeout = 0;
    bool started = false;
    PendingConnection pending;
    std::shared_ptr<Watcher> watcher;
    // The fd is deregistered before `pending` closes it.
    ~State() {
      if (watcher) watcher->closing();
    }
  };

  ConnectOp(any_io_executor ex, std::unique_ptr<State> state)
      : ex_(std::move(ex)), state_(std::move(state)) {}

  template <class Self>
  void operator()(Self& self, boost::system::error_code = {}) {
    const bool first = out_.first_step();
    if (!out_.ready()) {
      try {
        if (auto socket = step(self)) {
          out_.set(nullptr, std::move(*socket));
        } else {
          return;  // `self` waits, or the context is gone
        }
      } catch (...) {
        abandon();
        out_.set(std::current_exception(), TCPSocket());
      }
    }
    out_.deliver(self, first);
  }

 private:
  // The socket once connected; otherwise hands `self` to a wait.
  template <class Self>
  std::optional<TCPSocket> step(Self& self) {
    State& s = *state_;
    if (!s.started) {
      auto pending = s.ipv4 ? s.context.start_openconnection(s.destip, s.destport, s.localip,
                                                             s.localport, s.timeout)
                            : s.context.start_openconnection_ipv6(s.destip, s.destport, s.localip,
                                                                  s.localport, s.timeout);
      if (!pending) {
        s.wait_until(ex_, s.context.rate_ready_at(Context::RateCall::openconnection, s.destip),
                     self);
        return std::nullopt;
      }
      s.pending = std::move(*pending);
      s.started = true;
    }
    if (auto socket = s.pending.finish()) return keep_registration(std::move(*socket));
    WatcherService& service = WatcherService::of(ex_);
    if (service.stopped()) return std::nullopt;
    if (!s.watcher) {
      s.watcher = service.adopt(ex_, s.pending.native_handle());
      s.watcher->arm_deadline(s.pending.deadline());
    }
    s.watcher->wait_ready(wait_type::wait_write, std::move(self));
    return std::nullopt;
  }

  // The connect's registration becomes the socket's, for its first recv or send.
  TCPSocket keep_registration(TCPSocket socket) {
    State& s = *state_;
    if (auto watcher = std::exchange(s.watcher, nullptr)) {
      watcher->disarm();
      WatcherService& service = WatcherService::of(ex_);
      auto kept = socket.watcher(&service, [&](int fd) -> std::shared_ptr<SocketWatcher> {
        return fd == watcher->fd() ? watcher : service.adopt(ex_, fd);
      });
      if (kept != watcher) watcher->closing();
    }
    return socket;
  }

  // A failed connect holds nothing: deregistered, then closed.
  void abandon() noexcept {
    State& s = *state_;
    if (auto watcher = std::exchange(s.watcher, nullptr)) watcher->closing();
    s.pending = PendingConnection();
  }

  any_io_executor ex_;
  std::unique_ptr<State> state_;
  Outcome<TCPSocket> out_;
};

/// Starts `op` for `token`. The operation keeps work on `ex` and on the handler's own
/// executor, and its steps run on the handler's associated executor (by default `ex`).
template <class Signature, class Op, class Token>
auto launch(any_io_executor ex, Op op, Token&& token) {
  return net::async_initiate<Token, Signature>(
      [](auto handler, any_io_executor io_ex, Op operation) {
        auto handler_ex = net::get_associated_executor(handler, io_ex);
        net::async_compose<decltype(handler), Signature>(std::move(operation), handler, io_ex,
                                                         handler_ex);
      },
      token, std::move(ex), std::move(op));
}

template <class Token>
auto connect(any_io_executor ex, Context ctx, bool ipv4, std::string destip, int destport,
             std::string localip, int localport, double timeout, Token&& token) {
  auto state = std::make_unique<ConnectOp::State>(std::move(ctx), ipv4, std::move(destip), destport,
                                                  std::move(localip), localport);
  state->timeout = timeout;
  return launch<void(std::exception_ptr, TCPSocket)>(ex, ConnectOp(ex, std::move(state)),
                                                     std::forward<Token>(token));
}

template <class Token>
auto send_message(any_io_executor ex, Context ctx, bool ipv4, std::string destip, int destport,
                  std::string message, std::string localip, int localport, Token&& token) {
  auto state = std::make_unique<SendMessageOp::State>(std::move(ctx), ipv4, std::move(destip),
                                                      destport, std::move(localip), localport);
  state->message = std::move(message);
  return launch<void(std::exception_ptr, std::size_t)>(ex, SendMessageOp(ex, std::move(state)),
                                                       std::forward<Token>(token));
}

}  // namespace detail::async

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
