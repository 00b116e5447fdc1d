// getAddripv6 and gethostbyname: literals, the names RFC 6761 reserves, and the stack's
// resolver.
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
std::vector<AddrInfo> literal_result(int af, std::string_view ip, std::uint32_t scope) {
  std::vector<AddrInfo> out;
  for (auto [type, proto] : {std::pair{SOCK_STREAM, int{IPPROTO_TCP}},
                             std::pair{SOCK_DGRAM, int{IPPROTO_UDP}}, std::pair{SOCK_RAW, 0}}) {
    AddrInfo info;
    info.family = af;
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

// Whether `name` is an address literal of `af` (an IPv6 one may carry a zone).
bool is_literal(int af, std::string_view name) {
  in6_addr raw{};
  std::string text(af == AF_INET6 ? name.substr(0, name.find('%')) : name);
  return ::inet_pton(af, text.c_str(), &raw) == 1;
}

// getAddripv6 and gethostbyname: one flow, the family picking the literal grammar, the
// loopback answer and the resolver's address family.
std::vector<AddrInfo> look_up(ContextState& state, Family family, std::string_view call,
                              std::string_view name) {
  const bool v4 = family == Family::ipv4;
  const int af = v4 ? AF_INET : AF_INET6;
  const std::string_view wanted = v4 ? "IPv4" : "IPv6";
  check_name(call, name);
  state.nanny.wait(Resource::netsend, call);
  state.nanny.wait(Resource::netrecv, call);

  std::vector<AddrInfo> result;
  if (is_literal(af, name)) {
    std::uint32_t scope = 0;
    if (name.find('%') != std::string_view::npos) {
      scope =
          static_cast<std::uint32_t>(parse_local_ip(state, family, call, "name", name).scope_id());
    }
    result = literal_result(af, name, scope);
  } else if (is_under(name, "localhost")) {
    // RFC 6761: localhost names are answered here, never sent to a DNS server.
    result = literal_result(af, v4 ? "127.0.0.1" : "::1", 0);
  } else if (is_under(name, "invalid")) {
    throw_lookup_error(
        fmt::format("{}: {} is under .invalid, which never resolves", call, quote(name)));
  } else if (is_literal(v4 ? AF_INET6 : AF_INET, name)) {
    // An address of the other family is all it names; no resolver need be asked.
    throw_lookup_error(fmt::format("{}: {} is an {} address, with no {} address", call, quote(name),
                                   v4 ? "IPv6" : "IPv4", wanted));
  } else {
    result = state.ops().resolve(name, {}, af, 0, 0, 0);
    std::erase_if(result, [&](const AddrInfo& a) { return a.family != af; });
  }
  if (result.empty()) {
    throw_lookup_error(fmt::format("{}: {} has no {} address", call, quote(name), wanted));
  }
  state.nanny.charge(Resource::netsend, 1024);
  state.nanny.charge(Resource::netrecv, 4096);
  return result;
}

}  // namespace
}  // namespace detail

using namespace detail;

std::vector<AddrInfo> Context::getAddripv6(std::string_view name) {
  return look_up(*state_, Family::ipv6, "getAddripv6", name);
}

std::string Context::gethostbyname(std::string_view name) {
  return look_up(*state_, Family::ipv4, "gethostbyname", name).front().ip;
}

}  // namespace repy
