// A consumer of the installed (or add_subdirectory'd) repy6. It names every public
// name of SPEC section 2 with its exact type, so a missing or changed name fails the
// build, then runs one UDP round trip over ::1 through the library, and catches the
// library's exceptions by their parent classes (across the .so boundary when librepy6
// is shared). It also runs every <repy/asio.hpp> operation once with a plain callback,
// so that a shared librepy6 proves it exports what those templates call.
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <map>
#include <optional>
#include <repy/asio.hpp>
#include <repy/repy.hpp>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace {

// ---- errors: every class, with its parent.
template <class Child, class Parent>
constexpr bool derives = std::is_base_of_v<Parent, Child>;

static_assert(derives<repy::RepyException, std::runtime_error>);
static_assert(derives<repy::RepyArgumentError, repy::RepyException>);
static_assert(derives<repy::TimeoutError, repy::RepyException>);
static_assert(derives<repy::CodeUnsafeError, repy::RepyException>);
static_assert(derives<repy::ContextUnsafeError, repy::RepyException>);
static_assert(derives<repy::ResourceParseError, repy::RepyException>);
static_assert(derives<repy::ResourceUsageError, repy::RepyException>);
static_assert(derives<repy::ResourceExhaustedError, repy::ResourceUsageError>);
static_assert(derives<repy::ResourceForbiddenError, repy::ResourceUsageError>);
static_assert(derives<repy::FileError, repy::RepyException>);
static_assert(derives<repy::FileNotFoundError, repy::FileError>);
static_assert(derives<repy::FileInUseError, repy::FileError>);
static_assert(derives<repy::SeekPastEndOfFileError, repy::FileError>);
static_assert(derives<repy::FileClosedError, repy::FileError>);
static_assert(derives<repy::LockDoubleReleaseError, repy::RepyException>);
static_assert(derives<repy::NetworkError, repy::RepyException>);
static_assert(derives<repy::NetworkAddressError, repy::NetworkError>);
static_assert(derives<repy::AlreadyListeningError, repy::NetworkError>);
static_assert(derives<repy::DuplicateTupleError, repy::NetworkError>);
static_assert(derives<repy::CleanupInProgressError, repy::NetworkError>);
static_assert(derives<repy::InternetConnectivityError, repy::NetworkError>);
static_assert(derives<repy::AddressBindingError, repy::NetworkError>);
static_assert(derives<repy::ConnectionRefusedError, repy::NetworkError>);
static_assert(derives<repy::LocalIPChanged, repy::NetworkError>);
static_assert(derives<repy::SocketClosedLocal, repy::NetworkError>);
static_assert(derives<repy::SocketClosedRemote, repy::NetworkError>);
static_assert(derives<repy::SocketWouldBlockError, repy::NetworkError>);
static_assert(derives<repy::TCPServerSocketInvalidError, repy::NetworkError>);

// ---- values
template <class A, class B>
constexpr bool same = std::is_same_v<A, B>;

static_assert(same<decltype(repy::AddrInfo::family), int>);
static_assert(same<decltype(repy::AddrInfo::socktype), int>);
static_assert(same<decltype(repy::AddrInfo::protocol), int>);
static_assert(same<decltype(repy::AddrInfo::canonname), std::string>);
static_assert(same<decltype(repy::AddrInfo::ip), std::string>);
static_assert(same<decltype(repy::AddrInfo::port), int>);
static_assert(same<decltype(repy::AddrInfo::flowinfo), std::uint32_t>);
static_assert(same<decltype(repy::AddrInfo::scope_id), std::uint32_t>);
static_assert(same<decltype(repy::Connection::ip), std::string>);
static_assert(same<decltype(repy::Connection::port), int>);
static_assert(same<decltype(repy::Connection::socket), repy::TCPSocket>);
static_assert(same<decltype(repy::Message::ip), std::string>);
static_assert(same<decltype(repy::Message::port), int>);
static_assert(same<decltype(repy::Message::message), std::string>);
using Resources = std::map<std::string, double>;
static_assert(same<decltype(repy::ResourceReport::limits), Resources>);
static_assert(same<decltype(repy::ResourceReport::usage), Resources>);
static_assert(same<decltype(repy::ResourceReport::totals), Resources>);

// ---- sockets: copyable handles with Repy's methods.
static_assert(std::is_copy_constructible_v<repy::TCPSocket>);
static_assert(std::is_copy_constructible_v<repy::TCPServerSocket>);
static_assert(std::is_copy_constructible_v<repy::UDPServerSocket>);
[[maybe_unused]] std::string (repy::TCPSocket::*tcp_recv)(std::size_t) = &repy::TCPSocket::recv;
[[maybe_unused]] std::size_t (repy::TCPSocket::*tcp_send)(std::string_view) =
    &repy::TCPSocket::send;
