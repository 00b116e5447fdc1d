// Faults injected through a stack's socket operations, the one seam below every call:
// EAGAIN is SocketWouldBlockError and keeps the socket, an errno nobody foresaw closes
// the socket and names the errno, a reset is SocketClosedRemote, an aborted pending
// connection is skipped, a busy address that nobody holds is tried once more. Signals
// never cut a wait short.
#include "net/socket_ops.hpp"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/time.h>

#include <atomic>
#include <cerrno>
#include <functional>
#include <string>
#include <thread>

#include "core/access.hpp"
#include "host_stack.hpp"
#include "repy/repy.hpp"
#include "stack/stack_impl.hpp"
#include "test_support.hpp"

namespace {

using namespace std::chrono_literals;
using repy::detail::SysResult;

enum class Call { recv, send, accept, sendto, bind, connect };

// The host stack, but the next `count` calls of one operation fail with `err`.
class FaultyStack final : public repy_test::HostStack {
 public:
  void inject(Call call, int count, int err) {
    call_ = call;
    err_ = err;
    count_ = count;
  }
  int injected() const { return injected_; }
  /// Runs once, inside the next sendto, with its fd (set before the call is made).
  std::function<void(int)> before_sendto;

  std::string_view kind() const noexcept override { return "faulty"; }

  SysResult<std::size_t> recv(int fd, void* b, std::size_t n, int flags) noexcept override {
    if (fails(Call::recv)) return {0, err_};
    return StackImpl::recv(fd, b, n, flags);
  }
  SysResult<std::size_t> send(int fd, const void* d, std::size_t n, int flags) noexcept override {
    if (fails(Call::send)) return {0, err_};
    return StackImpl::send(fd, d, n, flags);
  }
  SysResult<int> accept(int fd, sockaddr_storage& peer) noexcept override {
    if (fails(Call::accept)) return {-1, err_};
    return StackImpl::accept(fd, peer);
  }
  SysResult<std::size_t> sendto(int fd, const void* d, std::size_t n, int flags,
                                const sockaddr_in6& to) noexcept override {
    if (auto hook = std::exchange(before_sendto, nullptr)) hook(fd);
    if (fails(Call::sendto)) return {0, err_};
    return StackImpl::sendto(fd, d, n, flags, to);
  }
  int bind(int fd, const sockaddr_in6& local) noexcept override {
    if (fails(Call::bind)) return err_;
    return StackImpl::bind(fd, local);
  }
  int connect(int fd, const sockaddr_in6& remote) noexcept override {
    if (fails(Call::connect)) return err_;
    return StackImpl::connect(fd, remote);
  }

 private:
  bool fails(Call call) noexcept {
    if (call != call_ || count_.fetch_sub(1) <= 0) return false;
    ++injected_;
    return true;
  }

