// Helpers shared by the black-box tests: free ports, raw POSIX sockets the test owns,
// restrictions text builders and deadline-based waiting. Only the public API of repy6 is
// used here; everything else is plain POSIX.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/core/demangle.hpp>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <exception>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <repy/repy.hpp>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <typeinfo>
#include <utility>
#include <vector>

#include "core/fd.hpp"

namespace repy_test {

using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

/// A file descriptor the test owns; closed exactly once.
using Fd = repy::detail::Fd;

inline std::string errno_text(std::string_view what) {
  return std::string(what) + ": " + std::strerror(errno);
}

inline sockaddr_in6 loopback_address(int port) {
  sockaddr_in6 sa{};
  sa.sin6_family = AF_INET6;
  sa.sin6_addr = in6addr_loopback;
  sa.sin6_port = htons(static_cast<std::uint16_t>(port));
  return sa;
}

/// The local port a socket is bound to.
inline int local_port(int fd) {
  sockaddr_in6 sa{};
  socklen_t len = sizeof sa;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len) != 0) {
    throw std::runtime_error(errno_text("getsockname"));
  }
  return ntohs(sa.sin6_port);
}

/// A raw socket of `type` bound to `sa` (shown as `where` in errors).
template <class Sockaddr>
Fd raw_bound_to(int type, const Sockaddr& sa, bool reuseaddr, const std::string& where) {
  Fd fd(::socket(reinterpret_cast<const sockaddr&>(sa).sa_family, type | SOCK_CLOEXEC, 0));
  if (!fd) throw std::runtime_error(errno_text("socket"));
  if (reuseaddr) {
    int one = 1;
    ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  }
  if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&sa), sizeof sa) != 0) {
    throw std::runtime_error(errno_text("bind " + where));
  }
  return fd;
}

/// A raw socket of `type` bound to [::1]:port (0 lets the kernel choose).
inline Fd raw_bound(int type, int port = 0, bool reuseaddr = false) {
  return raw_bound_to(type, loopback_address(port), reuseaddr, "[::1]:" + std::to_string(port));
}

/// A raw socket of `type` bound to 127.0.0.1:port, for the IPv4 calls' tests.
/// local_port() reads its port too (sin_port and sin6_port share their offset).
inline Fd raw_bound_v4(int type, int port = 0, bool reuseaddr = false) {
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  sa.sin_port = htons(static_cast<std::uint16_t>(port));
  return raw_bound_to(type, sa, reuseaddr, "127.0.0.1:" + std::to_string(port));
}

/// A raw TCP listener on [::1]:port, or on 127.0.0.1:port with `v4`.
inline Fd raw_listener(int port = 0, int backlog = 16, bool v4 = false) {
  Fd fd = v4 ? raw_bound_v4(SOCK_STREAM, port, true) : raw_bound(SOCK_STREAM, port, true);
  if (::listen(fd.get(), backlog) != 0) throw std::runtime_error(errno_text("listen"));
  return fd;
}