[[maybe_unused]] bool (repy::TCPSocket::*tcp_close)() = &repy::TCPSocket::close;
[[maybe_unused]] repy::Connection (repy::TCPServerSocket::*getconnection)() =
    &repy::TCPServerSocket::getconnection;
[[maybe_unused]] bool (repy::TCPServerSocket::*server_close)() = &repy::TCPServerSocket::close;
[[maybe_unused]] repy::Message (repy::UDPServerSocket::*getmessage)() =
    &repy::UDPServerSocket::getmessage;
[[maybe_unused]] bool (repy::UDPServerSocket::*udp_close)() = &repy::UDPServerSocket::close;

// ---- policy and stack
[[maybe_unused]] repy::Policy (*policy_unlimited)() = &repy::Policy::unlimited;
[[maybe_unused]] repy::Policy (*policy_parse)(std::string_view) = &repy::Policy::parse;
[[maybe_unused]] repy::Policy (*policy_load)(const std::filesystem::path&) = &repy::Policy::load;
[[maybe_unused]] repy::Stack (*stack_host)() = &repy::Stack::host;

// ---- context
static_assert(std::is_default_constructible_v<repy::Context>);
static_assert(std::is_constructible_v<repy::Context, repy::Policy>);
static_assert(std::is_constructible_v<repy::Context, repy::Policy, repy::Stack>);
static_assert(!std::is_convertible_v<repy::Policy, repy::Context>);  // explicit
static_assert(std::is_copy_constructible_v<repy::Context>);
[[maybe_unused]] std::vector<repy::AddrInfo> (repy::Context::*ctx_getaddr)(std::string_view) =
    &repy::Context::getAddripv6;
[[maybe_unused]] std::string (repy::Context::*ctx_getmyip)() = &repy::Context::getmyip_ipv6;
[[maybe_unused]] std::size_t (repy::Context::*ctx_sendmessage)(
    std::string_view, int, std::string_view, std::string_view,
    int) = &repy::Context::sendmessage_ipv6;
[[maybe_unused]] repy::TCPSocket (repy::Context::*ctx_openconnection)(
    std::string_view, int, std::string_view, int, double) = &repy::Context::openconnection_ipv6;
[[maybe_unused]] repy::TCPServerSocket (repy::Context::*ctx_listenconn)(std::string_view, int) =
    &repy::Context::listenforconnection_ipv6;
[[maybe_unused]] repy::UDPServerSocket (repy::Context::*ctx_listenmess)(std::string_view, int) =
    &repy::Context::listenformessage_ipv6;
[[maybe_unused]] repy::ResourceReport (repy::Context::*ctx_getresources)() const =
    &repy::Context::getresources;

// ---- the free functions on the default context
[[maybe_unused]] repy::Context& (*default_context)() = &repy::default_context;
[[maybe_unused]] std::vector<repy::AddrInfo> (*getaddr)(std::string_view) = &repy::getAddripv6;
[[maybe_unused]] std::string (*getmyip)() = &repy::getmyip_ipv6;
[[maybe_unused]] std::size_t (*sendmessage)(std::string_view, int, std::string_view,
                                            std::string_view, int) = &repy::sendmessage_ipv6;
[[maybe_unused]] repy::TCPSocket (*openconnection)(std::string_view, int, std::string_view, int,
                                                   double) = &repy::openconnection_ipv6;
[[maybe_unused]] repy::TCPServerSocket (*listenforconnection)(std::string_view, int) =
    &repy::listenforconnection_ipv6;
[[maybe_unused]] repy::UDPServerSocket (*listenformessage)(std::string_view,
                                                           int) = &repy::listenformessage_ipv6;
[[maybe_unused]] repy::ResourceReport (*getresources)() = &repy::getresources;

// ---- SPEC section 8: polling and waiting
[[maybe_unused]] std::optional<std::string> (repy::TCPSocket::*try_recv)(std::size_t) =
    &repy::TCPSocket::try_recv;
[[maybe_unused]] std::optional<std::size_t> (repy::TCPSocket::*try_send)(std::string_view) =
    &repy::TCPSocket::try_send;
[[maybe_unused]] std::optional<repy::Connection> (repy::TCPServerSocket::*try_getconnection)() =
    &repy::TCPServerSocket::try_getconnection;
[[maybe_unused]] std::optional<repy::Message> (repy::UDPServerSocket::*try_getmessage)() =
    &repy::UDPServerSocket::try_getmessage;
