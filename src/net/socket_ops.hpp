// The socket operations of a stack: one plain function per system call, each giving
// back its value or the errno it failed with, EINTR retried inside. A stack is, first
// of all, this table: the host, a network namespace and a VDE stack differ only in
// make_socket(), and tests inject faults by overriding any entry.
#pragma once

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <chrono>
#include <cstddef>

namespace repy::detail {

/// What one system call gave back: its value, or the errno it failed with (0: none).
template <class T>
struct SysResult {
  T value{};
  int error = 0;
  explicit operator bool() const noexcept { return error == 0; }
};

class SocketOps {
 public:
  virtual ~SocketOps() = default;

  /// A socket inside the stack (close-on-exec). The fd, or -errno.
  virtual int make_socket(int family, int type, int protocol) noexcept = 0;

  /// 0 or the errno. bind(2), listen(2).
  virtual int bind(int fd, const sockaddr_in6& local) noexcept;
  virtual int listen(int fd, int backlog) noexcept;
  /// Starts a connect: 0 when connected at once, EINPROGRESS when under way (a signal
  /// that interrupts a non-blocking connect leaves it under way too), else the errno.
  virtual int connect(int fd, const sockaddr_in6& remote) noexcept;
  /// Takes a pending connection as a non-blocking, close-on-exec fd.
  virtual SysResult<int> accept(int fd, sockaddr_storage& peer) noexcept;
  virtual SysResult<std::size_t> recv(int fd, void* buffer, std::size_t size, int flags) noexcept;
  virtual SysResult<std::size_t> send(int fd, const void* data, std::size_t size,
                                      int flags) noexcept;
  virtual SysResult<std::size_t> recvfrom(int fd, void* buffer, std::size_t size, int flags,
                                          sockaddr_storage& from) noexcept;
  virtual SysResult<std::size_t> sendto(int fd, const void* data, std::size_t size, int flags,
                                        const sockaddr_in6& to) noexcept;
  /// An int-valued option: 0 or the errno.
  virtual int setsockopt(int fd, int level, int name, int value) noexcept;
  /// The pending error of a socket (SO_ERROR), e.g. the outcome of a connect.
  virtual SysResult<int> pending_error(int fd) noexcept;
  virtual SysResult<sockaddr_storage> local_address(int fd) noexcept;
  /// Waits for `events` on one fd until the timeout (negative: no limit). The revents,
  /// 0 on timeout; a signal does not cut the wait short.
  virtual SysResult<short> poll(int fd, short events, std::chrono::milliseconds timeout) noexcept;
  /// shutdown(SHUT_RDWR): wakes every thread polling the fd.
  virtual void shutdown(int fd) noexcept;
};

}  // namespace repy::detail
