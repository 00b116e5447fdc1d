// TCPSocket: recv, send and close of a connected socket.
#include <sys/socket.h>

#include <algorithm>
#include <memory>

#include "context/sockets.hpp"
#include "repy/errors.hpp"

namespace repy::detail {

std::shared_ptr<TcpSocketImpl> TcpSocketImpl::open(std::shared_ptr<ContextState> context, Fd fd,
                                                   Hold outsocket, const address_v6& peer,
                                                   const LocalKey& local) {
  return make_registered<TcpSocketImpl>(Role::connection, local, context, std::move(fd),
                                        std::move(outsocket), peer);
}

TcpSocketImpl::TcpSocketImpl(std::shared_ptr<ContextState> context, Fd fd, Hold outsocket,
                             const address_v6& peer)
    : SocketBase(std::move(context), std::move(fd), std::move(outsocket),
                 {send_resource(is_loopback(peer)), recv_resource(is_loopback(peer))}),
      send_(send_resource(is_loopback(peer))),
      recv_(recv_resource(is_loopback(peer))) {}

TcpSocketImpl::~TcpSocketImpl() { close(false); }

bool TcpSocketImpl::close(bool charge) noexcept {
  // Never waits for the nanny (SPEC section 8): a close must end what is pending now.
  if (!close_fd()) return false;
  if (charge) {
    context_->nanny.charge(send_, 128);
    context_->nanny.charge(recv_, 64);
  }
  return true;
}

// The calls are flattened: every function still on the stack when a system call
// returns costs a mispredicted return (the kernel leaves the return predictor empty, at
// about 7 ns each here), so recv_now and send_now are folded into their callers.
[[gnu::flatten]] std::optional<std::string> TcpSocketImpl::recv(std::size_t bytes) {
  constexpr std::string_view call = "TCPSocket.recv";
  if (bytes == 0) throw_argument_error(call, "bytes", "must be at least 1", "0");
  wait_for_rates(call);
  return recv_now(call, bytes);
}

[[gnu::flatten]] std::optional<std::string> TcpSocketImpl::try_recv(std::size_t bytes) {
  constexpr std::string_view call = "TCPSocket.recv";
  if (bytes == 0) throw_argument_error(call, "bytes", "must be at least 1", "0");
  if (closed()) throw_closed_local(call);
  if (!rate_ready(call)) return std::nullopt;
  return recv_now(call, bytes);
}

std::optional<std::string> TcpSocketImpl::recv_now(std::string_view call, std::size_t bytes) {
  char* buffer = read_buffer();
  auto got = on_fd(call, [&](int fd) {
    return context_->ops().recv(fd, buffer, std::min(bytes, read_buffer_size), MSG_DONTWAIT);
  });
  if (is_would_block(got.error)) return std::nullopt;
  if (!got) fail(call, Op::recv, got.error, [this] { close(false); });
  if (got.value == 0) {
    // A close() from another thread shuts the socket down under a running call; what
    // that call then sees is our own close, not the peer's.
    if (closed()) throw_closed_local(call);
    throw_peer_closed(call);
  }
  context_->nanny.charge(recv_, 64.0 + static_cast<double>(got.value));
  context_->nanny.charge(send_, 64);
  return std::string(buffer, got.value);
}

[[gnu::flatten]] std::optional<std::size_t> TcpSocketImpl::send(std::string_view data) {
  constexpr std::string_view call = "TCPSocket.send";
  wait_for_rates(call);
  return send_now(call, data);
}

[[gnu::flatten]] std::optional<std::size_t> TcpSocketImpl::try_send(std::string_view data) {
  constexpr std::string_view call = "TCPSocket.send";
  if (closed()) throw_closed_local(call);
  if (!rate_ready(call)) return std::nullopt;
  return send_now(call, data);
}

std::optional<std::size_t> TcpSocketImpl::send_now(std::string_view call, std::string_view data) {
  auto& ops = context_->ops();
  // Like Repy, look for the peer's FIN before sending: a socket whose peer has closed
  // (or half-closed) reads as end-of-stream, and sending into it would only earn a reset.
  char probe;
  auto peeked =
      on_fd(call, [&](int fd) { return ops.recv(fd, &probe, 1, MSG_PEEK | MSG_DONTWAIT); });
  if (peeked && peeked.value == 0) {
    if (closed()) throw_closed_local(call);
    throw_peer_closed(call);
  }
  if (!peeked && !is_would_block(peeked.error)) {
    fail(call, Op::send, peeked.error, [this] { close(false); });
  }
  SysResult<std::size_t> sent;
  if (!data.empty()) {
    sent = on_fd(call, [&](int fd) {
      return ops.send(fd, data.data(), data.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
    });
  }
  if (is_would_block(sent.error)) return std::nullopt;
  if (!sent) fail(call, Op::send, sent.error, [this] { close(false); });
  context_->nanny.charge(send_, 64.0 + static_cast<double>(sent.value));
  context_->nanny.charge(recv_, 64);
  return sent.value;
}

}  // namespace repy::detail

namespace repy {

// The calls of the handle, flattened with the object's: one frame between the program
// and the system call (see TcpSocketImpl::recv). The plain calls' "nothing ready" is
// raised inline (sockets.hpp), in the frame the program called.

[[gnu::flatten]] std::optional<std::string> TCPSocket::recv_or_would_block(std::size_t bytes) {
  if (!impl_) detail::throw_closed_local("TCPSocket.recv");  // a handle to no socket
  return impl_->recv(bytes);
}

[[gnu::flatten]] std::optional<std::size_t> TCPSocket::send_or_would_block(std::string_view data) {
  if (!impl_) detail::throw_closed_local("TCPSocket.send");
  return impl_->send(data);
}

const SocketWouldBlockError& TCPSocket::would_block_error(bool sending) noexcept {
  return detail::would_block_error(sending ? detail::NotReady::send : detail::NotReady::recv);
}

[[gnu::flatten]] std::optional<std::string> TCPSocket::try_recv(std::size_t bytes) {
  if (!impl_) detail::throw_closed_local("TCPSocket.recv");
  return impl_->try_recv(bytes);
}

[[gnu::flatten]] std::optional<std::size_t> TCPSocket::try_send(std::string_view data) {
  if (!impl_) detail::throw_closed_local("TCPSocket.send");
  return impl_->try_send(data);
}

}  // namespace repy
