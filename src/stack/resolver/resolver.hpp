// A stack's own DNS resolver: c-ares, with every socket made by the stack. resolv.conf
// parsing is in resolv_conf.hpp, the system resolver in system_resolver.hpp.
#pragma once

#include <ares.h>

#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "repy/stack.hpp"
#include "stack/resolver/lookup.hpp"
#include "stack/resolver/resolv_conf.hpp"

namespace repy::detail {

class StackImpl;

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
  /// getnameinfo(3) semantics for `address` (`ip` is its text, for messages); flags are
  /// NI_* values.
  /// @throws NetworkAddressError when nothing is found.
  std::pair<std::string, std::string> getnameinfo(std::string_view ip, const LookupAddress& address,
                                                  int flags);

 private:
  void run_until(const bool& done);  // drives the channel until `done`

  StackImpl& stack_;
  std::mutex mu_;
  ares_channel channel_ = nullptr;
};

}  // namespace repy::detail
