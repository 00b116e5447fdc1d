// UDPServerSocket: getmessage, close, and sending through a listener.
#include <sys/socket.h>

#include <memory>

#include "context/sockets.hpp"
#include "repy/errors.hpp"

namespace repy::detail {

namespace {

// Enough for any datagram; one per thread.
constexpr std::size_t datagram_buffer_size = 65536;

char* datagram_buffer() {
  thread_local std::unique_ptr<char[]> buffer(new char[datagram_buffer_size]);
  return buffer.get();
}

}  // namespace

std::shared_ptr<UdpServerImpl> UdpServerImpl::open(std::shared_ptr<ContextState> context, Fd fd,
                                                   Hold insocket, const LocalKey& local,
                                                   Family family) {
  auto socket =
      std::make_shared<UdpServerImpl>(context, std::move(fd), std::move(insocket), local, family);
  socket->entry_ = context->registry().add(Role::udp_listener, local, context->owner(), socket);
  return socket;
}

UdpServerImpl::UdpServerImpl(std::shared_ptr<ContextState> context, Fd fd, Hold insocket,
                             const LocalKey& local, Family family)
    : SocketBase(std::move(context), std::move(fd), std::move(insocket),
                 {recv_resource(is_loopback(local.address()))}),
      local_(local),
      family_(family) {}

UdpServerImpl::~UdpServerImpl() { close(); }

bool UdpServerImpl::close() noexcept { return close_fd(); }

Message UdpServerImpl::getmessage() {
  constexpr std::string_view call = "UDPServerSocket.getmessage";
  wait_for_rates(call);
  if (auto message = receive_now(call)) return std::move(*message);
  throw_would_block(NotReady::getmessage);
}

std::optional<Message> UdpServerImpl::try_getmessage() {
  constexpr std::string_view call = "UDPServerSocket.getmessage";
  if (closed()) throw_closed_local(call);
  if (!rate_ready(call)) return std::nullopt;
  return receive_now(call);
}

std::optional<Message> UdpServerImpl::receive_now(std::string_view call) {
  sockaddr_storage from{};
  char* buffer = datagram_buffer();
  auto got = on_fd(call, [&](int fd) {
    return context_->ops().recvfrom(fd, buffer, datagram_buffer_size, MSG_DONTWAIT, from);
  });
  if (is_would_block(got.error)) return std::nullopt;
  if (!got) fail(call, Op::recv, got.error, [this] { close(); });
  auto [peer, peer_port] = from_sockaddr(from);
  context_->nanny.charge(recv_resource(is_loopback(peer)), 64.0 + static_cast<double>(got.value));
  return Message{to_text(peer, family_), peer_port, std::string(buffer, got.value)};
}

std::optional<std::size_t> UdpServerImpl::send_to(std::string_view call, const Endpoints& ends,
                                                  std::string_view message) {
  const sockaddr_in6 to = to_sockaddr(ends.remote, ends.remote_port);
  SysResult<std::size_t> sent;
  try {
    sent = on_fd(call, [&](int fd) {
      return context_->ops().sendto(fd, message.data(), message.size(), MSG_DONTWAIT | MSG_NOSIGNAL,
                                    to);
    });
  } catch (const SocketClosedLocal&) {
    // Closed before or while sending (a close() shuts the fd down under the send): the
    // caller sends from a socket of its own, which needs the address free first.
    wait_released();
    return std::nullopt;
  }
  if (!sent) throw_network_error(call, Op::send_message, sent.error, ends);
  return sent.value;
}

}  // namespace repy::detail
