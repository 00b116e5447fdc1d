// Helpers of the <repy/asio.hpp> tests: handlers that record how they were called, and
// running an io_context until something happened or a deadline passed.
#pragma once

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <exception>
#include <functional>
#include <repy/asio.hpp>
#include <thread>

namespace repy_test {

/// What one operation's handler was called with, and how often.
template <class R>
struct Got {
  int calls = 0;
  std::exception_ptr error;
  R value{};
  std::thread::id thread;
  std::chrono::steady_clock::time_point at;

  bool done() const { return calls > 0; }
};

/// A handler that records into `got` (which must outlive the operation's io_context
/// run).
template <class R>
auto into(Got<R>& got) {
  return [&got](std::exception_ptr error, R value) {
    ++got.calls;
    got.error = std::move(error);
    got.value = std::move(value);
    got.thread = std::this_thread::get_id();
    got.at = std::chrono::steady_clock::now();
  };
}

/// Runs `io` on this thread until `done()` or until `timeout` passes; false on timeout
/// or when `io` ran out of work first.
inline bool run_until(boost::asio::io_context& io, const std::function<bool()>& done,
                      std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline) return false;
    if (io.stopped()) io.restart();
    if (io.run_one_for(deadline - now) == 0 && io.stopped() && !done()) return false;
  }
  return true;
}

/// Rethrows the recorded error (or nothing), for expect_throws.
template <class R>
void rethrow(const Got<R>& got) {
  if (got.error) std::rethrow_exception(got.error);
}

}  // namespace repy_test
