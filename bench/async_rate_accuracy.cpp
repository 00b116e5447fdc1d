// async_rate_accuracy: how closely the nanny holds repy::async_send to its loopsend limit.
//
// For each limit it sends over a repy TCP connection on ::1 with repy::async_send (one
// io_context thread, which also drains the other end, a raw Asio socket) for about two
// seconds, and compares the rate it achieved with the limit. As in rate_accuracy, the
// bucket lets the first `limit` units through at once (Repy waits only while usage is
// above the limit), so those are not counted, nor is the last send, which may still be
// draining.
//
//   async_rate_accuracy [SECONDS]
// clang-format off
// First: Boost 1.74's awaitable.hpp uses std::exchange without including <utility>.
#include <utility>
// clang-format on

#include <fmt/format.h>

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <repy/asio.hpp>
#include <string>
#include <vector>

namespace {

namespace asio = boost::asio;
using asio::ip::tcp;

int free_tcp_port() {
  asio::io_context io;
  tcp::acceptor a(io, tcp::endpoint(asio::ip::address_v6::loopback(), 0));
  return a.local_endpoint().port();
}

struct Outcome {
  double charged = 0;
  double seconds = 0;
  std::size_t chunk = 0;
};

/// Reads everything that arrives until the peer closes.
asio::awaitable<void> drain(tcp::socket socket) {
  std::vector<char> buffer(1 << 16);
  try {
    for (;;) co_await socket.async_read_some(asio::buffer(buffer), asio::use_awaitable);
  } catch (const boost::system::system_error&) {
    // The sender closed.
  }
}

/// Sends `chunk`-byte pieces with async_send until about `seconds` have passed.
asio::awaitable<void> sender(repy::TCPSocket socket, std::size_t chunk, double seconds,
                             Outcome& outcome) {
  const auto ex = co_await asio::this_coro::executor;
  const std::string data(chunk, 'r');
  using clock = std::chrono::steady_clock;
  const auto start = clock::now();
  const auto stop = start + std::chrono::duration<double>(seconds);
  while (clock::now() < stop) co_await repy::async_send(ex, socket, data, asio::use_awaitable);
  outcome.seconds = std::chrono::duration<double>(clock::now() - start).count();
  socket.close();
}

Outcome run(double limit, double seconds) {
  asio::io_context io(1);
  tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::address_v6::loopback(), 0));
  const int to = acceptor.local_endpoint().port();
  const int from = free_tcp_port();
  repy::Context context(repy::Policy::parse(
      fmt::format("resource loopsend {}\nresource looprecv 1e11\nresource outsockets 4\n"
                  "resource insockets 4\nresource connport {}\n",
                  limit, from)));
  repy::TCPSocket socket = context.openconnection_ipv6("::1", to, "::1", from, 5.0);
  asio::co_spawn(io, drain(acceptor.accept()), asio::detached);
  Outcome outcome;
  // About a hundred sends a second, at most 64 KiB each (async_send splits what does not
  // fit Repy's socket buffer into several sends, each charged).
  outcome.chunk = static_cast<std::size_t>(std::clamp(limit / 100, 64.0, 65536.0));
  const double before = context.getresources().totals.at("loopsend");
  asio::co_spawn(io, sender(socket, outcome.chunk, seconds, outcome), [](std::exception_ptr e) {
    if (e) std::rethrow_exception(e);
  });
  io.run();
  outcome.charged = context.getresources().totals.at("loopsend") - before;
  return outcome;
}

}  // namespace

int main(int argc, char** argv) {
  const double seconds = argc > 1 ? std::atof(argv[1]) : 2.0;
  if (!(seconds > 0)) {
    std::fprintf(stderr, "usage: async_rate_accuracy [SECONDS > 0]\n");
    return 2;
  }
  fmt::print("{:>12} {:>8} {:>14} {:>10} {:>14} {:>9}\n", "limit (B/s)", "chunk", "charged (B)",
             "time (s)", "rate (B/s)", "rate/limit");
  for (double limit : {1e4, 1e5, 1e6, 1e7, 1e8}) {
    Outcome o = run(limit, seconds);
    // Everything past the first `limit` units was let through at `limit` per second; the
    // last send may still be draining, so count it as not yet paid for.
    const double paid = o.charged - limit - static_cast<double>(o.chunk);
    const double rate = paid / o.seconds;
    fmt::print("{:>12.0f} {:>8} {:>14.0f} {:>10.3f} {:>14.0f} {:>9.4f}\n", limit, o.chunk,
               o.charged, o.seconds, rate, rate / limit);
  }
}
