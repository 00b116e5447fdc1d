// repy6 against raw POSIX sockets over ::1, measured in the same run.
//
// Every benchmark exists twice, named ".../repy/..." and ".../raw/...", doing the same
// work through the public repy6 API and through plain system calls. Both sides follow
// the same algorithm (non-blocking sockets; a call that would block is retried after a
// poll), so the difference is the library's own cost: argument checks, policy, nanny
// accounting, locking, exceptions and std::string results. After the usual table the
// program prints one line per pair with the ratios repy/raw of real and CPU time.
//
//   network_bench [--benchmark_filter=REGEX] [--benchmark_repetitions=N] ...
#include <arpa/inet.h>
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <map>
#include <repy/repy.hpp>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "core/fd.hpp"

namespace {

using namespace std::chrono_literals;

constexpr std::size_t chunk_bytes = 64 * 1024;
constexpr std::size_t echo_bytes = 64;
constexpr int repy_tcp_cap = 10000;  // Repy's SO_SNDBUF/SO_RCVBUF cap for TCP

// ---- raw sockets -------------------------------------------------------------------

/// An fd the benchmark owns; closed exactly once.
using Fd = repy::detail::Fd;

[[noreturn]] void fail(const std::string& what) {
  throw std::runtime_error(what + ": " + std::strerror(errno));
}

sockaddr_in6 loopback(int port) {
  sockaddr_in6 sa{};
  sa.sin6_family = AF_INET6;
  sa.sin6_addr = in6addr_loopback;
  sa.sin6_port = htons(static_cast<std::uint16_t>(port));
  return sa;
}

int port_of(int fd) {
  sockaddr_in6 sa{};
  socklen_t len = sizeof sa;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len) != 0) fail("getsockname");
  return ntohs(sa.sin6_port);
}

struct RawOptions {
  int buffer = 0;  // SO_SNDBUF/SO_RCVBUF; 0 keeps the kernel's default
  bool nonblocking = true;
  bool reuseaddr = false;
};

/// A socket of `type` bound to [::1]:port, set up as Repy sets up its own.
Fd raw_socket(int type, int port, RawOptions options) {
  Fd fd(::socket(AF_INET6, type | SOCK_CLOEXEC | (options.nonblocking ? SOCK_NONBLOCK : 0), 0));
  if (fd.get() < 0) fail("socket");
  if (options.buffer > 0) {
    ::setsockopt(fd.get(), SOL_SOCKET, SO_SNDBUF, &options.buffer, sizeof options.buffer);
    ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVBUF, &options.buffer, sizeof options.buffer);
  }
  if (options.reuseaddr) {
    int on = 1;
    ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  }
  sockaddr_in6 sa = loopback(port);
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) fail("bind");
  return fd;
}

/// `n` distinct ports free on ::1 right now (held together while picked, so distinct).
std::vector<int> free_ports(std::size_t n, int type = SOCK_STREAM) {
  std::vector<Fd> held;
  std::vector<int> ports;
  for (std::size_t i = 0; i < n; ++i) {
    held.push_back(raw_socket(type, 0, {}));
    ports.push_back(port_of(held.back().get()));
  }
  return ports;
}

void wait_for(int fd, short events) {
  pollfd p{fd, events, 0};
  int r;
  do {
    r = ::poll(&p, 1, 5000);
  } while (r < 0 && errno == EINTR);
  if (r == 0) throw std::runtime_error("poll: nothing happened within 5 s");
  if (r < 0) fail("poll");
}

/// A connected raw TCP pair on ::1: the client end and the accepted end.
struct RawPair {
  Fd listener, client, accepted;
};

RawPair raw_pair(RawOptions options) {
  RawPair p;
  // The listener's buffers are set before listen() so accepted sockets inherit them,
  // as Repy does.
  p.listener = raw_socket(SOCK_STREAM, 0, options);
  if (::listen(p.listener.get(), 16) != 0) fail("listen");
  p.client = raw_socket(SOCK_STREAM, 0, options);
  sockaddr_in6 to = loopback(port_of(p.listener.get()));
  if (::connect(p.client.get(), reinterpret_cast<sockaddr*>(&to), sizeof to) != 0 &&
      errno != EINPROGRESS) {
    fail("connect");
  }
  wait_for(p.listener.get(), POLLIN);
  p.accepted = Fd(::accept4(p.listener.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK));
  if (p.accepted.get() < 0) fail("accept4");
  wait_for(p.client.get(), POLLOUT);
  return p;
}

