// Shared helpers of the repy6 examples: command-line flags, the network stack the
// --stack/--vde/--config/--dns flags ask for, the context a --restrictions file asks
// for, waiting with deadlines, and the exit-time resource summary. Header-only so each
// example stays a single translation unit.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <map>
#include <random>
#include <repy/repy.hpp>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace examples {

/// A tiny flag parser: `--name VALUE` or `--name=VALUE`, each flag bound to a variable
/// (a vector collects every use of a repeatable flag). Bad or unknown flags print the
/// usage and exit with status 2; --help prints it and exits with 0.
class Flags {
 public:
  Flags(std::string program, std::string summary)
      : program_(std::move(program)), summary_(std::move(summary)) {}

  void add(std::string name, std::string* target, std::string help) {
    flags_.push_back({std::move(name), target, std::move(help), false});
  }
  void add(std::string name, int* target, std::string help) {
    flags_.push_back({std::move(name), target, std::move(help), false});
  }
  void add(std::string name, double* target, std::string help) {
    flags_.push_back({std::move(name), target, std::move(help), false});
  }
  void add(std::string name, std::vector<std::string>* target, std::string help) {
    flags_.push_back({std::move(name), target, std::move(help), false});
  }

  const std::string& program() const { return program_; }

  /// Whether the flag was given on the command line.
  bool given(std::string_view name) const {
    for (const auto& f : flags_) {
      if (f.name == name) return f.seen;
    }
    return false;
  }

  void parse(int argc, char** argv) {
    for (int i = 1; i < argc; ++i) {
      std::string_view arg = argv[i];
      if (arg == "--help" || arg == "-h") {
        usage(std::cout);
        std::exit(0);
      }
      if (arg.substr(0, 2) != "--") fail("unexpected argument '" + std::string(arg) + "'");
      arg.remove_prefix(2);
      std::string_view value;
      bool has_value = false;
      if (auto eq = arg.find('='); eq != std::string_view::npos) {
        value = arg.substr(eq + 1);
        arg = arg.substr(0, eq);
        has_value = true;
      }
      Flag* flag = find(arg);
      if (flag == nullptr) fail("unknown flag --" + std::string(arg));
      if (!has_value) {
        if (i + 1 >= argc) fail("flag --" + flag->name + " needs a value");
        value = argv[++i];
      }
      set(*flag, value);
    }
  }

  [[noreturn]] void fail(const std::string& why) const {
    std::cerr << program_ << ": " << why << "\n\n";
    usage(std::cerr);
    std::exit(2);
  }

  void usage(std::ostream& out) const {
    out << "usage: " << program_ << " [flags]\n" << summary_ << "\n\nflags:\n";
    for (const auto& f : flags_) {
      std::string left = "  --" + f.name + " " + placeholder(f);
      out << left << std::string(left.size() < 30 ? 30 - left.size() : 1, ' ') << f.help << "\n";
    }
    out << "  --help                      show this text\n";
  }

 private:
  struct Flag {
    std::string name;
    std::variant<std::string*, int*, double*, std::vector<std::string>*> target;
    std::string help;
    bool seen;
  };

  Flag* find(std::string_view name) {
    for (auto& f : flags_) {
      if (f.name == name) return &f;
    }
    return nullptr;
  }

  static std::string placeholder(const Flag& f) {
    if (f.name == "restrictions") return "FILE";
    if (f.name == "stack") return "CONFIG";
    if (f.name == "vde") return "URL";
    if (f.name == "config") return "ITEMS";
    if (f.name == "dns") return "RESOLVCONF";
    if (f.name.ends_with("-ip")) return "IP";
    if (std::holds_alternative<int*>(f.target)) return "N";
    if (std::holds_alternative<double*>(f.target)) return "SECONDS";
    return "TEXT";
  }

  void set(Flag& flag, std::string_view value) {
    flag.seen = true;
    if (auto* s = std::get_if<std::string*>(&flag.target)) {
      **s = std::string(value);
    } else if (auto* list = std::get_if<std::vector<std::string>*>(&flag.target)) {
      (*list)->emplace_back(value);
    } else if (auto* n = std::get_if<int*>(&flag.target)) {
      int parsed = 0;
      auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), parsed);
      if (ec != std::errc() || end != value.data() + value.size()) {
        fail("--" + flag.name + " wants a whole number, got '" + std::string(value) + "'");
      }
      **n = parsed;
    } else if (auto* d = std::get_if<double*>(&flag.target)) {
      std::string text(value);
      char* end = nullptr;
      errno = 0;
      double parsed = std::strtod(text.c_str(), &end);
      if (text.empty() || *end != '\0' || errno != 0 || !std::isfinite(parsed)) {
        fail("--" + flag.name + " wants a number, got '" + text + "'");
      }
      **d = parsed;
    }
  }

  std::string program_;
  std::string summary_;
  std::vector<Flag> flags_;
};

