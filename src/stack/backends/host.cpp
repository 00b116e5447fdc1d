// The host backend: the kernel stack this process runs on.
#include <sys/socket.h>

#include <cerrno>
#include <memory>

#include "stack/backends/backends.hpp"

namespace repy::detail {
namespace {

class HostStack final : public StackBase {
 public:
  std::string_view kind() const noexcept override { return "host"; }

  int make_socket(int family, int type, int protocol) noexcept override {
    int fd = ::socket(family, type | SOCK_CLOEXEC, protocol);
    return fd >= 0 ? fd : -errno;
  }

 protected:
  bool system_resolver_until_configured() const noexcept override { return true; }
};

}  // namespace

std::shared_ptr<StackImpl> host_stack() {
  static const auto shared = std::make_shared<HostStack>();
  return shared;
}

}  // namespace repy::detail
