// openconnection's two halves, and PendingConnection, the handle an event loop gets
// between them.
#include "context/connecting.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "context/checks.hpp"
#include "context/socket_work.hpp"
#include "context/sockets.hpp"
#include "repy/context.hpp"
#include "repy/errors.hpp"

namespace repy {

namespace detail {

using clock = std::chrono::steady_clock;

Endpoints check_connection(const ContextState& state, Family family, std::string_view call,
                           std::string_view destip, int destport, std::string_view localip,
                           int localport, double timeout) {
  const Endpoints ends = check_endpoints(state, family, call, destip, destport, localip, localport);
  if (!std::isfinite(timeout) || timeout <= 0) {
    throw_argument_error(call, "timeout", "must be a finite number of seconds above 0",
                         fmt::format("{}", timeout));
  }
  permit_local(state, call, ends, true);
  return ends;
}

Connecting begin_connection(const std::shared_ptr<ContextState>& context, std::string_view call,
                            const Endpoints& ends, double timeout) {
  Connecting c;
  c.context = context;
  c.call = call;
  c.ends = ends;
  c.outsocket = context->nanny.acquire(Resource::outsockets, call);
  c.fd = open_socket(*context, call, SOCK_STREAM, ends);
  bind_local(*context, call, Op::bind_connect, c.fd, ends);
  // A timeout of centuries is no timeout; the cap keeps the deadline representable.
  c.deadline = clock::now() + std::chrono::duration_cast<clock::duration>(
                                  std::chrono::duration<double>(std::min(timeout, 1e9)));
  c.connected = start_connect(*context, call, c.fd, ends);
  return c;
}

void await_connection(const Connecting& c) {
  if (c.connected) return;
  const auto left = std::chrono::ceil<std::chrono::milliseconds>(c.deadline - clock::now());
  if (!connect_completed(*c.context, c.call, c.fd, c.ends, left)) {
    throw_network_error(c.call, Op::connect, ETIMEDOUT, c.ends);
  }
}

TCPSocket finish_connection(Connecting& c) {
  c.finished = true;
  if (!c.connected) check_connected(*c.context, c.call, c.fd, c.ends);
  auto socket = TcpSocketImpl::open(c.context, std::move(c.fd), std::move(c.outsocket),
                                    c.ends.remote, LocalKey(c.ends.local, c.ends.local_port));
  const bool loop = is_loopback(c.ends.remote);
  c.context->nanny.charge(send_resource(loop), 128);
  c.context->nanny.charge(recv_resource(loop), 64);
  return Access::make_handle(std::move(socket));
}

PendingConnection Access::make_pending(std::unique_ptr<Connecting> impl) noexcept {
  PendingConnection pending;
  pending.impl_ = std::move(impl);
  return pending;
}

}  // namespace detail

using namespace detail;

PendingConnection::PendingConnection() noexcept = default;
PendingConnection::PendingConnection(PendingConnection&& other) noexcept = default;
PendingConnection& PendingConnection::operator=(PendingConnection&& other) noexcept = default;
PendingConnection::~PendingConnection() = default;

int PendingConnection::native_handle() const noexcept { return impl_ ? impl_->fd.get() : -1; }

std::chrono::steady_clock::time_point PendingConnection::deadline() const noexcept {
  return impl_ ? impl_->deadline : std::chrono::steady_clock::time_point::min();
}

std::optional<TCPSocket> PendingConnection::finish() {
  if (!impl_ || impl_->finished) throw_closed_local("PendingConnection.finish");
  Connecting& c = *impl_;
  try {
    if (!c.connected && !connect_completed(*c.context, c.call, c.fd, c.ends, {})) {
      if (clock::now() < c.deadline) return std::nullopt;
      throw_network_error(c.call, Op::connect, ETIMEDOUT, c.ends);
    }
    return finish_connection(c);
  } catch (...) {
    // The fd stays until this object goes, so that an event loop can deregister it
    // first; the outsocket goes now.
    c.finished = true;
    c.outsocket.release();
    throw;
  }
}

}  // namespace repy
