// VDE interfaces of any stack: a tap device made inside the stack's namespace, with a
// thread moving frames between it and a VDE plug. libvdestack gives a vdestack its
// first interface; this gives it (and a netns, or the host) any further one.
#include <fcntl.h>
#include <linux/if_tun.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>

#include "stack/backends/tap_plug.hpp"
// These C headers do not say extern "C" themselves.
extern "C" {
#include <libvdeplug.h>
}

#include <fmt/format.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "core/error_map.hpp"
#include "core/fd.hpp"
#include "stack/backends/namespace.hpp"
#include "stack/stack_impl.hpp"

namespace repy::detail {
namespace {

struct VdeConnClose {
  void operator()(VDECONN* c) const noexcept { vde_close(c); }
};
using VdeConnPtr = std::unique_ptr<VDECONN, VdeConnClose>;

VdeConnPtr open_vde(std::string_view url, std::string_view call) {
  std::string u(url);
  char descr[] = "repy6";
  VDECONN* conn = vde_open(u.data(), descr, nullptr);
  if (conn == nullptr) {
    int err = errno != 0 ? errno : EINVAL;
    throw_stack_error(fmt::format("{}: cannot open VDE URL '{}'", call, url), err);
  }
  return VdeConnPtr(conn);
}

}  // namespace

// One extra interface: a tap device in the stack's namespace, and a thread moving
// frames between it and a VDE plug until the stack goes away.
class TapPlug {
 public:
  TapPlug(Fd tap, VdeConnPtr conn) : tap_(std::move(tap)), conn_(std::move(conn)) {
    stop_ = Fd(::eventfd(0, EFD_CLOEXEC));
    if (!stop_) throw_stack_error("vdestack: eventfd", errno);
    thread_ = std::thread([this] { run(); });
  }
  TapPlug(const TapPlug&) = delete;
  TapPlug& operator=(const TapPlug&) = delete;
  ~TapPlug() {
    std::uint64_t one = 1;
    ssize_t n = ::write(stop_.get(), &one, sizeof one);
    (void)n;  // an eventfd write of 1 cannot fail short of overflow
    thread_.join();
  }

 private:
  void run() noexcept {
    // Large enough for a jumbo frame plus headers, as vdeplug itself allows.
    std::vector<char> buf(9216 + 14 + 4);
    pollfd pfd[] = {
        {stop_.get(), POLLIN, 0}, {tap_.get(), POLLIN, 0}, {vde_datafd(conn_.get()), POLLIN, 0}};
    for (;;) {
      int rc = ::poll(pfd, 3, -1);
      if (rc < 0) {
        if (errno == EINTR) continue;
        return;
      }
      if (pfd[0].revents != 0) {
        drain_tap(buf);
        return;
      }
      if (pfd[1].revents & POLLIN) {
        ssize_t n = ::read(tap_.get(), buf.data(), buf.size());
        if (n > 0) vde_send(conn_.get(), buf.data(), static_cast<size_t>(n), 0);
      }
      if (pfd[2].revents & POLLIN) {
        ssize_t n = vde_recv(conn_.get(), buf.data(), buf.size(), 0);
        // A frame the tap refuses (link down: EIO) is dropped, like a cable unplugged.
        if (n > 0) {
          ssize_t w = ::write(tap_.get(), buf.data(), static_cast<size_t>(n));
          (void)w;
        }
      }
      if ((pfd[1].revents | pfd[2].revents) & (POLLERR | POLLNVAL)) return;
    }
  }

  // What the stack sent just before it went away (a closing socket's FIN, say) is
  // still queued on the tap: pass it on rather than lose it. Bounded, since the stack
  // is being torn down and nothing new should arrive.
  void drain_tap(std::vector<char>& buf) noexcept {
    pollfd tap{tap_.get(), POLLIN, 0};
    for (int frames = 0; frames < 1024 && ::poll(&tap, 1, 0) == 1 && (tap.revents & POLLIN);
         ++frames) {
      ssize_t n = ::read(tap_.get(), buf.data(), buf.size());
      if (n <= 0) return;
      vde_send(conn_.get(), buf.data(), static_cast<size_t>(n), 0);
    }
  }

  Fd tap_;
  VdeConnPtr conn_;
  Fd stop_;
  std::thread thread_;
};

namespace {

// Opens a tap device named `ifname` inside `stack`'s namespace. The namespace is found
// from one of the stack's own sockets (SIOCGSKNS).
Fd open_tap(StackImpl& stack, std::string_view ifname, std::string_view call) {
  int probe = stack.make_socket(AF_INET6, SOCK_DGRAM, 0);
  if (probe < 0) {
    throw_stack_error(fmt::format("{}: '{}': socket in the {} stack", call, ifname, stack.kind()),
                      -probe);
  }
  Fd sock(probe);
  Fd ns(::ioctl(sock.get(), SIOCGSKNS));
  if (!ns) {
    throw_stack_error(
        fmt::format("{}: '{}': finding the {} stack's namespace", call, ifname, stack.kind()),
        errno);
  }
  Fd tap;
  int tap_err = 0;
  int enter_err = run_in_network_namespace(ns.get(), [&]() noexcept {
    tap = Fd(::open("/dev/net/tun", O_RDWR | O_CLOEXEC));
    if (!tap) {
      tap_err = errno;
      return;
    }
    ifreq ifr{};
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
    std::memcpy(ifr.ifr_name, ifname.data(), std::min(ifname.size(), sizeof ifr.ifr_name - 1));
    if (::ioctl(tap.get(), TUNSETIFF, &ifr) != 0) {
      tap_err = errno;
      tap.reset();
    }
  });
  if (enter_err != 0) {
    throw_stack_error(fmt::format("{}: '{}': entering the {} stack's namespace (a VDE interface "
                                  "made by repy6 needs CAP_SYS_ADMIN)",
                                  call, ifname, stack.kind()),
                      enter_err);
  }
  if (!tap) throw_stack_error(fmt::format("{}: tap interface '{}'", call, ifname), tap_err);
  return tap;
}

}  // namespace

void TapPlugDelete::operator()(TapPlug* plug) const noexcept { delete plug; }

TapPlugPtr plug_vde_interface(StackImpl& stack, std::string_view ifname, std::string_view url,
                              std::string_view call) {
  auto conn = open_vde(url, call);
  Fd tap = open_tap(stack, ifname, call);
  return TapPlugPtr(new TapPlug(std::move(tap), std::move(conn)));
}

}  // namespace repy::detail