/// send() of as much as fits; 0 when it would block.
std::size_t raw_send(int fd, std::string_view data) {
  ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
  if (n >= 0) return static_cast<std::size_t>(n);
  if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return 0;
  fail("send");
}

/// recv() of what has arrived; 0 when nothing has.
std::size_t raw_recv(int fd, char* buffer, std::size_t size) {
  ssize_t n = ::recv(fd, buffer, size, 0);
  if (n > 0) return static_cast<std::size_t>(n);
  if (n == 0) throw std::runtime_error("recv: the peer closed");
  if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return 0;
  fail("recv");
}

// ---- repy sockets ------------------------------------------------------------------

repy::Policy capped_policy() { return repy::Policy::unlimited(); }
repy::Policy kernel_buffer_policy() { return repy::Policy::unlimited().with_socket_buffers(0, 0); }

/// A connected repy TCP pair on ::1.
struct RepyPair {
  repy::Context ctx;
  repy::TCPServerSocket listener;
  repy::TCPSocket client, accepted;
};

RepyPair repy_pair(const repy::Policy& policy) {
  RepyPair p{repy::Context(policy), {}, {}, {}};
  auto ports = free_ports(2);
  p.listener = p.ctx.listenforconnection_ipv6("::1", ports[0]);
  p.client = p.ctx.openconnection_ipv6("::1", ports[0], "::1", ports[1], 5.0);
  if (!p.listener.wait_readable(5s)) throw std::runtime_error("no connection to accept");
  p.accepted = p.listener.getconnection().socket;
  return p;
}

/// send() of as much as fits; 0 when it would block.
std::size_t repy_send(repy::TCPSocket& s, std::string_view data) {
  try {
    return s.send(data);
  } catch (const repy::SocketWouldBlockError&) {
    return 0;
  }
}

/// recv() of what has arrived; 0 when nothing has.
std::size_t repy_recv(repy::TCPSocket& s, std::size_t size) {
  try {
    return s.recv(size).size();
  } catch (const repy::SocketWouldBlockError&) {
    return 0;
  }
}

/// Runs `body` and turns an exception into a benchmark error instead of an abort.
template <class F>
void guarded(benchmark::State& state, F&& body) {
  try {
    body();
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
  }
}

// ---- TCP throughput ----------------------------------------------------------------
// One thread moves each 64 KiB chunk from the client to the accepted end, alternating
// "send what fits" and "take what arrived", so no thread hand-off is measured.

void tcp_throughput_raw(benchmark::State& state, int buffer) {
  guarded(state, [&] {
    RawPair p = raw_pair({buffer, true, false});
    const std::string chunk(chunk_bytes, 'x');
    std::vector<char> sink(chunk_bytes);
    for (auto _ : state) {
      std::size_t sent = 0, received = 0;
      while (received < chunk_bytes) {
        if (sent < chunk_bytes)
          sent += raw_send(p.client.get(), std::string_view(chunk).substr(sent));
        std::size_t got = raw_recv(p.accepted.get(), sink.data(), chunk_bytes - received);
        received += got;
        if (got == 0 && sent == chunk_bytes) wait_for(p.accepted.get(), POLLIN);
      }
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * chunk_bytes));
  });
}

void tcp_throughput_repy(benchmark::State& state, const repy::Policy& policy) {
  guarded(state, [&] {
    RepyPair p = repy_pair(policy);
    const std::string chunk(chunk_bytes, 'x');
    for (auto _ : state) {
      std::size_t sent = 0, received = 0;
      while (received < chunk_bytes) {
        if (sent < chunk_bytes) sent += repy_send(p.client, std::string_view(chunk).substr(sent));
        std::size_t got = repy_recv(p.accepted, chunk_bytes - received);
        received += got;
        if (got == 0 && sent == chunk_bytes) p.accepted.wait_readable(5s);
      }
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * chunk_bytes));
  });
}

