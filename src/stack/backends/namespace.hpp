// Running a few system calls inside another network namespace. What a socket or a tap
// device is born in, it keeps; so the calling thread enters the namespace, makes it,
// and comes straight back.
#pragma once

#include <fcntl.h>
#include <sched.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <type_traits>

#include "core/fd.hpp"

namespace repy::detail {

/// Runs `f` (which must not throw) with the calling thread inside the network namespace
/// `ns_fd`, then brings the thread back to the namespace it was in. Returns 0, or the
/// errno that kept the thread from entering (`f` did not run then; EPERM without
/// CAP_SYS_ADMIN). Aborts the process when the thread cannot come back.
template <class F>
int run_in_network_namespace(int ns_fd, F&& f) noexcept {
  static_assert(std::is_nothrow_invocable_v<F&>, "the thread must come back: f cannot throw");
  // The thread's own namespace, to come back to (a thread may already be in another
  // namespace than the process, so /proc/self would be wrong).
  Fd home(::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
  if (!home) return errno;
  if (::setns(ns_fd, CLONE_NEWNET) != 0) return errno;
  f();
  if (::setns(home.get(), CLONE_NEWNET) != 0) {
    // The thread would go on making every later socket in the wrong stack; there is no
    // safe way on from here.
    std::fprintf(stderr, "repy6: cannot return to the thread's network namespace: %s\n",
                 std::strerror(errno));
    std::abort();
  }
  return 0;
}

}  // namespace repy::detail