[[maybe_unused]] bool (repy::TCPSocket::*wait_readable_us)(std::chrono::microseconds) const =
    &repy::TCPSocket::wait_readable;
[[maybe_unused]] bool (repy::TCPSocket::*wait_writable_s)(std::chrono::duration<double>) const =
    &repy::TCPSocket::wait_writable;
[[maybe_unused]] bool (repy::TCPServerSocket::*server_wait)(std::chrono::milliseconds) const =
    &repy::TCPServerSocket::wait_readable;
[[maybe_unused]] bool (repy::UDPServerSocket::*udp_wait)(std::chrono::nanoseconds) const =
    &repy::UDPServerSocket::wait_readable;

// ---- SPEC section 9: the IPv4 calls
[[maybe_unused]] std::string (repy::Context::*ctx_gethostbyname)(std::string_view) =
    &repy::Context::gethostbyname;
[[maybe_unused]] std::string (repy::Context::*ctx_getmyip4)() = &repy::Context::getmyip;
[[maybe_unused]] std::size_t (repy::Context::*ctx_sendmessage4)(std::string_view, int,
                                                                std::string_view, std::string_view,
                                                                int) = &repy::Context::sendmessage;
[[maybe_unused]] repy::TCPSocket (repy::Context::*ctx_openconnection4)(
    std::string_view, int, std::string_view, int, double) = &repy::Context::openconnection;
[[maybe_unused]] repy::TCPServerSocket (repy::Context::*ctx_listenconn4)(std::string_view, int) =
    &repy::Context::listenforconnection;
[[maybe_unused]] repy::UDPServerSocket (repy::Context::*ctx_listenmess4)(std::string_view, int) =
    &repy::Context::listenformessage;
[[maybe_unused]] std::string (*gethostbyname4)(std::string_view) = &repy::gethostbyname;
[[maybe_unused]] std::string (*getmyip4)() = &repy::getmyip;
[[maybe_unused]] std::size_t (*sendmessage4)(std::string_view, int, std::string_view,
                                             std::string_view, int) = &repy::sendmessage;
[[maybe_unused]] repy::TCPSocket (*openconnection4)(std::string_view, int, std::string_view, int,
                                                    double) = &repy::openconnection;
[[maybe_unused]] repy::TCPServerSocket (*listenforconnection4)(std::string_view,
                                                               int) = &repy::listenforconnection;
[[maybe_unused]] repy::UDPServerSocket (*listenformessage4)(std::string_view,
                                                            int) = &repy::listenformessage;

// ---- SPEC section 8's Asio part: each completes with (std::exception_ptr, R).
using Executor = repy::any_io_executor;
static_assert(std::is_same_v<Executor, boost::asio::any_io_executor>);

int failures = 0;

void check(bool ok, const char* what) {
  std::printf("%s: %s\n", ok ? "ok  " : "FAIL", what);
  if (!ok) ++failures;
}

/// A UDP port on ::1 that was free a moment ago (the kernel picks it for port 0).
int free_udp_port() {
  int fd = ::socket(AF_INET6, SOCK_DGRAM, 0);
  if (fd < 0) return -1;
  sockaddr_in6 addr{};
  addr.sin6_family = AF_INET6;
  addr.sin6_addr = in6addr_loopback;
  socklen_t len = sizeof addr;
  int port = -1;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin6_port);
  }
  ::close(fd);
  return port;
}

/// listenformessage_ipv6 (or, with `tcp`, listenforconnection_ipv6) on a free port;
/// another process may take the port between the probe and the bind, so a busy port is
/// retried with a new one.
template <bool tcp = false>
auto listen_somewhere(repy::Context& context, int& port) {
  for (int attempt = 0;; ++attempt) {
    port = free_udp_port();
    try {
      if constexpr (tcp) {
        return context.listenforconnection_ipv6("::1", port);
      } else {
        return context.listenformessage_ipv6("::1", port);
      }
    } catch (const repy::NetworkError&) {
      if (attempt == 20) throw;
    }
  }
}

