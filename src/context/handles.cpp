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
}  // namespace

std::string TCPSocket::recv(std::size_t bytes) { return live(impl_, "TCPSocket.recv").recv(bytes); }
std::size_t TCPSocket::send(std::string_view data) {
  return live(impl_, "TCPSocket.send").send(data);
}
bool TCPSocket::close() noexcept { return impl_ && impl_->close(); }
bool TCPSocket::wait_readable(std::chrono::milliseconds timeout) const {
  return !impl_ || impl_->wait_for(POLLIN, timeout);
}
bool TCPSocket::wait_writable(std::chrono::milliseconds timeout) const {
  return !impl_ || impl_->wait_for(POLLOUT, timeout);
}
int TCPSocket::native_handle() const noexcept { return impl_ ? impl_->native_handle() : -1; }

Connection TCPServerSocket::getconnection() {
  return live(impl_, "TCPServerSocket.getconnection").getconnection();
}
bool TCPServerSocket::close() noexcept { return impl_ && impl_->close(); }
bool TCPServerSocket::wait_readable(std::chrono::milliseconds timeout) const {
  return !impl_ || impl_->wait_for(POLLIN, timeout);
}
int TCPServerSocket::native_handle() const noexcept { return impl_ ? impl_->native_handle() : -1; }

Message UDPServerSocket::getmessage() {
  return live(impl_, "UDPServerSocket.getmessage").getmessage();
}
bool UDPServerSocket::close() noexcept { return impl_ && impl_->close(); }
bool UDPServerSocket::wait_readable(std::chrono::milliseconds timeout) const {
  return !impl_ || impl_->wait_for(POLLIN, timeout);
}
int UDPServerSocket::native_handle() const noexcept { return impl_ ? impl_->native_handle() : -1; }

}  // namespace repy