// ---- TCP round trip ----------------------------------------------------------------
// The client sends 64 bytes, an echo thread on the accepted end sends them back, the
// client waits for all 64. Both ends use the same API.

void tcp_echo_raw(benchmark::State& state) {
  guarded(state, [&] {
    RawPair p = raw_pair({repy_tcp_cap, true, false});
    std::atomic<bool> stop{false};
    std::thread echo([&] {
      char buffer[echo_bytes];
      try {
        while (!stop.load()) {
          pollfd pfd{p.accepted.get(), POLLIN, 0};
          if (::poll(&pfd, 1, 100) <= 0) continue;
          std::size_t got = raw_recv(p.accepted.get(), buffer, sizeof buffer);
          for (std::size_t off = 0; off < got;) {
            std::size_t n = raw_send(p.accepted.get(), std::string_view(buffer + off, got - off));
            if (n == 0) wait_for(p.accepted.get(), POLLOUT);
            off += n;
          }
        }
      } catch (const std::exception&) {
        // The client closed: the benchmark is over.
      }
    });
    const std::string message(echo_bytes, 'e');
    char reply[echo_bytes];
    for (auto _ : state) {
      for (std::size_t off = 0; off < echo_bytes;) {
        std::size_t n = raw_send(p.client.get(), std::string_view(message).substr(off));
        if (n == 0) wait_for(p.client.get(), POLLOUT);
        off += n;
      }
      for (std::size_t got = 0; got < echo_bytes;) {
        wait_for(p.client.get(), POLLIN);
        got += raw_recv(p.client.get(), reply, echo_bytes - got);
      }
    }
    stop = true;
    p.client.reset();
    echo.join();
    state.SetItemsProcessed(state.iterations());
  });
}

void tcp_echo_repy(benchmark::State& state) {
  guarded(state, [&] {
    RepyPair p = repy_pair(capped_policy());
    std::atomic<bool> stop{false};
    std::thread echo([&] {
      try {
        while (!stop.load()) {
          if (!p.accepted.wait_readable(100ms)) continue;
          std::string got = p.accepted.recv(echo_bytes);
          for (std::size_t off = 0; off < got.size();) {
            std::size_t n = repy_send(p.accepted, std::string_view(got).substr(off));
            if (n == 0) p.accepted.wait_writable(5s);
            off += n;
          }
        }
      } catch (const std::exception&) {
        // SocketClosedRemote (or a would-block race at the end): the benchmark is over.
      }
    });
    const std::string message(echo_bytes, 'e');
    for (auto _ : state) {
      for (std::size_t off = 0; off < echo_bytes;) {
        std::size_t n = repy_send(p.client, std::string_view(message).substr(off));
        if (n == 0) p.client.wait_writable(5s);
        off += n;
      }
      for (std::size_t got = 0; got < echo_bytes;) {
        if (!p.client.wait_readable(5s)) throw std::runtime_error("no echo within 5 s");
        got += repy_recv(p.client, echo_bytes - got);
      }
    }
    stop = true;
    p.client.close();
    echo.join();
    state.SetItemsProcessed(state.iterations());
  });
}

// ---- UDP: one datagram sent and taken --------------------------------------------
// "listener_socket": the sender's local port is a socket kept open (for repy, a
// UDPServerSocket on that port, which sendmessage_ipv6 sends through).
// "new_socket": every message goes out on a socket made, bound and closed for it (what
// sendmessage_ipv6 does when no listener holds its local address).

