// udp_echo_client: sends one datagram to an echo server and prints the reply.
//
//   udp_echo_client --remote-ip ::1 --remote-port 12345 --message "hello"
#include <chrono>
#include <iostream>
#include <string>

#include "common.hpp"

int main(int argc, char** argv) {
  std::string remote_ip = "::1";
  int remote_port = 12345;
  std::string local_ip = "::1";
  int local_port = 0;
  std::string restrictions;
  examples::StackOptions stack_options;
  std::string message = "hello from repy6";
  double timeout = 5;

  examples::Flags flags("udp_echo_client",
                        "Sends a datagram to a UDP echo server and prints the reply.");
  flags.add("remote-ip", &remote_ip, "server address (default ::1)");
  flags.add("remote-port", &remote_port, "server port (default 12345)");
  flags.add("local-ip", &local_ip, "local address to send from (default ::1)");
  flags.add("local-port", &local_port, "local port (default: a free one the restrictions allow)");
  flags.add("restrictions", &restrictions, "Repy restrictions file (default: unlimited)");
  stack_options.add_flags(flags);
  flags.add("message", &message, "text to send (default \"hello from repy6\")");
  flags.add("timeout", &timeout, "seconds to wait for the reply (default 5)");
  flags.parse(argc, argv);
  examples::require_port(flags, "remote-port", remote_port);
  if (flags.given("local-port")) examples::require_port(flags, "local-port", local_port);
  if (timeout <= 0) flags.fail("--timeout must be more than 0");
  examples::match_local_family(flags, remote_ip, local_ip);
  const bool v4 = examples::is_ipv4(remote_ip);

  repy::Context context = examples::make_context(flags, restrictions, stack_options);

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
