// repy6 — a context ("vessel"): a policy, its accounting, and a stack.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "repy/export.hpp"
#include "repy/policy.hpp"
#include "repy/sockets.hpp"
#include "repy/stack.hpp"

namespace repy {

namespace detail {
struct ContextState;
struct Connecting;
struct Access;
}  // namespace detail

/// A TCP connection under way: the first half of openconnection_ipv6 (or
/// openconnection), from Context::start_openconnection_ipv6, for event loops. Wait until
/// native_handle() is writable or deadline() has passed, then call finish(). Holds the
/// call's outsocket meanwhile. Move-only; destroying it abandons the connection.
class REPY6_API PendingConnection {
 public:
  /// Nothing under way.
  PendingConnection() noexcept;
  PendingConnection(PendingConnection&& other) noexcept;
  PendingConnection& operator=(PendingConnection&& other) noexcept;
  ~PendingConnection();

  /// The connecting socket's fd, to watch for writability (-1 when nothing is under
  /// way or the socket was handed out). Do not close it: a failed finish() leaves it
  /// open until this object goes, so that an event loop can deregister it first.
  int native_handle() const noexcept;

  /// When the connect times out (the call's `timeout` after it started).
  std::chrono::steady_clock::time_point deadline() const noexcept;

  /// The connected socket, charged as openconnection_ipv6 charges, once the connect
  /// has completed; nullopt while it is still under way and the deadline has not
  /// passed. Never waits. Once it returned a socket or threw, nothing is under way: a
  /// failure gives the outsocket back at once.
  /// @throws TimeoutError once the deadline has passed; ConnectionRefusedError,
  /// InternetConnectivityError and the other connect errors of openconnection_ipv6;
  /// SocketClosedLocal when nothing is under way.
  std::optional<TCPSocket> finish();

 private:
  // Set by detail::Access: an exported constructor would name a detail type.
  friend struct detail::Access;
  std::unique_ptr<detail::Connecting> impl_;
};

/// What getresources() reports, by Repy resource name.
struct ResourceReport {
  /// Every known resource -> limit (renewable: units per second; fungible: count);
  /// +infinity where unlimited.
  std::map<std::string, double> limits;
  /// Renewable: charged and not yet drained; fungible: items held now.
  std::map<std::string, double> usage;
  /// Renewable: everything ever charged to this context (monotonic, exact).
  std::map<std::string, double> totals;
  /// Every port allowed (an unlimited policy); otherwise the sets below say.
  bool any_port = false;
  std::set<int> allowed_connports;
  std::set<int> allowed_messports;
  /// Local ports this context's live sockets use now.
  std::set<int> used_connports;
  std::set<int> used_messports;
};

/// One sandbox: runs the Repy network calls on its stack under its policy. A copyable
/// handle; copies share state. Sockets keep their context alive.
class REPY6_API Context {
 public:
  /// An unlimited policy on the host stack.
  Context();
  explicit Context(Policy policy, Stack stack = Stack::host());

  /// Resolves a name to IPv6 addresses. An IPv6 literal comes back unchanged;
  /// `localhost` and names under `.localhost` answer ::1 and names under `.invalid`
  /// fail, without asking a DNS server.
  /// @throws RepyArgumentError for a malformed name; NetworkAddressError when the
  /// name has no IPv6 address.
  std::vector<AddrInfo> getAddripv6(std::string_view name);

  /// This host's IPv6 address toward the Internet (or the policy's first usable
  /// preferred address).
  /// @throws InternetConnectivityError when there is no route.
  std::string getmyip_ipv6();

  /// Sends one datagram; returns the bytes sent.
  /// @throws RepyArgumentError, ResourceForbiddenError, AddressBindingError,
  /// DuplicateTupleError, InternetConnectivityError.
  std::size_t sendmessage_ipv6(std::string_view destip, int destport, std::string_view message,
                               std::string_view localip, int localport);

  /// Opens a TCP connection within `timeout` seconds.
  /// @throws RepyArgumentError, ResourceForbiddenError, ResourceExhaustedError,
  /// AddressBindingError, AlreadyListeningError, DuplicateTupleError,
  /// CleanupInProgressError, ConnectionRefusedError, TimeoutError,
  /// InternetConnectivityError.
  TCPSocket openconnection_ipv6(std::string_view destip, int destport, std::string_view localip,
                                int localport, double timeout);

  /// Listens for TCP connections on (localip, localport).
  /// @throws RepyArgumentError, ResourceForbiddenError, ResourceExhaustedError,
  /// AlreadyListeningError, DuplicateTupleError, AddressBindingError.
  TCPServerSocket listenforconnection_ipv6(std::string_view localip, int localport);

  /// Listens for UDP datagrams on (localip, localport).
  /// @throws as listenforconnection_ipv6.
  UDPServerSocket listenformessage_ipv6(std::string_view localip, int localport);

