// TCPSocket, TCPServerSocket and UDPServerSocket.
#include <arpa/inet.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <mutex>

#include "context/socket_impl.hpp"
#include "core/access.hpp"
#include "core/error_map.hpp"
#include "net/sys.hpp"
#include "repy/errors.hpp"

namespace repy {
namespace detail {

namespace {

// Enough for any datagram and for a generous TCP read; one per thread, so a recv()
// copies only what arrived instead of zero-filling what was asked for.
constexpr std::size_t io_buffer_size = 65536;

char* io_buffer() {
  thread_local std::unique_ptr<char[]> buffer(new char[io_buffer_size]);
  return buffer.get();
}

Resource send_resource(bool loopback) noexcept {
  return loopback ? Resource::loopsend : Resource::netsend;
}
Resource recv_resource(bool loopback) noexcept {
  return loopback ? Resource::looprecv : Resource::netrecv;
}

// Drops a closing listener from its context's registry, unless the entry is already
// someone else's. From a destructor the weak pointer has expired, hence that test.
template <class Impl>
void forget_listener(std::map<LocalKey, std::weak_ptr<Impl>>& registry, const LocalKey& key,
                     const Impl* self) noexcept {
  if (auto it = registry.find(key);
      it != registry.end() && (it->second.expired() || it->second.lock().get() == self)) {
    registry.erase(it);
  }
}

[[noreturn]] void throw_closed_local(std::string_view call) {
  throw SocketClosedLocal(fmt::format("{}: the socket is closed", call));
}

}  // namespace

// ---- SocketBase

SocketBase::SocketBase(std::shared_ptr<ContextState> context, Fd fd, Hold hold) noexcept
    : context_(std::move(context)), fd_(std::move(fd)), hold_(std::move(hold)) {}

SocketBase::~SocketBase() = default;

int SocketBase::native_handle() const noexcept {
  std::shared_lock lock(guard_);
  return closed() ? -1 : fd_.get();
}

bool SocketBase::wait_for(short events, std::chrono::milliseconds timeout) const {
  using clock = std::chrono::steady_clock;
  const auto deadline = clock::now() + timeout;
  std::shared_lock lock(guard_);
  for (;;) {
    if (closed()) return true;
    pollfd p{fd_.get(), events, 0};
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock::now());
    int rc = sys::poll(&p, 1, static_cast<int>(std::max<long long>(0, left.count())));
    if (rc > 0) return true;
    if (rc == 0) return closed();
    if (errno != EINTR) return true;  // let the next call report the error
  }
}

bool SocketBase::close_fd() noexcept {
  if (closed_.exchange(true, std::memory_order_acq_rel)) return false;
  // Wakes threads blocked in poll() on this fd; they then drop the shared guard.
  ::shutdown(fd_.get(), SHUT_RDWR);
  std::unique_lock lock(guard_);
  fd_.reset();
  hold_.release();
  released_.store(true, std::memory_order_release);
  released_.notify_all();
  return true;
}

// ---- TcpSocketImpl

TcpSocketImpl::TcpSocketImpl(std::shared_ptr<ContextState> context, Fd fd, Hold outsocket,
                             const address_v6& peer, int local_port)
    : SocketBase(std::move(context), std::move(fd), std::move(outsocket)),
      send_(send_resource(is_loopback(peer))),
      recv_(recv_resource(is_loopback(peer))),
      local_port_(local_port) {
  std::lock_guard lock(context_->registry_mutex);
  context_->connection_ports.insert(local_port_);
}

TcpSocketImpl::~TcpSocketImpl() { close(false); }

bool TcpSocketImpl::close(bool charge) noexcept {
  if (charge && !closed()) {
    // Repy waits for the FIN exchange's budget like any call, but close() must not
    // throw: a zero limit simply skips the wait.
    try {
      context_->nanny.wait(recv_, "TCPSocket.close");
      context_->nanny.wait(send_, "TCPSocket.close");
    } catch (const RepyException&) {
    }
  }
  if (!close_fd()) return false;
  {
    std::lock_guard lock(context_->registry_mutex);
    auto& ports = context_->connection_ports;
    if (auto it = ports.find(local_port_); it != ports.end()) ports.erase(it);
  }
  if (charge) {
    context_->nanny.charge(send_, 128);
    context_->nanny.charge(recv_, 64);
  }
  return true;
}

void TcpSocketImpl::fail(std::string_view call, int err) {
  // Only an error nobody foresaw ends the socket here. After a reset the socket stays
  // open, answering SocketClosedRemote, until the program closes it (and gets true).
  if (closes_socket(err)) close(false);
  throw_network_error(call, Op::recv, err, impl(context_->stack), Endpoints{});
}

std::string TcpSocketImpl::recv(std::size_t bytes) {
  constexpr std::string_view call = "TCPSocket.recv";
  if (bytes == 0) throw_argument_error(call, "bytes", "must be at least 1", "0");
  if (closed()) throw_closed_local(call);
  context_->nanny.wait(recv_, call);
  context_->nanny.wait(send_, call);
  int err = 0;
  ssize_t got = 0;
  char* buffer = io_buffer();
  {
    std::shared_lock lock(guard_);
    if (closed()) throw_closed_local(call);
    do {
      got = sys::recv(fd_.get(), buffer, std::min(bytes, io_buffer_size), MSG_DONTWAIT);
    } while (got < 0 && errno == EINTR);
    if (got < 0) err = errno;
  }
  // A close() from another thread shuts the socket down under a running call; what
  // that call then sees is our own close, not the peer's.
  if (got <= 0 && closed()) throw_closed_local(call);
  if (got == 0) {
    throw SocketClosedRemote(fmt::format("{}: the peer closed the connection", call));
  }
  if (got < 0) {
    if (err == EAGAIN || err == EWOULDBLOCK) {
      throw SocketWouldBlockError(fmt::format("{}: no data has arrived yet", call));
    }
    fail(call, err);
  }
  context_->nanny.charge(recv_, 64.0 + static_cast<double>(got));
  context_->nanny.charge(send_, 64);
  return std::string(buffer, static_cast<std::size_t>(got));
}

std::size_t TcpSocketImpl::send(std::string_view data) {
  constexpr std::string_view call = "TCPSocket.send";
  if (closed()) throw_closed_local(call);
  context_->nanny.wait(send_, call);
  context_->nanny.wait(recv_, call);
  int err = 0;
  ssize_t sent = 0;
  bool peer_closed = false;
  {
    std::shared_lock lock(guard_);
    if (closed()) throw_closed_local(call);
    // Like Repy, look for the peer's FIN before sending: a socket whose peer has
    // closed reads as end-of-stream, and sending into it would only earn a reset.
    char probe;
    ssize_t peeked;
    do {
      peeked = sys::recv(fd_.get(), &probe, 1, MSG_PEEK | MSG_DONTWAIT);
    } while (peeked < 0 && errno == EINTR);
    if (peeked == 0) {
      peer_closed = true;
    } else if (peeked < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
      err = errno;
    } else if (!data.empty()) {
      do {
        sent = sys::send(fd_.get(), data.data(), data.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
      } while (sent < 0 && errno == EINTR);
      if (sent < 0) err = errno;
    }
  }
  if ((peer_closed || err != 0) && closed()) throw_closed_local(call);
  if (peer_closed) {
    throw SocketClosedRemote(fmt::format("{}: the peer closed the connection", call));
  }
  if (err == EAGAIN || err == EWOULDBLOCK) {
    throw SocketWouldBlockError(
        fmt::format("{}: the send buffer is full ({} bytes offered)", call, data.size()));
  }
  if (err != 0) fail(call, err);
  context_->nanny.charge(send_, 64.0 + static_cast<double>(sent));
  context_->nanny.charge(recv_, 64);
  return static_cast<std::size_t>(sent);
}

// ---- TcpServerImpl

TcpServerImpl::TcpServerImpl(std::shared_ptr<ContextState> context, Fd fd, Hold insocket,
                             const address_v6& local, int local_port)
    : SocketBase(std::move(context), std::move(fd), std::move(insocket)),
      key_(local, local_port),
      loopback_(is_loopback(local)) {}

TcpServerImpl::~TcpServerImpl() { close(); }

bool TcpServerImpl::close() noexcept {
  if (!close_fd()) return false;
  std::lock_guard lock(context_->registry_mutex);
  forget_listener(context_->tcp_listeners, key_, this);
  return true;
}

Connection TcpServerImpl::getconnection() {
  constexpr std::string_view call = "TCPServerSocket.getconnection";
  if (closed()) throw_closed_local(call);
  context_->nanny.wait(recv_resource(loopback_), call);
  context_->nanny.wait(send_resource(loopback_), call);
  sockaddr_storage peer_sa{};
  Fd conn;
  int err = 0;
  {
    std::shared_lock lock(guard_);
    if (closed()) throw_closed_local(call);
    socklen_t len = sizeof peer_sa;
    int fd;
    do {
      fd = sys::accept4(fd_.get(), reinterpret_cast<sockaddr*>(&peer_sa), &len,
                        SOCK_NONBLOCK | SOCK_CLOEXEC);
    } while (fd < 0 && errno == EINTR);
    if (fd < 0) err = errno;
    conn = Fd(fd);
  }
  if (!conn && closed()) throw_closed_local(call);
  if (!conn) {
    // A connection reset before we took it is simply not there any more.
    if (err == EAGAIN || err == EWOULDBLOCK || err == ECONNABORTED) {
      throw SocketWouldBlockError(fmt::format("{}: no connection is pending", call));
    }
    if (closes_socket(err)) close();
    throw_network_error(call, Op::accept, err, impl(context_->stack), Endpoints{});
  }
  // Without an outsocket the pending connection is closed here (the Fd goes).
  Hold outsocket = context_->nanny.acquire(Resource::outsockets, call);
  auto [peer, peer_port] = from_sockaddr(peer_sa);
  auto impl = std::make_shared<TcpSocketImpl>(context_, std::move(conn), std::move(outsocket), peer,
                                              key_.port);
  const bool loop = is_loopback(peer);
  context_->nanny.charge(recv_resource(loop), 128);
  context_->nanny.charge(send_resource(loop), 64);
  return Connection{to_text(peer), peer_port, Access::make_handle(std::move(impl))};
}

// ---- UdpServerImpl

UdpServerImpl::UdpServerImpl(std::shared_ptr<ContextState> context, Fd fd, Hold insocket,
                             const address_v6& local, int local_port)
    : SocketBase(std::move(context), std::move(fd), std::move(insocket)),
      key_(local, local_port),
      loopback_(is_loopback(local)) {}

UdpServerImpl::~UdpServerImpl() { close(); }

bool UdpServerImpl::close() noexcept {
  if (!close_fd()) return false;
  UdpListenerSet::instance().remove(&impl(context_->stack), key_);
  std::lock_guard lock(context_->registry_mutex);
  forget_listener(context_->udp_listeners, key_, this);
  return true;
}

Message UdpServerImpl::getmessage() {
  constexpr std::string_view call = "UDPServerSocket.getmessage";
  if (closed()) throw_closed_local(call);
  context_->nanny.wait(recv_resource(loopback_), call);
  sockaddr_storage from{};
  ssize_t got;
  int err = 0;
  char* buffer = io_buffer();
  {
    std::shared_lock lock(guard_);
    if (closed()) throw_closed_local(call);
    socklen_t len = sizeof from;
    do {
      got = sys::recvfrom(fd_.get(), buffer, io_buffer_size, MSG_DONTWAIT,
                          reinterpret_cast<sockaddr*>(&from), &len);
    } while (got < 0 && errno == EINTR);
    if (got < 0) err = errno;
  }
  if (got < 0 && closed()) throw_closed_local(call);
  if (got < 0) {
    if (err == EAGAIN || err == EWOULDBLOCK) {
      throw SocketWouldBlockError(fmt::format("{}: no message has arrived yet", call));
    }
    if (closes_socket(err)) close();
    throw_network_error(call, Op::recv, err, impl(context_->stack), Endpoints{});
  }
  auto [peer, peer_port] = from_sockaddr(from);
  context_->nanny.charge(recv_resource(is_loopback(peer)), 64.0 + static_cast<double>(got));
  return Message{to_text(peer), peer_port, std::string(buffer, static_cast<std::size_t>(got))};
}

std::optional<std::size_t> UdpServerImpl::send_to(std::string_view call, const sockaddr_in6& to,
                                                  std::string_view message) {
  ssize_t sent;
  int err = 0;
  {
    std::shared_lock lock(guard_);
    if (closed()) {
      // The caller will bind the address itself, so it must be free by then.
      lock.unlock();
      wait_released();
      return std::nullopt;
    }
    do {
      sent = sys::sendto(fd_.get(), message.data(), message.size(), MSG_DONTWAIT | MSG_NOSIGNAL,
                         reinterpret_cast<const sockaddr*>(&to), sizeof to);
    } while (sent < 0 && errno == EINTR);
    if (sent < 0) err = errno;
  }
  if (sent < 0) {
    address_v6::bytes_type bytes;
    std::memcpy(bytes.data(), &to.sin6_addr, bytes.size());
    Endpoints ends{address_v6(key_.bytes, key_.scope), key_.port, address_v6(bytes),
                   ntohs(to.sin6_port)};
    throw_network_error(call, Op::other, err, impl(context_->stack), ends);
  }
  return static_cast<std::size_t>(sent);
}

}  // namespace detail

// ---- the public handles

namespace {
template <class Impl>
Impl& live(const std::shared_ptr<Impl>& impl, std::string_view call) {
  if (!impl) throw SocketClosedLocal(fmt::format("{}: the socket was never opened", call));
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
