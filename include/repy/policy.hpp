// repy6 — what a context may use: Repy's restrictions ("resource file").
#pragma once

#include <filesystem>
#include <memory>
#include <string_view>

#include "repy/export.hpp"

namespace repy {

namespace detail {
struct PolicyData;
struct Access;
}  // namespace detail

/// An immutable restrictions policy: rate limits, socket counts, allowed ports and
/// local addresses, socket buffer caps. Cheap to copy (copies share the data).
class Policy {
 public:
  /// No limits, every port and every local IP; socket buffers keep Repy's caps.
  REPY6_API static Policy unlimited();

  /// Parses Repy's restrictions syntax. Resources a text does not mention get limit 0
  /// and unmentioned port sets are empty (deny by default).
  /// @throws ResourceParseError naming the line number and the line.
  REPY6_API static Policy parse(std::string_view restrictions_text);

  /// Reads and parses a restrictions file.
  /// @throws ResourceParseError when the file cannot be read or parsed.
  REPY6_API static Policy load(const std::filesystem::path& file);

  /// Limit of a resource by Repy name (+infinity where unlimited).
  /// @throws RepyArgumentError for a name Repy does not know.
  REPY6_API double limit(std::string_view resource) const;

  /// Whether a TCP local port is allowed (`connport`).
  REPY6_API bool allows_connport(int port) const;
  /// Whether a UDP local port is allowed (`messport`).
  REPY6_API bool allows_messport(int port) const;

  /// A copy whose TCP and UDP socket buffers (SO_SNDBUF/SO_RCVBUF) are capped at the
  /// given sizes in bytes; 0 leaves the kernel's default. Repy's caps are 10000 (TCP)
  /// and 66000 (UDP).
  /// @throws RepyArgumentError for a negative size.
  REPY6_API Policy with_socket_buffers(int tcp_bytes, int udp_bytes) const;

 private:
  friend struct detail::Access;
  explicit Policy(std::shared_ptr<const detail::PolicyData> data);
  std::shared_ptr<const detail::PolicyData> data_;
};

}  // namespace repy