/// Fails (exit 2) unless 1 <= port <= 65535, the range every Repy call accepts.
inline void require_port(const Flags& flags, std::string_view name, int port) {
  if (port < 1 || port > 65535) {
    flags.fail("--" + std::string(name) + " must be between 1 and 65535, got " +
               std::to_string(port));
  }
}

/// The flags that choose the network stack, as in iothpy's examples:
///   --stack kernel                the host's own stack (the default)
///   --stack vdestack              a user-level VDE stack (one interface per --vde URL)
///   --stack "stack=vdestack,vnl=ptp:///tmp/link,eth,ip=fc00::1/64"
///                                 iothpy's one-string configuration
///   --stack netns:NAME            an existing network namespace (NAME or a path)
///   --vde URL                     one more VDE interface (vde0, vde1, ...); implies
///                                 --stack vdestack when --stack is not given
///   --config ITEMS                iothconf items applied once the stack exists
///   --dns RESOLVCONF              resolv.conf text or path for the stack's resolver
struct StackOptions {
  std::string stack = "kernel";
  std::vector<std::string> vde;
  std::string config;
  std::string dns;

  void add_flags(Flags& flags) {
    flags.add("stack", &stack,
              "kernel (default), vdestack, netns:NAME, or \"stack=vdestack,vnl=URL,eth,ip=A/N\"");
    flags.add("vde", &vde, "one VDE interface per use: vde0, vde1, ... (alone: a vdestack)");
    flags.add("config", &config, "iothconf items once the stack exists: eth,ip=fc00::1/64");
    flags.add("dns", &dns, "resolv.conf text or file for the stack's resolver");
  }
};

/// Makes the stack the flags ask for. A malformed request (an unknown stack, a bad
/// configuration item, flags that do not go together) prints the usage and exits with
/// 2, as other flag errors do; a stack the machine cannot make (no privilege, no
/// /dev/net/tun, a VDE URL that does not open) prints why and exits with 1.
inline repy::Stack make_stack(const Flags& flags, const StackOptions& options) {
  const std::string_view spec = options.stack;
  const bool netns = spec.starts_with("netns:");
  const bool kernel = spec == "kernel" || spec == "host";
  // --vde alone means a vdestack, as iothpy's Stack("vdestack", urls).
  const std::string_view kind = !options.vde.empty() && !flags.given("stack") ? "vdestack" : spec;
  if (!options.vde.empty() && (netns || (kernel && flags.given("stack")))) {
    flags.fail(
        "--vde needs a vdestack: give no --stack, --stack vdestack or --stack "
        "\"stack=vdestack,...\" (got --stack " +
        std::string(spec) + ")");
  }
  if (kind == "vdestack" && options.vde.empty()) {
    std::cerr << flags.program()
              << ": warning: a vdestack without a --vde URL has no interface but loopback "
                 "(::1 and 127.0.0.1 inside the stack, nothing else); give it one with "
                 "--vde URL\n";
  }
  // Changing the host's own interfaces is not what an echo example is for.
  if (!options.config.empty() && kind == "kernel") {
    flags.fail(
        "--config configures a stack's interfaces: use it with --vde, --stack "
        "vdestack or --stack netns:NAME, not with the kernel stack");
  }
  try {
    repy::Stack stack =
        netns ? repy::Stack::netns(spec.substr(6)) : repy::Stack(kind, options.vde, options.dns);
    if (netns && !options.dns.empty()) stack.iothdns_update(options.dns);
    if (!options.config.empty()) stack.iothconfig(options.config);
    return stack;
  } catch (const repy::RepyArgumentError& e) {
    flags.fail(e.what());
  } catch (const repy::RepyException& e) {
    std::cerr << flags.program() << ": cannot make the stack '" << kind << "': " << e.what()
              << "\n";
    std::exit(1);
  }
}

/// The context of an example: the --restrictions file's policy (unlimited without one)
/// on the stack the stack flags ask for. Exits with 1 when the file cannot be read or
/// parsed, and as make_stack() says for the stack.
inline repy::Context make_context(const Flags& flags, const std::string& restrictions,
                                  const StackOptions& options) {
  repy::Policy policy = repy::Policy::unlimited();
  if (!restrictions.empty()) {
    try {
      policy = repy::Policy::load(restrictions);
    } catch (const repy::RepyException& e) {
      std::cerr << flags.program() << ": " << e.what() << "\n";
      std::exit(1);
    }
  }
  // Read the policy first: a bad file then costs no stack.
  return repy::Context(std::move(policy), make_stack(flags, options));
}

/// The flags of every example that make its context: --restrictions and the stack's.
struct ContextOptions {
  std::string restrictions;
  StackOptions stack;

