// The netns backend: an existing network namespace, entered only for the instant a
// socket is made. A socket keeps the namespace it was born in, so the calling thread
// switches in, calls socket(), and switches straight back.
#include <fcntl.h>
#include <fmt/format.h>
#include <linux/nsfs.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "core/fd.hpp"
#include "repy/errors.hpp"
#include "stack/backends/backends.hpp"

namespace repy::detail {
namespace {

class NetnsStack final : public StackBase {
 public:
  NetnsStack(Fd ns, std::string name) : ns_(std::move(ns)), name_(std::move(name)) {}

  std::string_view kind() const noexcept override { return "netns"; }

  int make_socket(int family, int type, int protocol) noexcept override {
    // The thread's own namespace, to come back to (a thread may already be in another
    // namespace than the process, so /proc/self would be wrong).
    Fd home(::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
    if (home.get() < 0) return -errno;
    if (::setns(ns_.get(), CLONE_NEWNET) != 0) return -errno;
    int fd = ::socket(family, type | SOCK_CLOEXEC, protocol);
    int err = errno;
    if (::setns(home.get(), CLONE_NEWNET) != 0) {
      // The thread would go on making every later socket in the wrong stack; there is
      // no safe way on from here.
      std::fprintf(stderr, "repy6: cannot return to the thread's network namespace: %s\n",
                   std::strerror(errno));
      std::abort();
    }
    return fd >= 0 ? fd : -err;
  }

 private:
  Fd ns_;
  std::string name_;
};

}  // namespace

std::shared_ptr<StackImpl> make_netns_stack(std::string_view name_or_path) {
  constexpr std::string_view call = "Stack::netns";
  if (name_or_path.empty() || name_or_path.find('\0') != std::string_view::npos) {
    throw RepyArgumentError(fmt::format(
        "{}: name_or_path: needs a namespace name or path (value '{}')", call, name_or_path));
  }
  std::string path = name_or_path.find('/') == std::string_view::npos
                         ? fmt::format("/run/netns/{}", name_or_path)
                         : std::string(name_or_path);
  if (name_or_path == "." || name_or_path == "..") {
    throw RepyArgumentError(
        fmt::format("{}: name_or_path: not a namespace name (value '{}')", call, name_or_path));
  }
  Fd ns(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (ns.get() < 0) {
    int err = errno;
    auto msg = fmt::format("{}: cannot open network namespace '{}' ({}): {}", call, name_or_path,
                           path, std::strerror(err));
    if (err == EPERM || err == EACCES) throw ResourceForbiddenError(msg);
    throw NetworkError(msg);
  }
  // Any file opens; only a namespace file answers NS_GET_NSTYPE, and it must be a
  // network one.
  int type = ::ioctl(ns.get(), NS_GET_NSTYPE);
  if (type != CLONE_NEWNET) {
    throw NetworkError(
        fmt::format("{}: '{}' ({}) is not a network namespace", call, name_or_path, path));
  }
  auto stack = std::make_shared<NetnsStack>(std::move(ns), std::string(name_or_path));
  // Entering a namespace needs CAP_SYS_ADMIN: find out now, not at the first socket.
  int probe = stack->make_socket(AF_NETLINK, SOCK_RAW, 0);
  if (probe < 0) {
    int err = -probe;
    auto msg = fmt::format("{}: cannot make sockets in network namespace '{}': {}", call,
                           name_or_path, std::strerror(err));
    if (err == EPERM || err == EACCES) throw ResourceForbiddenError(msg);
    throw NetworkError(msg);
  }
  ::close(probe);
  return stack;
}

}  // namespace repy::detail
