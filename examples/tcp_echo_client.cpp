// tcp_echo_client: connects to an echo server, sends one message and prints the echo.
//
//   tcp_echo_client --remote-ip ::1 --remote-port 12345 --message "hello"
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

  examples::Flags flags("tcp_echo_client",
                        "Sends a message to a TCP echo server and prints what comes back.");
  flags.add("remote-ip", &remote_ip, "server address (default ::1)");
  flags.add("remote-port", &remote_port, "server port (default 12345)");
  flags.add("local-ip", &local_ip, "local address to connect from (default ::1)");
  flags.add("local-port", &local_port, "local port (default: a free one the restrictions allow)");
  flags.add("restrictions", &restrictions, "Repy restrictions file (default: unlimited)");
  stack_options.add_flags(flags);
  flags.add("message", &message, "text to send (default \"hello from repy6\")");
  flags.add("timeout", &timeout, "seconds to connect and to wait for the echo (default 5)");
  flags.parse(argc, argv);
  examples::require_port(flags, "remote-port", remote_port);
  if (flags.given("local-port")) examples::require_port(flags, "local-port", local_port);
  if (message.empty()) flags.fail("--message must not be empty");
  if (timeout <= 0) flags.fail("--timeout must be more than 0");
  examples::match_local_family(flags, remote_ip, local_ip);

  repy::Context context = examples::make_context(flags, restrictions, stack_options);

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
