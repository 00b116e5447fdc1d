// The netns backend: an existing network namespace, entered only for the instant a
// socket is made (backends/namespace.hpp).
#include <fcntl.h>
#include <fmt/format.h>
#include <linux/nsfs.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "core/error_map.hpp"
#include "core/fd.hpp"
#include "stack/backends/backends.hpp"
#include "stack/backends/namespace.hpp"

namespace repy::detail {
namespace {

class NetnsStack final : public StackBase {
 public:
  NetnsStack(Fd ns, std::string name) : ns_(std::move(ns)), name_(std::move(name)) {}

  std::string_view kind() const noexcept override { return "netns"; }

  int make_socket(int family, int type, int protocol) noexcept override {
    int result = 0;
    int err = run_in_network_namespace(ns_.get(), [&]() noexcept {
      result = ::socket(family, type | SOCK_CLOEXEC, protocol);
      if (result < 0) result = -errno;
    });
    return err != 0 ? -err : result;
  }

 private:
  Fd ns_;
  std::string name_;
};

}  // namespace

std::shared_ptr<StackImpl> make_netns_stack(std::string_view name_or_path) {
  constexpr std::string_view call = "Stack::netns";
  if (name_or_path.empty() || name_or_path.find('\0') != std::string_view::npos) {
    throw_argument_error(call, "name_or_path", "needs a namespace name or path", name_or_path);
  }
  if (name_or_path == "." || name_or_path == "..") {
    throw_argument_error(call, "name_or_path", "is not a namespace name", name_or_path);
  }
  std::string path = name_or_path.find('/') == std::string_view::npos
                         ? fmt::format("/run/netns/{}", name_or_path)
                         : std::string(name_or_path);
  Fd ns(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!ns) {
    throw_stack_error(
        fmt::format("{}: cannot open network namespace '{}' ({})", call, name_or_path, path),
        errno);
  }
  // Any file opens; only a namespace file answers NS_GET_NSTYPE, and it must be a
  // network one.
  if (::ioctl(ns.get(), NS_GET_NSTYPE) != CLONE_NEWNET) {
    throw_stack_failure(
        fmt::format("{}: '{}' ({}) is not a network namespace", call, name_or_path, path));
  }
  auto stack = std::make_shared<NetnsStack>(std::move(ns), std::string(name_or_path));
  // Entering a namespace needs CAP_SYS_ADMIN: find out now, not at the first socket.
  int probe = stack->make_socket(AF_NETLINK, SOCK_RAW, 0);
  if (probe < 0) {
    throw_stack_error(
        fmt::format("{}: cannot make sockets in network namespace '{}'", call, name_or_path),
        -probe);
  }
  ::close(probe);
  return stack;
}

}  // namespace repy::detail
