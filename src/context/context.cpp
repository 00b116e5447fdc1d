// repy::Context: the six Repy network calls, each as validate -> permit -> wait ->
// act on the stack -> map errors -> charge -> hand out.
#include "repy/context.hpp"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>

#include "context/context_state.hpp"
#include "context/socket_impl.hpp"
#include "core/access.hpp"
#include "core/address.hpp"
#include "core/error_map.hpp"
#include "net/sys.hpp"
#include "repy/errors.hpp"
#include "stack/stack_impl.hpp"

namespace repy {

namespace detail {

std::shared_ptr<UdpServerImpl> ContextState::udp_listener(const LocalKey& key) const {
  std::unique_lock lock(registry_mutex);
  auto it = udp_listeners.find(key);
  if (it == udp_listeners.end()) return nullptr;
  auto listener = it->second.lock();
  if (!listener) return nullptr;
  if (listener->closed()) {
    // Closing elsewhere right now: the caller will bind the address itself.
    lock.unlock();
    listener->wait_released();
    return nullptr;
  }
  return listener;
}

bool ContextState::has_tcp_listener(const LocalKey& key) const {
  std::lock_guard lock(registry_mutex);
  auto it = tcp_listeners.find(key);
  if (it == tcp_listeners.end()) return false;
  auto listener = it->second.lock();
  return listener && !listener->closed();
}

UdpListenerSet& UdpListenerSet::instance() {
  // Never destroyed: a socket in a static object may close after other statics are gone.
  static auto* set = new UdpListenerSet;
  return *set;
}
void UdpListenerSet::add(const void* stack, const LocalKey& key) {
  std::lock_guard lock(mutex_);
  keys_.emplace(stack, key);
}
void UdpListenerSet::remove(const void* stack, const LocalKey& key) {
  std::lock_guard lock(mutex_);
  if (auto it = keys_.find({stack, key}); it != keys_.end()) keys_.erase(it);
}
bool UdpListenerSet::contains(const void* stack, const LocalKey& key) const {
  std::lock_guard lock(mutex_);
  return keys_.count({stack, key}) > 0;
}

namespace {

// Repy caps datagrams so that programs behave the same on every platform.
constexpr std::size_t max_datagram = 9216;
// A public, stable IPv6 address to aim getmyip_ipv6's unconnected probe at; connecting
// a UDP socket sends nothing, it only asks the routing table.
constexpr std::string_view route_probe = "2001:4860:4860::8888";

Resource send_resource(bool loopback) noexcept {
  return loopback ? Resource::loopsend : Resource::netsend;
}
Resource recv_resource(bool loopback) noexcept {
  return loopback ? Resource::looprecv : Resource::netrecv;
}

bool same_address(const address_v6& a, const address_v6& b) noexcept {
  return a.to_bytes() == b.to_bytes() &&
         (a.scope_id() == 0 || b.scope_id() == 0 || a.scope_id() == b.scope_id());
}

// Checks shared by every call that names a local address: the IP must be allowed
// (nootherips), then the port must be in the policy's set.
void permit_local(const ContextState& state, std::string_view call, const address_v6& local,
                  int port, bool tcp) {
  const PolicyData& policy = data(state.policy);
  if (policy.nootherips && !is_loopback(local)) {
    bool allowed = false;
    for (const auto& preference : policy.preferences) {
      if (preference.ip) {
        allowed = same_address(*preference.ip, local);
      } else {
        auto addresses = impl(state.stack).interface_addresses(preference.iface);
        allowed = std::any_of(addresses.begin(), addresses.end(),
                              [&](const address_v6& a) { return same_address(a, local); });
      }
      if (allowed) break;
    }
    if (!allowed) {
      throw ResourceForbiddenError(fmt::format(
          "{}: localip {} is not allowed by the policy (nootherips)", call, to_text(local)));
    }
  }
  const bool port_ok =
      tcp ? state.policy.allows_connport(port) : state.policy.allows_messport(port);
  if (!port_ok) {
    throw ResourceForbiddenError(fmt::format("{}: localport {} is not allowed by the policy ({})",
                                             call, port, tcp ? "connport" : "messport"));
  }
}

Fd make_socket(ContextState& state, std::string_view call, int type, const Endpoints& ends) {
  int fd = impl(state.stack).make_socket(AF_INET6, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) throw_network_error(call, Op::other, -fd, impl(state.stack), ends);
  Fd owned(fd);
  // IPv4-mapped addresses must work on these sockets whatever the host's default is.
  int off = 0;
  ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof off);
  const PolicyData& policy = data(state.policy);
  if (int cap = type == SOCK_STREAM ? policy.tcp_buffer : policy.udp_buffer; cap > 0) {
    ::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &cap, sizeof cap);
    ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &cap, sizeof cap);
  }
  return owned;
}

