// asio_echo_client: opens many connections to an echo server at once, on one thread
// (Boost.Asio coroutines over <repy/asio.hpp>), sends the message on each and checks
// that it comes back, under an optional Repy restrictions file.
//
//   asio_echo_client --remote-ip ::1 --remote-port 12345 --connections 100
// clang-format off
// First: Boost 1.74's awaitable.hpp uses std::exchange without including <utility>.
#include <utility>
// clang-format on

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <csignal>
#include <iostream>
#include <repy/asio.hpp>
#include <string>
#include <vector>

#include "common.hpp"

namespace {

namespace asio = boost::asio;

/// What every connection shares: the call's arguments, the local ports left to try,
/// and the tally. One thread runs them all, so plain counters do.
struct Run {
  repy::Context context;
  std::string remote_ip;
  int remote_port = 0;
  std::string local_ip;
  std::string message;
  double timeout = 0;
  std::vector<int> ports;
  std::size_t next_port = 0;
  std::size_t wanted = 0;
  std::size_t connected = 0;
  std::size_t echoed = 0;
  std::size_t failed = 0;
  std::string first_error;
};

/// A connection from the next local port that is not busy.
/// @throws ResourceForbiddenError when no port is left; the connect's other errors.
asio::awaitable<repy::TCPSocket> connect(Run& run) {
  const auto ex = co_await asio::this_coro::executor;
  for (;;) {
    if (run.next_port == run.ports.size()) {
      throw repy::ResourceForbiddenError("no local port left to connect from");
    }
    const int port = run.ports[run.next_port++];
    try {
      // Two statements: GCC 12 destroys the awaitable of `co_await (c ? a : b)` twice.
      if (examples::is_ipv4(run.remote_ip)) {
        co_return co_await repy::async_openconnection(ex, run.context, run.remote_ip,
                                                      run.remote_port, run.local_ip, port,
                                                      run.timeout, asio::use_awaitable);
      }
      co_return co_await repy::async_openconnection_ipv6(ex, run.context, run.remote_ip,
                                                         run.remote_port, run.local_ip, port,
                                                         run.timeout, asio::use_awaitable);
    } catch (const repy::NetworkError& e) {
      if (!examples::is_busy_port(e)) throw;
    }
  }
}

/// One connection: connect, send the message, read it back, close.
asio::awaitable<void> echo_once(Run& run) {
  const auto ex = co_await asio::this_coro::executor;
  try {
    repy::TCPSocket socket = co_await connect(run);
    if (++run.connected == run.wanted) {
      std::cout << "all " << run.wanted << " connections open" << std::endl;
    }
    co_await repy::async_send(ex, socket, run.message, asio::use_awaitable);
    std::string echo;
    while (echo.size() < run.message.size()) {
      echo += co_await repy::async_recv(ex, socket, run.message.size() - echo.size(),
                                        asio::use_awaitable);
    }
    socket.close();
    if (echo != run.message) throw repy::NetworkError("the echo differs from the message");
    ++run.echoed;
  } catch (const repy::RepyException& e) {
    if (run.failed++ == 0) run.first_error = e.what();
  }
}

/// Runs every connection at once until all are done, the deadline passes (two
/// timeouts: one to connect, one for the echo), or SIGINT/SIGTERM.
void run_all(Run& run) {
  asio::io_context io(1);
  asio::signal_set signals(io, SIGINT, SIGTERM);
  asio::steady_timer deadline(io, examples::to_ms(2 * run.timeout));
  signals.async_wait([&](boost::system::error_code error, int) {
    if (error) return;
    std::cout << "stopping" << std::endl;
    io.stop();
  });
  deadline.async_wait([&](boost::system::error_code error) {
    if (error) return;
    std::cout << "timed out waiting for echoes" << std::endl;
    io.stop();
  });
  std::size_t done = 0;
  for (std::size_t i = 0; i < run.wanted; ++i) {
    asio::co_spawn(io, echo_once(run), [&](std::exception_ptr) {
      if (++done < run.wanted) return;
      signals.cancel();
      deadline.cancel();
    });
  }
  io.run();
}

}  // namespace

int main(int argc, char** argv) {
  Run run;
  run.remote_ip = "::1";
  run.remote_port = 12345;
  run.local_ip = "::1";
  run.message = "hello from repy6";
  run.timeout = 10;
  examples::ContextOptions context_options;
  int connections = 100;

  examples::Flags flags("asio_echo_client",
                        "Opens many connections to a TCP echo server at once, on one thread, "
                        "and checks the echo on each.");
  flags.add("remote-ip", &run.remote_ip, "server address (default ::1)");
  flags.add("remote-port", &run.remote_port, "server port (default 12345)");
  flags.add("local-ip", &run.local_ip, "local address to connect from (default ::1)");
  context_options.add_flags(flags);
  flags.add("connections", &connections, "connections to open at once (default 100)");
  flags.add("message", &run.message, "text to send on each (default \"hello from repy6\")");
  flags.add("timeout", &run.timeout, "seconds to connect, and again for the echoes (default 10)");
  flags.parse(argc, argv);
  examples::require_port(flags, "remote-port", run.remote_port);
  if (connections < 1) flags.fail("--connections must be at least 1");
  if (run.message.empty()) flags.fail("--message must not be empty");
  if (run.timeout <= 0) flags.fail("--timeout must be more than 0");
  examples::match_local_family(flags, run.remote_ip, run.local_ip);

  run.context = context_options.make(flags);
  int status = 0;
  try {
    run.wanted = static_cast<std::size_t>(connections);
    // Twice as many ports as connections, for those that turn out busy.
    run.ports = examples::candidate_ports(run.context, /*tcp=*/true, run.local_ip, run.remote_ip,
                                          run.remote_port, 2 * run.wanted);
    run_all(run);
    std::cout << run.echoed << " of " << run.wanted << " connection(s) echoed" << std::endl;
    if (run.failed > 0) {
      std::cerr << "asio_echo_client: " << run.failed << " failed; the first: " << run.first_error
                << "\n";
    }
    if (run.echoed != run.wanted) status = 1;
  } catch (const repy::RepyException& e) {
    std::cerr << "asio_echo_client: " << e.what() << "\n";
    status = 1;
  }
  examples::print_resources(run.context, std::cout);
  return status;
}
