// TCPServerSocket: getconnection and close of a listening socket.
#include <cerrno>

#include "context/sockets.hpp"
#include "core/access.hpp"
#include "repy/errors.hpp"

namespace repy::detail {

std::shared_ptr<TcpServerImpl> TcpServerImpl::open(std::shared_ptr<ContextState> context, Fd fd,
                                                   Hold insocket, const LocalKey& local,
                                                   Family family) {
  return make_registered<TcpServerImpl>(Role::tcp_listener, local, context, std::move(fd),
                                        std::move(insocket), local, family);
}

TcpServerImpl::TcpServerImpl(std::shared_ptr<ContextState> context, Fd fd, Hold insocket,
                             const LocalKey& local, Family family)
    : SocketBase(std::move(context), std::move(fd), std::move(insocket),
                 {recv_resource(is_loopback(local.address())),
                  send_resource(is_loopback(local.address()))}),
      local_(local),
      family_(family) {}

TcpServerImpl::~TcpServerImpl() { close(); }

bool TcpServerImpl::close() noexcept { return close_fd(); }

std::optional<Connection> TcpServerImpl::getconnection() {
  constexpr std::string_view call = "TCPServerSocket.getconnection";
  wait_for_rates(call);
  return accept_now(call);
}

std::optional<Connection> TcpServerImpl::try_getconnection() {
  constexpr std::string_view call = "TCPServerSocket.getconnection";
  if (closed()) throw_closed_local(call);
  if (!rate_ready(call)) return std::nullopt;
  return accept_now(call);
}

std::optional<Connection> TcpServerImpl::accept_now(std::string_view call) {
  sockaddr_storage peer_sa{};
  SysResult<int> accepted;
  do {
    accepted = on_fd(call, [&](int fd) { return context_->ops().accept(fd, peer_sa); });
    // A connection aborted before it was taken is simply not there any more; look at
    // the next one (SPEC section 4).
  } while (accepted.error == ECONNABORTED);
  if (is_would_block(accepted.error)) return std::nullopt;
  if (!accepted) fail(call, Op::accept, accepted.error, [this] { close(); });
  Fd conn(accepted.value);
  // Without an outsocket the pending connection is closed here (the Fd goes).
  Hold outsocket = context_->nanny.acquire(Resource::outsockets, call);
  auto [peer, peer_port] = from_sockaddr(peer_sa);
  auto socket = TcpSocketImpl::open(context_, std::move(conn), std::move(outsocket), peer, local_);
  const bool loop = is_loopback(peer);
  context_->nanny.charge(recv_resource(loop), 128);
  context_->nanny.charge(send_resource(loop), 64);
  return Connection{to_text(peer, family_), peer_port, Access::make_handle(std::move(socket))};
}

}  // namespace repy::detail
