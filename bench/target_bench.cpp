// The hot paths that have speed targets, each next to its raw-socket twin: polling an
// empty socket, Repy-style bulk TCP on 10000-byte buffers, datagrams through a
// listener, and one nanny charge. add_targets() lists the targets the ratio table
// judges (ratio_report.hpp).
#include <benchmark/benchmark.h>
#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <repy/repy.hpp>
#include <stdexcept>
#include <stop_token>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "bench_support.hpp"
#include "ratio_report.hpp"
#ifdef REPY6_STATIC
#include "core/access.hpp"
#include "nanny/nanny.hpp"
#endif

namespace bench {

namespace {

using namespace std::chrono_literals;

// ---- polling an empty socket -------------------------------------------------------
// What a program that polls pays each time nothing has arrived: a raw recv() that
// fails with EAGAIN, against try_recv() (nullopt) and recv() (a SocketWouldBlockError
// thrown and caught). `raise` adds to the raw loop what C++ itself charges for
// recv()'s exception: a prepared SocketWouldBlockError thrown in the frame that
// catches it, the cheapest throw there is.

constexpr std::size_t poll_bytes = 10000;

void would_block_raw(benchmark::State& state, bool raise) {
  guarded(state, [&] {
    RawPair p = raw_pair({repy_tcp_cap, true, false});
    const repy::SocketWouldBlockError prepared("TCPSocket.recv: no data has arrived yet");
    std::vector<char> buffer(poll_bytes);
    for (auto _ : state) {
      ssize_t n = ::recv(p.accepted.get(), buffer.data(), buffer.size(), 0);
      if (n >= 0) throw std::runtime_error("recv: data on a socket nobody sends to");
      if (errno != EAGAIN && errno != EWOULDBLOCK) fail("recv");
      benchmark::DoNotOptimize(n);
      if (raise) {
        try {
          throw prepared;
        } catch (const repy::SocketWouldBlockError&) {
        }
      }
    }
  });
}

void would_block_repy(benchmark::State& state, bool metered) {
  guarded(state, [&] {
    auto ports = free_ports(2);
    RepyPair p = repy_pair(metered ? metered_policy(ports) : capped_policy(), ports);
    for (auto _ : state) {
      auto got = p.accepted.try_recv(poll_bytes);
      if (got) throw std::runtime_error("try_recv: data on a socket nobody sends to");
      benchmark::DoNotOptimize(got);
    }
  });
}

// A function of its own, as small as would_block_raw: the unwinder's work in the
// catching frame grows with the frame.
void would_block_repy_caught(benchmark::State& state) {
  guarded(state, [&] {
    RepyPair p = repy_pair(capped_policy());
    for (auto _ : state) {
      try {
        benchmark::DoNotOptimize(p.accepted.recv(poll_bytes));
        throw std::runtime_error("recv: data on a socket nobody sends to");
      } catch (const repy::SocketWouldBlockError&) {
      }
    }
  });
}

// ---- Repy-style bulk TCP on 10000-byte buffers --------------------------------------
// A sender thread offers 10000-byte chunks (the rest of a chunk after a partial send),
// the benchmark thread takes up to 10000 bytes at a time until a block has arrived;
// each side waits for readiness only when its call says "not now". Both ends have
// Repy's 10000-byte SO_SNDBUF/SO_RCVBUF; both threads run on one core (OneCore).

constexpr std::size_t bulk_chunk = 10000;
constexpr std::size_t bulk_block = 100000;  // bytes per iteration

// `fin_check`: like Repy's send, look for the peer's FIN with a one-byte MSG_PEEK recv
// before each send; the syscall repy6 adds to every send, made here for comparison.
// `copy_out`: also copy each chunk received into a std::string, as recv() returns it.
void bulk_raw(benchmark::State& state, bool fin_check, bool copy_out) {
  guarded(state, [&] {
    RawPair p = raw_pair({repy_tcp_cap, true, false});
    const OneCore core;
    std::jthread sender([&](std::stop_token stop) {
      core.share();
      const std::string chunk(bulk_chunk, 'b');
      std::size_t off = 0;
      while (!stop.stop_requested()) {
        char probe;
        if (fin_check && ::recv(p.client.get(), &probe, 1, MSG_PEEK | MSG_DONTWAIT) == 0) return;
        ssize_t n = ::send(p.client.get(), chunk.data() + off, bulk_chunk - off, MSG_NOSIGNAL);
        if (n > 0) {
          off = (off + static_cast<std::size_t>(n)) % bulk_chunk;
          continue;
        }
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) return;
        pollfd pfd{p.client.get(), POLLOUT, 0};
        ::poll(&pfd, 1, 20);  // short, so that a stop request is seen soon
      }
    });
    std::vector<char> buffer(bulk_chunk);
    for (auto _ : state) {
      for (std::size_t got = 0; got < bulk_block;) {
        ssize_t n = ::recv(p.accepted.get(), buffer.data(), buffer.size(), 0);
        if (n > 0) {
          got += static_cast<std::size_t>(n);
          if (copy_out) {
            std::string data(buffer.data(), static_cast<std::size_t>(n));
            benchmark::DoNotOptimize(data);
          }
          continue;
        }
        if (n == 0) throw std::runtime_error("recv: the sender closed");
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) fail("recv");
        wait_for(p.accepted.get(), POLLIN);
      }
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * bulk_block));
  });
}

