// udp_echo_client: sends one datagram to an echo server and prints the reply.
//
//   udp_echo_client --remote-ip ::1 --remote-port 12345 --message "hello"
#include <chrono>
#include <iostream>
#include <string>

#include "common.hpp"

int main(int argc, char** argv) {
  examples::ClientOptions options;
  examples::Flags flags("udp_echo_client",
                        "Sends a datagram to a UDP echo server and prints the reply.");
  options.add_flags(flags, "local address to send from (default ::1)",
                    "seconds to wait for the reply (default 5)");
  flags.parse(argc, argv);
  options.check(flags);
  const auto& [remote_ip, remote_port, local_ip, local_port, context_options, message, timeout] =
      options;
  const bool v4 = examples::is_ipv4(remote_ip);

  repy::Context context = context_options.make(flags);

  int status = 0;
  try {
    // Listen first: the datagram then leaves from this socket, and the reply lands in it.
    auto listen = [&](int port) {
      return v4 ? context.listenformessage(local_ip, port)
                : context.listenformessage_ipv6(local_ip, port);
    };
    auto [inbox, port] = flags.given("local-port")
                             ? std::make_pair(listen(local_port), local_port)
                             : examples::open_on_free_port(
                                   examples::candidate_ports(context, /*tcp=*/false, local_ip,
                                                             remote_ip, remote_port),
                                   listen);

    // UDP may lose a datagram even on loopback; three tries share the timeout.
    constexpr int tries = 3;
    bool answered = false;
    for (int attempt = 1; attempt <= tries && !answered; ++attempt) {
      if (v4) {
        context.sendmessage(remote_ip, remote_port, message, local_ip, port);
      } else {
        context.sendmessage_ipv6(remote_ip, remote_port, message, local_ip, port);
      }
      std::cout << "sent " << message.size() << " bytes from [" << local_ip << "]:" << port
                << " to [" << remote_ip << "]:" << remote_port << std::endl;
      if (!inbox.wait_readable(examples::to_ms(timeout / tries))) continue;
      try {
        repy::Message reply = inbox.getmessage();
        std::cout << "echo from [" << reply.ip << "]:" << reply.port << ": " << reply.message
                  << std::endl;
        answered = true;
        if (reply.message != message) {
          std::cerr << "udp_echo_client: the echo differs from the message\n";
          status = 1;
        }
      } catch (const repy::SocketWouldBlockError&) {
        // A spurious wake-up; count it as a lost try.
      }
    }
    inbox.close();
    if (!answered) {
      std::cerr << "udp_echo_client: no reply within " << timeout << " s\n";
      status = 1;
    }
  } catch (const repy::RepyException& e) {
    std::cerr << "udp_echo_client: " << e.what() << "\n";
    status = 1;
  }
  examples::print_resources(context, std::cout);
  return status;
}