  void add_flags(Flags& flags) {
    flags.add("restrictions", &restrictions, "Repy restrictions file (default: unlimited)");
    stack.add_flags(flags);
  }

  /// After Flags::parse(): the context they ask for (see make_context()).
  repy::Context make(const Flags& flags) const { return make_context(flags, restrictions, stack); }
};

/// Converts seconds (from a flag) to the millisecond timeouts of wait_readable().
inline std::chrono::milliseconds to_ms(double seconds) {
  return std::chrono::milliseconds(static_cast<long long>(std::ceil(seconds * 1000.0)));
}

/// Set by SIGINT/SIGTERM so that servers leave their loops and still print a summary.
inline volatile std::sig_atomic_t stop_flag = 0;

inline void install_stop_handler() {
  struct sigaction action {};
  action.sa_handler = [](int) { stop_flag = 1; };
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
}

inline bool stop_requested() { return stop_flag != 0; }

/// Waits until `socket` is readable, at most `total`. Waits in short slices only so that
/// a stop signal is noticed; the socket itself is never polled by trying the call.
/// Returns false on timeout or stop.
template <class Socket>
bool wait_readable_for(const Socket& socket, std::chrono::milliseconds total) {
  using clock = std::chrono::steady_clock;
  const auto deadline = clock::now() + total;
  for (;;) {
    if (stop_requested()) return false;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock::now());
    if (left.count() <= 0) return false;
    if (socket.wait_readable(std::min(left, std::chrono::milliseconds(200)))) return true;
  }
}

/// Sends all of `data`, waiting (at most `timeout` each time) for buffer space.
/// @throws TimeoutError when the peer stops reading; SocketClosedRemote/Local.
inline void send_all(repy::TCPSocket& socket, std::string_view data,
                     std::chrono::milliseconds timeout) {
  while (!data.empty()) {
    if (!socket.wait_writable(timeout)) {
      throw repy::TimeoutError("send: the peer has not read for " +
                               std::to_string(timeout.count()) + " ms");
    }
    try {
      data.remove_prefix(socket.send(data));
    } catch (const repy::SocketWouldBlockError&) {
      // The buffer filled again between the wait and the send; wait once more.
    }
  }
}

/// Whether two IP texts name the same address ("::1" and "0:0::1" do). Texts that are
/// not plain IPv6 literals (with a zone, say) are compared as written.
inline bool same_address(std::string_view a, std::string_view b) {
  in6_addr x{};
  in6_addr y{};
  if (inet_pton(AF_INET6, std::string(a).c_str(), &x) == 1 &&
      inet_pton(AF_INET6, std::string(b).c_str(), &y) == 1) {
    return std::memcmp(&x, &y, sizeof x) == 0;
  }
  return a == b;
}

/// Local ports a client on `local_ip` may try when --local-port is not given: the ports
/// the policy allows (TCP: connport, UDP: messport), or `wanted` distinct random high
/// ports under an unlimited policy. When the client and the server share an address, the server's
/// port is left out, since Repy refuses a connection or a datagram from an address to
/// itself.
/// @throws ResourceForbiddenError, saying why, when no port is left to try.
inline std::vector<int> candidate_ports(const repy::Context& context, bool tcp,
                                        std::string_view local_ip, std::string_view remote_ip,
                                        int remote_port, std::size_t wanted = 20) {
  const repy::ResourceReport report = context.getresources();
  const std::set<int>& allowed = tcp ? report.allowed_connports : report.allowed_messports;
  std::vector<int> ports;
  if (report.any_port) {
    for (int port = 49152; port <= 65535; ++port) ports.push_back(port);
    std::shuffle(ports.begin(), ports.end(), std::mt19937(std::random_device{}()));
    ports.resize(std::min(ports.size(), wanted));
  } else {
    ports.assign(allowed.begin(), allowed.end());
  }
  const bool same_host = same_address(local_ip, remote_ip);
  if (same_host) std::erase(ports, remote_port);
  if (!ports.empty()) return ports;

  const std::string resource = tcp ? "connport" : "messport";
  if (same_host && allowed.contains(remote_port)) {
    throw repy::ResourceForbiddenError(
        "no local port to use: the only " + resource + " the restrictions allow, " +
        std::to_string(remote_port) + ", is the server's own port, and Repy refuses " +
        (tcp ? "a connection" : "a datagram") + " from [" + std::string(local_ip) +
        "]:" + std::to_string(remote_port) + " to itself (allow another " + resource +
        ", or give --local-ip another address of this host)");
  }
  throw repy::ResourceForbiddenError("no local port to use: the restrictions allow no " + resource +
                                     " (add a line 'resource " + resource + " PORT')");
}

