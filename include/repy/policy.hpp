// repy6 — what a context may use: Repy's restrictions ("resource file").
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

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
  /// @throws no Repy error (only std::bad_alloc).
  REPY6_API static Policy unlimited();

  /// Parses Repy's restrictions syntax (SPEC section 5): `resource NAME VALUE`, `call ...`,
  /// blank and `#` comment lines, in the shapes real Seattle files have. Resources a text
  /// does not mention get limit 0 and unmentioned port sets are empty (deny by default).
  /// Counts take whole numbers, ports 1..65535, rates any finite number; `-0` reads as 0.
  /// @throws ResourceParseError "Policy::parse: line N: why: 'the line'" for a line that
  ///         is not understood, an unknown or repeated resource, or a value that is not a
  ///         number, not finite (nan, inf, overflow), negative, or not whole where Repy
  ///         counts.
  REPY6_API static Policy parse(std::string_view restrictions_text);

  /// Reads and parses a restrictions file: a regular file of at most 1 MiB. Never blocks
  /// (a FIFO is refused, not waited on).
  /// @throws ResourceParseError naming the path and why when the file cannot be read
  ///         (missing, unreadable: the errno text; "not a regular file"; "larger than
  ///         1048576 bytes"), or naming the path, the line number and the line when its
  ///         text does not parse (see parse()).
  REPY6_API static Policy load(const std::filesystem::path& file);

  /// Limit of a resource by Repy name (+infinity where unlimited).
  /// @throws RepyArgumentError for a name Repy does not know.
  REPY6_API double limit(std::string_view resource) const;

  /// The Repy resources the restrictions text has a `resource` line for, in Repy's
  /// order (netsend, netrecv, ...; messport and connport last); empty for unlimited().
  /// A Repy program's getresources() reports exactly these. The address extensions
  /// (ip, iface, nootherips) are options, not resources, and are not listed.
  /// @throws no Repy error (only std::bad_alloc).
  std::vector<std::string> named_resources() const;

  /// Whether a TCP local port is allowed (`connport`); false outside 1..65535.
  /// @throws nothing.
  REPY6_API bool allows_connport(int port) const;
  /// Whether a UDP local port is allowed (`messport`); false outside 1..65535.
  /// @throws nothing.
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
