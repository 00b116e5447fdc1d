// repy6 — the operations of <repy/asio.hpp> as async_compose implementations: on a
// socket (try the call, else wait on its Watcher), and the context calls
// openconnection and sendmessage. Internal to <repy/asio.hpp>; include that instead.
#pragma once

#include <algorithm>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/compose.hpp>
#include <chrono>
#include <cstddef>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "repy/context.hpp"
#include "repy/detail/asio_watcher.hpp"
#include "repy/errors.hpp"
#include "repy/sockets.hpp"

namespace repy::detail::async {

/// An operation's outcome, and how it reaches the handler: never from inside the
/// initiating call (it is posted first), otherwise directly, since every later step
/// already runs on the handler's associated executor.
template <class R>
class Outcome {
 public:
  /// One step of the operation, until it has an outcome. `attempt` returns the result,
  /// or nothing after it handed `self` to a wait (the step ends there); when it throws,
  /// the exception is the outcome, with `on_error()` as the result.
  template <class Self, class Attempt, class OnError>
  void step(Self& self, Attempt&& attempt, OnError&& on_error) {
    const bool first = std::exchange(first_, false);
    if (!ready_) {
      try {
        auto result = attempt();
        if (!result) return;
        set(nullptr, std::move(*result));
      } catch (...) {
        set(std::current_exception(), on_error());
      }
    }
    if (first) return net::post(std::move(self));
    self.complete(std::move(error_), std::move(result_));
  }

 private:
  void set(std::exception_ptr error, R result) {
    error_ = std::move(error);
    result_ = std::move(result);
    ready_ = true;
  }

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
    out_.step(
        self,
        [&] {
          auto result = step_();
          if (!result) wait(self);
          return result;
        },
        [&] { return step_.partial(); });
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

// What a listener takes: one connection or datagram that has arrived.
template <class Socket, class R, std::optional<R> (Socket::*Take)()>
struct Taking {
  using result_type = R;
  static constexpr wait_type ready_for = wait_type::wait_read;
  Socket socket;
  std::optional<R> operator()() { return (socket.*Take)(); }
  R partial() const { return {}; }
};
using Accept = Taking<TCPServerSocket, Connection, &TCPServerSocket::try_getconnection>;
using Receive = Taking<UDPServerSocket, Message, &UDPServerSocket::try_getmessage>;

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
    // it as datagrams leave, so the send is tried again after a pause that grows while
    // the buffer stays full.
    bool buffer_full = false;
    clock::duration pause{};
  };

  SendMessageOp(any_io_executor ex, std::unique_ptr<State> state)
      : ex_(std::move(ex)), state_(std::move(state)) {}

  template <class Self>
  void operator()(Self& self, boost::system::error_code = {}) {
    out_.step(
        self,
        [&] {
          auto sent = try_send();
          if (!sent) state_->wait_until(ex_, next_try(), self);
          return sent;
        },
        [] { return std::size_t{0}; });
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
      s.buffer_full = true;
      s.pause = std::clamp<clock::duration>(s.pause * 2, 1ms, 64ms);
      return std::nullopt;
    }
  }

  clock::time_point next_try() {
    State& s = *state_;
    if (std::exchange(s.buffer_full, false)) return clock::now() + s.pause;
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
    // Nothing from step(): `self` waits, or the context is gone.
    out_.step(
        self, [&] { return step(self); },
        [&] {
          abandon();
          return TCPSocket();
        });
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

}  // namespace repy::detail::async
