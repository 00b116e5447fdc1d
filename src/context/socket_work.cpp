// Making, binding and connecting a call's socket on the context's stack.
#include "context/socket_work.hpp"

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <chrono>

#include "net/socket_table.hpp"

namespace repy::detail {

namespace {

// Who holds the local end that `op` found busy: a listener this process knows of
// first (the kernel's table cannot tell a UDPServerSocket from any bound socket),
// then the stack's table.
Holder holder_of(const ContextState& state, Op op, const Endpoints& ends) {
  const bool udp = op == Op::listen_udp || op == Op::bind_send;
  if (op != Op::connect) {
    const LocalKey key(ends.local, ends.local_port);
    if (state.registry().find(udp ? Role::udp_listener : Role::tcp_listener, key)) {
      return Holder::listener;
    }
  }
  return table_holder(state.ops(), udp ? IPPROTO_UDP : IPPROTO_TCP, ends);
}

// Runs a bind or connect. When the address is busy but nothing holds it by the time
// we look, the holder has just let go: one more try answers for sure, where a guess
// from an empty table would not.
template <class Attempt>
void attempt_twice(const ContextState& state, std::string_view call, Op op, const Endpoints& ends,
                   Attempt&& attempt) {
  int err = attempt();
  if (err == 0) return;
  Holder holder = Holder::nobody;
  if (is_address_busy(op, err)) {
    holder = holder_of(state, op, ends);
    if (holder == Holder::nobody) {
      err = attempt();
      if (err == 0) return;
      if (is_address_busy(op, err)) holder = holder_of(state, op, ends);
    }
  }
  throw_network_error(call, op, err, ends, holder);
}

void set_option(const ContextState& state, std::string_view call, const Fd& fd,
                const Endpoints& ends, int level, int name, int value) {
  if (int err = state.ops().setsockopt(fd.get(), level, name, value)) {
    throw_network_error(call, Op::other, err, ends);
  }
}

}  // namespace

Fd open_socket(const ContextState& state, std::string_view call, int type, const Endpoints& ends) {
  int made = state.ops().make_socket(AF_INET6, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (made < 0) throw_network_error(call, Op::other, -made, ends);
  Fd fd(made);
  // IPv4-mapped addresses must work on these sockets whatever the host's default is.
  set_option(state, call, fd, ends, IPPROTO_IPV6, IPV6_V6ONLY, 0);
  const PolicyData& policy = data(state.policy);
  if (int cap = type == SOCK_STREAM ? policy.tcp_buffer : policy.udp_buffer; cap > 0) {
    set_option(state, call, fd, ends, SOL_SOCKET, SO_SNDBUF, cap);
    set_option(state, call, fd, ends, SOL_SOCKET, SO_RCVBUF, cap);
  }
  // Lets a port whose old connections are in TIME_WAIT be used again, as Repy does;
  // listeners still conflict with listeners.
  if (type == SOCK_STREAM) set_option(state, call, fd, ends, SOL_SOCKET, SO_REUSEADDR, 1);
  return fd;
}

void bind_local(const ContextState& state, std::string_view call, Op op, const Fd& fd,
                const Endpoints& ends) {
  const sockaddr_in6 local = to_sockaddr(ends.local, ends.local_port);
  attempt_twice(state, call, op, ends, [&] { return state.ops().bind(fd.get(), local); });
}

bool start_connect(const ContextState& state, std::string_view call, const Fd& fd,
                   const Endpoints& ends) {
  const sockaddr_in6 remote = to_sockaddr(ends.remote, ends.remote_port);
  bool under_way = false;
  attempt_twice(state, call, Op::connect, ends, [&] {
    const int err = state.ops().connect(fd.get(), remote);
    under_way = err == EINPROGRESS;
    return under_way ? 0 : err;
  });
  return !under_way;
}

bool connect_completed(const ContextState& state, std::string_view call, const Fd& fd,
                       const Endpoints& ends, std::chrono::milliseconds wait) {
  auto ready = state.ops().poll(fd.get(), POLLOUT, std::max(wait, std::chrono::milliseconds(0)));
  if (!ready) throw_network_error(call, Op::connect, ready.error, ends);
  return ready.value != 0;
}

void check_connected(const ContextState& state, std::string_view call, const Fd& fd,
                     const Endpoints& ends) {
  auto outcome = state.ops().pending_error(fd.get());
  const int err = outcome ? outcome.value : outcome.error;
  if (err == 0) return;
  // The kernel may report a taken 4-tuple only now; the holder names the class.
  throw_network_error(
      call, Op::connect, err, ends,
      is_address_busy(Op::connect, err) ? holder_of(state, Op::connect, ends) : Holder::nobody);
}

}  // namespace repy::detail
