// The per-stack resolver: c-ares with ares_set_socket_functions, so the queries of a
// stack leave through that stack's sockets.
#include "stack/resolver/resolver.hpp"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <net/if.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>

#include "repy/errors.hpp"
#include "stack/stack_impl.hpp"

namespace repy::detail {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

std::vector<std::string_view> words(std::string_view line) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    std::size_t j = i;
    while (j < line.size() && line[j] != ' ' && line[j] != '\t') ++j;
    if (j > i) out.push_back(line.substr(i, j - i));
    i = j;
  }
  return out;
}

bool parse_int(std::string_view s, int& out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size();
}

// True when `s` is an IPv4 or IPv6 literal (an IPv6 one may carry a %zone).
bool is_ip_literal(std::string_view s) {
  std::string text(s.substr(0, s.find('%')));
  unsigned char buf[16];
  if (text.size() != s.size()) return ::inet_pton(AF_INET6, text.c_str(), buf) == 1;
  return ::inet_pton(AF_INET6, text.c_str(), buf) == 1 ||
         ::inet_pton(AF_INET, text.c_str(), buf) == 1;
}

// "ADDR" or "[ADDR]:PORT" -> the form ares_set_servers_ports_csv takes, or "" if bad.
std::string nameserver_entry(std::string_view word) {
  if (!word.empty() && word.front() == '[') {
    auto close = word.find(']');
    if (close == std::string_view::npos) return {};
    auto addr = word.substr(1, close - 1);
    auto rest = word.substr(close + 1);
    int port = 0;
    if (!is_ip_literal(addr) || addr.find('%') != std::string_view::npos) return {};
    if (rest.empty()) return std::string(addr);
    if (rest.front() != ':' || !parse_int(rest.substr(1), port) || port < 1 || port > 65535) {
      return {};
    }
    return fmt::format("[{}]:{}", addr, port);
  }
  // c-ares' csv form cannot carry a zone, and a zone-less link-local server is useless.
  if (!is_ip_literal(word) || word.find('%') != std::string_view::npos) return {};
  return std::string(word);
}

AddrInfo to_addrinfo(const sockaddr* sa, int socktype, int protocol) {
  AddrInfo info;
  info.family = sa->sa_family;
  info.socktype = socktype;
  info.protocol = protocol;
  char text[INET6_ADDRSTRLEN] = {};
  if (sa->sa_family == AF_INET6) {
    const auto* s6 = reinterpret_cast<const sockaddr_in6*>(sa);
    ::inet_ntop(AF_INET6, &s6->sin6_addr, text, sizeof text);
    info.port = ntohs(s6->sin6_port);
    info.flowinfo = ntohl(s6->sin6_flowinfo);
    info.scope_id = s6->sin6_scope_id;
  } else if (sa->sa_family == AF_INET) {
    const auto* s4 = reinterpret_cast<const sockaddr_in*>(sa);
    ::inet_ntop(AF_INET, &s4->sin_addr, text, sizeof text);
    info.port = ntohs(s4->sin_port);
  }
  info.ip = text;
  return info;
}

// Parses an IP (IPv6 with an optional numeric or named zone, or IPv4) into `ss`.
socklen_t to_sockaddr(std::string_view ip, int port, sockaddr_storage& ss, std::string_view call) {
  std::memset(&ss, 0, sizeof ss);
  auto pct = ip.find('%');
  std::string addr(ip.substr(0, pct));
  auto* s6 = reinterpret_cast<sockaddr_in6*>(&ss);
  if (::inet_pton(AF_INET6, addr.c_str(), &s6->sin6_addr) == 1) {
    s6->sin6_family = AF_INET6;
    s6->sin6_port = htons(static_cast<std::uint16_t>(port));
    if (pct != std::string_view::npos) {
      auto zone = ip.substr(pct + 1);
      int idx = 0;
      if (!parse_int(zone, idx))
        idx = static_cast<int>(::if_nametoindex(std::string(zone).c_str()));
      if (idx <= 0) {
        throw RepyArgumentError(fmt::format("{}: ip: unknown zone (value '{}')", call, ip));
      }
      s6->sin6_scope_id = static_cast<std::uint32_t>(idx);
    }
    return sizeof(sockaddr_in6);
  }
  auto* s4 = reinterpret_cast<sockaddr_in*>(&ss);
  if (pct == std::string_view::npos && ::inet_pton(AF_INET, addr.c_str(), &s4->sin_addr) == 1) {
    s4->sin_family = AF_INET;
    s4->sin_port = htons(static_cast<std::uint16_t>(port));
    return sizeof(sockaddr_in);
  }
  throw RepyArgumentError(fmt::format("{}: ip: not an IP address (value '{}')", call, ip));
}

