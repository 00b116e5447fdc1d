// A stack for tests that change one socket operation: everything else is the host's.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/access.hpp"
#include "stack/stack_impl.hpp"

namespace repy_test {

/// The host stack's sockets, names and interfaces; a test overrides the SocketOps
/// entry it is about.
class HostStack : public repy::detail::StackImpl {
 public:
  std::string_view kind() const noexcept override { return "test"; }
  int make_socket(int family, int type, int protocol) noexcept override {
    return host().make_socket(family, type, protocol);
  }
  std::vector<repy::AddrInfo> resolve(std::string_view name, std::string_view port, int family,
                                      int type, int proto, int flags) override {
    return host().resolve(name, port, family, type, proto, flags);
  }
  std::vector<boost::asio::ip::address_v6> interface_addresses(std::string_view ifname) override {
    return host().interface_addresses(ifname);
  }

 private:
  static repy::detail::StackImpl& host() { return repy::detail::impl(repy::Stack::host()); }
};

}  // namespace repy_test
