// The sockets open on one stack, by role and local address: which context listens
// where, which connections it holds. Every context on a stack shares its registry, so
// a UDPServerSocket of one context is known to another on the same stack (the kernel's
// table cannot tell a listening UDP socket from any other bound one).
#pragma once

#include <boost/asio/ip/address_v6.hpp>
#include <compare>
#include <map>
#include <memory>
#include <mutex>
#include <set>

namespace repy::detail {

using boost::asio::ip::address_v6;

/// A local address as a registry key: compared as a parsed address, never as text.
struct LocalKey {
  address_v6::bytes_type bytes{};
  unsigned long scope = 0;
  int port = 0;

  LocalKey(const address_v6& address, int p)
      : bytes(address.to_bytes()), scope(address.scope_id()), port(p) {}
  address_v6 address() const { return address_v6(bytes, scope); }
  auto operator<=>(const LocalKey&) const = default;
};

enum class Role { tcp_listener, udp_listener, connection };

/// What the registry needs of a socket: whether it is closing, and a way to wait until
/// its fd is really gone (so the address it held is free).
class Registered {
 public:
  virtual bool closed() const noexcept = 0;
  virtual void wait_released() const noexcept = 0;

 protected:
  ~Registered() = default;
};

class Registry {
  struct Record {
    const void* owner;  // the context that opened the socket
    std::weak_ptr<const Registered> socket;
  };
  using Records = std::multimap<std::pair<Role, LocalKey>, Record>;

 public:
  /// One registration; removes itself when destroyed or released. Move-only.
  class Entry {
   public:
    Entry() noexcept = default;
    Entry(Entry&& other) noexcept;
    Entry& operator=(Entry&& other) noexcept;
    ~Entry() { release(); }
    void release() noexcept;

   private:
    friend class Registry;
    Entry(Registry* registry, Records::iterator it) noexcept : registry_(registry), it_(it) {}
    Registry* registry_ = nullptr;
    Records::iterator it_{};
  };

  /// Registers `socket` of `owner` in `role` at `key`.
  Entry add(Role role, const LocalKey& key, const void* owner,
            std::weak_ptr<const Registered> socket);

  /// A live socket in `role` at `key`, of `owner` (any owner when null). A socket that
  /// is closing right now is waited out and does not count.
  std::shared_ptr<const Registered> find(Role role, const LocalKey& key,
                                         const void* owner = nullptr) const;

  /// The local ports of `owner`'s live sockets in `role`.
  std::set<int> ports(Role role, const void* owner) const;

 private:
  mutable std::mutex mutex_;
  Records records_;
};

}  // namespace repy::detail
