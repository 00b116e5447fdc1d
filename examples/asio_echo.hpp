// The server loop of the Asio echo example as coroutines, in a header of its own so
// that benchmarks and tests can run the very same loop: serve() takes connections and
// runs one session() per connection, all on the calling coroutine's executor (one
// thread serves them all when one thread runs the io_context).
//
//   asio::co_spawn(io, examples::asio_echo::serve(server, stats), asio::detached);
#pragma once

// clang-format off
// First: Boost 1.74's awaitable.hpp uses std::exchange without including <utility>.
#include <utility>
// clang-format on

#include <algorithm>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <repy/asio.hpp>
#include <string>

namespace examples::asio_echo {

/// What a server has done so far. One thread runs the server, so plain counters do.
struct Stats {
  std::size_t accepted = 0;    // connections taken
  std::size_t refused = 0;     // connections closed for want of an outsocket
  std::size_t open = 0;        // sessions running now
  std::size_t peak = 0;        // most sessions running at once
  std::size_t failed = 0;      // sessions ended by an error other than the peer's close
  std::uint64_t echoed = 0;    // bytes sent back
  bool accepting = true;       // serve() has not returned yet
  std::function<void()> idle;  // called once nothing is accepting or running any more

  void session_ended() {
    --open;
    if (!accepting && open == 0 && idle) idle();
  }
  void accepting_ended() {
    accepting = false;
    if (open == 0 && idle) idle();
  }
};

/// Sends back what `socket` receives until the peer closes or an error ends it, then
/// closes the socket. Rate limits slow it down; they never block the thread.
inline boost::asio::awaitable<void> session(repy::TCPSocket socket, Stats& stats,
                                            std::size_t chunk = 4096) {
  namespace asio = boost::asio;
  const auto ex = co_await asio::this_coro::executor;
  ++stats.open;
  stats.peak = std::max(stats.peak, stats.open);
  try {
    for (;;) {
      std::string data = co_await repy::async_recv(ex, socket, chunk, asio::use_awaitable);
      stats.echoed += co_await repy::async_send(ex, socket, std::move(data), asio::use_awaitable);
    }
  } catch (const repy::SocketClosedRemote&) {
    // The client is done.
  } catch (const repy::SocketClosedLocal&) {
    // Closed here: the server is stopping.
  } catch (const repy::RepyException&) {
    ++stats.failed;
  }
  socket.close();
  stats.session_ended();
}

/// Takes connections on `server` and runs a session() for each, until `limit` were
/// taken (0: no limit) or `server` is closed.
/// @throws ResourceExhaustedError when a rate limit getconnection() needs is 0: no
/// connection can ever be taken then.
inline boost::asio::awaitable<void> serve(repy::TCPServerSocket server, Stats& stats,
                                          std::size_t limit = 0) {
  namespace asio = boost::asio;
  const auto ex = co_await asio::this_coro::executor;
  try {
    while (limit == 0 || stats.accepted < limit) {
      repy::Connection client;
      try {
        client = co_await repy::async_getconnection(ex, server, asio::use_awaitable);
      } catch (const repy::ResourceExhaustedError&) {
        // No outsocket left: that connection was closed; a later one may find one. A
        // rate limit of 0 never changes, and rate_ready_at() raises it again.
        (void)server.rate_ready_at();
        ++stats.refused;
        continue;
      }
      ++stats.accepted;
      asio::co_spawn(ex, session(std::move(client.socket), stats), asio::detached);
    }
  } catch (const repy::SocketClosedLocal&) {
    // The server was closed: stop taking connections.
  }
  stats.accepting_ended();
}

}  // namespace examples::asio_echo