  std::atomic<Call> call_{Call::recv};
  std::atomic<int> count_{0};
  std::atomic<int> err_{0};
  std::atomic<int> injected_{0};
};

struct Faulty {
  std::shared_ptr<FaultyStack> ops = std::make_shared<FaultyStack>();
  repy::Context context{repy::Policy::unlimited(), repy::detail::Access::make_stack(ops)};
};

TEST(socket_ops_test, eagain_is_would_block_and_keeps_the_socket) {
  Faulty f;
  auto p = repy_test::connected_pair(f.context);
  f.ops->inject(Call::send, 1, EAGAIN);
  EXPECT_THROW(p.client.send("abc"), repy::SocketWouldBlockError);
  EXPECT_EQ(f.ops->injected(), 1);
  EXPECT_EQ(p.client.send("abc"), 3u);
}

TEST(socket_ops_test, unforeseen_errno_closes_the_socket_and_names_the_errno) {
  Faulty f;
  auto p = repy_test::connected_pair(f.context);
  const double held = f.context.getresources().usage.at("outsockets");
  ASSERT_EQ(p.client.send("abc"), 3u);
  ASSERT_TRUE(p.accepted.wait_readable(5s));
  f.ops->inject(Call::recv, 1, EIO);
  try {
    p.accepted.recv(10);
    FAIL() << "no exception";
  } catch (const repy::SocketClosedLocal& e) {
    EXPECT_NE(std::string(e.what()).find("errno 5"), std::string::npos) << e.what();
  }
  EXPECT_THROW(p.accepted.recv(10), repy::SocketClosedLocal);
  EXPECT_FALSE(p.accepted.close());
  EXPECT_EQ(f.context.getresources().usage.at("outsockets"), held - 1);
}

TEST(socket_ops_test, a_reset_is_closed_remote_and_leaves_the_socket_to_the_program) {
  Faulty f;
  auto p = repy_test::connected_pair(f.context);
  f.ops->inject(Call::send, 1, ECONNRESET);
  EXPECT_THROW(p.client.send("abc"), repy::SocketClosedRemote);
  EXPECT_TRUE(p.client.close());
}

TEST(socket_ops_test, an_aborted_pending_connection_is_skipped) {
  Faulty f;
  auto p = repy_test::connected_pair(f.context);
  // Nothing else pending: the abort reads as "no connection now".
  f.ops->inject(Call::accept, 1, ECONNABORTED);
  EXPECT_THROW(p.server.getconnection(), repy::SocketWouldBlockError);
  EXPECT_EQ(f.ops->injected(), 1);
  // Another one pending behind the aborted one is handed out.
  auto second = f.context.openconnection_ipv6(
      "::1", repy_test::local_port(p.server.native_handle()), "::1", repy_test::free_port(), 5);
  ASSERT_TRUE(p.server.wait_readable(5s));
  f.ops->inject(Call::accept, 1, ECONNABORTED);
  EXPECT_NO_THROW(p.server.getconnection());
  EXPECT_EQ(f.ops->injected(), 2);
}

TEST(socket_ops_test, an_aborted_connect_is_connection_refused) {
  Faulty f;
  auto listener = f.context.listenforconnection_ipv6("::1", repy_test::free_port());
  f.ops->inject(Call::connect, 1, ECONNABORTED);
  EXPECT_THROW(f.context.openconnection_ipv6("::1", repy_test::local_port(listener.native_handle()),
                                             "::1", repy_test::free_port(), 5),
               repy::ConnectionRefusedError);
}

TEST(socket_ops_test, a_busy_address_that_nobody_holds_is_tried_once_more) {
  Faulty f;
  const int port = repy_test::free_port();
  // The holder let go between the failed bind and the look at the table.
  f.ops->inject(Call::bind, 1, EADDRINUSE);
  EXPECT_NO_THROW(f.context.listenforconnection_ipv6("::1", port));
  EXPECT_EQ(f.ops->injected(), 1);
  // Busy twice and still nobody to be seen: the errno's own meaning, not a guess.
  f.ops->inject(Call::bind, 2, EADDRINUSE);
  EXPECT_THROW(f.context.listenformessage_ipv6("::1", repy_test::free_port()),
               repy::DuplicateTupleError);
  EXPECT_EQ(f.ops->injected(), 3);
}

TEST(socket_ops_test, sendmessage_maps_unreachable_networks) {
  Faulty f;
  for (int err : {ENETUNREACH, EHOSTUNREACH, ENETDOWN}) {
    f.ops->inject(Call::sendto, 1, err);
    EXPECT_THROW(f.context.sendmessage_ipv6("::1", repy_test::free_port(), "x", "::1",
                                            repy_test::free_port()),
                 repy::InternetConnectivityError)
        << err;
  }
  f.ops->inject(Call::sendto, 1, EIO);
  try {
    f.context.sendmessage_ipv6("::1", repy_test::free_port(), "x", "::1", repy_test::free_port());
    FAIL() << "no exception";
  } catch (const repy::NetworkError& e) {
    EXPECT_NE(std::string(e.what()).find("errno 5"), std::string::npos) << e.what();
  }
}

TEST(socket_ops_test, sendmessage_through_a_listener_closing_meanwhile_uses_its_own_socket) {
  Faulty f;
  const auto ports = repy_test::free_ports(2);
  auto receiver = f.context.listenformessage_ipv6("::1", ports[0]);
  auto listener = f.context.listenformessage_ipv6("::1", ports[1]);
  std::thread closer;
  // The listener is closed from another thread while its fd is in the middle of the
  // send, so the kernel refuses the datagram (EPIPE after the shutdown).
  f.ops->before_sendto = [&](int fd) {
    closer = std::thread([listener]() mutable { listener.close(); });
    ASSERT_TRUE(repy_test::wait_until([&] { return listener.native_handle() == -1; }));
    ::shutdown(fd, SHUT_RDWR);
  };
  EXPECT_EQ(f.context.sendmessage_ipv6("::1", ports[0], "hello", "::1", ports[1]), 5u);
  closer.join();
  ASSERT_TRUE(receiver.wait_readable(5s));
  auto message = receiver.getmessage();
  EXPECT_EQ(message.message, "hello");
  EXPECT_EQ(message.port, ports[1]);
}

void on_alarm(int) {}

TEST(socket_ops_test, a_signal_does_not_cut_a_wait_short) {
  // A handler without SA_RESTART makes poll() fail with EINTR when the timer fires.
  struct sigaction action {};
  action.sa_handler = on_alarm;
  struct sigaction previous {};
  ASSERT_EQ(::sigaction(SIGALRM, &action, &previous), 0);
  auto sock = repy_test::raw_bound(SOCK_DGRAM);
  itimerval timer{};
  timer.it_value.tv_usec = 20000;
  ASSERT_EQ(::setitimer(ITIMER_REAL, &timer, nullptr), 0);
  const auto start = std::chrono::steady_clock::now();
  auto ready = repy::detail::impl(repy::Stack::host()).poll(sock.get(), POLLIN, 200ms);
  const auto waited = std::chrono::steady_clock::now() - start;
  ::sigaction(SIGALRM, &previous, nullptr);
  EXPECT_TRUE(ready);
  EXPECT_EQ(ready.value, 0);
  EXPECT_GE(waited, 200ms);
}

}  // namespace
