// rate_accuracy: how closely the nanny holds a context to its loopsend limit.
//
// For each limit it sends datagrams over ::1 for about two seconds and compares the
// rate it achieved with the limit. The bucket lets the first `limit` units through at
// once (Repy waits only while usage is above the limit), so the rate is measured from
// the moment that first second's worth was spent.
//
//   rate_accuracy [SECONDS]
#include <fmt/format.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "core/fd.hpp"
#include "repy/repy.hpp"

namespace {

int free_udp_port() {
  repy::detail::Fd fd(::socket(AF_INET6, SOCK_DGRAM, 0));
  sockaddr_in6 sa{};
  sa.sin6_family = AF_INET6;
  sa.sin6_addr = in6addr_loopback;
  ::bind(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa);
  socklen_t len = sizeof sa;
  ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&sa), &len);
  return ntohs(sa.sin6_port);
}

struct Outcome {
  double charged = 0;
  double seconds = 0;
};

// Sends `size`-byte datagrams until about `seconds` have passed; every datagram costs
// 64 + size loopsend.
Outcome run(double limit, std::size_t size, double seconds) {
  const int to = free_udp_port();
  const int from = free_udp_port();
  repy::Context context(repy::Policy::parse(fmt::format(
      "resource loopsend {}\nresource looprecv {}\nresource messport {}\n", limit, limit, from)));
  const std::string message(size, 'r');
  using clock = std::chrono::steady_clock;
  const auto start = clock::now();
  const auto stop = start + std::chrono::duration<double>(seconds);
  while (clock::now() < stop) context.sendmessage_ipv6("::1", to, message, "::1", from);
  Outcome outcome;
  outcome.seconds = std::chrono::duration<double>(clock::now() - start).count();
  outcome.charged = context.getresources().totals.at("loopsend");
  return outcome;
}

}  // namespace

int main(int argc, char** argv) {
  const double seconds = argc > 1 ? std::atof(argv[1]) : 2.0;
  if (!(seconds > 0)) {
    std::fprintf(stderr, "usage: rate_accuracy [SECONDS > 0]\n");
    return 2;
  }
  fmt::print("{:>12} {:>10} {:>14} {:>10} {:>14} {:>9}\n", "limit (B/s)", "datagram", "charged (B)",
             "time (s)", "rate (B/s)", "rate/limit");
  for (double limit : {20000.0, 100000.0, 1000000.0}) {
    for (std::size_t size : {100u, 1000u, 9000u}) {
      Outcome o = run(limit, size, seconds);
      // Everything past the first `limit` units was let through at `limit` per second;
      // the last datagram may still be draining, so count it as not yet paid for.
      const double paid = o.charged - limit - static_cast<double>(64 + size);
      const double rate = paid / o.seconds;
      fmt::print("{:>12.0f} {:>10} {:>14.0f} {:>10.3f} {:>14.0f} {:>9.3f}\n", limit, size,
                 o.charged, o.seconds, rate, rate / limit);
    }
  }
}