void check_port(int port, std::string_view call) {
  if (port < 0 || port > 65535) {
    throw RepyArgumentError(fmt::format("{}: port: out of range 0..65535 (value {})", call, port));
  }
}

// ---- socket functions handed to c-ares: every socket comes from the stack.
ares_socket_t stack_socket(int family, int type, int protocol, void* user) {
  auto* stack = static_cast<StackImpl*>(user);
  // c-ares leaves user-made sockets alone, so they must be non-blocking from birth.
  int fd = stack->make_socket(family, type | SOCK_NONBLOCK, protocol);
  if (fd < 0) {
    errno = -fd;
    return ARES_SOCKET_BAD;
  }
  return fd;
}
int stack_close(ares_socket_t fd, void*) { return ::close(fd); }
int stack_connect(ares_socket_t fd, const sockaddr* sa, ares_socklen_t len, void*) {
  return ::connect(fd, sa, len);
}
ares_ssize_t stack_recvfrom(ares_socket_t fd, void* buf, size_t len, int flags, sockaddr* from,
                            ares_socklen_t* fromlen, void*) {
  return ::recvfrom(fd, buf, len, flags, from, fromlen);
}
ares_ssize_t stack_sendv(ares_socket_t fd, const iovec* iov, int n, void*) {
  return ::writev(fd, iov, n);
}
constexpr ares_socket_functions kStackSocketFunctions = {stack_socket, stack_close, stack_connect,
                                                         stack_recvfrom, stack_sendv};

void library_init() {
  static const int rc = ares_library_init(ARES_LIB_INIT_ALL);
  if (rc != ARES_SUCCESS) {
    throw NetworkError(fmt::format("ares_library_init: {}", ares_strerror(rc)));
  }
}

int ai_flags_to_ares(int flags) {
  int out = 0;
  if (flags & AI_CANONNAME) out |= ARES_AI_CANONNAME;
  if (flags & AI_NUMERICHOST) out |= ARES_AI_NUMERICHOST;
  if (flags & AI_PASSIVE) out |= ARES_AI_PASSIVE;
  if (flags & AI_NUMERICSERV) out |= ARES_AI_NUMERICSERV;
  if (flags & AI_V4MAPPED) out |= ARES_AI_V4MAPPED;
  if (flags & AI_ALL) out |= ARES_AI_ALL;
  if (flags & AI_ADDRCONFIG) out |= ARES_AI_ADDRCONFIG;
  return out;
}

int ni_flags_to_ares(int flags) {
  int out = ARES_NI_LOOKUPHOST | ARES_NI_LOOKUPSERVICE;
  if (flags & NI_NOFQDN) out |= ARES_NI_NOFQDN;
  if (flags & NI_NUMERICHOST) out |= ARES_NI_NUMERICHOST;
  if (flags & NI_NAMEREQD) out |= ARES_NI_NAMEREQD;
  if (flags & NI_NUMERICSERV) out |= ARES_NI_NUMERICSERV;
  if (flags & NI_DGRAM) out |= ARES_NI_DGRAM;
  return out;
}

}  // namespace

