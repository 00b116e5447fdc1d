// UDPServerSocket: getmessage, close, and sending through a listener.
#include <sys/socket.h>

#include <memory>

#include "context/sockets.hpp"
#include "repy/errors.hpp"

namespace repy::detail {

std::shared_ptr<UdpServerImpl> UdpServerImpl::open(std::shared_ptr<ContextState> context, Fd fd,
                                                   Hold insocket, const LocalKey& local,
                                                   Family family) {
  return make_registered<UdpServerImpl>(Role::udp_listener, local, context, std::move(fd),
                                        std::move(insocket), local, family);
}

UdpServerImpl::UdpServerImpl(std::shared_ptr<ContextState> context, Fd fd, Hold insocket,
                             const LocalKey& local, Family family)
    : SocketBase(std::move(context), std::move(fd), std::move(insocket),
                 {recv_resource(is_loopback(local.address()))}),
      local_(local),
      family_(family) {}

UdpServerImpl::~UdpServerImpl() { close(); }

bool UdpServerImpl::close() noexcept { return close_fd(); }

// Flattened, so that receive_now leaves no frame of its own on the stack across the
// system call (see TcpSocketImpl::recv).
[[gnu::flatten]] std::optional<Message> UdpServerImpl::getmessage() {
  constexpr std::string_view call = "UDPServerSocket.getmessage";
  wait_for_rates(call);
  return receive_now(call);
}

[[gnu::flatten]] std::optional<Message> UdpServerImpl::try_getmessage() {
  constexpr std::string_view call = "UDPServerSocket.getmessage";
  if (closed()) throw_closed_local(call);
  if (!rate_ready(call)) return std::nullopt;
  return receive_now(call);
}

std::optional<Message> UdpServerImpl::receive_now(std::string_view call) {
  sockaddr_storage from{};
  char* buffer = read_buffer();
  auto got = on_fd(call, [&](int fd) {
    return context_->ops().recvfrom(fd, buffer, read_buffer_size, MSG_DONTWAIT, from);
  });
  if (is_would_block(got.error)) return std::nullopt;
  if (!got) fail(call, Op::recv, got.error, [this] { close(); });
  auto [peer, peer_port] = from_sockaddr(from);
  context_->nanny.charge(recv_resource(is_loopback(peer)), 64.0 + static_cast<double>(got.value));
  return Message{to_text(peer, family_), peer_port, std::string(buffer, got.value)};
}

}  // namespace repy::detail

namespace repy {

// The handle's calls, flattened with the object's as TCPSocket's.

[[gnu::flatten]] std::optional<Message> UDPServerSocket::getmessage_or_would_block() {
  if (!impl_) detail::throw_closed_local("UDPServerSocket.getmessage");  // a handle to no socket
  return impl_->getmessage();
}

const SocketWouldBlockError& UDPServerSocket::would_block_error() noexcept {
  return detail::would_block_error(detail::NotReady::getmessage);
}

[[gnu::flatten]] std::optional<Message> UDPServerSocket::try_getmessage() {
  if (!impl_) detail::throw_closed_local("UDPServerSocket.getmessage");
  return impl_->try_getmessage();
}

}  // namespace repy