void set_reuseaddr(int fd) noexcept {
  // Lets a port whose old connections are in TIME_WAIT be used again, as Repy does;
  // listeners still conflict with listeners.
  int on = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
}

void bind_local(ContextState& state, std::string_view call, Op op, int fd, const Endpoints& ends) {
  sockaddr_in6 sa = to_sockaddr(ends.local, ends.local_port);
  if (sys::bind(fd, reinterpret_cast<const sockaddr*>(&sa), sizeof sa) != 0) {
    throw_network_error(call, op, errno, impl(state.stack), ends);
  }
}

// Connects without blocking and waits for the outcome with poll(), within `timeout`.
void connect_within(ContextState& state, std::string_view call, int fd, const Endpoints& ends,
                    double timeout) {
  using clock = std::chrono::steady_clock;
  const auto deadline = clock::now() + std::chrono::duration_cast<clock::duration>(
                                           std::chrono::duration<double>(std::min(timeout, 1e9)));
  sockaddr_in6 sa = to_sockaddr(ends.remote, ends.remote_port);
  // A non-blocking connect interrupted by a signal keeps going in the background, so
  // EINTR is handled like EINPROGRESS.
  if (sys::connect(fd, reinterpret_cast<const sockaddr*>(&sa), sizeof sa) == 0) return;
  if (errno != EINPROGRESS && errno != EINTR) {
    throw_network_error(call, Op::connect, errno, impl(state.stack), ends);
  }
  for (;;) {
    auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - clock::now());
    if (left.count() <= 0) break;
    pollfd p{fd, POLLOUT, 0};
    int rc = sys::poll(&p, 1, static_cast<int>(std::min<long long>(left.count(), 1 << 30)));
    if (rc < 0 && errno == EINTR) continue;
    if (rc < 0) throw_network_error(call, Op::connect, errno, impl(state.stack), ends);
    if (rc == 0) continue;
    int err = 0;
    socklen_t len = sizeof err;
    ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err == 0) return;
    throw_network_error(call, Op::connect, err, impl(state.stack), ends);
  }
  throw TimeoutError(fmt::format("{}: connecting [{}]:{} -> [{}]:{} took longer than {} s", call,
                                 to_text(ends.local), ends.local_port, to_text(ends.remote),
                                 ends.remote_port, timeout));
}

bool is_under(std::string_view name, std::string_view domain) {
  auto lower = [](std::string_view s) {
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return out;
  };
  std::string n = lower(name);
  if (!n.empty() && n.back() == '.') n.pop_back();
  return n == domain || (n.size() > domain.size() &&
                         n.compare(n.size() - domain.size(), domain.size(), domain) == 0 &&
                         n[n.size() - domain.size() - 1] == '.');
}

// The three results getaddrinfo(3) gives for one address and no socket type.
std::vector<AddrInfo> literal_result(std::string_view ip, std::uint32_t scope) {
  std::vector<AddrInfo> out;
  for (auto [type, proto] : {std::pair{SOCK_STREAM, int{IPPROTO_TCP}},
                             std::pair{SOCK_DGRAM, int{IPPROTO_UDP}}, std::pair{SOCK_RAW, 0}}) {
    AddrInfo info;
    info.family = AF_INET6;
    info.socktype = type;
    info.protocol = proto;
    info.ip = std::string(ip);
    info.scope_id = scope;
    out.push_back(std::move(info));
  }
  return out;
}

// Whether a UDP socket of the stack can bind the address (it is one of the stack's).
bool bindable(ContextState& state, const address_v6& address) {
  int fd = impl(state.stack).make_socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  Fd owned(fd);
  int off = 0;
  ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof off);
  sockaddr_in6 sa = to_sockaddr(address, 0);
  return ::bind(fd, reinterpret_cast<const sockaddr*>(&sa), sizeof sa) == 0;
}

