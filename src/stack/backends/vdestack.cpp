// The vdestack backend: libvdestack runs a private network namespace whose first
// interface (vde0) is plugged into a VDE network; vde_msocket makes sockets in it.
// Further interfaces (vde1, ...) are StackBase's VDE interfaces (backends/tap_plug.hpp).
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

// These C headers do not say extern "C" themselves.
extern "C" {
#include <vdestack.h>
}

#include <fmt/format.h>

#include <cerrno>
#include <mutex>
#include <string>
#include <vector>

#include "core/error_map.hpp"
#include "core/fd.hpp"
#include "repy/errors.hpp"
#include "stack/backends/backends.hpp"
#include "stack/netlink.hpp"

namespace repy::detail {
namespace {

class VdeStack final : public StackBase {
 public:
  explicit VdeStack(vdestack* stack) : stack_(stack) {}
  ~VdeStack() override {
    stop_vde_interfaces();  // the forwarding threads end before the namespace goes
    vde_delstack(stack_);
  }
  VdeStack(const VdeStack&) = delete;
  VdeStack& operator=(const VdeStack&) = delete;

  std::string_view kind() const noexcept override { return "vdestack"; }
  bool skip_dad() const noexcept override { return true; }

  int make_socket(int family, int type, int protocol) noexcept override {
    // vde_msocket writes a request and reads the answer on one channel per stack: two
    // threads at once could take each other's answers.
    std::lock_guard lock(socket_mu_);
    errno = 0;
    int fd = vde_msocket(stack_, family, type | SOCK_CLOEXEC, protocol);
    if (fd >= 0) return fd;
    return errno != 0 ? -errno : -EIO;
  }

 private:
  vdestack* stack_;
  std::mutex socket_mu_;
};

}  // namespace

std::shared_ptr<StackImpl> make_vdestack(const std::vector<std::string>& urls) {
  constexpr std::string_view call = "Stack";
  for (const auto& url : urls) {
    if (url.empty()) throw_argument_error(call, "vdeurls", "has an empty VDE URL", url);
    if (url.find('\0') != std::string::npos) {
      throw_argument_error(call, "vdeurls", "has a VDE URL with a NUL byte", url);
    }
  }
  // libvdestack's daemon dies silently when it cannot make its tap, and every later
  // vde_msocket would then wait forever: check the device first.
  if (!urls.empty()) {
    Fd tun(::open("/dev/net/tun", O_RDWR | O_CLOEXEC));
    if (!tun) throw_stack_error("Stack: vdestack: /dev/net/tun cannot be opened", errno);
  }
  // Preferred: libvdestack makes only the namespace and repy6 plugs every interface in
  // itself, because libvdestack never closes the VDE connection of the interface it
  // makes (a ptp:// socket file and an fd would outlive the stack). Plugging in needs
  // CAP_SYS_ADMIN; without it, libvdestack's own single interface is the way left.
  std::shared_ptr<VdeStack> stack;
  {
    errno = 0;
    vdestack* raw = vde_addstack(nullptr, nullptr);
    if (raw == nullptr) {
      throw_stack_error("Stack: vdestack: cannot make the stack's namespace",
                        errno != 0 ? errno : EINVAL);
    }
    stack = std::make_shared<VdeStack>(raw);
  }
  try {
    for (std::size_t i = 0; i < urls.size(); ++i) {
      stack->add_vde_interface(fmt::format("vde{}", i), urls[i]);
    }
  } catch (const ResourceForbiddenError&) {
    if (urls.size() > 1) {
      throw_stack_error(
          "Stack: vdestack: more than one VDE URL needs CAP_SYS_ADMIN here (repy6 "
          "plugs each one into the stack's namespace)",
          EPERM);
    }
    stack.reset();
    std::string first = urls.front();
    char ifname[] = "vde0";
    errno = 0;
    vdestack* raw = vde_addstack(first.data(), ifname);
    if (raw == nullptr) {
      throw_stack_error(fmt::format("Stack: vdestack: cannot open VDE URL '{}'", first),
                        errno != 0 ? errno : EINVAL);
    }
    stack = std::make_shared<VdeStack>(raw);
  }
  // Loopback is down in a new namespace; a stack whose ::1 does not answer surprises
  // every program.
  netlink::link_set_updown(*stack, netlink::link_index(*stack, "lo"), true);
  return stack;
}

}  // namespace repy::detail
