// repy6 against raw POSIX sockets over ::1, measured in the same run.
//
// Every benchmark exists twice, named ".../repy/..." and ".../raw/...", doing the same
// work through the public repy6 API and through plain system calls. Both sides follow
// the same algorithm (non-blocking sockets; a call that would block is retried after a
// poll), so the difference is the library's own cost: argument checks, policy, nanny
// accounting, locking, exceptions and std::string results. After the usual table the
// program prints the speed of each repy benchmark against its raw twin (raw time / repy
// time) and the targets of target_bench.cpp (see ratio_report.hpp).
//
// This file holds the whole operations (throughput, echo, a datagram on a new socket,
// connection set-up); target_bench.cpp the hot paths that have speed targets.
//
//   network_bench [--benchmark_filter=REGEX] [--benchmark_repetitions=N] ...
#include <benchmark/benchmark.h>
#include <poll.h>
#include <sys/socket.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <repy/repy.hpp>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "bench_support.hpp"
#include "ratio_report.hpp"

namespace bench {

namespace {

using namespace std::chrono_literals;

constexpr std::size_t chunk_bytes = 64 * 1024;
constexpr std::size_t echo_bytes = 64;

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

// ---- UDP: one datagram through a new socket --------------------------------------
// Every message goes out on a socket made, bound and closed for it (what
// sendmessage_ipv6 does when no listener holds its local address). The case of a
// listening socket is in target_bench.cpp.

void udp_new_socket_raw(benchmark::State& state) {
  guarded(state, [&] {
    const auto size = static_cast<std::size_t>(state.range(0));
    auto ports = free_ports(2, SOCK_DGRAM);
    Fd receiver = raw_socket(SOCK_DGRAM, ports[0], {});
    const std::string message(size, 'u');
    std::vector<char> buffer(65536);
    const sockaddr_in6 to = loopback(ports[0]);
    for (auto _ : state) {
      Fd fresh = raw_socket(SOCK_DGRAM, ports[1], {0, true, true});
      raw_send_datagram(fresh.get(), message, to);
      raw_take_datagram(receiver.get(), buffer);
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * size));
    state.SetItemsProcessed(state.iterations());
  });
}

void udp_new_socket_repy(benchmark::State& state) {
  guarded(state, [&] {
    const auto size = static_cast<std::size_t>(state.range(0));
    repy::Context ctx(capped_policy());
    auto ports = free_ports(2, SOCK_DGRAM);
    repy::UDPServerSocket receiver = ctx.listenformessage_ipv6("::1", ports[0]);
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

}  // namespace

// ---- registration ------------------------------------------------------------------

void register_network_benchmarks() {
  add("tcp_throughput/repy/capped_10000",
      [](benchmark::State& s) { tcp_throughput_repy(s, capped_policy()); });
  add("tcp_throughput/raw/capped_10000",
      [](benchmark::State& s) { tcp_throughput_raw(s, repy_tcp_cap); });
  add("tcp_throughput/repy/kernel_buffers",
      [](benchmark::State& s) { tcp_throughput_repy(s, kernel_buffer_policy()); });
  add("tcp_throughput/raw/kernel_buffers", [](benchmark::State& s) { tcp_throughput_raw(s, 0); });
  add("tcp_echo_64/repy", tcp_echo_repy);
  add("tcp_echo_64/raw", tcp_echo_raw);
  add("udp_message/repy/new_socket", udp_new_socket_repy)->Arg(64)->Arg(1400);
  add("udp_message/raw/new_socket", udp_new_socket_raw)->Arg(64)->Arg(1400);
  add("tcp_connect_accept_close/repy", connect_repy);
  add("tcp_connect_accept_close/raw", connect_raw);
}

}  // namespace bench

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  bench::register_network_benchmarks();
  bench::register_target_benchmarks();
  bench::RatioReporter reporter;
  bench::add_targets(reporter);
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  return 0;
}
