// What the three socket kinds share: the guarded fd, waiting, closing once.
#include <poll.h>

#include "context/sockets.hpp"

namespace repy::detail {

SocketBase::SocketBase(std::shared_ptr<ContextState> context, Fd fd, Hold hold) noexcept
    : context_(std::move(context)), fd_(std::move(fd)), hold_(std::move(hold)) {}

SocketBase::~SocketBase() = default;

int SocketBase::native_handle() const noexcept {
  std::shared_lock lock(guard_);
  return closed() ? -1 : fd_.get();
}

bool SocketBase::wait_for(short events, std::chrono::milliseconds timeout) const {
  std::shared_lock lock(guard_);
  if (closed()) return true;
  auto ready = context_->ops().poll(fd_.get(), events, timeout);
  // An error, or a close() that shut the fd down, is for the next call to report.
  return !ready || ready.value != 0 || closed();
}

bool SocketBase::close_fd() noexcept {
  if (closed_.exchange(true, std::memory_order_acq_rel)) return false;
  // Wakes threads blocked in poll() on this fd; they then drop the shared guard.
  context_->ops().shutdown(fd_.get());
  std::unique_lock lock(guard_);
  fd_.reset();
  hold_.release();
  entry_.release();
  released_.store(true, std::memory_order_release);
  released_.notify_all();
  return true;
}

}  // namespace repy::detail
