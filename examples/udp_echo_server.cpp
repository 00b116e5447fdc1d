// udp_echo_server: sends every datagram back to its sender, from the listening port.
//
//   udp_echo_server --local-ip ::1 --local-port 12345 --count 1
#include <chrono>
#include <iostream>
#include <string>

#include "common.hpp"

int main(int argc, char** argv) {
  examples::ServerOptions options;
  examples::Flags flags("udp_echo_server", "Echoes UDP datagrams back to their senders.");
  options.add_flags(flags, "echo N datagrams, then exit (default 0 = until SIGINT)");
  flags.parse(argc, argv);
  options.check(flags);
  const std::string& local_ip = options.local_ip;
  const int local_port = options.local_port;
  const int count = options.count;

  repy::Context context = options.context.make(flags);
  examples::install_stop_handler();

  int status = 0;
  try {
    const bool v4 = examples::is_ipv4(local_ip);
    repy::UDPServerSocket server = v4 ? context.listenformessage(local_ip, local_port)
                                      : context.listenformessage_ipv6(local_ip, local_port);
    std::cout << "listening on [" << local_ip << "]:" << local_port << std::endl;
    int echoed = 0;
    while ((count == 0 || echoed < count) && !examples::stop_requested()) {
      if (!examples::wait_readable_for(server, std::chrono::seconds(1))) continue;
      repy::Message m;
      try {
        m = server.getmessage();
      } catch (const repy::SocketWouldBlockError&) {
        continue;
      }
      std::cout << "message from [" << m.ip << "]:" << m.port << ": " << m.message.size()
                << " bytes" << std::endl;
      // Sent from (local_ip, local_port): this context's listener there carries it, so
      // the reply comes from the port the client wrote to.
      try {
        if (v4) {
          context.sendmessage(m.ip, m.port, m.message, local_ip, local_port);
        } else {
          context.sendmessage_ipv6(m.ip, m.port, m.message, local_ip, local_port);
        }
      } catch (const repy::NetworkError& e) {
        std::cout << "reply to [" << m.ip << "]:" << m.port << " failed: " << e.what() << std::endl;
      }
      ++echoed;
    }
    server.close();
    std::cout << "echoed " << echoed << " message(s)" << std::endl;
  } catch (const repy::RepyException& e) {
    std::cerr << "udp_echo_server: " << e.what() << "\n";
    status = 1;
  }
  examples::print_resources(context, std::cout);
  return status;
}
