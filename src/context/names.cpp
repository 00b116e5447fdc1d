// getAddripv6: literals, the names RFC 6761 reserves, and the stack's resolver.
#include <arpa/inet.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cctype>

#include "context/checks.hpp"
#include "context/context_state.hpp"
#include "core/text.hpp"
#include "repy/context.hpp"
#include "repy/errors.hpp"

namespace repy {

namespace detail {
namespace {

// Whether `name` is `domain` or a name under it, in any case, with or without the root
// dot.
bool is_under(std::string_view name, std::string_view domain) {
  std::string n(name);
  std::transform(n.begin(), n.end(), n.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (!n.empty() && n.back() == '.') n.pop_back();
  return n == domain || (n.size() > domain.size() && n.ends_with(domain) &&
                         n[n.size() - domain.size() - 1] == '.');
}

// The three results getaddrinfo(3) gives for one address and no socket type.
std::vector<AddrInfo> literal_result(std::string_view ip, std::uint32_t scope) {
  std::vector<AddrInfo> out;
  for (auto [type, proto] : {std::pair{SOCK_STREAM, int{IPPROTO_TCP}},
                             std::pair{SOCK_DGRAM, int{IPPROTO_UDP}}, std::pair{SOCK_RAW, 0}}) {
    AddrInfo info;
    info.family = AF_INET6;
    info.socktype = type;
    info.protocol = proto;
    info.ip = std::string(ip);
    info.scope_id = scope;
    out.push_back(std::move(info));
  }
  return out;
}

void check_name(std::string_view call, std::string_view name) {
  if (name.empty()) throw_argument_error(call, "name", "is empty", name);
  if (name.find('\0') != std::string_view::npos) {
    throw_argument_error(call, "name", "contains a NUL byte", name);
  }
  if (name.size() > 255) throw_argument_error(call, "name", "is longer than 255 bytes", name);
  if (std::any_of(name.begin(), name.end(),
                  [](unsigned char c) { return std::isspace(c) || std::iscntrl(c); })) {
    throw_argument_error(call, "name", "contains white space or control characters", name);
  }
}

bool is_ipv6_literal(std::string_view name) {
  in6_addr raw{};
  std::string text(name.substr(0, name.find('%')));
  return ::inet_pton(AF_INET6, text.c_str(), &raw) == 1;
}

}  // namespace
}  // namespace detail

using namespace detail;

std::vector<AddrInfo> Context::getAddripv6(std::string_view name) {
  constexpr std::string_view call = "getAddripv6";
  check_name(call, name);
  state_->nanny.wait(Resource::netsend, call);
  state_->nanny.wait(Resource::netrecv, call);

  std::vector<AddrInfo> result;
  if (is_ipv6_literal(name)) {
    std::uint32_t scope = 0;
    if (name.find('%') != std::string_view::npos) {
      scope = static_cast<std::uint32_t>(parse_local_ip(*state_, call, "name", name).scope_id());
    }
    result = literal_result(name, scope);
  } else if (is_under(name, "localhost")) {
    // RFC 6761: localhost names are answered here, never sent to a DNS server.
    result = literal_result("::1", 0);
  } else if (is_under(name, "invalid")) {
    throw NetworkAddressError(
        fmt::format("{}: {} is under .invalid, which never resolves", call, quote(name)));
  } else {
    result = state_->ops().resolve(name, {}, AF_INET6, 0, 0, 0);
    std::erase_if(result, [](const AddrInfo& a) { return a.family != AF_INET6; });
    if (result.empty()) {
      throw NetworkAddressError(fmt::format("{}: {} has no IPv6 address", call, quote(name)));
    }
  }
  state_->nanny.charge(Resource::netsend, 1024);
  state_->nanny.charge(Resource::netrecv, 4096);
  return result;
}

}  // namespace repy
