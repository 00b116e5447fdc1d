// What a Context shares with its sockets.
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <set>

#include "core/access.hpp"
#include "core/address.hpp"
#include "nanny/nanny.hpp"
#include "repy/policy.hpp"
#include "repy/stack.hpp"

namespace repy::detail {

class TcpServerImpl;
class UdpServerImpl;

/// A local address as a registry key: compared as a parsed address, never as text.
struct LocalKey {
  address_v6::bytes_type bytes{};
  unsigned long scope = 0;
  int port = 0;

  LocalKey(const address_v6& address, int p)
      : bytes(address.to_bytes()), scope(address.scope_id()), port(p) {}
  auto operator<=>(const LocalKey&) const = default;
};

/// One context's policy, accounting, stack and the sockets it has open.
struct ContextState {
  ContextState(Policy p, Stack s)
      : policy(std::move(p)), stack(std::move(s)), nanny(data(policy)) {}

  const Policy policy;
  const Stack stack;
  Nanny nanny;

  // The registry is touched only when sockets open and close, never per byte.
  mutable std::mutex registry_mutex;
  std::map<LocalKey, std::weak_ptr<TcpServerImpl>> tcp_listeners;
  std::map<LocalKey, std::weak_ptr<UdpServerImpl>> udp_listeners;
  std::multiset<int> connection_ports;  // local ports of open TCPSockets

  /// The live UDP listener of this context on (address, port), if any.
  std::shared_ptr<UdpServerImpl> udp_listener(const LocalKey& key) const;
  /// Whether a live TCP listener of this context holds (address, port).
  bool has_tcp_listener(const LocalKey& key) const;
};

/// Every UDP listener of every context in this process, by stack, so that a second
/// context listening on the same address is told AlreadyListeningError: the kernel's
/// table cannot tell a listening UDP socket from any other bound one.
class UdpListenerSet {
 public:
  static UdpListenerSet& instance();
  void add(const void* stack, const LocalKey& key);
  void remove(const void* stack, const LocalKey& key);
  bool contains(const void* stack, const LocalKey& key) const;

 private:
  mutable std::mutex mutex_;
  std::multiset<std::pair<const void*, LocalKey>> keys_;
};

}  // namespace repy::detail
