// What holds an address: the kernel's socket table, read through netlink sock_diag.
#pragma once

#include <boost/asio/ip/address_v6.hpp>
#include <vector>

#include "core/error_map.hpp"

namespace repy::detail {

class SocketOps;

/// One socket of the stack's table. IPv4 sockets appear with IPv4-mapped addresses.
struct SocketEntry {
  int protocol = 0;  // IPPROTO_TCP or IPPROTO_UDP
  boost::asio::ip::address_v6 local;
  int local_port = 0;
  boost::asio::ip::address_v6 remote;
  int remote_port = 0;
  int state = 0;  // TCP_ESTABLISHED, TCP_LISTEN, TCP_TIME_WAIT ... (linux/tcp.h)
};

/// The sockets of `protocol` in the stack whose local port is `port` and whose local
/// address is `local` or a wildcard (:: or 0.0.0.0); when `local` is itself ::, every
/// socket on the port (a wildcard bind conflicts with all of them). Reads the table through a
/// NETLINK_SOCK_DIAG socket made inside the stack, so other processes' sockets count.
/// Returns an empty list when the table cannot be read; never throws.
std::vector<SocketEntry> sockets_holding(SocketOps& stack, int protocol,
                                         const boost::asio::ip::address_v6& local,
                                         int port) noexcept;

/// Who holds the local end of `ends` for `protocol`, by the stack's table: for a
/// listener (no remote end) a listening socket first, since its accepted connections
/// share its port; for a connect, a connection on the same 4-tuple first. Holder::nobody
/// when the table shows nothing (or cannot be read).
Holder table_holder(SocketOps& stack, int protocol, const Endpoints& ends) noexcept;

}  // namespace repy::detail
