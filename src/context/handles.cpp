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
std::chrono::steady_clock::time_point rates(const std::shared_ptr<Impl>& impl,
                                            std::string_view call) {
  return impl ? impl->rate_ready_at(call) : std::chrono::steady_clock::time_point::min();
}

}  // namespace

// The plain calls raise "nothing ready" here, in the frame the program called (see
// TcpSocketImpl::recv).
std::string TCPSocket::recv(std::size_t bytes) {
  if (auto data = live(impl_, "TCPSocket.recv").recv(bytes)) return std::move(*data);
  detail::throw_would_block(detail::NotReady::recv);
}
std::size_t TCPSocket::send(std::string_view data) {
  if (auto sent = live(impl_, "TCPSocket.send").send(data)) return *sent;
  detail::throw_would_block(detail::NotReady::send);
}
std::optional<std::string> TCPSocket::try_recv(std::size_t bytes) {
  return live(impl_, "TCPSocket.recv").try_recv(bytes);
}
std::optional<std::size_t> TCPSocket::try_send(std::string_view data) {
  return live(impl_, "TCPSocket.send").try_send(data);
}
bool TCPSocket::close() noexcept { return impl_ && impl_->close(); }
bool TCPSocket::wait_ready(bool write, std::int64_t timeout_ns) const {
  return ready(impl_, write ? POLLOUT : POLLIN, timeout_ns);
}
std::chrono::steady_clock::time_point TCPSocket::rate_ready_at() const {
  return rates(impl_, "TCPSocket");
}
int TCPSocket::native_handle() const noexcept { return impl_ ? impl_->native_handle() : -1; }

Connection TCPServerSocket::getconnection() {
  if (auto connection = live(impl_, "TCPServerSocket.getconnection").getconnection()) {
    return std::move(*connection);
  }
  detail::throw_would_block(detail::NotReady::getconnection);
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

Message UDPServerSocket::getmessage() {
  if (auto message = live(impl_, "UDPServerSocket.getmessage").getmessage()) {
    return std::move(*message);
  }
  detail::throw_would_block(detail::NotReady::getmessage);
}
std::optional<Message> UDPServerSocket::try_getmessage() {
  return live(impl_, "UDPServerSocket.getmessage").try_getmessage();
}
bool UDPServerSocket::close() noexcept { return impl_ && impl_->close(); }
bool UDPServerSocket::wait_ready(std::int64_t timeout_ns) const {
  return ready(impl_, POLLIN, timeout_ns);
}
std::chrono::steady_clock::time_point UDPServerSocket::rate_ready_at() const {
  return rates(impl_, "UDPServerSocket.getmessage");
}
int UDPServerSocket::native_handle() const noexcept { return impl_ ? impl_->native_handle() : -1; }

}  // namespace repy