/// Whether an error says that a local port is taken (so another one may do).
inline bool is_busy_port(const repy::NetworkError& e) {
  return dynamic_cast<const repy::AlreadyListeningError*>(&e) != nullptr ||
         dynamic_cast<const repy::DuplicateTupleError*>(&e) != nullptr ||
         dynamic_cast<const repy::CleanupInProgressError*>(&e) != nullptr;
}

/// Calls `open(port)` for each candidate (a list from candidate_ports(), never empty)
/// until one is not busy; returns its result and the port it used.
/// @throws the last busy-port error when all are busy, or whatever `open` throws
/// otherwise.
template <class Open>
auto open_on_free_port(const std::vector<int>& ports, Open open) {
  for (std::size_t i = 0;; ++i) {
    try {
      return std::make_pair(open(ports.at(i)), ports.at(i));
    } catch (const repy::NetworkError& e) {
      if (!is_busy_port(e) || i + 1 == ports.size()) throw;
    }
  }
}

/// Whether an address flag is IPv4 (dotted): the examples then use Repy V2's IPv4
/// calls for it, and the `_ipv6` calls for anything else.
inline bool is_ipv4(std::string_view ip) {
  return ip.find(':') == std::string_view::npos && ip.find('.') != std::string_view::npos;
}

/// A client's local address when --local-ip is not given: the loopback address of the
/// remote address's family, since one call takes both.
inline void match_local_family(const Flags& flags, const std::string& remote_ip,
                               std::string& local_ip) {
  if (!flags.given("local-ip") && is_ipv4(remote_ip)) local_ip = "127.0.0.1";
}

/// An echo server's flags: where to listen, its context, and how much to serve.
struct ServerOptions {
  std::string local_ip = "::1";
  int local_port = 12345;
  ContextOptions context;
  int count = 0;

  /// `count_help`: what --count counts.
  void add_flags(Flags& flags, std::string count_help) {
    flags.add("local-ip", &local_ip, "address to listen on (default ::1)");
    flags.add("local-port", &local_port, "port to listen on (default 12345)");
    context.add_flags(flags);
    flags.add("count", &count, std::move(count_help));
  }

  /// After Flags::parse(): fails (exit 2) on a value no call would take.
  void check(const Flags& flags) const {
    require_port(flags, "local-port", local_port);
    if (count < 0) flags.fail("--count must be 0 or more");
  }
};

/// An echo client's flags: the server, its own end, its context, what to send and how
/// long to wait.
struct ClientOptions {
  std::string remote_ip = "::1";
  int remote_port = 12345;
  std::string local_ip = "::1";
  int local_port = 0;
  ContextOptions context;
  std::string message = "hello from repy6";
  double timeout = 5;

  /// `local_ip_help` and `timeout_help` say what the client does with them.
  void add_flags(Flags& flags, std::string local_ip_help, std::string timeout_help) {
    flags.add("remote-ip", &remote_ip, "server address (default ::1)");
    flags.add("remote-port", &remote_port, "server port (default 12345)");
    flags.add("local-ip", &local_ip, std::move(local_ip_help));
    flags.add("local-port", &local_port, "local port (default: a free one the restrictions allow)");
    context.add_flags(flags);
    flags.add("message", &message, "text to send (default \"hello from repy6\")");
    flags.add("timeout", &timeout, std::move(timeout_help));
  }

  /// After Flags::parse(): fails (exit 2) on a value no call would take, and gives
  /// --local-ip the remote address's family when it was not given.
  void check(const Flags& flags) {
    require_port(flags, "remote-port", remote_port);
    if (flags.given("local-port")) require_port(flags, "local-port", local_port);
    if (timeout <= 0) flags.fail("--timeout must be more than 0");
    match_local_family(flags, remote_ip, local_ip);
  }
};

/// Prints what the context was charged: totals of the four network rates and the
/// sockets it holds now against its limits.
inline void print_resources(const repy::Context& context, std::ostream& out) {
  const repy::ResourceReport report = context.getresources();
  auto value = [](const std::map<std::string, double>& m, const std::string& key) {
    auto it = m.find(key);
    return it == m.end() ? 0.0 : it->second;
  };
  auto limit = [&](const std::string& key) {
    double l = value(report.limits, key);
    return std::isinf(l) ? std::string("unlimited") : std::to_string(static_cast<long>(l));
  };
  out << "resources charged:";
  for (const char* name : {"loopsend", "looprecv", "netsend", "netrecv"}) {
    out << " " << name << "=" << static_cast<long long>(value(report.totals, name));
  }
  out << "\nsockets held:";
  for (const char* name : {"insockets", "outsockets"}) {
    out << " " << name << "=" << static_cast<long long>(value(report.usage, name)) << "/"
        << limit(name);
  }
  out << std::endl;
}

}  // namespace examples