/// A listener on [::1] that answers no connect: its backlog of 0 holds one completed
/// connection (made here), and the kernel drops further SYNs, so a connect to it can
/// only end by its timeout.
struct SilentListener {
  SilentListener() : listener(raw_listener(0, 0)), port(local_port(listener.get())) {
    filler = Fd(::socket(AF_INET6, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    const sockaddr_in6 to = loopback_address(port);
    ::connect(filler.get(), reinterpret_cast<const sockaddr*>(&to), sizeof to);
    pollfd p{filler.get(), POLLOUT, 0};
    if (::poll(&p, 1, 5000) != 1) throw std::runtime_error("SilentListener: no connection");
  }
  Fd listener;
  int port;
  Fd filler;
};

/// A port that is free on ::1 for both TCP and UDP right now: bind a TCP socket to
/// port 0, read the port back, and check UDP can bind it too.
inline int free_port() {
  for (int attempt = 0; attempt < 100; ++attempt) {
    Fd tcp = raw_bound(SOCK_STREAM, 0);
    int port = local_port(tcp.get());
    Fd udp(::socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    sockaddr_in6 sa = loopback_address(port);
    if (udp && ::bind(udp.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0) {
      return port;
    }
  }
  throw std::runtime_error("free_port: no port free for both TCP and UDP");
}

/// A port free_port() finds that is free on 127.0.0.1 too, for TCP and UDP, so a test
/// may use it with either family of calls.
inline int free_port_both_families() {
  for (int attempt = 0; attempt < 100; ++attempt) {
    const int port = free_port();
    try {
      Fd tcp = raw_bound_v4(SOCK_STREAM, port);
      Fd udp = raw_bound_v4(SOCK_DGRAM, port);
      return port;
    } catch (const std::runtime_error&) {
    }
  }
  throw std::runtime_error("free_port_both_families: no port free on ::1 and 127.0.0.1");
}

/// `n` distinct free ports, each found by `pick`.
inline std::vector<int> free_ports(std::size_t n, const std::function<int()>& pick = free_port) {
  std::vector<int> ports;
  while (ports.size() < n) {
    int p = pick();
    bool seen = false;
    for (int q : ports) seen = seen || q == p;
    if (!seen) ports.push_back(p);
  }
  return ports;
}

/// Restrictions text in Repy's syntax that sets every non-port resource to a generous
/// value (renewables 1e12/s, 100 sockets), allows the given ports, and applies
/// `overrides` (resource name -> value, written verbatim) and `extra` lines.
inline std::string policy_text(const std::vector<int>& connports, const std::vector<int>& messports,
                               const std::map<std::string, std::string>& overrides = {},
                               const std::string& extra = {}) {
  std::map<std::string, std::string> values = {
      {"cpu", "1"},
      {"memory", "1000000000"},
      {"diskused", "1000000000"},
      {"events", "100"},
      {"filewrite", "1000000"},
      {"fileread", "1000000"},
      {"filesopened", "100"},
      {"lograte", "1000000"},
      {"random", "1000000"},
      {"insockets", "100"},
      {"outsockets", "100"},
      {"netsend", "1000000000000"},
      {"netrecv", "1000000000000"},
      {"loopsend", "1000000000000"},
      {"looprecv", "1000000000000"},
  };
  for (const auto& [name, value] : overrides) values[name] = value;
  std::string text = "# built by repy_test::policy_text\n";
  for (const auto& [name, value] : values) text += "resource " + name + " " + value + "\n";
  for (int p : connports) text += "resource connport " + std::to_string(p) + "\n";
  for (int p : messports) text += "resource messport " + std::to_string(p) + "\n";
  text += extra;
  return text;
}

/// A context whose policy is policy_text(...).
inline repy::Context context_with(const std::vector<int>& connports,
                                  const std::vector<int>& messports,
                                  const std::map<std::string, std::string>& overrides = {},
                                  const std::string& extra = {}) {
  return repy::Context(repy::Policy::parse(policy_text(connports, messports, overrides, extra)));
}

/// Polls `ready` until it returns true or `timeout` passes; returns the last answer.
inline bool wait_until(const std::function<bool()>& ready, std::chrono::milliseconds timeout = 5s) {
  const auto deadline = clock_type::now() + timeout;
  while (true) {
    if (ready()) return true;
    if (clock_type::now() >= deadline) return false;
    std::this_thread::sleep_for(2ms);
  }
}

/// Waits for `events` on a raw fd with a deadline.
inline bool poll_fd(int fd, short events, std::chrono::milliseconds timeout = 5s) {
  pollfd p{fd, events, 0};
  const auto deadline = clock_type::now() + timeout;
  while (true) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock_type::now());
    if (left.count() < 0) left = 0ms;
    int r = ::poll(&p, 1, static_cast<int>(left.count()));
    if (r > 0) return true;
    if (r == 0) return false;
    if (errno != EINTR) return false;
  }
}

/// Seconds elapsed since `start`.
inline double seconds_since(clock_type::time_point start) {
  return std::chrono::duration<double>(clock_type::now() - start).count();
}

/// One renewable total of a context.
inline double total(const repy::Context& ctx, const std::string& name) {
  auto report = ctx.getresources();
  auto it = report.totals.find(name);
  return it == report.totals.end() ? -1.0 : it->second;
}

/// One usage value of a context.
inline double usage(const repy::Context& ctx, const std::string& name) {
  auto report = ctx.getresources();
  auto it = report.usage.find(name);
  return it == report.usage.end() ? -1.0 : it->second;
}

/// The four network totals at one moment, to compare before/after a call.
struct NetTotals {
  double netsend, netrecv, loopsend, looprecv;
};
inline NetTotals net_totals(const repy::Context& ctx) {
  auto t = ctx.getresources().totals;
  return {t["netsend"], t["netrecv"], t["loopsend"], t["looprecv"]};
}
inline NetTotals operator-(const NetTotals& a, const NetTotals& b) {
  return {a.netsend - b.netsend, a.netrecv - b.netrecv, a.loopsend - b.loopsend,
          a.looprecv - b.looprecv};
}

/// Receives exactly `n` bytes from a repy socket, waiting up to `timeout` for each part.
inline std::string recv_exactly(repy::TCPSocket& s, std::size_t n,
                                std::chrono::milliseconds timeout = 5s) {
  std::string out;
  while (out.size() < n) {
    if (!s.wait_readable(timeout)) throw std::runtime_error("recv_exactly: timed out");
    out += s.recv(n - out.size());
  }
  return out;
}

/// The number of open file descriptors of this process.
inline int open_fd_count() {
  int count = 0;
  for (int fd = 0; fd < 4096; ++fd) {
    if (::fcntl(fd, F_GETFD) != -1) ++count;
  }
  return count;
}

/// Whether `text` contains `needle`, ignoring ASCII case.
inline bool contains_nocase(std::string_view text, std::string_view needle) {
  auto lower = [](std::string_view s) {
    std::string r(s);
    for (char& c : r) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return r;
  };
  return lower(text).find(lower(needle)) != std::string::npos;
}

/// The dynamic type of an exception, readable.
inline std::string type_of(const std::exception& e) {
  return boost::core::demangle(typeid(e).name());
}

/// Runs `f`, expects it to throw E (or a subclass); returns what(). Records a test
/// failure naming `where`, the expected class and what happened instead.
template <class E, class F>
std::string expect_throws(F&& f, const std::string& where) {
  try {
    f();
  } catch (const E& e) {
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << where << ": expected " << boost::core::demangle(typeid(E).name()) << ", got "
                  << type_of(e) << ": " << e.what();
    return {};
  }
  ADD_FAILURE() << where << ": expected " << boost::core::demangle(typeid(E).name())
                << ", but nothing was thrown";
  return {};
}

/// Runs `f`, expects it NOT to throw E (anything else, or nothing, is fine).
template <class E, class F>
void expect_not_thrown(F&& f, const std::string& where) {
  try {
    f();
  } catch (const E& e) {
    ADD_FAILURE() << where << ": unexpected " << type_of(e) << ": " << e.what();
  } catch (const std::exception&) {
  }
}

/// The result of a call run on its own thread with a deadline.
struct Outcome {
  bool finished = false;     // false: still running at the deadline
  std::exception_ptr error;  // what it threw, if it finished by throwing
  double seconds = 0;        // how long it took (or the deadline)
};

/// Runs `fn` on a detached thread and waits up to `timeout` for it, so that a call that
/// hangs fails the test instead of hanging the suite.
inline Outcome run_with_deadline(std::function<void()> fn, std::chrono::milliseconds timeout = 5s) {
  auto done = std::make_shared<std::promise<std::exception_ptr>>();
  auto result = done->get_future();
  const auto start = clock_type::now();
  std::thread([done, fn = std::move(fn)] {
    try {
      fn();
      done->set_value(nullptr);
    } catch (...) {
      done->set_value(std::current_exception());
    }
  }).detach();
  Outcome out;
  out.finished = result.wait_for(timeout) == std::future_status::ready;
  out.seconds = seconds_since(start);
  if (out.finished) out.error = result.get();
  return out;
}

/// Rethrows an Outcome's exception (or nothing) so expect_throws can classify it.
inline void rethrow(const Outcome& o) {
  if (o.error) std::rethrow_exception(o.error);
}

/// A TCP connection made through a context: a listener, the client end and the
/// accepted end, all on ::1.
struct Pair {
  repy::Context ctx;
  int server_port = 0;
  int client_port = 0;
  repy::TCPServerSocket server;
  repy::TCPSocket client;
  repy::TCPSocket accepted;
};

inline Pair connected_pair(repy::Context ctx = repy::Context()) {
  Pair p;
  p.ctx = ctx;
  auto ports = free_ports(2);
  p.server_port = ports[0];
  p.client_port = ports[1];
  p.server = ctx.listenforconnection_ipv6("::1", p.server_port);
  p.client = ctx.openconnection_ipv6("::1", p.server_port, "::1", p.client_port, 5.0);
  if (!p.server.wait_readable(5s)) throw std::runtime_error("connected_pair: no connection");
  p.accepted = p.server.getconnection().socket;
  return p;
}

/// A pair on a context whose loopback rates are `rate` bytes per second, with `backlog`
/// bytes already sent by the client, so that the nanny makes the next calls on both
/// ends wait for about (backlog - rate) / rate seconds.
inline Pair throttled_pair(int rate, std::size_t backlog) {
  Pair p;
  auto ports = free_ports(2);
  p.server_port = ports[0];
  p.client_port = ports[1];
  p.ctx = context_with({ports[0], ports[1]}, {},
                       {{"loopsend", std::to_string(rate)}, {"looprecv", std::to_string(rate)}});
  p.server = p.ctx.listenforconnection_ipv6("::1", p.server_port);
  p.client = p.ctx.openconnection_ipv6("::1", p.server_port, "::1", p.client_port, 5.0);
  EXPECT_TRUE(p.server.wait_readable(5s));
  p.accepted = p.server.getconnection().socket;
  const std::string data(backlog, 'r');
  std::size_t sent = 0;
  while (sent < data.size()) {
    EXPECT_TRUE(p.client.wait_writable(10s));
    sent += p.client.send(std::string_view(data).substr(sent));
  }
  return p;
}

}  // namespace repy_test
