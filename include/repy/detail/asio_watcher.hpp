// repy6 — the per-socket state of <repy/asio.hpp>: one Watcher per socket and
// execution context (the socket's reactor registration and its nanny timer), and the
// execution_context service that holds them so that the context's shutdown lets go of
// them all. Internal to <repy/asio.hpp>; include that instead.
#pragma once

#include <atomic>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/execution/context.hpp>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/execution_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/asio/query.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>

#include "repy/errors.hpp"
#include "repy/sockets.hpp"

namespace repy::detail::async {

namespace net = boost::asio;
using clock = std::chrono::steady_clock;
using wait_type = net::posix::descriptor_base::wait_type;
using boost::asio::any_io_executor;

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
  /// when the socket was let go or an armed deadline has passed.
  template <class Handler>
  void wait_ready(wait_type what, Handler&& handler) {
    {
      std::lock_guard lock(mutex_);
      if (descriptor_ && !deadline_passed_) {
        return descriptor_->async_wait(what, std::forward<Handler>(handler));
      }
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

  /// For a connect: at `deadline`, ends the waits for readiness, and those that start
  /// later, until disarm().
  void arm_deadline(clock::time_point deadline) {
    std::lock_guard lock(mutex_);
    if (!descriptor_) return;
    deadline_passed_ = false;
    timer().expires_at(deadline);
    timer().async_wait([weak = weak_from_this()](const boost::system::error_code& error) {
      auto self = weak.lock();
      if (error || !self) return;
      std::lock_guard again(self->mutex_);
      // Also for a wait about to start on another thread: it must not outlive the
      // deadline either.
      self->deadline_passed_ = true;
      if (self->descriptor_) self->descriptor_->cancel();
    });
  }

  /// Ends arm_deadline().
  void disarm() noexcept {
    std::lock_guard lock(mutex_);
    deadline_passed_ = false;
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
  bool deadline_passed_ = false;
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

}  // namespace repy::detail::async