ResolvConf parse_resolv_conf(std::string_view text) {
  ResolvConf conf;
  bool saw_search = false;
  std::size_t lineno = 0;
  while (!text.empty()) {
    auto nl = text.find('\n');
    auto raw = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
    ++lineno;
    auto line = trim(raw);
    if (line.empty() || line.front() == '#' || line.front() == ';') continue;
    auto w = words(line);
    auto bad = [&](std::string_view why) {
      return RepyArgumentError(
          fmt::format("iothdns_update: line {}: {} (value '{}')", lineno, why, line));
    };
    if (w[0] == "nameserver") {
      if (w.size() < 2) throw bad("nameserver needs an address");
      auto entry = nameserver_entry(w[1]);
      if (entry.empty()) throw bad("nameserver is not an IP address or [IP]:PORT");
      conf.nameservers.push_back(std::move(entry));
    } else if (w[0] == "search" || w[0] == "domain") {
      if (w.size() < 2) throw bad(fmt::format("{} needs a domain", w[0]));
      // As in libc, the last search/domain line wins.
      conf.search.clear();
      for (std::size_t i = 1; i < w.size(); ++i) conf.search.emplace_back(w[i]);
      saw_search = true;
    } else if (w[0] == "options") {
      for (std::size_t i = 1; i < w.size(); ++i) {
        auto opt = w[i];
        auto colon = opt.find(':');
        auto key = opt.substr(0, colon);
        int value = 0;
        bool has_value = colon != std::string_view::npos &&
                         parse_int(opt.substr(colon + 1), value) && value >= 0;
        if (key == "ndots" || key == "timeout" || key == "attempts") {
          if (!has_value) throw bad(fmt::format("option {} needs a number", key));
          if (key == "ndots") conf.ndots = std::min(value, 15);
          if (key == "timeout") conf.timeout_s = std::max(1, std::min(value, 30));
          if (key == "attempts") conf.attempts = std::max(1, std::min(value, 5));
        } else if (key == "rotate") {
          conf.rotate = true;
        }
        // Other options (edns0, inet6, ...) do not change what c-ares does here.
      }
    }
    // Unknown keywords (sortlist, lookup, ...) are ignored, as libc does.
  }
  (void)saw_search;
  if (conf.nameservers.empty()) {
    throw RepyArgumentError("iothdns_update: resolvconf: no 'nameserver' line");
  }
  return conf;
}

