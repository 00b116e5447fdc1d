// Hosts the stack tests build for themselves: network namespaces, VDE links, a DNS
// server. Everything is named after the test process's pid, so parallel ctest runs do
// not collide, and everything is torn down by a destructor, even when a test fails.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "repy/errors.hpp"
#include "repy/stack.hpp"

namespace stack_fixtures {

inline std::string unique_name(std::string_view prefix) {
  static std::atomic<int> counter{0};
  return fmt::format("{}{}x{}", prefix, ::getpid(), counter++);
}

/// The message of the RepyArgumentError that `f` raises; "no exception" or "wrong
/// exception: ..." otherwise, so a failed expectation shows what happened instead.
template <class F>
std::string argument_error(F f) {
  try {
    f();
  } catch (const repy::RepyArgumentError& e) {
    return e.what();
  } catch (const std::exception& e) {
    return std::string("wrong exception: ") + e.what();
  }
  return "no exception";
}

/// Runs a shell command quietly; true when it exits 0.
inline bool run(const std::string& cmd) {
  return std::system((cmd + " >/dev/null 2>&1").c_str()) == 0;
}

/// Output of a shell command.
inline std::string capture(const std::string& cmd) {
  std::string out;
  if (FILE* p = ::popen(cmd.c_str(), "r")) {
    char buf[512];
    while (std::size_t n = std::fread(buf, 1, sizeof buf, p)) out.append(buf, n);
    ::pclose(p);
  }
  return out;
}

/// Whether a name made by unique_name(prefix) belongs to a test process that is gone
/// (killed before its destructors ran, e.g. by a sanitizer abort).
inline bool left_by_dead_process(std::string_view name, std::string_view prefix) {
  if (name.substr(0, prefix.size()) != prefix) return false;
  auto rest = name.substr(prefix.size());
  auto x = rest.find('x');
  if (x == std::string_view::npos || x == 0) return false;
  pid_t pid = 0;
  for (char c : rest.substr(0, x)) {
    if (c < '0' || c > '9') return false;
    pid = pid * 10 + (c - '0');
  }
  return pid != ::getpid() && ::kill(pid, 0) != 0 && errno == ESRCH;
}

/// Removes what dead test processes left: namespaces and VDE socket files. Runs once
/// per test process, before it makes hosts of its own.
inline void sweep_leftovers() {
  static const bool swept = [] {
    std::string list = capture("ip netns list 2>/dev/null");
    std::size_t start = 0;
    while (start < list.size()) {
      std::size_t end = list.find('\n', start);
      if (end == std::string::npos) end = list.size();
      std::string line = list.substr(start, end - start);
      std::string name = line.substr(0, line.find(' '));
      if (left_by_dead_process(name, "r6t")) run("ip netns del " + name);
      start = end + 1;
    }
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator("/tmp", ec)) {
      if (left_by_dead_process(entry.path().filename().string(), "repy6-vde-")) {
        std::filesystem::remove_all(entry.path(), ec);
      }
    }
    return true;
  }();
  (void)swept;
}

/// A named network namespace (ip netns add), deleted by the destructor.
class Netns {
 public:
  Netns() : name_((sweep_leftovers(), unique_name("r6t"))) {
    ok_ = run("ip netns add " + name_);
    if (ok_) run(fmt::format("ip -n {} link set lo up", name_));
  }
  ~Netns() {
    if (ok_) run("ip netns del " + name_);
  }
  Netns(const Netns&) = delete;
  Netns& operator=(const Netns&) = delete;
  bool ok() const { return ok_; }
  const std::string& name() const { return name_; }
  /// `ip -n NAME ARGS`.
  bool ip(const std::string& args) const { return run(fmt::format("ip -n {} {}", name_, args)); }

 private:
  std::string name_;
  bool ok_ = false;
};

#define REQUIRE_NETNS(ns)                                                 \
  do {                                                                    \
    if (!(ns).ok())                                                       \
      GTEST_SKIP() << "cannot create network namespaces (needs root and " \
                      "'ip netns add')";                                  \
  } while (0)

