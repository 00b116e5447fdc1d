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

void connect_within(const ContextState& state, std::string_view call, const Fd& fd,
                    const Endpoints& ends, double timeout) {
  using clock = std::chrono::steady_clock;
  const auto deadline = clock::now() + std::chrono::duration_cast<clock::duration>(
                                           std::chrono::duration<double>(std::min(timeout, 1e9)));
  const sockaddr_in6 remote = to_sockaddr(ends.remote, ends.remote_port);
  auto& ops = state.ops();
  attempt_twice(state, call, Op::connect, ends, [&] {
    int err = ops.connect(fd.get(), remote);
    if (err != EINPROGRESS) return err;
    auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - clock::now());
    auto ready = ops.poll(fd.get(), POLLOUT, std::max(left, std::chrono::milliseconds(0)));
    if (!ready) return ready.error;
    if (ready.value == 0) return ETIMEDOUT;
    auto outcome = ops.pending_error(fd.get());
    return outcome ? outcome.value : outcome.error;
  });
}

}  // namespace repy::detail
