// The four calls that open sockets or send, each as: validate -> permit -> wait on the
// nanny -> act on the stack -> charge -> hand out a handle, once for both families (the
// `_ipv6` calls and Repy V2's IPv4 ones). Errors go through the error map from the step
// that meets them.
#include <fmt/format.h>
#include <sys/socket.h>

#include <algorithm>
#include <cmath>

#include "context/checks.hpp"
#include "context/connecting.hpp"
#include "context/socket_work.hpp"
#include "context/sockets.hpp"
#include "repy/context.hpp"
#include "repy/errors.hpp"

namespace repy {

namespace detail {
namespace {

// Repy caps datagrams so that programs behave the same on every platform.
constexpr std::size_t max_datagram = 9216;

// A listener's sanity and permission checks, then its insocket.
std::pair<Endpoints, Hold> start_listen(ContextState& state, Family family, std::string_view call,
                                        std::string_view localip, int localport, bool tcp) {
  Endpoints ends;
  ends.family = family;
  ends.local = parse_local_ip(state, family, call, "localip", localip);
  check_port(call, "localport", localport);
  ends.local_port = localport;
  permit_local(state, call, ends, tcp);
  return {ends, state.nanny.acquire(Resource::insockets, call)};
}

// The backlog follows the outsocket limit, as in Repy: more pending connections than
// the context may accept would only be refused later.
int backlog_for(const ContextState& state) {
  const double outsockets = data(state.policy).limit(Resource::outsockets);
  return std::isfinite(outsockets)
             ? static_cast<int>(std::clamp(outsockets, 1.0, double{SOMAXCONN}))
             : SOMAXCONN;
}

// The nanny step of a call that waits on `resources`: with `wait`, sleeps until it lets
// the call go (always true); without, only says whether it would now.
bool pass_nanny(const Nanny& nanny, std::initializer_list<Resource> resources,
                std::string_view call, bool wait) {
  for (Resource r : resources) {
    if (wait) {
      nanny.wait(r, call);
      continue;
    }
    const auto ready = nanny.ready_at(r, call);
    if (ready != Nanny::clock::time_point::min() && ready > Nanny::clock::now()) return false;
  }
  return true;
}

// The listener this thread sent through last. A program that sends from one
// UDPServerSocket over and over then skips the registry's lock and search on each
// datagram. It answers what the registry would: the registry gives the first open
// socket on the key, closing is for good, and later ones come after it; so while this
// one is open it is the answer, and once it closes the registry is asked again. The
// weak pointer keeps the socket's memory, not the socket, until the next lookup.
struct LastListener {
  const void* owner = nullptr;
  LocalKey key{address_v6(), 0};
  std::weak_ptr<const Registered> socket;
};
thread_local LastListener last_listener;

std::shared_ptr<const Registered> own_listener(ContextState& state, const LocalKey& key) {
  LastListener& last = last_listener;
  if (last.owner == state.owner() && last.key == key) {
    if (auto socket = last.socket.lock(); socket && !socket->closed()) return socket;
  }
  auto socket = state.registry().find(Role::udp_listener, key, state.owner());
  last = socket ? LastListener{state.owner(), key, socket} : LastListener{};
  return socket;
}

// Inline for the same reason as send_message below.
[[gnu::always_inline]] inline std::size_t send_datagram(ContextState& state, std::string_view call,
                                                        const Endpoints& ends,
                                                        std::string_view message) {
  const LocalKey key(ends.local, ends.local_port);
  // Through this context's own listener, so that replies come back to it.
  if (auto listener = own_listener(state, key)) {
    auto& udp = static_cast<const UdpServerImpl&>(*listener);
    if (auto sent = const_cast<UdpServerImpl&>(udp).send_to(call, ends, message)) return *sent;
  }
  Fd fd = open_socket(state, call, SOCK_DGRAM, ends);
  bind_local(state, call, Op::bind_send, fd, ends);
  auto sent = state.ops().sendto(fd.get(), message.data(), message.size(), MSG_NOSIGNAL,
                                 to_sockaddr(ends.remote, ends.remote_port));
  if (!sent) throw_network_error(call, Op::send_message, sent.error, ends);
  return sent.value;
}

// The four calls below are each one flow for both families: only how the IP arguments
// read (parse_local_ip) and how addresses print (Endpoints::family, the listeners'
// family) differ between sendmessage and sendmessage_ipv6, and so on.

// `wait`: the plain call; otherwise nothing when the nanny would make it wait. Inline
// into the public calls: a frame left on the stack across the system call costs a
// mispredicted return (see TcpSocketImpl::recv).
[[gnu::always_inline]] inline std::optional<std::size_t> send_message(
    ContextState& state, Family family, std::string_view call, std::string_view destip,
    int destport, std::string_view message, std::string_view localip, int localport, bool wait) {
  const Endpoints ends = check_endpoints(state, family, call, destip, destport, localip, localport);
  if (message.size() > max_datagram) {
    throw_argument_error(call, "message",
                         fmt::format("is {} bytes, more than the {}-byte datagram limit",
                                     message.size(), max_datagram),
                         message.substr(0, 16));
  }
  permit_local(state, call, ends, false);
  const Resource resource = send_resource(is_loopback(ends.remote));
  if (!pass_nanny(state.nanny, {resource}, call, wait)) return std::nullopt;
  const std::size_t sent = send_datagram(state, call, ends, message);
  state.nanny.charge(resource, 64.0 + static_cast<double>(sent));
  return sent;
}

// Up to a connect under way; `wait` as in send_message.
std::optional<Connecting> start_connection(const std::shared_ptr<ContextState>& state,
                                           Family family, std::string_view call,
                                           std::string_view destip, int destport,
                                           std::string_view localip, int localport, double timeout,
                                           bool wait) {
  const Endpoints ends =
      check_connection(*state, family, call, destip, destport, localip, localport, timeout);
  const bool loop = is_loopback(ends.remote);
  if (!pass_nanny(state->nanny, {send_resource(loop), recv_resource(loop)}, call, wait)) {
    return std::nullopt;
  }
  return begin_connection(state, call, ends, timeout);
}

TCPSocket open_connection(const std::shared_ptr<ContextState>& state, Family family,
                          std::string_view call, std::string_view destip, int destport,
                          std::string_view localip, int localport, double timeout) {
  Connecting c =
      *start_connection(state, family, call, destip, destport, localip, localport, timeout, true);
  await_connection(c);
  return finish_connection(c);
}

std::optional<PendingConnection> start_pending(const std::shared_ptr<ContextState>& state,
                                               Family family, std::string_view call,
                                               std::string_view destip, int destport,
                                               std::string_view localip, int localport,
                                               double timeout) {
  auto c =
      start_connection(state, family, call, destip, destport, localip, localport, timeout, false);
  if (!c) return std::nullopt;
  return Access::make_pending(std::make_unique<Connecting>(std::move(*c)));
}

TCPServerSocket listen_tcp(const std::shared_ptr<ContextState>& state, Family family,
                           std::string_view call, std::string_view localip, int localport) {
  auto [ends, insocket] = start_listen(*state, family, call, localip, localport, true);
  Fd fd = open_socket(*state, call, SOCK_STREAM, ends);
  bind_local(*state, call, Op::listen_tcp, fd, ends);
  if (int err = state->ops().listen(fd.get(), backlog_for(*state))) {
    throw_network_error(call, Op::listen_tcp, err, ends, Holder::listener);
  }
  return Access::make_handle(TcpServerImpl::open(state, std::move(fd), std::move(insocket),
                                                 LocalKey(ends.local, localport), family));
}

UDPServerSocket listen_udp(const std::shared_ptr<ContextState>& state, Family family,
                           std::string_view call, std::string_view localip, int localport) {
  auto [ends, insocket] = start_listen(*state, family, call, localip, localport, false);
  Fd fd = open_socket(*state, call, SOCK_DGRAM, ends);
  bind_local(*state, call, Op::listen_udp, fd, ends);
  return Access::make_handle(UdpServerImpl::open(state, std::move(fd), std::move(insocket),
                                                 LocalKey(ends.local, localport), family));
}

}  // namespace
}  // namespace detail

using namespace detail;

std::size_t Context::sendmessage_ipv6(std::string_view destip, int destport,
                                      std::string_view message, std::string_view localip,
                                      int localport) {
  return *send_message(*state_, Family::ipv6, "sendmessage_ipv6", destip, destport, message,
                       localip, localport, true);
}

TCPSocket Context::openconnection_ipv6(std::string_view destip, int destport,
                                       std::string_view localip, int localport, double timeout) {
  return open_connection(state_, Family::ipv6, "openconnection_ipv6", destip, destport, localip,
                         localport, timeout);
}

TCPServerSocket Context::listenforconnection_ipv6(std::string_view localip, int localport) {
  return listen_tcp(state_, Family::ipv6, "listenforconnection_ipv6", localip, localport);
}

UDPServerSocket Context::listenformessage_ipv6(std::string_view localip, int localport) {
  return listen_udp(state_, Family::ipv6, "listenformessage_ipv6", localip, localport);
}

std::size_t Context::sendmessage(std::string_view destip, int destport, std::string_view message,
                                 std::string_view localip, int localport) {
  return *send_message(*state_, Family::ipv4, "sendmessage", destip, destport, message, localip,
                       localport, true);
}

TCPSocket Context::openconnection(std::string_view destip, int destport, std::string_view localip,
                                  int localport, double timeout) {
  return open_connection(state_, Family::ipv4, "openconnection", destip, destport, localip,
                         localport, timeout);
}

TCPServerSocket Context::listenforconnection(std::string_view localip, int localport) {
  return listen_tcp(state_, Family::ipv4, "listenforconnection", localip, localport);
}

UDPServerSocket Context::listenformessage(std::string_view localip, int localport) {
  return listen_udp(state_, Family::ipv4, "listenformessage", localip, localport);
}

// ---- the steps for event loops

std::chrono::steady_clock::time_point Context::rate_ready_at(RateCall call,
                                                             std::string_view destip) const {
  const bool connect = call == RateCall::openconnection;
  const std::string_view name = connect ? "openconnection" : "sendmessage";
  const Family family = destip.find(':') == std::string_view::npos ? Family::ipv4 : Family::ipv6;
  const bool loop = is_loopback(parse_local_ip(*state_, family, name, "destip", destip));
  auto ready = state_->nanny.ready_at(send_resource(loop), name);
  if (connect) ready = std::max(ready, state_->nanny.ready_at(recv_resource(loop), name));
  return ready;
}

std::optional<std::size_t> Context::try_sendmessage_ipv6(std::string_view destip, int destport,
                                                         std::string_view message,
                                                         std::string_view localip, int localport) {
  return send_message(*state_, Family::ipv6, "sendmessage_ipv6", destip, destport, message, localip,
                      localport, false);
}

std::optional<std::size_t> Context::try_sendmessage(std::string_view destip, int destport,
                                                    std::string_view message,
                                                    std::string_view localip, int localport) {
  return send_message(*state_, Family::ipv4, "sendmessage", destip, destport, message, localip,
                      localport, false);
}

std::optional<PendingConnection> Context::start_openconnection_ipv6(std::string_view destip,
                                                                    int destport,
                                                                    std::string_view localip,
                                                                    int localport, double timeout) {
  return start_pending(state_, Family::ipv6, "openconnection_ipv6", destip, destport, localip,
                       localport, timeout);
}

std::optional<PendingConnection> Context::start_openconnection(std::string_view destip,
                                                               int destport,
                                                               std::string_view localip,
                                                               int localport, double timeout) {
  return start_pending(state_, Family::ipv4, "openconnection", destip, destport, localip, localport,
                       timeout);
}

}  // namespace repy