void bulk_repy(benchmark::State& state) {
  guarded(state, [&] {
    RepyPair p = repy_pair(capped_policy());
    const OneCore core;
    std::jthread sender([&](std::stop_token stop) {
      core.share();
      const std::string chunk(bulk_chunk, 'b');
      std::size_t off = 0;
      try {
        while (!stop.stop_requested()) {
          if (auto n = p.client.try_send(std::string_view(chunk).substr(off))) {
            off = (off + *n) % bulk_chunk;
            continue;
          }
          p.client.wait_writable(20ms);  // short, so that a stop request is seen soon
        }
      } catch (const repy::NetworkError&) {
        // The receiving end went away: the benchmark is over.
      }
    });
    for (auto _ : state) {
      for (std::size_t got = 0; got < bulk_block;) {
        if (auto data = p.accepted.try_recv(bulk_chunk)) {
          got += data->size();
          continue;
        }
        if (!p.accepted.wait_readable(5s)) throw std::runtime_error("no data within 5 s");
      }
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * bulk_block));
  });
}

// ---- UDP through a listener ---------------------------------------------------------
// One datagram from a bound socket to another and taken there. For repy the sender's
// local end is a UDPServerSocket of the same context, so sendmessage_ipv6 sends
// through it; "metered" runs under a parsed policy whose rates are far above use.
// `copy_out` adds to the raw loop what any getmessage() pays to return the datagram as
// the contract's std::string: an allocation and a copy.

constexpr int repy_udp_cap = 66000;  // Repy's SO_SNDBUF/SO_RCVBUF cap for UDP

void udp_listener_raw(benchmark::State& state, bool copy_out) {
  guarded(state, [&] {
    const auto size = static_cast<std::size_t>(state.range(0));
    auto ports = free_ports(2, SOCK_DGRAM);
    Fd receiver = raw_socket(SOCK_DGRAM, ports[0], {repy_udp_cap, true, false});
    Fd sender = raw_socket(SOCK_DGRAM, ports[1], {repy_udp_cap, true, false});
    const std::string message(size, 'u');
    std::vector<char> buffer(65536);
    const sockaddr_in6 to = loopback(ports[0]);
    for (auto _ : state) {
      raw_send_datagram(sender.get(), message, to);
      const std::size_t n = raw_take_datagram(receiver.get(), buffer);
      if (copy_out) {
        std::string data(buffer.data(), n);
        benchmark::DoNotOptimize(data);
      }
    }
    state.SetItemsProcessed(state.iterations());
  });
}

enum class Take { getmessage, try_getmessage };

repy::Message take_message(repy::UDPServerSocket& receiver, Take how) {
  for (;;) {
    if (how == Take::try_getmessage) {
      if (auto message = receiver.try_getmessage()) return std::move(*message);
    } else {
      try {
        return receiver.getmessage();
      } catch (const repy::SocketWouldBlockError&) {
      }
    }
    if (!receiver.wait_readable(5s)) throw std::runtime_error("no datagram within 5 s");
  }
}

