// A stack's own DNS resolver: c-ares, with every socket made by the stack.
#pragma once

#include <ares.h>

#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "repy/stack.hpp"

namespace repy::detail {

class StackImpl;

/// What a resolv.conf text asks for.
struct ResolvConf {
  std::vector<std::string> nameservers;  // "host" or "[host]:port", validated
  std::vector<std::string> search;       // search domains, in order
  int ndots = 1;
  int timeout_s = 5;
  int attempts = 2;
  bool rotate = false;
};

/// Parses resolv.conf text (nameserver, search, domain, options lines; '#' and ';'
/// comments; unknown keywords are ignored as libc does). A nameserver may carry a port
/// as "[ADDR]:PORT" (an extension, so tests can run a server on a free port).
/// @throws RepyArgumentError naming the line when a nameserver or option is malformed,
/// or when there is no nameserver at all.
ResolvConf parse_resolv_conf(std::string_view text);

/// `text_or_path` is resolv.conf text, or the path of a file holding it: a single line
/// that does not start with a resolv.conf keyword is taken as a path.
/// @throws RepyArgumentError when the path cannot be read.
std::string resolv_conf_text(std::string_view text_or_path);

/// One c-ares channel whose sockets `stack` makes. Queries on one resolver are
/// serialised (a c-ares channel is not thread-safe); different stacks never wait on
/// each other.
class Resolver {
 public:
  /// Configured from `conf`; with no `conf`, from the system files (/etc/resolv.conf).
  /// @throws NetworkError when c-ares cannot be set up.
  Resolver(StackImpl& stack, const ResolvConf* conf);
  ~Resolver();
  Resolver(const Resolver&) = delete;
  Resolver& operator=(const Resolver&) = delete;

  /// getaddrinfo(3) semantics; flags are AI_* values.
  /// @throws NetworkAddressError when the name does not resolve.
  std::vector<AddrInfo> getaddrinfo(std::string_view host, std::string_view port, int family,
                                    int type, int proto, int flags);
  /// getnameinfo(3) semantics; flags are NI_* values.
  /// @throws NetworkAddressError when nothing is found; RepyArgumentError for a bad ip.
  std::pair<std::string, std::string> getnameinfo(std::string_view ip, int port, int flags);

 private:
  void run_until(const bool& done);  // drives the channel until `done`

  StackImpl& stack_;
  std::mutex mu_;
  ares_channel channel_ = nullptr;
};

/// getaddrinfo(3) through the system resolver, converted to AddrInfo.
/// @throws NetworkAddressError when the name does not resolve.
std::vector<AddrInfo> system_getaddrinfo(std::string_view host, std::string_view port, int family,
                                         int type, int proto, int flags);
/// getnameinfo(3) through the system resolver.
std::pair<std::string, std::string> system_getnameinfo(std::string_view ip, int port, int flags);

}  // namespace repy::detail