/// A temporary path for a VDE ptp/hub socket, removed by the destructor.
class TmpPath {
 public:
  TmpPath() : path_((sweep_leftovers(), fmt::format("/tmp/{}", unique_name("repy6-vde-")))) {}
  ~TmpPath() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TmpPath(const TmpPath&) = delete;
  TmpPath& operator=(const TmpPath&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

/// Whether this machine can make VDE stacks; the reason otherwise.
inline std::optional<std::string> vde_unavailable() {
  if (::geteuid() != 0) return "vdestack tests need root (user namespaces + tap)";
  int fd = ::open("/dev/net/tun", O_RDWR | O_CLOEXEC);
  if (fd < 0) return fmt::format("/dev/net/tun: {}", std::strerror(errno));
  ::close(fd);
  return std::nullopt;
}

#define REQUIRE_VDE()                                                       \
  do {                                                                      \
    if (auto why = stack_fixtures::vde_unavailable()) GTEST_SKIP() << *why; \
  } while (0)

/// A UDP port free on ::1 right now (bind port 0, read it back).
inline int free_udp_port_v6_loopback() {
  int fd = ::socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_in6 a{};
  a.sin6_family = AF_INET6;
  a.sin6_addr = in6addr_loopback;
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin6_port);
}

/// A dnsmasq answering only what it is told (no upstream, no hosts file); killed and
/// reaped by the destructor. `netns` runs it inside that namespace.
class Dnsmasq {
 public:
  Dnsmasq(std::vector<std::string> args, const std::string& netns = {}) {
    std::vector<std::string> argv;
    if (!netns.empty()) argv = {"/usr/sbin/ip", "netns", "exec", netns};
    argv.insert(argv.end(), {"/usr/sbin/dnsmasq", "--no-daemon", "--no-resolv", "--no-hosts",
                             "--conf-file=/dev/null", "--bind-interfaces", "--pid-file=",
                             "--user=root", "--group=root", "--log-facility=-", "--quiet-dhcp"});
    argv.insert(argv.end(), args.begin(), args.end());
    pid_ = ::fork();
    if (pid_ == 0) {
      // Should the test process die without its destructors, the server goes too.
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      int null = ::open("/dev/null", O_RDWR);
      ::dup2(null, 1);
      ::dup2(null, 2);
      std::vector<char*> cargv;
      for (auto& a : argv) cargv.push_back(a.data());
      cargv.push_back(nullptr);
      ::execv(cargv[0], cargv.data());
      ::_exit(127);
    }
  }
  ~Dnsmasq() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      int status = 0;
      ::waitpid(pid_, &status, 0);
    }
  }
  Dnsmasq(const Dnsmasq&) = delete;
  Dnsmasq& operator=(const Dnsmasq&) = delete;
  bool started() const { return pid_ > 0; }
  /// False once the process has exited (bad arguments, port taken, ...).
  bool running() {
    if (pid_ <= 0) return false;
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return false;
    }
    return true;
  }

 private:
  pid_t pid_ = -1;
};

inline bool have_dnsmasq() { return ::access("/usr/sbin/dnsmasq", X_OK) == 0; }

/// A dnsmasq serving on [::1]:port of the host, and that port.
struct HostDns {
  std::unique_ptr<Dnsmasq> server;
  int port = 0;
};

/// Starts dnsmasq with `args` on a free UDP port of the host's ::1 and waits (at most
/// 5 s) until it holds the port. Other processes on the machine take ports too: when
/// the one picked is gone before dnsmasq binds it, dnsmasq exits and another port is
/// tried. An empty server when five tries failed.
inline HostDns start_host_dns(std::vector<std::string> args) {
  for (int attempt = 0; attempt < 5; ++attempt) {
    HostDns dns;
    dns.port = free_udp_port_v6_loopback();
    auto with_port = args;
    with_port.insert(with_port.end(), {fmt::format("--port={}", dns.port), "--listen-address=::1"});
    dns.server = std::make_unique<Dnsmasq>(with_port);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (dns.server->running() && std::chrono::steady_clock::now() < deadline) {
      // Serving once its port is taken: a bind of our own is refused then.
      int probe = ::socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
      sockaddr_in6 sa{};
      sa.sin6_family = AF_INET6;
      sa.sin6_addr = in6addr_loopback;
      sa.sin6_port = htons(static_cast<std::uint16_t>(dns.port));
      const bool held =
          ::bind(probe, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 && errno == EADDRINUSE;
      ::close(probe);
      if (held) return dns;
      ::poll(nullptr, 0, 20);
    }
  }
  return {};
}

/// Calls `f` every `pause` until it returns instead of raising `Error`; once `deadline`
/// has passed, the last Error goes to the caller.
template <class Error, class F>
auto retry_while(F f, std::chrono::milliseconds deadline, std::chrono::milliseconds pause) {
  auto end = std::chrono::steady_clock::now() + deadline;
  for (;;) {
    try {
      return f();
    } catch (const Error&) {
      if (std::chrono::steady_clock::now() > end) throw;
    }
    ::poll(nullptr, 0, static_cast<int>(pause.count()));
  }
}

/// Calls `resolve` until it returns without NetworkAddressError or `deadline` passes:
/// a freshly started server answers once it has bound its socket.
template <class F>
auto eventually(F resolve, std::chrono::milliseconds deadline = std::chrono::seconds(10)) {
  return retry_while<repy::NetworkAddressError>(resolve, deadline, std::chrono::milliseconds(50));
}

/// Waits until `fd` is readable or `ms` pass; true when readable.
inline bool wait_readable(int fd, int ms = 5000) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, ms) == 1;
}

/// A socket fd owned by the test.
class OwnedFd {
 public:
  explicit OwnedFd(int fd) : fd_(fd) {}
  ~OwnedFd() {
    if (fd_ >= 0) ::close(fd_);
  }
  OwnedFd(const OwnedFd&) = delete;
  OwnedFd& operator=(const OwnedFd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

inline sockaddr_in6 v6(const std::string& ip, int port) {
  sockaddr_in6 a{};
  a.sin6_family = AF_INET6;
  a.sin6_port = htons(static_cast<std::uint16_t>(port));
  ::inet_pton(AF_INET6, ip.c_str(), &a.sin6_addr);
  return a;
}

/// Binds a UDP socket made in `stack` to ip:port (0 = any port); returns the fd.
inline int udp_bound(const repy::Stack& stack, const std::string& ip, int port = 0) {
  int fd = stack.socket(AF_INET6, SOCK_DGRAM);
  auto a = v6(ip, port);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    int err = errno;
    ::close(fd);
    throw std::runtime_error(fmt::format("bind {}: {}", ip, std::strerror(err)));
  }
  return fd;
}

inline int local_port(int fd) {
  sockaddr_in6 a{};
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  return ntohs(a.sin6_port);
}

}  // namespace stack_fixtures
