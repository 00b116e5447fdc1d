// The kernel's socket calls, as every stack makes them once it has a socket.
#include "net/socket_ops.hpp"

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>

namespace repy::detail {

namespace {

const sockaddr* as_sockaddr(const sockaddr_in6& sa) noexcept {
  return reinterpret_cast<const sockaddr*>(&sa);
}

template <class Call>
SysResult<std::size_t> transfer(Call call) noexcept {
  for (;;) {
    ssize_t n = call();
    if (n >= 0) return {static_cast<std::size_t>(n), 0};
    if (errno != EINTR) return {0, errno};
  }
}

int status(int rc) noexcept { return rc == 0 ? 0 : errno; }

}  // namespace

int SocketOps::bind(int fd, const sockaddr_in6& local) noexcept {
  return status(::bind(fd, as_sockaddr(local), sizeof local));
}

int SocketOps::listen(int fd, int backlog) noexcept { return status(::listen(fd, backlog)); }

int SocketOps::connect(int fd, const sockaddr_in6& remote) noexcept {
  if (::connect(fd, as_sockaddr(remote), sizeof remote) == 0) return 0;
  return errno == EINTR ? EINPROGRESS : errno;
}

SysResult<int> SocketOps::accept(int fd, sockaddr_storage& peer) noexcept {
  for (;;) {
    socklen_t len = sizeof peer;
    int conn =
        ::accept4(fd, reinterpret_cast<sockaddr*>(&peer), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (conn >= 0) return {conn, 0};
    if (errno != EINTR) return {-1, errno};
  }
}

SysResult<std::size_t> SocketOps::recv(int fd, void* buffer, std::size_t size, int flags) noexcept {
  return transfer([&] { return ::recv(fd, buffer, size, flags); });
}

SysResult<std::size_t> SocketOps::send(int fd, const void* data, std::size_t size,
                                       int flags) noexcept {
  return transfer([&] { return ::send(fd, data, size, flags); });
}

SysResult<std::size_t> SocketOps::recvfrom(int fd, void* buffer, std::size_t size, int flags,
                                           sockaddr_storage& from) noexcept {
  return transfer([&] {
    socklen_t len = sizeof from;
    return ::recvfrom(fd, buffer, size, flags, reinterpret_cast<sockaddr*>(&from), &len);
  });
}

SysResult<std::size_t> SocketOps::sendto(int fd, const void* data, std::size_t size, int flags,
                                         const sockaddr_in6& to) noexcept {
  return transfer([&] { return ::sendto(fd, data, size, flags, as_sockaddr(to), sizeof to); });
}

int SocketOps::setsockopt(int fd, int level, int name, int value) noexcept {
  return status(::setsockopt(fd, level, name, &value, sizeof value));
}

SysResult<int> SocketOps::pending_error(int fd) noexcept {
  int err = 0;
  socklen_t len = sizeof err;
  if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) return {0, errno};
  return {err, 0};
}

SysResult<sockaddr_storage> SocketOps::local_address(int fd) noexcept {
  SysResult<sockaddr_storage> out;
  socklen_t len = sizeof out.value;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&out.value), &len) != 0) out.error = errno;
  return out;
}

SysResult<short> SocketOps::poll(int fd, short events, std::chrono::milliseconds timeout) noexcept {
  if (timeout.count() == 0) {
    // A look, not a wait: no deadline, so no clock to read.
    for (;;) {
      pollfd p{fd, events, 0};
      int rc = ::poll(&p, 1, 0);
      if (rc >= 0) return {rc > 0 ? p.revents : short{0}, 0};
      if (errno != EINTR) return {0, errno};
    }
  }
  using clock = std::chrono::steady_clock;
  const bool forever = timeout.count() < 0;
  const auto deadline = forever ? clock::time_point::max() : clock::now() + timeout;
  for (;;) {
    int wait_ms = -1;
    if (!forever) {
      auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - clock::now()).count();
      wait_ms = static_cast<int>(std::clamp<long long>(left, 0, 1 << 30));
    }
    pollfd p{fd, events, 0};
    int rc = ::poll(&p, 1, wait_ms);
    if (rc > 0) return {p.revents, 0};
    if (rc == 0) {
      // A capped wait that has not reached its deadline goes on.
      if (!forever && clock::now() < deadline) continue;
      return {0, 0};
    }
    if (errno != EINTR) return {0, errno};
  }
}

void SocketOps::shutdown(int fd) noexcept { ::shutdown(fd, SHUT_RDWR); }

}  // namespace repy::detail
