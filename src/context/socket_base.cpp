// What the three socket kinds share: the guarded fd, waiting for readiness and for the
// nanny, closing once.
#include <poll.h>

#include <algorithm>
#include <cmath>

#include "context/sockets.hpp"

namespace repy::detail {

using clock = Nanny::clock;

SocketBase::SocketBase(std::shared_ptr<ContextState> context, Fd fd, Hold hold,
                       std::initializer_list<Resource> waits_on) noexcept
    : context_(std::move(context)), fd_(std::move(fd)), hold_(std::move(hold)) {
  for (Resource r : waits_on) {
    waits_on_[wait_count_++] = r;
    metered_ = metered_ || !std::isinf(data(context_->policy).limit(r));
  }
}

SocketBase::~SocketBase() = default;

int SocketBase::native_handle() const noexcept {
  std::shared_lock lock(guard_);
  return closed() ? -1 : fd_.get();
}

clock::time_point SocketBase::rate_ready_at(std::string_view call) const {
  auto ready = clock::time_point::min();
  for (std::size_t i = 0; i < wait_count_; ++i) {
    ready = std::max(ready, context_->nanny.ready_at(waits_on_[i], call));
  }
  return ready;
}

void SocketBase::sleep_until(clock::time_point until) const {
  std::unique_lock lock(sleep_mutex_);
  woken_.wait_until(lock, until, [this] { return closed(); });
}

void SocketBase::wait_for_rates(std::string_view call) const {
  for (;;) {
    if (closed()) throw_closed_local(call);
    if (rate_ready(call)) return;
    sleep_until(rate_ready_at(call));
  }
}

bool SocketBase::wait_ready(short events, std::int64_t timeout_ns) const {
  const bool forever = timeout_ns < 0;
  const auto deadline =
      forever ? clock::time_point::max() : clock::now() + std::chrono::nanoseconds(timeout_ns);
  for (;;) {
    if (closed()) return true;
    clock::time_point ready;
    try {
      ready = rate_ready_at("wait");
    } catch (const ResourceExhaustedError&) {
      return true;  // a limit of 0: the call itself fails at once
    }
    const auto now = clock::now();
    if (ready != clock::time_point::min() && ready > now) {
      if (ready >= deadline) {
        sleep_until(deadline);
        return closed();
      }
      sleep_until(ready);
      continue;
    }
    auto left = forever ? std::chrono::milliseconds(-1)
                        : std::chrono::ceil<std::chrono::milliseconds>(
                              std::max(deadline - now, clock::duration::zero()));
    SysResult<short> polled;
    {
      std::shared_lock lock(guard_);
      if (closed()) return true;
      polled = context_->ops().poll(fd_.get(), events, left);
    }
    // An error is for the next call to report.
    if (!polled) return true;
    if (polled.value == 0) return closed();
    // Ready; but another thread may have charged meanwhile: ask the nanny again.
    if (rate_ready("wait")) return true;
  }
}

std::shared_ptr<SocketWatcher> SocketBase::watcher(const void* key,
                                                   const WatcherFactory& make) const {
  std::lock_guard lock(watch_mutex_);
  // close_fd() marks the socket closed before it takes the watchers, and closes the fd
  // only after: while this lock is held and the socket is open, fd_ is valid.
  if (closed()) return nullptr;
  auto found = std::find_if(watchers_.begin(), watchers_.end(),
                            [&](const auto& entry) { return entry.first == key; });
  if (found != watchers_.end() && !found->second->detached()) return found->second;
  auto made = make(fd_.get());
  if (!made) return nullptr;
  if (found != watchers_.end()) return found->second = std::move(made);
  return watchers_.emplace_back(key, std::move(made)).second;
}

void SocketBase::tell_watchers() noexcept {
  decltype(watchers_) watchers;
  {
    std::lock_guard lock(watch_mutex_);
    watchers.swap(watchers_);
  }
  // Outside the lock: a watcher's closing() takes locks of its own.
  for (auto& entry : watchers) entry.second->closing();
}

bool SocketBase::close_fd() noexcept {
  if (closed_.exchange(true, std::memory_order_acq_rel)) return false;
  {
    // Ends rate waits; taking the mutex orders this after a sleeper's check.
    std::lock_guard lock(sleep_mutex_);
  }
  woken_.notify_all();
  // Wakes threads blocked in poll() on this fd; they then drop the shared guard.
  context_->ops().shutdown(fd_.get());
  // Event loops deregister the fd before its number can be reused.
  tell_watchers();
  std::unique_lock lock(guard_);
  fd_.reset();
  hold_.release();
  entry_.release();
  released_.store(true, std::memory_order_release);
  released_.notify_all();
  return true;
}

}  // namespace repy::detail