void udp_raw(benchmark::State& state, bool new_socket) {
  guarded(state, [&] {
    const auto size = static_cast<std::size_t>(state.range(0));
    auto ports = free_ports(2, SOCK_DGRAM);
    Fd receiver = raw_socket(SOCK_DGRAM, ports[0], {});
    Fd sender;
    if (!new_socket) sender = raw_socket(SOCK_DGRAM, ports[1], {});
    const std::string message(size, 'u');
    std::vector<char> buffer(65536);
    const sockaddr_in6 to = loopback(ports[0]);
    for (auto _ : state) {
      Fd fresh;
      if (new_socket) fresh = raw_socket(SOCK_DGRAM, ports[1], {0, true, true});
      const int out = new_socket ? fresh.get() : sender.get();
      if (::sendto(out, message.data(), message.size(), MSG_NOSIGNAL,
                   reinterpret_cast<const sockaddr*>(&to), sizeof to) < 0) {
        fail("sendto");
      }
      while (true) {
        sockaddr_in6 from{};
        socklen_t len = sizeof from;
        ssize_t n = ::recvfrom(receiver.get(), buffer.data(), buffer.size(), 0,
                               reinterpret_cast<sockaddr*>(&from), &len);
        if (n >= 0) break;
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) fail("recvfrom");
        wait_for(receiver.get(), POLLIN);
      }
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * size));
    state.SetItemsProcessed(state.iterations());
  });
}

void udp_repy(benchmark::State& state, bool new_socket) {
  guarded(state, [&] {
    const auto size = static_cast<std::size_t>(state.range(0));
    repy::Context ctx(capped_policy());
    auto ports = free_ports(2, SOCK_DGRAM);
    repy::UDPServerSocket receiver = ctx.listenformessage_ipv6("::1", ports[0]);
    repy::UDPServerSocket sender;
    if (!new_socket) sender = ctx.listenformessage_ipv6("::1", ports[1]);
    const std::string message(size, 'u');
    for (auto _ : state) {
      ctx.sendmessage_ipv6("::1", ports[0], message, "::1", ports[1]);
      while (true) {
        try {
          benchmark::DoNotOptimize(receiver.getmessage());
          break;
        } catch (const repy::SocketWouldBlockError&) {
          receiver.wait_readable(5s);
        }
      }
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * size));
    state.SetItemsProcessed(state.iterations());
  });
}

// ---- TCP connection set-up and tear-down ------------------------------------------
// The accepted end closes first, so TIME_WAIT stays on the listener's side and the
// client's local ports (a small pool, as Repy needs an explicit local port) can be
// reused at once.

constexpr std::size_t client_port_pool = 32;