/// Every <repy/asio.hpp> operation once over ::1, with callbacks, on ports that were
/// free a moment ago.
void asio_round_trip(repy::Context& context) {
  int udp_port = 0;
  int tcp_port = 0;
  int client_port = 0;
  repy::UDPServerSocket udp = listen_somewhere(context, udp_port);
  repy::TCPServerSocket server = listen_somewhere<true>(context, tcp_port);
  listen_somewhere<true>(context, client_port).close();
  boost::asio::io_context io;
  const Executor ex = io.get_executor();
  std::string echoed;
  std::size_t datagram = 0;
  std::string message;
  std::exception_ptr failure;
  auto failed = [&](std::exception_ptr e) {
    if (e && !failure) failure = e;
    return e != nullptr;
  };
  repy::async_getconnection(ex, server, [&](std::exception_ptr e, repy::Connection c) {
    if (failed(e)) return;
    repy::async_recv(ex, c.socket, 10, [&, c](std::exception_ptr r, std::string data) {
      if (!failed(r)) echoed = data;
    });
  });
  repy::async_openconnection_ipv6(
      ex, context, "::1", tcp_port, "::1", client_port, 5.0,
      [&](std::exception_ptr e, repy::TCPSocket s) {
        if (failed(e)) return;
        repy::async_send(ex, s, "async", [&, s](std::exception_ptr w, std::size_t) { failed(w); });
      });
  repy::async_getmessage(ex, udp, [&](std::exception_ptr e, repy::Message m) {
    if (!failed(e)) message = m.message;
  });
  repy::async_sendmessage_ipv6(ex, context, "::1", udp_port, "dgram", "::1", client_port,
                               [&](std::exception_ptr e, std::size_t n) {
                                 if (!failed(e)) datagram = n;
                               });
  // The IPv4 forms: a refused connect and a send to a port nobody reads.
  repy::async_openconnection(ex, context, "127.0.0.1", tcp_port, "127.0.0.1", client_port, 5.0,
                             [](std::exception_ptr, repy::TCPSocket) {});
  repy::async_sendmessage(ex, context, "127.0.0.1", udp_port, "v4", "127.0.0.1", client_port,
                          [](std::exception_ptr, std::size_t) {});
  io.run_for(std::chrono::seconds(5));
  check(failure == nullptr, "the Asio operations complete without an error");
  check(echoed == "async", "async_send's bytes arrive through async_recv");
  check(datagram == 5 && message == "dgram", "async_sendmessage_ipv6 reaches async_getmessage");
}

}  // namespace

int main() {
  std::printf("repy6 %s\n", repy::version);
  try {
    repy::Context context(repy::Policy::unlimited(), repy::Stack::host());

    std::vector<repy::AddrInfo> local = context.getAddripv6("localhost");
    check(!local.empty() && local.front().ip == "::1", "localhost resolves to ::1");

    try {
      repy::Policy::parse("resource bogus 1\n");
      check(false, "a bad restrictions line raises ResourceParseError");
    } catch (const repy::ResourceParseError&) {
      check(true, "a bad restrictions line raises ResourceParseError");
    }

    int server_port = 0;
    int client_port = 0;
    repy::UDPServerSocket server = listen_somewhere(context, server_port);
    repy::UDPServerSocket client = listen_somewhere(context, client_port);

    const std::string text = "hello";
    std::size_t sent = context.sendmessage_ipv6("::1", server_port, text, "::1", client_port);
    check(sent == text.size(), "sendmessage_ipv6 sends the whole datagram");

    check(server.wait_readable(std::chrono::seconds(5)), "the datagram arrives");
    repy::Message got = server.getmessage();
    check(got.message == text, "getmessage returns the text sent");
    check(got.ip == "::1" && got.port == client_port, "getmessage names the sender");

    // The reply leaves from the server's own listening port.
    context.sendmessage_ipv6(got.ip, got.port, got.message, "::1", server_port);
    check(client.wait_readable(std::chrono::seconds(5)), "the echo arrives");
    repy::Message echo = client.getmessage();
    check(echo.message == text && echo.port == server_port, "the echo comes from the server");

    try {
      context.listenformessage_ipv6("::1", server_port);
      check(false, "a second listener on the port raises AlreadyListeningError");
    } catch (const repy::NetworkError& e) {
      check(dynamic_cast<const repy::AlreadyListeningError*>(&e) != nullptr,
            "a second listener on the port raises AlreadyListeningError");
    }

    repy::ResourceReport report = context.getresources();
    check(report.totals["loopsend"] == 2.0 * (64 + static_cast<double>(text.size())),
          "two 5-byte datagrams over ::1 charge 138 loopsend");
    check(report.usage["insockets"] == 2.0, "two listeners hold two insockets");
    check(server.close() && !server.close(), "close() is true once, then false");
    client.close();
    check(context.getresources().usage["insockets"] == 0.0, "closing gives insockets back");

    asio_round_trip(context);
  } catch (const repy::RepyException& e) {
    std::printf("FAIL: %s\n", e.what());
    return 1;
  }
  std::printf("%s\n", failures == 0 ? "consumer: all checks passed" : "consumer: FAILED");
  return failures == 0 ? 0 : 1;
}