// Sanity of the four address arguments a sending call takes (SPEC section 3).
Endpoints check_endpoints(std::string_view call, std::string_view destip, int destport,
                          std::string_view localip, int localport) {
  Endpoints ends;
  ends.remote = parse_ip(call, "destip", destip);
  check_port(call, "destport", destport);
  ends.local = parse_ip(call, "localip", localip);
  check_port(call, "localport", localport);
  ends.remote_port = destport;
  ends.local_port = localport;
  if (same_address(ends.local, ends.remote) && localport == destport) {
    throw_argument_error(call, "localip/localport", "is the same as destip/destport",
                         fmt::format("[{}]:{}", localip, localport));
  }
  return ends;
}

// What a listening call has after its checks: the address and the insocket it holds.
struct ListenStart {
  Endpoints ends;
  Hold insocket;
};

// A listener's sanity and permission checks, then its insocket.
ListenStart start_listen(ContextState& state, std::string_view call, std::string_view localip,
                         int localport, bool tcp) {
  ListenStart start;
  start.ends.local = parse_ip(call, "localip", localip);
  check_port(call, "localport", localport);
  start.ends.local_port = localport;
  permit_local(state, call, start.ends.local, localport, tcp);
  start.insocket = state.nanny.acquire(Resource::insockets, call);
  return start;
}

}  // namespace
}  // namespace detail

using namespace detail;

Context::Context() : Context(Policy::unlimited()) {}

Context::Context(Policy policy, Stack stack)
    : state_(std::make_shared<ContextState>(std::move(policy), std::move(stack))) {}

const Policy& Context::policy() const noexcept { return state_->policy; }
const Stack& Context::stack() const noexcept { return state_->stack; }

std::vector<AddrInfo> Context::getAddripv6(std::string_view name) {
  constexpr std::string_view call = "getAddripv6";
  if (name.empty()) throw_argument_error(call, "name", "is empty", name);
  if (name.find('\0') != std::string_view::npos) {
    throw_argument_error(call, "name", "contains a NUL byte", name);
  }
  if (name.size() > 255) throw_argument_error(call, "name", "is longer than 255 bytes", name);
  if (std::any_of(name.begin(), name.end(),
                  [](unsigned char c) { return std::isspace(c) || std::iscntrl(c); })) {
    throw_argument_error(call, "name", "contains white space or control characters", name);
  }
  state_->nanny.wait(Resource::netsend, call);
  state_->nanny.wait(Resource::netrecv, call);

  std::vector<AddrInfo> result;
  in6_addr raw{};
  std::string text(name.substr(0, name.find('%')));
  if (::inet_pton(AF_INET6, text.c_str(), &raw) == 1) {
    std::uint32_t scope = 0;
    if (name.find('%') != std::string_view::npos) {
      scope = static_cast<std::uint32_t>(parse_ip(call, "name", name).scope_id());
    }
    result = literal_result(name, scope);
  } else if (is_under(name, "localhost")) {
    // RFC 6761: localhost names are answered here, never sent to a DNS server.
    result = literal_result("::1", 0);
  } else if (is_under(name, "invalid")) {
    throw NetworkAddressError(
        fmt::format("{}: {} is under .invalid, which never resolves", call, quote(name)));
  } else {
    auto answers = impl(state_->stack).resolve(name, {}, AF_INET6, 0, 0, 0);
    std::erase_if(answers, [](const AddrInfo& a) { return a.family != AF_INET6; });
    if (answers.empty()) {
      throw NetworkAddressError(fmt::format("{}: {} has no IPv6 address", call, quote(name)));
    }
    result = std::move(answers);
  }
  state_->nanny.charge(Resource::netsend, 1024);
  state_->nanny.charge(Resource::netrecv, 4096);
  return result;
}