void connect_raw(benchmark::State& state) {
  guarded(state, [&] {
    auto ports = free_ports(1 + client_port_pool);
    Fd listener = raw_socket(SOCK_STREAM, ports[0], {repy_tcp_cap, false, true});
    if (::listen(listener.get(), 16) != 0) fail("listen");
    const sockaddr_in6 to = loopback(ports[0]);
    std::size_t next = 0;
    for (auto _ : state) {
      const int local = ports[1 + next++ % client_port_pool];
      Fd client = raw_socket(SOCK_STREAM, local, {repy_tcp_cap, false, true});
      if (::connect(client.get(), reinterpret_cast<const sockaddr*>(&to), sizeof to) != 0) {
        fail("connect from port " + std::to_string(local));
      }
      Fd accepted(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
      if (accepted.get() < 0) fail("accept4");
      accepted.reset();
      client.reset();
    }
    state.SetItemsProcessed(state.iterations());
  });
}

void connect_repy(benchmark::State& state) {
  guarded(state, [&] {
    repy::Context ctx(capped_policy());
    auto ports = free_ports(1 + client_port_pool);
    repy::TCPServerSocket listener = ctx.listenforconnection_ipv6("::1", ports[0]);
    std::size_t next = 0;
    for (auto _ : state) {
      const int local = ports[1 + next++ % client_port_pool];
      repy::TCPSocket client = ctx.openconnection_ipv6("::1", ports[0], "::1", local, 5.0);
      if (!listener.wait_readable(5s)) throw std::runtime_error("no connection to accept");
      repy::TCPSocket accepted = listener.getconnection().socket;
      accepted.close();
      client.close();
    }
    state.SetItemsProcessed(state.iterations());
  });
}

// ---- registration ------------------------------------------------------------------

void register_all() {
  // Real time throughout: the rate counters then match wall-clock time, which is what
  // counts when a second thread (the echo) or the kernel does part of the work.
  auto add = [](const std::string& name, auto fn) {
    return benchmark::RegisterBenchmark(name.c_str(), fn)->UseRealTime();
  };
  add("tcp_throughput/repy/capped_10000",
      [](benchmark::State& s) { tcp_throughput_repy(s, capped_policy()); });
  add("tcp_throughput/raw/capped_10000",
      [](benchmark::State& s) { tcp_throughput_raw(s, repy_tcp_cap); });
  add("tcp_throughput/repy/kernel_buffers",
      [](benchmark::State& s) { tcp_throughput_repy(s, kernel_buffer_policy()); });
  add("tcp_throughput/raw/kernel_buffers", [](benchmark::State& s) { tcp_throughput_raw(s, 0); });
  add("tcp_echo_64/repy", tcp_echo_repy);
  add("tcp_echo_64/raw", tcp_echo_raw);
  for (bool fresh : {false, true}) {
    const std::string kind = fresh ? "new_socket" : "listener_socket";
    add("udp_message/repy/" + kind, [fresh](benchmark::State& s) { udp_repy(s, fresh); })
        ->Arg(64)
        ->Arg(1400);
    add("udp_message/raw/" + kind, [fresh](benchmark::State& s) { udp_raw(s, fresh); })
        ->Arg(64)
        ->Arg(1400);
  }
  add("tcp_connect_accept_close/repy", connect_repy);
  add("tcp_connect_accept_close/raw", connect_raw);
}

// ---- ratio report ------------------------------------------------------------------

/// The console table, then one line per repy/raw pair: the ratios of their real and
/// CPU times per iteration (medians over repetitions when there are several). CPU time
/// is the benchmark thread's (with the kernel work done on its behalf); it is steadier
/// than real time on a loaded machine, but misses the echo thread of tcp_echo_64.
class RatioReporter : public benchmark::ConsoleReporter {
 public:
  // Colour only on a terminal, as the library's own console reporter does by default.
  RatioReporter() : ConsoleReporter(::isatty(STDOUT_FILENO) ? OO_Color : OO_None) {}

  void ReportRuns(const std::vector<Run>& reports) override {
    ConsoleReporter::ReportRuns(reports);
    for (const Run& run : reports) {
      if (run.error_occurred) continue;
      if (run.run_type == Run::RT_Iteration) {
        auto& t = singles_[run.benchmark_name()];
        t.real.push_back(run.GetAdjustedRealTime());
        t.cpu.push_back(run.GetAdjustedCPUTime());
      } else if (run.aggregate_name == "median") {
        // With --benchmark_report_aggregates_only the single runs never arrive.
        medians_[run.run_name.str()] = {run.GetAdjustedRealTime(), run.GetAdjustedCPUTime()};
      }
    }
  }

  void Finalize() override {
    ConsoleReporter::Finalize();
    for (const auto& [name, t] : singles_) {
      if (!medians_.count(name)) medians_[name] = {median(t.real), median(t.cpu)};
    }
    bool header = false;
    for (const auto& [name, repy] : medians_) {
      const auto at = name.find("/repy");
      if (at == std::string::npos) continue;
      std::string raw_name = name;
      raw_name.replace(at, 5, "/raw");
      auto found = medians_.find(raw_name);
      if (found == medians_.end()) continue;
      const Times& raw = found->second;
      if (!header) {
        std::printf("\n%-46s %11s %11s %9s %11s %11s %9s\n", "repy vs raw, per iteration (median)",
                    "real repy", "real raw", "repy/raw", "cpu repy", "cpu raw", "repy/raw");
        header = true;
      }
      std::printf("%-46s %11.0f %11.0f %9.2f %11.0f %11.0f %9.2f\n", name.c_str(), repy.real,
                  raw.real, ratio(repy.real, raw.real), repy.cpu, raw.cpu,
                  ratio(repy.cpu, raw.cpu));
    }
    if (header) std::printf("(times in ns)\n");
  }

 private:
  struct Times {
    double real = 0, cpu = 0;
  };
  struct Samples {
    std::vector<double> real, cpu;
  };
  static double ratio(double a, double b) { return b > 0 ? a / b : 0.0; }
  static double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    const std::size_t n = v.size();
    return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
  }
  std::map<std::string, Samples> singles_;
  std::map<std::string, Times> medians_;
};

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  register_all();
  RatioReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  return 0;
}