void udp_listener_repy(benchmark::State& state, Take how, bool metered) {
  guarded(state, [&] {
    const auto size = static_cast<std::size_t>(state.range(0));
    auto ports = free_ports(2, SOCK_DGRAM);
    repy::Context ctx(metered ? metered_policy(ports) : capped_policy());
    repy::UDPServerSocket receiver = ctx.listenformessage_ipv6("::1", ports[0]);
    repy::UDPServerSocket sender = ctx.listenformessage_ipv6("::1", ports[1]);
    const std::string message(size, 'u');
    for (auto _ : state) {
      ctx.sendmessage_ipv6("::1", ports[0], message, "::1", ports[1]);
      benchmark::DoNotOptimize(take_message(receiver, how));
    }
    state.SetItemsProcessed(state.iterations());
  });
}

// ---- one nanny charge ---------------------------------------------------------------
// What every socket call adds: charging loopsend on a metered context (metered_policy:
// the token bucket's arithmetic runs in full). With two threads
// both charge the same resource of the same nanny. The nanny is repy::detail, which
// only a static librepy6 lets a program call.

#ifdef REPY6_STATIC
void nanny_charge(benchmark::State& state) {
  static const repy::Policy policy = metered_policy({});
  static repy::detail::Nanny nanny(repy::detail::data(policy));
  for (auto _ : state) nanny.charge(repy::detail::Resource::loopsend, 64.0 + 1400);
}
#endif

}  // namespace

void register_target_benchmarks() {
  add("would_block_poll/raw", [](benchmark::State& s) { would_block_raw(s, false); });
  add("would_block_poll/repy/try_recv", [](benchmark::State& s) { would_block_repy(s, false); });
  // The same raw twin under a name of its own, so that only recv() is compared with
  // raw_raise.
  add("would_block_raise/raw", [](benchmark::State& s) { would_block_raw(s, false); });
  add("would_block_raise/raw_raise", [](benchmark::State& s) { would_block_raw(s, true); });
  add("would_block_raise/repy/recv_caught", would_block_repy_caught);
  add("would_block_poll/repy/metered_try_recv",
      [](benchmark::State& s) { would_block_repy(s, true); });

  // The CPU time of both threads, sender and receiver.
  add("bulk_tcp_10000/raw", [](benchmark::State& s) {
    bulk_raw(s, false, false);
  })->MeasureProcessCPUTime();
  add("bulk_tcp_10000/raw_fin_check_copy_out", [](benchmark::State& s) {
    bulk_raw(s, true, true);
  })->MeasureProcessCPUTime();
  add("bulk_tcp_10000/raw_fin_check", [](benchmark::State& s) {
    bulk_raw(s, true, false);
  })->MeasureProcessCPUTime();
  add("bulk_tcp_10000/repy/try", bulk_repy)->MeasureProcessCPUTime();

  add("udp_listener/raw", [](benchmark::State& s) { udp_listener_raw(s, false); })
      ->Arg(64)
      ->Arg(1400);
  add("udp_listener/raw_copy_out", [](benchmark::State& s) { udp_listener_raw(s, true); })
      ->Arg(64)
      ->Arg(1400);
  const std::pair<const char*, Take> takes[] = {{"getmessage", Take::getmessage},
                                                {"try_getmessage", Take::try_getmessage}};
  for (auto [name, how] : takes) {
    for (bool metered : {false, true}) {
      const std::string variant = std::string(metered ? "metered_" : "") + name;
      add("udp_listener/repy/" + variant,
          [how = how, metered](benchmark::State& s) { udp_listener_repy(s, how, metered); })
          ->Arg(64)
          ->Arg(1400);
    }
  }

#ifdef REPY6_STATIC
  // CPU time, per thread: see RatioReporter::print_nanny.
  benchmark::RegisterBenchmark("nanny_charge/loopsend_1e11", nanny_charge)->Threads(1)->Threads(2);
#endif
}

void add_targets(RatioReporter& reporter) {
  reporter.add_target("would_block_poll/repy/try_recv", 0.9);
  reporter.add_target("would_block_raise/repy/recv_caught", 0.33);
  reporter.add_target("bulk_tcp_10000/repy/", 0.95);
  reporter.add_target("udp_listener/repy/", 0.95);
}

}  // namespace bench
