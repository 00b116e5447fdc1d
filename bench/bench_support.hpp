// What the benchmarks share: raw sockets set up as Repy sets up its own, connected repy
// pairs, and the would-block helpers of both sides.
#pragma once

#include <benchmark/benchmark.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/socket.h>

#include <cstddef>
#include <exception>
#include <repy/repy.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "core/fd.hpp"

namespace bench {

/// Repy's SO_SNDBUF/SO_RCVBUF cap for TCP.
inline constexpr int repy_tcp_cap = 10000;

// ---- raw sockets -------------------------------------------------------------------

/// An fd the benchmark owns; closed exactly once.
using Fd = repy::detail::Fd;

/// Throws std::runtime_error "what: strerror(errno)".
[[noreturn]] void fail(const std::string& what);

sockaddr_in6 loopback(int port);
int port_of(int fd);

struct RawOptions {
  int buffer = 0;  // SO_SNDBUF/SO_RCVBUF; 0 keeps the kernel's default
  bool nonblocking = true;
  bool reuseaddr = false;
};

/// A socket of `type` bound to [::1]:port, set up as Repy sets up its own.
Fd raw_socket(int type, int port, RawOptions options);

/// `n` distinct ports free on ::1 right now (held together while picked, so distinct).
std::vector<int> free_ports(std::size_t n, int type = SOCK_STREAM);

/// poll() for `events` on `fd`, at most 5 s (then std::runtime_error).
void wait_for(int fd, short events);

/// A connected raw TCP pair on ::1: the client end and the accepted end.
struct RawPair {
  Fd listener, client, accepted;
};
RawPair raw_pair(RawOptions options);

/// send() of as much as fits; 0 when it would block.
std::size_t raw_send(int fd, std::string_view data);

/// recv() of what has arrived; 0 when nothing has.
std::size_t raw_recv(int fd, char* buffer, std::size_t size);

/// sendto() of one datagram.
void raw_send_datagram(int fd, std::string_view message, const sockaddr_in6& to);

/// recvfrom() of one datagram into `buffer`, waiting with poll() while none has arrived;
/// returns its size.
std::size_t raw_take_datagram(int fd, std::vector<char>& buffer);

// ---- repy sockets ------------------------------------------------------------------

/// Policy::unlimited(): Repy's capped buffers, no rate limit.
repy::Policy capped_policy();
/// Policy::unlimited() with the kernel's socket buffers.
repy::Policy kernel_buffer_policy();
/// A parsed policy whose four network rates are far above any use: 1e11 per second,
/// hundreds of times what ::1 carries here, yet high enough that a 64-byte charge still
/// costs the bucket a whole nanosecond, so every call runs the nanny's metered path in
/// full (clock, bucket arithmetic, compare-and-swap) without ever waiting. `ports` are
/// allowed as messport and connport.
repy::Policy metered_policy(const std::vector<int>& ports);

/// A connected repy TCP pair on ::1: listening on ports[0], the client on ports[1]
/// (two free ports when not given).
struct RepyPair {
  repy::Context ctx;
  repy::TCPServerSocket listener;
  repy::TCPSocket client, accepted;
};
RepyPair repy_pair(const repy::Policy& policy, const std::vector<int>& ports);
RepyPair repy_pair(const repy::Policy& policy);

/// send() of as much as fits; 0 when it would block.
std::size_t repy_send(repy::TCPSocket& s, std::string_view data);

/// recv() of what has arrived; 0 when nothing has.
std::size_t repy_recv(repy::TCPSocket& s, std::size_t size);

/// Keeps the threads of a two-thread benchmark on one CPU: the one the creating thread
/// runs on when made, for itself at once and for any other thread that calls share().
/// The creating thread gets its old CPU set back when this is destroyed. Why: a loop of
/// small sends between two threads runs two to three times slower when the scheduler
/// happens to put them on different cores of this 2-core machine, a choice that changes
/// from one run to the next and would swamp the cost being measured.
class OneCore {
 public:
  OneCore();
  ~OneCore();
  OneCore(const OneCore&) = delete;
  OneCore& operator=(const OneCore&) = delete;
  void share() const;

 private:
  cpu_set_t old_{};
  int cpu_ = 0;
};

/// Runs `body` and turns an exception into a benchmark error instead of an abort.
template <class F>
void guarded(benchmark::State& state, F&& body) {
  try {
    body();
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
  }
}

/// Registers a benchmark timed in real time, so that the rate counters match the wall
/// clock (what counts when a second thread or the kernel does part of the work).
template <class F>
benchmark::internal::Benchmark* add(const std::string& name, F fn) {
  return benchmark::RegisterBenchmark(name.c_str(), fn)->UseRealTime();
}

class RatioReporter;

/// The benchmarks of network_bench.cpp (whole operations) and of target_bench.cpp (the
/// hot paths with speed targets), and those targets.
void register_network_benchmarks();
void register_target_benchmarks();
void add_targets(RatioReporter& reporter);

}  // namespace bench
