// The stack's socket table, read through a NETLINK_SOCK_DIAG socket made by the stack.
//
// How libnl is used, and why not all of libnl-idiag:
// - idiagnl_send_simple() (and idiagnl_msg_alloc_cache(), built on it) only sends the
//   legacy TCPDIAG_GETSOCK request, which the kernel answers for TCP alone; Repy's error
//   mapping needs UDP too. So the request is a SOCK_DIAG_BY_FAMILY dump with a
//   struct inet_diag_req_v2, sent with libnl core's nl_send_simple().
// - idiagnl_connect() would open its own socket in the caller's namespace; instead the
//   socket comes from StackImpl::make_socket() and is handed over with
//   nl_socket_set_fd(), so the table read is that of the stack's namespace.
// - The replies have the same layout for both requests, so libnl-idiag's
//   idiagnl_msg_parse() reads them, in a libnl core nl_recvmsgs() callback.
#include "net/socket_table.hpp"

#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <netlink/attr.h>
#include <netlink/errno.h>
#include <netlink/handlers.h>
#include <netlink/idiag/idiagnl.h>
#include <netlink/idiag/msg.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/socket.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <memory>

#include "core/fd.hpp"
#include "net/socket_ops.hpp"

namespace repy::detail {
namespace {

using boost::asio::ip::address_v6;

struct NlSockDeleter {
  void operator()(nl_sock* sk) const noexcept { nl_socket_free(sk); }
};
/// An nl_sock and, once nl_socket_set_fd() succeeded, the fd it owns.
using NlSockPtr = std::unique_ptr<nl_sock, NlSockDeleter>;

struct NlCbDeleter {
  void operator()(nl_cb* cb) const noexcept { nl_cb_put(cb); }
};
using NlCbPtr = std::unique_ptr<nl_cb, NlCbDeleter>;

struct IdiagMsgDeleter {
  void operator()(idiagnl_msg* msg) const noexcept { idiagnl_msg_put(msg); }
};
using IdiagMsgPtr = std::unique_ptr<idiagnl_msg, IdiagMsgDeleter>;

/// A NETLINK_SOCK_DIAG socket of `stack`, owned by an nl_sock; null on failure.
NlSockPtr open_diag_socket(SocketOps& stack) noexcept {
  Fd fd(stack.make_socket(AF_NETLINK, SOCK_RAW, NETLINK_SOCK_DIAG));
  if (!fd) return nullptr;
  // Bound here (port id 0: the kernel picks one) so that nl_socket_set_fd() reads the
  // real port id back; otherwise libnl would make one up for the messages it sends.
  sockaddr_nl local{};
  local.nl_family = AF_NETLINK;
  if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&local), sizeof local) != 0) {
    return nullptr;
  }
  NlSockPtr sk(nl_socket_alloc());
  if (!sk) return nullptr;
  if (nl_socket_set_fd(sk.get(), NETLINK_SOCK_DIAG, fd.get()) < 0) return nullptr;
  fd.release();  // nl_socket_free() closes it from now on
  return sk;
}

/// 16 address bytes of a reply as an IPv6 address (IPv4 ones mapped).
address_v6 to_v6(int family, const void* bytes) noexcept {
  address_v6::bytes_type out{};
  if (family == AF_INET) {
    out[10] = 0xff;
    out[11] = 0xff;
    std::memcpy(out.data() + 12, bytes, 4);
  } else {
    std::memcpy(out.data(), bytes, 16);
  }
  return address_v6(out);
}

/// One dump in progress: what is asked and what has been kept so far.
struct Dump {
  int protocol = 0;
  address_v6 local;
  int port = 0;
  std::vector<SocketEntry> found;
  bool failed = false;
};

bool is_v4_mapped_any(const address_v6& a) noexcept {
  return a.is_v4_mapped() && a.to_bytes()[12] == 0 && a.to_bytes()[13] == 0 &&
         a.to_bytes()[14] == 0 && a.to_bytes()[15] == 0;
}

/// Whether a socket bound to `bound` (of `family`) holds the asked address.
bool holds(const Dump& dump, int family, const address_v6& bound, bool v6only) noexcept {
  // A wildcard request is in conflict with every socket on the port, whatever its
  // address, so all of them count as holding it.
  if (dump.local.is_unspecified()) return true;
  if (bound == dump.local) return true;
  if (family == AF_INET) return is_v4_mapped_any(bound) && dump.local.is_v4_mapped();
  // An IPv6 wildcard also takes IPv4 traffic (as mapped addresses) unless IPV6_V6ONLY.
  if (bound.is_unspecified()) return !(v6only && dump.local.is_v4_mapped());
  return false;
}