std::string Context::getmyip_ipv6() {
  constexpr std::string_view call = "getmyip_ipv6";
  state_->nanny.wait(Resource::netsend, call);
  state_->nanny.wait(Resource::netrecv, call);
  auto charge = [&] {
    state_->nanny.charge(Resource::netsend, 256);
    state_->nanny.charge(Resource::netrecv, 128);
  };
  const PolicyData& policy = data(state_->policy);
  for (const auto& preference : policy.preferences) {
    std::vector<address_v6> candidates;
    if (preference.ip) {
      candidates.push_back(*preference.ip);
    } else {
      candidates = impl(state_->stack).interface_addresses(preference.iface);
      // A link-local address is only an answer when the interface has nothing wider.
      std::stable_partition(candidates.begin(), candidates.end(),
                            [](const address_v6& a) { return !a.is_link_local(); });
    }
    for (const auto& candidate : candidates) {
      if (bindable(*state_, candidate)) {
        charge();
        return to_text(candidate);
      }
    }
  }
  if (policy.nootherips && !policy.preferences.empty()) {
    throw InternetConnectivityError(
        fmt::format("{}: none of the policy's preferred addresses is on this stack", call));
  }

  Endpoints ends{address_v6(), 0, parse_ip(call, "probe", route_probe), 53};
  int fd = impl(state_->stack).make_socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw_network_error(call, Op::other, -fd, impl(state_->stack), ends);
  Fd owned(fd);
  sockaddr_in6 to = to_sockaddr(ends.remote, ends.remote_port);
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&to), sizeof to) != 0) {
    int err = errno;
    if (err == ENETUNREACH || err == EHOSTUNREACH || err == ENETDOWN || err == EADDRNOTAVAIL ||
        err == EINVAL) {
      throw InternetConnectivityError(
          fmt::format("{}: no route to the IPv6 Internet: {}", call, errno_text(err)));
    }
    throw_network_error(call, Op::other, err, impl(state_->stack), ends);
  }
  sockaddr_storage local{};
  socklen_t len = sizeof local;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &len);
  auto [address, port] = from_sockaddr(local);
  (void)port;
  if (address.is_unspecified() || is_loopback(address)) {
    throw InternetConnectivityError(
        fmt::format("{}: the route to the IPv6 Internet has no usable source address", call));
  }
  charge();
  return to_text(address);
}

std::size_t Context::sendmessage_ipv6(std::string_view destip, int destport,
                                      std::string_view message, std::string_view localip,
                                      int localport) {
  constexpr std::string_view call = "sendmessage_ipv6";
  ContextState& state = *state_;
  const Endpoints ends = check_endpoints(call, destip, destport, localip, localport);
  if (message.size() > max_datagram) {
    throw RepyArgumentError(
        fmt::format("{}: message is {} bytes, more than the {}-byte datagram limit", call,
                    message.size(), max_datagram));
  }
  permit_local(state, call, ends.local, localport, false);
  const bool loop = is_loopback(ends.remote);
  state.nanny.wait(send_resource(loop), call);

  const sockaddr_in6 to = to_sockaddr(ends.remote, destport);
  std::optional<std::size_t> sent;
  if (auto listener = state.udp_listener(LocalKey(ends.local, localport))) {
    sent = listener->send_to(call, to, message);
  }
  if (!sent) {
    Fd fd = make_socket(state, call, SOCK_DGRAM, ends);
    bind_local(state, call, Op::bind_udp_send, fd.get(), ends);
    ssize_t n;
    do {
      n = sys::sendto(fd.get(), message.data(), message.size(), MSG_NOSIGNAL,
                      reinterpret_cast<const sockaddr*>(&to), sizeof to);
    } while (n < 0 && errno == EINTR);
    if (n < 0) throw_network_error(call, Op::other, errno, impl(state.stack), ends);
    sent = static_cast<std::size_t>(n);
  }
  state.nanny.charge(send_resource(loop), 64.0 + static_cast<double>(*sent));
  return *sent;
}

