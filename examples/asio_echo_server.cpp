// asio_echo_server: sends every byte TCP clients send straight back, to any number of
// clients at once, on one thread: Boost.Asio coroutines over <repy/asio.hpp>, under an
// optional Repy restrictions file. The loop itself is examples/asio_echo.hpp.
//
//   asio_echo_server --local-ip ::1 --local-port 12345 --count 100
// clang-format off
// First: Boost 1.74's awaitable.hpp uses std::exchange without including <utility>.
#include <utility>
// clang-format on

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <csignal>
#include <exception>
#include <iostream>
#include <string>

#include "asio_echo.hpp"
#include "common.hpp"

namespace {

namespace asio = boost::asio;

/// Serves until `count` clients were taken and are done (0: until a signal). SIGINT or
/// SIGTERM stop it at once, whatever it waits for (a client, the nanny).
/// @throws the errors of listening, and ResourceExhaustedError when a rate limit
/// getconnection() needs is 0.
examples::asio_echo::Stats serve(repy::Context& context, const std::string& local_ip,
                                 int local_port, int count) {
  examples::asio_echo::Stats stats;
  repy::TCPServerSocket server = examples::is_ipv4(local_ip)
                                     ? context.listenforconnection(local_ip, local_port)
                                     : context.listenforconnection_ipv6(local_ip, local_port);
  std::cout << "listening on [" << local_ip << "]:" << local_port << std::endl;
  std::exception_ptr failure;
  {
    // Destroyed before the summary: sessions still running when a signal came end
    // here, and their sockets close.
    asio::io_context io(1);
    asio::signal_set signals(io, SIGINT, SIGTERM);
    signals.async_wait([&](boost::system::error_code error, int) {
      if (error) return;
      std::cout << "stopping" << std::endl;
      server.close();
      io.stop();
    });
    // With --count: once every client is done, nothing is left to wait for.
    stats.idle = [&] { signals.cancel(); };
    asio::co_spawn(io, examples::asio_echo::serve(server, stats, static_cast<std::size_t>(count)),
                   [&](std::exception_ptr error) {
                     if (!error) return;
                     failure = error;
                     io.stop();
                   });
    io.run();
    stats.idle = nullptr;
  }
  server.close();
  if (failure) std::rethrow_exception(failure);
  return stats;
}

}  // namespace

int main(int argc, char** argv) {
  examples::ServerOptions options;
  examples::Flags flags("asio_echo_server",
                        "Echoes what TCP clients send, to many clients at once on one thread.");
  options.add_flags(flags, "serve N clients, then exit (default 0 = until SIGINT)");
  flags.parse(argc, argv);
  options.check(flags);

  repy::Context context = options.context.make(flags);
  int status = 0;
  try {
    const auto stats = serve(context, options.local_ip, options.local_port, options.count);
    std::cout << "served " << stats.accepted << " client(s), at most " << stats.peak << " at once; "
              << stats.echoed << " bytes echoed";
    if (stats.refused > 0) std::cout << "; refused " << stats.refused << " (no outsocket left)";
    if (stats.failed > 0) std::cout << "; " << stats.failed << " ended by an error";
    std::cout << std::endl;
  } catch (const repy::RepyException& e) {
    std::cerr << "asio_echo_server: " << e.what() << "\n";
    status = 1;
  }
  examples::print_resources(context, std::cout);
  return status;
}
