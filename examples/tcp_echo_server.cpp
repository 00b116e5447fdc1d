// tcp_echo_server: sends every byte a TCP client sends straight back, one client at a
// time, under an optional Repy restrictions file.
//
//   tcp_echo_server --local-ip ::1 --local-port 12345 --count 1
#include <chrono>
#include <iostream>
#include <string>

#include "common.hpp"

namespace {

/// Echoes one client until it closes, goes quiet for `idle`, or a stop is asked for.
void echo(repy::TCPSocket socket, std::chrono::milliseconds idle) {
  for (;;) {
    if (!examples::wait_readable_for(socket, idle)) {
      if (!examples::stop_requested()) std::cout << "client idle too long, dropping it\n";
      break;
    }
    std::string data;
    try {
      data = socket.recv(4096);
    } catch (const repy::SocketWouldBlockError&) {
      continue;  // readable was a spurious wake-up; wait again
    } catch (const repy::SocketClosedRemote&) {
      break;  // the client is done
    }
    examples::send_all(socket, data, idle);
  }
  socket.close();
}

}  // namespace

int main(int argc, char** argv) {
  examples::ServerOptions options;
  double timeout = 10;
  examples::Flags flags("tcp_echo_server", "Echoes what TCP clients send, one client at a time.");
  options.add_flags(flags, "serve N clients, then exit (default 0 = until SIGINT)");
  flags.add("timeout", &timeout, "drop a client idle this long (default 10)");
  flags.parse(argc, argv);
  options.check(flags);
  if (timeout <= 0) flags.fail("--timeout must be more than 0");
  const std::string& local_ip = options.local_ip;
  const int local_port = options.local_port;
  const int count = options.count;

  repy::Context context = options.context.make(flags);
  examples::install_stop_handler();

  int status = 0;
  try {
    repy::TCPServerSocket server = examples::is_ipv4(local_ip)
                                       ? context.listenforconnection(local_ip, local_port)
                                       : context.listenforconnection_ipv6(local_ip, local_port);
    std::cout << "listening on [" << local_ip << "]:" << local_port << std::endl;
    int served = 0;
    while ((count == 0 || served < count) && !examples::stop_requested()) {
      if (!examples::wait_readable_for(server, std::chrono::seconds(1))) continue;
      repy::Connection client;
      try {
        client = server.getconnection();
      } catch (const repy::SocketWouldBlockError&) {
        continue;
      } catch (const repy::ResourceExhaustedError& e) {
        std::cout << "refused a client: " << e.what() << std::endl;
        continue;
      }
      std::cout << "client [" << client.ip << "]:" << client.port << std::endl;
      try {
        echo(client.socket, examples::to_ms(timeout));
      } catch (const repy::NetworkError& e) {
        std::cout << "client [" << client.ip << "]:" << client.port << " failed: " << e.what()
                  << std::endl;
      } catch (const repy::TimeoutError& e) {
        std::cout << "client [" << client.ip << "]:" << client.port << " stalled: " << e.what()
                  << std::endl;
      }
      ++served;
    }
    server.close();
    std::cout << "served " << served << " client(s)" << std::endl;
  } catch (const repy::RepyException& e) {
    std::cerr << "tcp_echo_server: " << e.what() << "\n";
    status = 1;
  }
  examples::print_resources(context, std::cout);
  return status;
}