TCPSocket Context::openconnection_ipv6(std::string_view destip, int destport,
                                       std::string_view localip, int localport, double timeout) {
  constexpr std::string_view call = "openconnection_ipv6";
  ContextState& state = *state_;
  const Endpoints ends = check_endpoints(call, destip, destport, localip, localport);
  if (!std::isfinite(timeout) || timeout <= 0) {
    throw_argument_error(call, "timeout", "must be a finite number of seconds above 0",
                         fmt::format("{}", timeout));
  }
  permit_local(state, call, ends.local, localport, true);
  const bool loop = is_loopback(ends.remote);
  state.nanny.wait(send_resource(loop), call);
  state.nanny.wait(recv_resource(loop), call);
  Hold outsocket = state.nanny.acquire(Resource::outsockets, call);

  if (state.has_tcp_listener(LocalKey(ends.local, localport))) {
    throw AlreadyListeningError(
        fmt::format("{}: this context listens on [{}]:{}", call, to_text(ends.local), localport));
  }
  Fd fd = make_socket(state, call, SOCK_STREAM, ends);
  set_reuseaddr(fd.get());
  bind_local(state, call, Op::bind_tcp_connect, fd.get(), ends);
  connect_within(state, call, fd.get(), ends, timeout);

  auto impl = std::make_shared<TcpSocketImpl>(state_, std::move(fd), std::move(outsocket),
                                              ends.remote, localport);
  state.nanny.charge(send_resource(loop), 128);
  state.nanny.charge(recv_resource(loop), 64);
  return Access::make_handle(std::move(impl));
}

TCPServerSocket Context::listenforconnection_ipv6(std::string_view localip, int localport) {
  constexpr std::string_view call = "listenforconnection_ipv6";
  ContextState& state = *state_;
  auto [ends, insocket] = start_listen(state, call, localip, localport, true);

  const LocalKey key(ends.local, localport);
  if (state.has_tcp_listener(key)) {
    throw AlreadyListeningError(fmt::format("{}: this context already listens on [{}]:{}", call,
                                            to_text(ends.local), localport));
  }
  Fd fd = make_socket(state, call, SOCK_STREAM, ends);
  set_reuseaddr(fd.get());
  bind_local(state, call, Op::bind_tcp_listen, fd.get(), ends);
  // The backlog follows the outsocket limit, as in Repy: more pending connections than
  // the context may accept would only be refused later.
  const double outsockets = data(state.policy).limit(Resource::outsockets);
  const int backlog = std::isfinite(outsockets)
                          ? static_cast<int>(std::clamp(outsockets, 1.0, double{SOMAXCONN}))
                          : SOMAXCONN;
  if (sys::listen(fd.get(), backlog) != 0) {
    throw_network_error(call, Op::bind_tcp_listen, errno, impl(state.stack), ends);
  }
  auto impl = std::make_shared<TcpServerImpl>(state_, std::move(fd), std::move(insocket),
                                              ends.local, localport);
  {
    std::lock_guard lock(state.registry_mutex);
    state.tcp_listeners[key] = impl;
  }
  return Access::make_handle(std::move(impl));
}

UDPServerSocket Context::listenformessage_ipv6(std::string_view localip, int localport) {
  constexpr std::string_view call = "listenformessage_ipv6";
  ContextState& state = *state_;
  auto [ends, insocket] = start_listen(state, call, localip, localport, false);

  const LocalKey key(ends.local, localport);
  if (state.udp_listener(key) || UdpListenerSet::instance().contains(&impl(state.stack), key)) {
    throw AlreadyListeningError(fmt::format("{}: a UDPServerSocket already listens on [{}]:{}",
                                            call, to_text(ends.local), localport));
  }
  Fd fd = make_socket(state, call, SOCK_DGRAM, ends);
  bind_local(state, call, Op::bind_udp_listen, fd.get(), ends);
  auto impl = std::make_shared<UdpServerImpl>(state_, std::move(fd), std::move(insocket),
                                              ends.local, localport);
  {
    std::lock_guard lock(state.registry_mutex);
    state.udp_listeners[key] = impl;
  }
  UdpListenerSet::instance().add(&detail::impl(state.stack), key);
  return Access::make_handle(std::move(impl));
}

ResourceReport Context::getresources() const {
  ResourceReport report = state_->nanny.report();
  std::lock_guard lock(state_->registry_mutex);
  report.used_connports.insert(state_->connection_ports.begin(), state_->connection_ports.end());
  for (const auto& [key, listener] : state_->tcp_listeners) {
    if (!listener.expired()) report.used_connports.insert(key.port);
  }
  for (const auto& [key, listener] : state_->udp_listeners) {
    if (!listener.expired()) report.used_messports.insert(key.port);
  }
  return report;
}

}  // namespace repy
