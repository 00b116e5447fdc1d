// Bounded reads of regular files.
#include "core/files.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "core/error_map.hpp"
#include "core/fd.hpp"

namespace repy::detail {

std::variant<std::string, FileProblem> read_regular_file(const std::filesystem::path& path,
                                                         std::size_t max_bytes) {
  // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer.
  Fd fd;
  do {
    fd = Fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY));
  } while (!fd && errno == EINTR);
  if (!fd) return FileProblem{errno_text(errno)};
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return FileProblem{errno_text(errno)};
  if (!S_ISREG(st.st_mode)) return FileProblem{"not a regular file"};
  if (static_cast<std::size_t>(st.st_size) > max_bytes) {
    return FileProblem{fmt::format("larger than {} bytes", max_bytes)};
  }
  std::string text;
  char buffer[4096];
  for (;;) {
    ssize_t n = ::read(fd.get(), buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return FileProblem{errno_text(errno)};
    if (n == 0) return text;
    // The size was checked, but a file may grow while it is read.
    if (text.size() + static_cast<std::size_t>(n) > max_bytes) {
      return FileProblem{fmt::format("larger than {} bytes", max_bytes)};
    }
    text.append(buffer, static_cast<std::size_t>(n));
  }
}

}  // namespace repy::detail
