// The data behind repy::Policy.
#pragma once

#include <array>
#include <boost/asio/ip/address_v6.hpp>
#include <cstddef>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace repy::detail {

/// Every resource Repy knows, in one enum so that accounting can index arrays.
enum class Resource : std::size_t {
  // renewable (units per second)
  netsend,
  netrecv,
  loopsend,
  looprecv,
  cpu,
  filewrite,
  fileread,
  lograte,
  random,
  // fungible (count held at once)
  insockets,
  outsockets,
  events,
  filesopened,
  // quantity
  memory,
  diskused,
  // individual (sets of ports)
  messport,
  connport,
};

inline constexpr std::size_t resource_count = 17;

enum class ResourceKind { renewable, fungible, quantity, individual };

/// Repy's name of a resource ("netsend").
std::string_view resource_name(Resource r) noexcept;
/// The resource with that Repy name, if any.
std::optional<Resource> resource_from_name(std::string_view name) noexcept;
ResourceKind resource_kind(Resource r) noexcept;

struct PolicyData {
  /// Limit per resource (individual ones unused); +infinity where unlimited.
  std::array<double, resource_count> limits{};
  /// Which resources the restrictions text has a `resource` line for (none for an
  /// unlimited policy): Repy's getresources() reports exactly those.
  std::array<bool, resource_count> named{};
  /// Every port allowed (Policy::unlimited); otherwise only the sets below.
  bool any_port = false;
  std::set<int> connports;
  std::set<int> messports;
  /// `resource ip`/`resource iface` lines, in order (each item is one or the other).
  struct Preference {
    std::optional<boost::asio::ip::address_v6> ip;  // set for `ip`
    std::string iface;                              // set for `iface`
  };
  std::vector<Preference> preferences;
  /// `resource nootherips 1`: only the preferences and loopback may be local addresses.
  bool nootherips = false;
  /// SO_SNDBUF/SO_RCVBUF caps in bytes; 0 keeps the kernel default.
  int tcp_buffer = 10000;
  int udp_buffer = 66000;

  double limit(Resource r) const noexcept { return limits[static_cast<std::size_t>(r)]; }
};

}  // namespace repy::detail
