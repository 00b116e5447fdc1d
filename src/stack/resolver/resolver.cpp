// The per-stack resolver: c-ares with ares_set_socket_functions, so the queries of a
// stack leave through that stack's sockets.
#include "stack/resolver/resolver.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>

#include "core/error_map.hpp"
#include "stack/stack_impl.hpp"

namespace repy::detail {
namespace {

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
    throw_stack_failure(fmt::format("ares_library_init: {}", ares_strerror(rc)));
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
    throw_stack_failure(fmt::format("iothdns_update: c-ares init on the {} stack: {}", stack.kind(),
                                    ares_strerror(rc)));
  }
  ares_set_socket_functions(channel_, &kStackSocketFunctions, &stack_);
  if (conf != nullptr) {
    std::string csv = fmt::format("{}", fmt::join(conf->nameservers, ","));
    rc = ares_set_servers_ports_csv(channel_, csv.c_str());
    if (rc != ARES_SUCCESS) {
      ares_destroy(channel_);
      throw_argument_error("iothdns_update", "nameserver",
                           fmt::format("is refused by c-ares: {}", ares_strerror(rc)), csv);
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
      AddrInfo info =
          to_addrinfo(node->ai_addr, node->ai_addrlen, node->ai_socktype, node->ai_protocol);
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
    throw_lookup_error(fmt::format("getaddrinfo: '{}' does not resolve on the {} stack: {}", host,
                                   stack_.kind(),
                                   result.done ? ares_strerror(result.status) : "no answer"));
  }
  if (!(flags & AI_CANONNAME) && !result.out.empty()) result.out.front().canonname.clear();
  return result.out;
}

std::pair<std::string, std::string> Resolver::getnameinfo(std::string_view ip,
                                                          const LookupAddress& address, int flags) {
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
    ares_getnameinfo(channel_, address.get(), address.size, ni_flags_to_ares(flags), callback,
                     &result);
    run_until(result.done);
  }
  if (!result.done || result.status != ARES_SUCCESS) {
    throw_lookup_error(fmt::format("getnameinfo: '{}' has no name on the {} stack: {}", ip,
                                   stack_.kind(),
                                   result.done ? ares_strerror(result.status) : "no answer"));
  }
  if (result.service.empty()) result.service = std::to_string(address.port);
  // c-ares 1.18 writes a zero scope as "%0" after a numeric IPv6 host; getnameinfo(3)
  // writes no scope at all then.
  if (result.host.size() > 2 && result.host.compare(result.host.size() - 2, 2, "%0") == 0) {
    result.host.resize(result.host.size() - 2);
  }
  return {result.host, result.service};
}

}  // namespace repy::detail