std::string resolv_conf_text(std::string_view text_or_path) {
  auto first = trim(text_or_path.substr(0, text_or_path.find('\n')));
  auto first_word = first.substr(0, first.find_first_of(" \t"));
  bool is_text = text_or_path.find('\n') != std::string_view::npos || first.empty() ||
                 first_word == "nameserver" || first_word == "search" || first_word == "domain" ||
                 first_word == "options" || first.front() == '#' || first.front() == ';';
  if (is_text) return std::string(text_or_path);
  std::ifstream in{std::string(first)};
  if (!in) {
    throw RepyArgumentError(
        fmt::format("iothdns_update: resolvconf: neither resolv.conf text nor a readable file "
                    "(value '{}')",
                    text_or_path));
  }
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

Resolver::Resolver(StackImpl& stack, const ResolvConf* conf) : stack_(stack) {
  library_init();
  int rc = ARES_SUCCESS;
  if (conf == nullptr) {
    rc = ares_init(&channel_);
  } else {
    ares_options opts{};
    std::vector<std::string> domains = conf->search;
    std::vector<char*> domain_ptrs;
    for (auto& d : domains) domain_ptrs.push_back(d.data());
    char lookups[] = "b";  // DNS only: the stack's answer must not come from host files
    opts.ndots = conf->ndots;
    opts.timeout = conf->timeout_s * 1000;
    opts.tries = conf->attempts;
    opts.domains = domain_ptrs.data();
    opts.ndomains = static_cast<int>(domain_ptrs.size());
    opts.lookups = lookups;
    opts.nsort = 0;
    opts.sortlist = nullptr;
    int mask = ARES_OPT_NDOTS | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_DOMAINS |
               ARES_OPT_LOOKUPS | ARES_OPT_SORTLIST |
               (conf->rotate ? ARES_OPT_ROTATE : ARES_OPT_NOROTATE);
    rc = ares_init_options(&channel_, &opts, mask);
  }
  if (rc != ARES_SUCCESS) {
    throw NetworkError(fmt::format("iothdns_update: c-ares init on the {} stack: {}", stack.kind(),
                                   ares_strerror(rc)));
  }
  ares_set_socket_functions(channel_, &kStackSocketFunctions, &stack_);
  if (conf != nullptr) {
    std::string csv;
    for (const auto& ns : conf->nameservers) {
      if (!csv.empty()) csv += ',';
      csv += ns;
    }
    rc = ares_set_servers_ports_csv(channel_, csv.c_str());
    if (rc != ARES_SUCCESS) {
      ares_destroy(channel_);
      throw RepyArgumentError(
          fmt::format("iothdns_update: nameserver: c-ares refuses the servers (value '{}'): {}",
                      csv, ares_strerror(rc)));
    }
  }
}

Resolver::~Resolver() {
  if (channel_ != nullptr) ares_destroy(channel_);
}

void Resolver::run_until(const bool& done) {
  while (!done) {
    ares_socket_t socks[ARES_GETSOCK_MAXNUM];
    int bits = ares_getsock(channel_, socks, ARES_GETSOCK_MAXNUM);
    pollfd pfds[ARES_GETSOCK_MAXNUM];
    nfds_t n = 0;
    for (int i = 0; i < ARES_GETSOCK_MAXNUM; ++i) {
      short events = 0;
      if (ARES_GETSOCK_READABLE(bits, i)) events |= POLLIN;
      if (ARES_GETSOCK_WRITABLE(bits, i)) events |= POLLOUT;
      if (events == 0) continue;
      pfds[n++] = pollfd{socks[i], events, 0};
    }
    timeval tv{};
    timeval* tvp = ares_timeout(channel_, nullptr, &tv);
    if (n == 0 && tvp == nullptr) break;  // nothing pending: the callback must have run
    int ms =
        tvp == nullptr ? -1 : static_cast<int>(tvp->tv_sec * 1000 + (tvp->tv_usec + 999) / 1000);
    int rc = ::poll(pfds, n, ms);
    if (rc < 0) {
      if (errno == EINTR) continue;
      ares_cancel(channel_);  // runs the callback with ARES_ECANCELLED
      continue;
    }
    if (rc == 0) {
      ares_process_fd(channel_, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
      continue;
    }
    for (nfds_t i = 0; i < n; ++i) {
      bool readable = (pfds[i].revents & (POLLIN | POLLERR | POLLHUP)) != 0;
      bool writable = (pfds[i].revents & POLLOUT) != 0;
      ares_process_fd(channel_, readable ? pfds[i].fd : ARES_SOCKET_BAD,
                      writable ? pfds[i].fd : ARES_SOCKET_BAD);
    }
  }
}

std::vector<AddrInfo> Resolver::getaddrinfo(std::string_view host, std::string_view port,
                                            int family, int type, int proto, int flags) {
  struct Result {
    bool done = false;
    int status = ARES_SUCCESS;
    std::vector<AddrInfo> out;
  } result;
  ares_addrinfo_hints hints{};
  hints.ai_flags = ai_flags_to_ares(flags);
  hints.ai_family = family;
  hints.ai_socktype = type;
  hints.ai_protocol = proto;
  std::string h(host), p(port);
  auto callback = [](void* arg, int status, int, ares_addrinfo* res) {
    auto* r = static_cast<Result*>(arg);
    r->done = true;
    r->status = status;
    if (res == nullptr) return;
    std::string canon = res->cnames != nullptr && res->cnames->name != nullptr
                            ? res->cnames->name
                            : (res->name != nullptr ? res->name : "");
    bool first = true;
    for (auto* node = res->nodes; node != nullptr; node = node->ai_next) {
      AddrInfo info = to_addrinfo(node->ai_addr, node->ai_socktype, node->ai_protocol);
      if (first) info.canonname = canon;  // as getaddrinfo(3): on the first entry
      first = false;
      r->out.push_back(std::move(info));
    }
    ares_freeaddrinfo(res);
  };
  {
    std::lock_guard lock(mu_);
    ares_getaddrinfo(channel_, h.c_str(), p.empty() ? nullptr : p.c_str(), &hints, callback,
                     &result);
    run_until(result.done);
  }
  if (!result.done || result.status != ARES_SUCCESS) {
    throw NetworkAddressError(
        fmt::format("getaddrinfo: '{}' does not resolve on the {} stack: {}", host, stack_.kind(),
                    result.done ? ares_strerror(result.status) : "no answer"));
  }
  if (!(flags & AI_CANONNAME) && !result.out.empty()) result.out.front().canonname.clear();
  return result.out;
}

std::pair<std::string, std::string> Resolver::getnameinfo(std::string_view ip, int port,
                                                          int flags) {
  constexpr std::string_view call = "getnameinfo";
  check_port(port, call);
  sockaddr_storage ss;
  socklen_t len = to_sockaddr(ip, port, ss, call);
  struct Result {
    bool done = false;
    int status = ARES_SUCCESS;
    std::string host, service;
  } result;
  auto callback = [](void* arg, int status, int, char* node, char* service) {
    auto* r = static_cast<Result*>(arg);
    r->done = true;
    r->status = status;
    if (node != nullptr) r->host = node;
    if (service != nullptr) r->service = service;
  };
  {
    std::lock_guard lock(mu_);
    ares_getnameinfo(channel_, reinterpret_cast<sockaddr*>(&ss), len, ni_flags_to_ares(flags),
                     callback, &result);
    run_until(result.done);
  }
  if (!result.done || result.status != ARES_SUCCESS) {
    throw NetworkAddressError(
        fmt::format("getnameinfo: '{}' has no name on the {} stack: {}", ip, stack_.kind(),
                    result.done ? ares_strerror(result.status) : "no answer"));
  }
  if (result.service.empty()) result.service = std::to_string(port);
  // c-ares 1.18 writes a zero scope as "%0" after a numeric IPv6 host; getnameinfo(3)
  // writes no scope at all then.
  if (result.host.size() > 2 && result.host.compare(result.host.size() - 2, 2, "%0") == 0) {
    result.host.resize(result.host.size() - 2);
  }
  return {result.host, result.service};
}

std::vector<AddrInfo> system_getaddrinfo(std::string_view host, std::string_view port, int family,
                                         int type, int proto, int flags) {
  addrinfo hints{};
  hints.ai_family = family;
  hints.ai_socktype = type;
  hints.ai_protocol = proto;
  hints.ai_flags = flags;
  addrinfo* res = nullptr;
  std::string h(host), p(port);
  int rc =
      ::getaddrinfo(h.empty() ? nullptr : h.c_str(), p.empty() ? nullptr : p.c_str(), &hints, &res);
  if (rc != 0) {
    throw NetworkAddressError(
        fmt::format("getaddrinfo: '{}' does not resolve: {}", h, ::gai_strerror(rc)));
  }
  std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> guard(res, &::freeaddrinfo);
  std::vector<AddrInfo> out;
  for (addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
    AddrInfo info = to_addrinfo(ai->ai_addr, ai->ai_socktype, ai->ai_protocol);
    if (ai->ai_canonname != nullptr) info.canonname = ai->ai_canonname;
    out.push_back(std::move(info));
  }
  return out;
}

std::pair<std::string, std::string> system_getnameinfo(std::string_view ip, int port, int flags) {
  constexpr std::string_view call = "getnameinfo";
  check_port(port, call);
  sockaddr_storage ss;
  socklen_t len = to_sockaddr(ip, port, ss, call);
  char host[NI_MAXHOST] = {};
  char serv[NI_MAXSERV] = {};
  int rc = ::getnameinfo(reinterpret_cast<sockaddr*>(&ss), len, host, sizeof host, serv,
                         sizeof serv, flags);
  if (rc != 0) {
    throw NetworkAddressError(
        fmt::format("getnameinfo: '{}' has no name: {}", ip, ::gai_strerror(rc)));
  }
  return {host, serv};
}

}  // namespace repy::detail
