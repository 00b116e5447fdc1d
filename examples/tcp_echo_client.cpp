// tcp_echo_client: connects to an echo server, sends one message and prints the echo.
//
//   tcp_echo_client --remote-ip ::1 --remote-port 12345 --message "hello"
#include <chrono>
#include <iostream>
#include <string>

#include "common.hpp"

int main(int argc, char** argv) {
  examples::ClientOptions options;
  examples::Flags flags("tcp_echo_client",
                        "Sends a message to a TCP echo server and prints what comes back.");
  options.add_flags(flags, "local address to connect from (default ::1)",
                    "seconds to connect and to wait for the echo (default 5)");
  flags.parse(argc, argv);
  if (options.message.empty()) flags.fail("--message must not be empty");
  options.check(flags);
  const auto& [remote_ip, remote_port, local_ip, local_port, context_options, message, timeout] =
      options;

  repy::Context context = context_options.make(flags);

  int status = 0;
  try {
    auto connect = [&](int port) {
      return examples::is_ipv4(remote_ip)
                 ? context.openconnection(remote_ip, remote_port, local_ip, port, timeout)
                 : context.openconnection_ipv6(remote_ip, remote_port, local_ip, port, timeout);
    };
    auto [socket, port] =
        flags.given("local-port")
            ? std::make_pair(connect(local_port), local_port)
            : examples::open_on_free_port(examples::candidate_ports(context, /*tcp=*/true, local_ip,
                                                                    remote_ip, remote_port),
                                          connect);
    std::cout << "connected [" << local_ip << "]:" << port << " -> [" << remote_ip
              << "]:" << remote_port << std::endl;

    const auto wait = examples::to_ms(timeout);
    examples::send_all(socket, message, wait);
    std::string echo;
    while (echo.size() < message.size()) {
      if (!socket.wait_readable(wait)) {
        throw repy::TimeoutError("recv: no echo within " + std::to_string(timeout) + " s");
      }
      try {
        echo += socket.recv(message.size() - echo.size());
      } catch (const repy::SocketWouldBlockError&) {
        // Woken without data (a spurious wake-up); wait again.
      }
    }
    std::cout << "echo: " << echo << std::endl;
    socket.close();
    if (echo != message) {
      std::cerr << "tcp_echo_client: the echo differs from the message\n";
      status = 1;
    }
  } catch (const repy::RepyException& e) {
    std::cerr << "tcp_echo_client: " << e.what() << "\n";
    status = 1;
  }
  examples::print_resources(context, std::cout);
  return status;
}
