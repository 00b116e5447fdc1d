// The guard of a socket object's fd: a shared mutex cut down to what SocketBase needs.
#pragma once

#include <atomic>
#include <cstdint>

namespace repy::detail {

/// A reader-writer lock for one socket's fd: calls hold it shared while they use the
/// fd, close() holds it exclusively to close it. It meets the SharedMutex requirements
/// that std::shared_lock and std::unique_lock use.
///
/// Why not std::shared_mutex: every call takes the guard, and a program that polls
/// takes it on each "nothing yet". glibc's rwlock spends as many instructions on that
/// as the rest of the call; here entering and leaving is one atomic add each, and the
/// futex is touched only while a close() is under way (once in a socket's life).
///
/// Readers are preferred, as by glibc's default rwlock: taking the guard shared never
/// waits, not even while close() holds it. That is safe because SocketBase marks the
/// socket closed before it takes the guard exclusively, and every call checks closed()
/// under the shared guard before it touches the fd; and it lets a thread that holds the
/// guard take it again (native_handle() from inside a socket operation).
class FdGuard {
 public:
  FdGuard() noexcept = default;
  FdGuard(const FdGuard&) = delete;
  FdGuard& operator=(const FdGuard&) = delete;

  void lock_shared() noexcept { state_.fetch_add(1, std::memory_order_acquire); }

  void unlock_shared() noexcept {
    // The last call to leave while a close() waits for the fd wakes it.
    if (state_.fetch_sub(1, std::memory_order_release) == (writer | 1)) [[unlikely]] {
      state_.notify_all();
    }
  }

  void lock() noexcept {
    std::uint32_t s = state_.load(std::memory_order_relaxed);
    for (;;) {
      if (s & writer) {
        state_.wait(s, std::memory_order_relaxed);
        s = state_.load(std::memory_order_relaxed);
      } else if (state_.compare_exchange_weak(s, s | writer, std::memory_order_acq_rel,
                                              std::memory_order_relaxed)) {
        break;
      }
    }
    // Wait for the calls inside to leave; those that come now find the socket closed.
    while ((s = state_.load(std::memory_order_acquire)) != writer) {
      state_.wait(s, std::memory_order_acquire);
    }
  }

  void unlock() noexcept {
    state_.fetch_and(~writer, std::memory_order_release);
    state_.notify_all();
  }

 private:
  static constexpr std::uint32_t writer = 1u << 31;  // the low bits count the calls inside

  std::atomic<std::uint32_t> state_{0};
};

}  // namespace repy::detail
