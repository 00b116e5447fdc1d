// The public socket handles: each method hands over to the object behind it.
#include <poll.h>

#include "context/sockets.hpp"
#include "repy/errors.hpp"

namespace repy {

namespace {

template <class Impl>
Impl& live(const std::shared_ptr<Impl>& impl, std::string_view call) {
  if (!impl) detail::throw_closed_local(call);  // a handle to no socket
  return *impl;
}

// A handle to no socket is "ready": its next call raises SocketClosedLocal at once.
template <class Impl>
bool ready(const std::shared_ptr<Impl>& impl, short events, std::int64_t timeout_ns) {
  return !impl || impl->wait_ready(events, timeout_ns);
}

template <class Impl>
std::shared_ptr<SocketWatcher> watcher_of(const std::shared_ptr<Impl>& impl, const void* key,
                                          const WatcherFactory& make) {
  return impl ? impl->watcher(key, make) : nullptr;
}

template <class Impl>
std::chrono::steady_clock::time_point rates(const std::shared_ptr<Impl>& impl,
                                            std::string_view call) {
  return impl ? impl->rate_ready_at(call) : std::chrono::steady_clock::time_point::min();
}

}  // namespace

SocketWatcher::~SocketWatcher() = default;

// recv, send, try_recv and try_send are in tcp_socket.cpp, getmessage and try_getmessage
// in udp_server.cpp: folded into the handle there, they leave one frame fewer on the
// stack across their system call.
bool TCPSocket::close() noexcept { return impl_ && impl_->close(); }
bool TCPSocket::wait_ready(bool write, std::int64_t timeout_ns) const {
  return ready(impl_, write ? POLLOUT : POLLIN, timeout_ns);
}
std::chrono::steady_clock::time_point TCPSocket::rate_ready_at() const {
  return rates(impl_, "TCPSocket");
}
int TCPSocket::native_handle() const noexcept { return impl_ ? impl_->native_handle() : -1; }
std::shared_ptr<SocketWatcher> TCPSocket::watcher(const void* key,
                                                  const WatcherFactory& make) const {
  return watcher_of(impl_, key, make);
}

// The plain call's work; its "nothing ready" is raised inline (sockets.hpp).
std::optional<Connection> TCPServerSocket::getconnection_or_would_block() {
  return live(impl_, "TCPServerSocket.getconnection").getconnection();
}
const SocketWouldBlockError& TCPServerSocket::would_block_error() noexcept {
  return detail::would_block_error(detail::NotReady::getconnection);
}
std::optional<Connection> TCPServerSocket::try_getconnection() {
  return live(impl_, "TCPServerSocket.getconnection").try_getconnection();
}
bool TCPServerSocket::close() noexcept { return impl_ && impl_->close(); }
bool TCPServerSocket::wait_ready(std::int64_t timeout_ns) const {
  return ready(impl_, POLLIN, timeout_ns);
}
std::chrono::steady_clock::time_point TCPServerSocket::rate_ready_at() const {
  return rates(impl_, "TCPServerSocket.getconnection");
}
int TCPServerSocket::native_handle() const noexcept { return impl_ ? impl_->native_handle() : -1; }
std::shared_ptr<SocketWatcher> TCPServerSocket::watcher(const void* key,
                                                        const WatcherFactory& make) const {
  return watcher_of(impl_, key, make);
}

bool UDPServerSocket::close() noexcept { return impl_ && impl_->close(); }
bool UDPServerSocket::wait_ready(std::int64_t timeout_ns) const {
  return ready(impl_, POLLIN, timeout_ns);
}
std::chrono::steady_clock::time_point UDPServerSocket::rate_ready_at() const {
  return rates(impl_, "UDPServerSocket.getmessage");
}
int UDPServerSocket::native_handle() const noexcept { return impl_ ? impl_->native_handle() : -1; }
std::shared_ptr<SocketWatcher> UDPServerSocket::watcher(const void* key,
                                                        const WatcherFactory& make) const {
  return watcher_of(impl_, key, make);
}

}  // namespace repy