/// nl_recvmsgs() callback for each reply of the dump.
int on_reply(nl_msg* msg, void* arg) noexcept {
  auto& dump = *static_cast<Dump*>(arg);
  nlmsghdr* nlh = nlmsg_hdr(msg);
  idiagnl_msg* raw = nullptr;
  if (idiagnl_msg_parse(nlh, &raw) < 0 || raw == nullptr) {
    dump.failed = true;
    return NL_STOP;
  }
  IdiagMsgPtr parsed(raw);
  if (ntohs(idiagnl_msg_get_sport(parsed.get())) != dump.port) return NL_OK;

  const int family = idiagnl_msg_get_family(parsed.get());
  if (family != AF_INET && family != AF_INET6) return NL_OK;
  nl_addr* src = idiagnl_msg_get_src(parsed.get());
  nl_addr* dst = idiagnl_msg_get_dst(parsed.get());
  // The parser builds both from the 16-byte fields of struct inet_diag_sockid.
  const unsigned int need = family == AF_INET ? 4 : 16;
  if (src == nullptr || dst == nullptr || nl_addr_get_len(src) < need ||
      nl_addr_get_len(dst) < need) {
    return NL_OK;
  }
  const address_v6 bound = to_v6(family, nl_addr_get_binary_addr(src));

  // libnl-idiag 3.7 does not read INET_DIAG_SKV6ONLY (sent for listening and unbound
  // IPv6 sockets), so it is looked up among the reply's attributes directly.
  bool v6only = false;
  if (nlattr* attr = nlmsg_find_attr(nlh, sizeof(inet_diag_msg), INET_DIAG_SKV6ONLY);
      attr != nullptr && nla_len(attr) >= 1) {
    v6only = nla_get_u8(attr) != 0;
  }
  if (!holds(dump, family, bound, v6only)) return NL_OK;

  SocketEntry entry;
  entry.protocol = dump.protocol;
  entry.local = bound;
  entry.local_port = dump.port;
  entry.remote = to_v6(family, nl_addr_get_binary_addr(dst));
  entry.remote_port = ntohs(idiagnl_msg_get_dport(parsed.get()));
  entry.state = idiagnl_msg_get_state(parsed.get());
  try {
    dump.found.push_back(entry);
  } catch (...) {  // bad_alloc must not cross libnl's C frames
    dump.failed = true;
    return NL_STOP;
  }
  return NL_OK;
}

/// Dumps one family's sockets of dump.protocol into `dump`. False on any failure.
bool dump_family(nl_sock* sk, nl_cb* cb, Dump& dump, int family) noexcept {
  inet_diag_req_v2 req{};
  req.sdiag_family = static_cast<std::uint8_t>(family);
  req.sdiag_protocol = static_cast<std::uint8_t>(dump.protocol);
  // Every state, including ones newer kernels add (e.g. bound-but-inactive TCP sockets
  // in 6.6+): a socket in any state may hold the port.
  req.idiag_states = ~0U;
  if (nl_send_simple(sk, SOCK_DIAG_BY_FAMILY, NLM_F_DUMP, &req, sizeof req) < 0) {
    return false;
  }
  // nl_recvmsgs() reads until NLMSG_DONE; a negative result is an error reply
  // (e.g. no UDP diag module) or an interrupted dump.
  return nl_recvmsgs(sk, cb) >= 0 && !dump.failed;
}

}  // namespace

std::vector<SocketEntry> sockets_holding(SocketOps& stack, int protocol, const address_v6& local,
                                         int port) noexcept {
  if (protocol != IPPROTO_TCP && protocol != IPPROTO_UDP) return {};
  if (port <= 0 || port > 65535) return {};
  // The table changes while it is dumped; the kernel flags such a dump as interrupted
  // (NLM_F_DUMP_INTR, which libnl reports as an error), so it is read again a few times,
  // each time on a fresh socket so that no reply of a broken dump is left to confuse
  // the next one.
  constexpr int attempts = 3;
  for (int attempt = 0; attempt < attempts; ++attempt) {
    NlSockPtr sk = open_diag_socket(stack);
    if (!sk) return {};
    NlCbPtr cb(nl_cb_alloc(NL_CB_DEFAULT));
    if (!cb) return {};
    Dump dump;
    dump.protocol = protocol;
    dump.local = local;
    dump.port = port;
    if (nl_cb_set(cb.get(), NL_CB_VALID, NL_CB_CUSTOM, on_reply, &dump) < 0) return {};
    bool ok = true;
    for (int family : {AF_INET6, AF_INET}) {
      if (!dump_family(sk.get(), cb.get(), dump, family)) {
        ok = false;
        break;
      }
    }
    if (ok) return std::move(dump.found);
  }
  return {};
}

namespace {

// Kernel states in which a connection still owns its 4-tuple and is alive.
bool is_active(int state) noexcept {
  return state == TCP_ESTABLISHED || state == TCP_SYN_SENT || state == TCP_SYN_RECV ||
         state == TCP_CLOSE_WAIT;
}

// Linux 6.6 and later report sockets that are bound but neither listening nor
// connected under this state when asked for it.
constexpr int tcp_bound_inactive = 13;

}  // namespace

Holder table_holder(SocketOps& stack, int protocol, const Endpoints& ends) noexcept {
  auto holders = sockets_holding(stack, protocol, ends.local, ends.local_port);
  if (holders.empty()) return Holder::nobody;
  if (protocol != IPPROTO_TCP) return Holder::other;
  bool listening = false, active = false, cleaning = false;
  const bool has_remote = !ends.remote.is_unspecified();
  for (const auto& s : holders) {
    if (s.state == TCP_LISTEN) {
      listening = true;
      continue;
    }
    if (s.state == tcp_bound_inactive || s.state == TCP_CLOSE) continue;
    // For a connect, only the same 4-tuple is a conflict; for a listener, any user.
    if (has_remote && (s.remote != ends.remote || s.remote_port != ends.remote_port)) continue;
    (is_active(s.state) ? active : cleaning) = true;
  }
  if (listening && !has_remote) return Holder::listener;
  if (active) return Holder::connection;
  if (listening) return Holder::listener;
  if (cleaning) return Holder::closing;
  return Holder::other;
}

}  // namespace repy::detail
