// Reading a small configuration file (restrictions, resolv.conf) safely: only a regular
// file, never more than a cap, so a mistaken path (a FIFO, /dev/zero, a huge log)
// neither blocks nor exhausts memory.
#pragma once

#include <cstddef>
#include <filesystem>
#include <string>
#include <variant>

namespace repy::detail {

/// Why a file could not be read, in words for a message ("not a regular file", "larger
/// than 1048576 bytes", "No such file or directory (errno 2)").
struct FileProblem {
  std::string why;
};

/// The whole text of `path` when it is a regular file of at most `max_bytes`; else why
/// not. Opening never blocks (a FIFO is refused, not waited on). Never throws but
/// std::bad_alloc.
std::variant<std::string, FileProblem> read_regular_file(const std::filesystem::path& path,
                                                         std::size_t max_bytes);

}  // namespace repy::detail
