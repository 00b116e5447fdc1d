// What the benchmarks share.
#include "bench_support.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <stdexcept>

namespace bench {

using namespace std::chrono_literals;

void fail(const std::string& what) { throw std::runtime_error(what + ": " + std::strerror(errno)); }

sockaddr_in6 loopback(int port) {
  sockaddr_in6 sa{};
  sa.sin6_family = AF_INET6;
  sa.sin6_addr = in6addr_loopback;
  sa.sin6_port = htons(static_cast<std::uint16_t>(port));
  return sa;
}

int port_of(int fd) {
  sockaddr_in6 sa{};
  socklen_t len = sizeof sa;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len) != 0) fail("getsockname");
  return ntohs(sa.sin6_port);
}

Fd raw_socket(int type, int port, RawOptions options) {
  Fd fd(::socket(AF_INET6, type | SOCK_CLOEXEC | (options.nonblocking ? SOCK_NONBLOCK : 0), 0));
  if (fd.get() < 0) fail("socket");
  if (options.buffer > 0) {
    ::setsockopt(fd.get(), SOL_SOCKET, SO_SNDBUF, &options.buffer, sizeof options.buffer);
    ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVBUF, &options.buffer, sizeof options.buffer);
  }
  if (options.reuseaddr) {
    int on = 1;
    ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  }
  sockaddr_in6 sa = loopback(port);
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) fail("bind");
  return fd;
}

std::vector<int> free_ports(std::size_t n, int type) {
  std::vector<Fd> held;
  std::vector<int> ports;
  for (std::size_t i = 0; i < n; ++i) {
    held.push_back(raw_socket(type, 0, {}));
    ports.push_back(port_of(held.back().get()));
  }
  return ports;
}

void wait_for(int fd, short events) {
  pollfd p{fd, events, 0};
  int r;
  do {
    r = ::poll(&p, 1, 5000);
  } while (r < 0 && errno == EINTR);
  if (r == 0) throw std::runtime_error("poll: nothing happened within 5 s");
  if (r < 0) fail("poll");
}

RawPair raw_pair(RawOptions options) {
  RawPair p;
  // The listener's buffers are set before listen() so accepted sockets inherit them,
  // as Repy does.
  p.listener = raw_socket(SOCK_STREAM, 0, options);
  if (::listen(p.listener.get(), 16) != 0) fail("listen");
  p.client = raw_socket(SOCK_STREAM, 0, options);
  sockaddr_in6 to = loopback(port_of(p.listener.get()));
  if (::connect(p.client.get(), reinterpret_cast<sockaddr*>(&to), sizeof to) != 0 &&
      errno != EINPROGRESS) {
    fail("connect");
  }
  wait_for(p.listener.get(), POLLIN);
  p.accepted = Fd(::accept4(p.listener.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK));
  if (p.accepted.get() < 0) fail("accept4");
  wait_for(p.client.get(), POLLOUT);
  return p;
}

std::size_t raw_send(int fd, std::string_view data) {
  ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
  if (n >= 0) return static_cast<std::size_t>(n);
  if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return 0;
  fail("send");
}

std::size_t raw_recv(int fd, char* buffer, std::size_t size) {
  ssize_t n = ::recv(fd, buffer, size, 0);
  if (n > 0) return static_cast<std::size_t>(n);
  if (n == 0) throw std::runtime_error("recv: the peer closed");
  if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return 0;
  fail("recv");
}

void raw_send_datagram(int fd, std::string_view message, const sockaddr_in6& to) {
  if (::sendto(fd, message.data(), message.size(), MSG_NOSIGNAL,
               reinterpret_cast<const sockaddr*>(&to), sizeof to) < 0) {
    fail("sendto");
  }
}

std::size_t raw_take_datagram(int fd, std::vector<char>& buffer) {
  for (;;) {
    sockaddr_in6 from{};
    socklen_t len = sizeof from;
    ssize_t n =
        ::recvfrom(fd, buffer.data(), buffer.size(), 0, reinterpret_cast<sockaddr*>(&from), &len);
    if (n >= 0) return static_cast<std::size_t>(n);
    if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) fail("recvfrom");
    wait_for(fd, POLLIN);
  }
}

OneCore::OneCore() {
  ::pthread_getaffinity_np(::pthread_self(), sizeof old_, &old_);
  cpu_ = std::max(::sched_getcpu(), 0);
  share();
}

OneCore::~OneCore() { ::pthread_setaffinity_np(::pthread_self(), sizeof old_, &old_); }

void OneCore::share() const {
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(cpu_, &one);
  ::pthread_setaffinity_np(::pthread_self(), sizeof one, &one);
}

repy::Policy capped_policy() { return repy::Policy::unlimited(); }
repy::Policy kernel_buffer_policy() { return repy::Policy::unlimited().with_socket_buffers(0, 0); }

repy::Policy metered_policy(const std::vector<int>& ports) {
  std::string text =
      "resource netsend 1e11\nresource netrecv 1e11\n"
      "resource loopsend 1e11\nresource looprecv 1e11\n"
      "resource insockets 100\nresource outsockets 100\n";
  for (int port : ports) {
    text += "resource messport " + std::to_string(port) + "\n";
    text += "resource connport " + std::to_string(port) + "\n";
  }
  return repy::Policy::parse(text);
}

RepyPair repy_pair(const repy::Policy& policy) { return repy_pair(policy, free_ports(2)); }

RepyPair repy_pair(const repy::Policy& policy, const std::vector<int>& ports) {
  RepyPair p{repy::Context(policy), {}, {}, {}};
  p.listener = p.ctx.listenforconnection_ipv6("::1", ports[0]);
  p.client = p.ctx.openconnection_ipv6("::1", ports[0], "::1", ports[1], 5.0);
  if (!p.listener.wait_readable(5s)) throw std::runtime_error("no connection to accept");
  p.accepted = p.listener.getconnection().socket;
  return p;
}

std::size_t repy_send(repy::TCPSocket& s, std::string_view data) {
  try {
    return s.send(data);
  } catch (const repy::SocketWouldBlockError&) {
    return 0;
  }
}

std::size_t repy_recv(repy::TCPSocket& s, std::size_t size) {
  try {
    return s.recv(size).size();
  } catch (const repy::SocketWouldBlockError&) {
    return 0;
  }
}

}  // namespace bench