  // ---- Repy V2's IPv4 calls (SPEC section 9). IP arguments are dotted quads (four
  //      decimal parts 0..255 without leading zeros, not 0.x.x.x, not 224.0.0.0 and
  //      above) and peers come back dotted; everything else (ports, policy, charges,
  //      errors) is as in the `_ipv6` call of the same name. An IPv4 address and its
  //      mapped form ::ffff:a.b.c.d are one address to the policy and the listeners.

  /// Resolves a name to one IPv4 address, dotted. An IPv4 literal comes back
  /// unchanged; `localhost` and names under `.localhost` answer 127.0.0.1 and names
  /// under `.invalid` fail, without asking a DNS server.
  /// @throws RepyArgumentError for a malformed name; NetworkAddressError when the
  /// name has no IPv4 address.
  std::string gethostbyname(std::string_view name);

  /// This host's IPv4 address toward the Internet (or the policy's first usable
  /// preferred IPv4 address).
  /// @throws InternetConnectivityError when there is no route.
  std::string getmyip();

  /// sendmessage_ipv6 for IPv4 addresses; returns the bytes sent.
  /// @throws as sendmessage_ipv6.
  std::size_t sendmessage(std::string_view destip, int destport, std::string_view message,
                          std::string_view localip, int localport);

  /// openconnection_ipv6 for IPv4 addresses.
  /// @throws as openconnection_ipv6.
  TCPSocket openconnection(std::string_view destip, int destport, std::string_view localip,
                           int localport, double timeout);

  /// listenforconnection_ipv6 for an IPv4 address; getconnection() reports peers dotted.
  /// @throws as listenforconnection_ipv6.
  TCPServerSocket listenforconnection(std::string_view localip, int localport);

  /// listenformessage_ipv6 for an IPv4 address; getmessage() reports senders dotted.
  /// @throws as listenformessage_ipv6.
  UDPServerSocket listenformessage(std::string_view localip, int localport);

  /// Limits, usage and totals of this context.
  ResourceReport getresources() const;

  // ---- For event loops (<repy/asio.hpp> is built on these): the calls above that
  //      can wait, in steps that never block. Checks, charges, holds and errors are
  //      those of the plain call; only "the nanny would make it wait" changes shape.

  /// The calls whose rate waits rate_ready_at() answers for.
  enum class RateCall {
    openconnection,  // openconnection_ipv6, openconnection: send and receive rates
    sendmessage,     // sendmessage_ipv6, sendmessage: the send rate
  };

  /// When the nanny lets `call` toward `destip` (an IPv6 literal or a dotted IPv4
  /// address; loopback or not decides the resources) go: not after now means at once,
  /// time_point::min() when unlimited.
  /// @throws RepyArgumentError for a bad destip; ResourceExhaustedError when a limit
  /// the call waits on is 0.
  std::chrono::steady_clock::time_point rate_ready_at(RateCall call, std::string_view destip) const;

  /// sendmessage_ipv6 that never waits for the nanny: nullopt when it would (then
  /// rate_ready_at(RateCall::sendmessage, destip) says until when).
  /// @throws as sendmessage_ipv6.
  std::optional<std::size_t> try_sendmessage_ipv6(std::string_view destip, int destport,
                                                  std::string_view message,
                                                  std::string_view localip, int localport);
  /// try_sendmessage_ipv6 for IPv4 addresses.
  /// @throws as sendmessage.
  std::optional<std::size_t> try_sendmessage(std::string_view destip, int destport,
                                             std::string_view message, std::string_view localip,
                                             int localport);

  /// The first half of openconnection_ipv6: its checks, its outsocket, a socket bound
  /// to the local end and its non-blocking connect started. Never waits: nullopt when
  /// the nanny would make the call wait (then rate_ready_at(RateCall::openconnection,
  /// destip) says until when).
  /// @throws as openconnection_ipv6, for what is known before the connect completes.
  std::optional<PendingConnection> start_openconnection_ipv6(std::string_view destip, int destport,
                                                             std::string_view localip,
                                                             int localport, double timeout);
  /// start_openconnection_ipv6 for IPv4 addresses.
  /// @throws as openconnection.
  std::optional<PendingConnection> start_openconnection(std::string_view destip, int destport,
                                                        std::string_view localip, int localport,
                                                        double timeout);

  /// The policy this context runs under. @throws nothing.
  const Policy& policy() const noexcept;
  /// The stack this context's sockets live on. @throws nothing.
  const Stack& stack() const noexcept;

  friend bool operator==(const Context& a, const Context& b) noexcept {
    return a.state_ == b.state_;
  }

 private:
  friend struct detail::Access;
  std::shared_ptr<detail::ContextState> state_;
};

}  // namespace repy
