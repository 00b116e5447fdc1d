// TCPSocket, TCPServerSocket and UDPServerSocket, checked from the outside against SPEC
// sections 2, 4 and 6: Repy's classic socket scenarios, handle semantics, the wait
// helpers and native handles, and several threads sharing one context and one socket.
// Labelled `concurrency`: it also runs under ThreadSanitizer.
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <atomic>
#include <latch>
#include <map>
#include <mutex>
#include <repy/repy.hpp>
#include <string>
#include <thread>
#include <vector>

#include "test_support.hpp"

namespace {

using namespace repy_test;
using namespace std::chrono_literals;
using repy::Context;

char pattern_byte(std::size_t i) { return static_cast<char>((i * 7 + i / 251) & 0xff); }

}  // namespace

// =====================================================================================
// Classic Repy scenarios
// =====================================================================================

TEST(sockets_test, close_is_true_once_then_false) {
  Pair p = connected_pair();
  EXPECT_TRUE(p.client.close());
  EXPECT_FALSE(p.client.close());
  EXPECT_FALSE(p.client.close());
  EXPECT_TRUE(p.server.close());
  EXPECT_FALSE(p.server.close());
  auto udp = p.ctx.listenformessage_ipv6("::1", free_port());
  EXPECT_TRUE(udp.close());
  EXPECT_FALSE(udp.close());
}

TEST(sockets_test, use_after_local_close_is_socket_closed_local) {
  Pair p = connected_pair();
  ASSERT_TRUE(p.client.close());
  expect_throws<repy::SocketClosedLocal>([&] { p.client.recv(10); }, "recv");
  expect_throws<repy::SocketClosedLocal>([&] { p.client.send("x"); }, "send");
  expect_throws<repy::SocketClosedLocal>([&] { p.client.send(""); }, "send(\"\")");
  ASSERT_TRUE(p.server.close());
  expect_throws<repy::SocketClosedLocal>([&] { p.server.getconnection(); }, "getconnection");
  auto udp = p.ctx.listenformessage_ipv6("::1", free_port());
  ASSERT_TRUE(udp.close());
  expect_throws<repy::SocketClosedLocal>([&] { udp.getmessage(); }, "getmessage");
}

TEST(sockets_test, data_sent_before_close_is_delivered_then_closed_remote) {
  Pair p = connected_pair();
  EXPECT_EQ(p.client.send("abc"), 3u);
  EXPECT_TRUE(p.client.close());
  std::string got;
  bool closed_remote = false;
  for (int i = 0; i < 100 && !closed_remote; ++i) {
    ASSERT_TRUE(p.accepted.wait_readable(5s));
    try {
      got += p.accepted.recv(100);
    } catch (const repy::SocketClosedRemote&) {
      closed_remote = true;
    }
  }
  EXPECT_EQ(got, "abc") << "data sent before close must arrive before the close";
  EXPECT_TRUE(closed_remote);
  // It stays that way.
  expect_throws<repy::SocketClosedRemote>([&] { p.accepted.recv(1); }, "recv again");
}

TEST(sockets_test, send_after_remote_close_is_socket_closed_remote) {
  Pair p = connected_pair();
  EXPECT_TRUE(p.client.close());
  // Once the close has arrived, the first send already knows.
  ASSERT_TRUE(p.accepted.wait_readable(5s));
  expect_throws<repy::SocketClosedRemote>([&] { p.accepted.send("late"); }, "send");
}

TEST(sockets_test, peer_reset_is_socket_closed_remote) {
  Fd listener = raw_listener();
  Context ctx;
  auto s = ctx.openconnection_ipv6("::1", local_port(listener.get()), "::1", free_port(), 5.0);
  ASSERT_TRUE(poll_fd(listener.get(), POLLIN));
  Fd peer(::accept(listener.get(), nullptr, nullptr));
  ASSERT_TRUE(peer);
  linger lg{1, 0};  // close with RST
  ASSERT_EQ(::setsockopt(peer.get(), SOL_SOCKET, SO_LINGER, &lg, sizeof lg), 0);
  peer.reset();
  ASSERT_TRUE(s.wait_readable(5s));
  expect_throws<repy::SocketClosedRemote>([&] { s.recv(10); }, "recv after RST");
  expect_throws<repy::SocketClosedRemote>([&] { s.send("x"); }, "send after RST");
  EXPECT_TRUE(s.close()) << "the program never closed it: its first close() is true";
}

TEST(sockets_test, send_after_peer_reset_is_socket_closed_remote) {
  Fd listener = raw_listener();
  Context ctx;
  auto s = ctx.openconnection_ipv6("::1", local_port(listener.get()), "::1", free_port(), 5.0);
  ASSERT_TRUE(poll_fd(listener.get(), POLLIN));
  Fd peer(::accept(listener.get(), nullptr, nullptr));
  ASSERT_TRUE(peer);
  linger lg{1, 0};
  ASSERT_EQ(::setsockopt(peer.get(), SOL_SOCKET, SO_LINGER, &lg, sizeof lg), 0);
  peer.reset();
  ASSERT_TRUE(s.wait_readable(5s));
  expect_throws<repy::SocketClosedRemote>([&] { s.send("x"); }, "first send after RST");
  expect_throws<repy::SocketClosedRemote>([&] { s.send("y"); }, "second send after RST");
  EXPECT_TRUE(s.close()) << "the program never closed it: its first close() is true";
}

TEST(sockets_test, nothing_pending_is_would_block) {
  Pair p = connected_pair();
  expect_throws<repy::SocketWouldBlockError>([&] { p.client.recv(10); }, "recv");
  expect_throws<repy::SocketWouldBlockError>([&] { p.accepted.recv(1); }, "recv 1");
  expect_throws<repy::SocketWouldBlockError>([&] { p.server.getconnection(); }, "getconnection");
  auto udp = p.ctx.listenformessage_ipv6("::1", free_port());
  expect_throws<repy::SocketWouldBlockError>([&] { udp.getmessage(); }, "getmessage");
}

TEST(sockets_test, send_empty_returns_zero) {
  Pair p = connected_pair();
  EXPECT_EQ(p.client.send(""), 0u);
  EXPECT_EQ(p.client.send(std::string_view()), 0u);
  // Nothing arrived.
  EXPECT_FALSE(p.accepted.wait_readable(50ms));
}

TEST(sockets_test, send_until_would_block_then_every_byte_arrives) {
  Pair p = connected_pair();  // a default Context: Repy's buffer caps
  const std::string chunk_source = [] {
    std::string s(1 << 20, '\0');
    for (std::size_t i = 0; i < s.size(); ++i) s[i] = pattern_byte(i);
    return s;
  }();
  // Fill: send until send() would block and the socket stays unwritable for a while
  // (the kernel may free some room just after a WouldBlock; that is not a full buffer).
  std::size_t sent = 0;
  bool full = false;
  int would_blocks = 0;
  while (!full && sent < (16u << 20)) {
    const std::size_t offset = sent % (1u << 19);
    try {
      std::size_t n = p.client.send(std::string_view(chunk_source).substr(offset, 65536));
      ASSERT_GT(n, 0u);
      ASSERT_LE(n, 65536u);
      sent += n;
    } catch (const repy::SocketWouldBlockError&) {
      ++would_blocks;
      ASSERT_LT(would_blocks, 1000) << "wait_writable keeps saying yes, send keeps blocking";
      full = !p.client.wait_writable(100ms);
    }
  }
  ASSERT_TRUE(full) << "send never blocked after " << sent << " bytes";
  EXPECT_LT(sent, 512u * 1024u) << "Repy's buffer caps should block well before 1 MiB";
  RecordProperty("queued_bytes", static_cast<int>(sent));
  expect_throws<repy::SocketWouldBlockError>([&] { p.client.send("z"); }, "full buffer");

  // The receiver gets exactly the bytes, in order.
  std::string got;
  got.reserve(sent);
  while (got.size() < sent) {
    ASSERT_TRUE(p.accepted.wait_readable(5s)) << "stalled at " << got.size() << "/" << sent;
    got += p.accepted.recv(65536);
  }
  ASSERT_EQ(got.size(), sent);
  std::size_t mismatches = 0;
  for (std::size_t i = 0; i < sent; ++i) {
    if (got[i] != chunk_source[i % (1u << 19)]) ++mismatches;
  }
  EXPECT_EQ(mismatches, 0u);
  expect_throws<repy::SocketWouldBlockError>([&] { p.accepted.recv(1); }, "all read");
  EXPECT_TRUE(p.client.wait_writable(5s)) << "buffer drained, send possible again";
}

// =====================================================================================
// Handles
// =====================================================================================

TEST(sockets_test, copies_share_one_socket) {
  Pair p = connected_pair();
  repy::TCPSocket copy = p.client;
  EXPECT_TRUE(copy == p.client);
  EXPECT_FALSE(copy == p.accepted);
  EXPECT_EQ(copy.send("via copy"), 8u);
  EXPECT_EQ(recv_exactly(p.accepted, 8), "via copy");
  EXPECT_TRUE(copy.close());
  EXPECT_FALSE(p.client.close()) << "the original is the same, already closed socket";
  expect_throws<repy::SocketClosedLocal>([&] { p.client.recv(1); }, "original after close");
  repy::TCPServerSocket server_copy = p.server;
  EXPECT_TRUE(server_copy == p.server);
  EXPECT_TRUE(server_copy.close());
  EXPECT_FALSE(p.server.close());
}

TEST(sockets_test, last_handle_gone_closes_the_socket) {
  Pair p = connected_pair();
  EXPECT_EQ(p.ctx.getresources().usage["outsockets"], 2);
  {
    repy::TCPSocket last = p.client;
    p.client = repy::TCPSocket();  // one handle left
    EXPECT_EQ(last.send("bye"), 3u);
  }  // and now none
  EXPECT_EQ(recv_exactly(p.accepted, 3), "bye");
  ASSERT_TRUE(p.accepted.wait_readable(5s));
  expect_throws<repy::SocketClosedRemote>([&] { p.accepted.recv(1); }, "peer recv");
  EXPECT_EQ(p.ctx.getresources().usage["outsockets"], 1) << "the outsocket was not released";

  // A server socket whose handles are gone frees its port and insocket.
  const int port = p.server_port;
  p.server = repy::TCPServerSocket();
  EXPECT_EQ(p.ctx.getresources().usage["insockets"], 0);
  Context other;
  EXPECT_NO_THROW(other.listenforconnection_ipv6("::1", port).close());
  {
    const int uport = free_port();
    { auto udp = p.ctx.listenformessage_ipv6("::1", uport); }
    EXPECT_NO_THROW(other.listenformessage_ipv6("::1", uport).close());
  }
}

TEST(sockets_test, sockets_keep_their_context_alive) {
  repy::TCPSocket client, accepted;
  {
    Pair p = connected_pair(Context());
    client = p.client;
    accepted = p.accepted;
  }  // the context handle and the server are gone
  EXPECT_EQ(client.send("still here"), 10u);
  EXPECT_EQ(recv_exactly(accepted, 10), "still here");
  EXPECT_TRUE(client.close());
}

TEST(sockets_test, empty_handles_are_closed_sockets) {
  repy::TCPSocket s;
  expect_throws<repy::SocketClosedLocal>([&] { s.recv(1); }, "recv");
  expect_throws<repy::SocketClosedLocal>([&] { s.send("x"); }, "send");
  EXPECT_FALSE(s.close());
  EXPECT_EQ(s.native_handle(), -1);
  repy::TCPServerSocket server;
  expect_throws<repy::SocketClosedLocal>([&] { server.getconnection(); }, "getconnection");
  EXPECT_FALSE(server.close());
  repy::UDPServerSocket udp;
  expect_throws<repy::SocketClosedLocal>([&] { udp.getmessage(); }, "getmessage");
  EXPECT_FALSE(udp.close());
}

// =====================================================================================
// wait_readable / wait_writable / native_handle
// =====================================================================================

TEST(sockets_test, wait_readable_times_out_then_sees_data) {
  Pair p = connected_pair();
  auto start = clock_type::now();
  EXPECT_FALSE(p.accepted.wait_readable(150ms));
  const double waited = seconds_since(start);
  EXPECT_GE(waited, 0.13);
  EXPECT_LT(waited, 2.0);
  EXPECT_TRUE(p.client.wait_writable(1s));
  std::thread sender([&] {
    std::this_thread::sleep_for(50ms);
    p.client.send("x");
  });
  start = clock_type::now();
  EXPECT_TRUE(p.accepted.wait_readable(5s));
  EXPECT_LT(seconds_since(start), 2.0);
  sender.join();
  EXPECT_EQ(p.accepted.recv(1), "x");
  // Closed locally: recv would not block (it raises), so the wait returns at once.
  p.accepted.close();
  start = clock_type::now();
  EXPECT_TRUE(p.accepted.wait_readable(5s));
  EXPECT_LT(seconds_since(start), 1.0);
}

TEST(sockets_test, server_waits_see_connections_and_datagrams) {
  Context ctx;
  const int tcp_port = free_port();
  const int udp_port = free_port();
  auto server = ctx.listenforconnection_ipv6("::1", tcp_port);
  auto udp = ctx.listenformessage_ipv6("::1", udp_port);
  EXPECT_FALSE(server.wait_readable(30ms));
  EXPECT_FALSE(udp.wait_readable(30ms));
  auto client = ctx.openconnection_ipv6("::1", tcp_port, "::1", free_port(), 5.0);
  EXPECT_TRUE(server.wait_readable(5s));
  ctx.sendmessage_ipv6("::1", udp_port, "d", "::1", free_port());
  EXPECT_TRUE(udp.wait_readable(5s));
  EXPECT_EQ(udp.getmessage().message, "d");
}

TEST(sockets_test, native_handle_is_the_live_fd) {
  Pair p = connected_pair();
  for (int fd : {p.client.native_handle(), p.accepted.native_handle(), p.server.native_handle()}) {
    ASSERT_GE(fd, 0);
    struct stat st {};
    ASSERT_EQ(::fstat(fd, &st), 0);
    EXPECT_TRUE(S_ISSOCK(st.st_mode));
  }
  EXPECT_EQ(local_port(p.client.native_handle()), p.client_port);
  EXPECT_EQ(local_port(p.server.native_handle()), p.server_port);
  p.accepted.send("n");
  EXPECT_TRUE(poll_fd(p.client.native_handle(), POLLIN, 5s));
  const int uport = free_port();
  auto udp = p.ctx.listenformessage_ipv6("::1", uport);
  ASSERT_GE(udp.native_handle(), 0);
  EXPECT_EQ(local_port(udp.native_handle()), uport);
  p.client.close();
  p.server.close();
  udp.close();
  EXPECT_EQ(p.client.native_handle(), -1);
  EXPECT_EQ(p.server.native_handle(), -1);
  EXPECT_EQ(udp.native_handle(), -1);
}

// =====================================================================================
// Threads
// =====================================================================================

TEST(sockets_test, close_is_true_exactly_once_across_threads) {
  constexpr int kThreads = 6;
  for (int round = 0; round < 10; ++round) {
    Pair p = connected_pair();
    auto udp = p.ctx.listenformessage_ipv6("::1", free_port());
    std::atomic<int> tcp_true{0}, server_true{0}, udp_true{0};
    std::latch start(kThreads);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, client = p.client, server = p.server, u = udp]() mutable {
        start.arrive_and_wait();
        if (client.close()) ++tcp_true;
        if (server.close()) ++server_true;
        if (u.close()) ++udp_true;
      });
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(tcp_true.load(), 1) << "round " << round;
    EXPECT_EQ(server_true.load(), 1) << "round " << round;
    EXPECT_EQ(udp_true.load(), 1) << "round " << round;
    auto usage = p.ctx.getresources().usage;
    EXPECT_EQ(usage["insockets"], 0);
    EXPECT_EQ(usage["outsockets"], 1);  // the accepted end is still open
  }
}

TEST(sockets_test, threads_sharing_a_context_and_a_socket_get_exact_totals) {
  Pair p = connected_pair();
  Fd sink = raw_bound(SOCK_DGRAM);
  const int sink_port = local_port(sink.get());
  constexpr int kSenders = 4, kRecords = 50, kRecordSize = 16;
  constexpr int kUdpThreads = 2, kDatagrams = 25;
  const std::size_t expected_bytes = std::size_t{kSenders} * kRecords * kRecordSize;
  auto udp_ports = free_ports(kUdpThreads);

  const NetTotals before = net_totals(p.ctx);
  std::atomic<long> send_calls{0}, send_bytes{0}, would_blocks{0}, unexpected{0};
  std::atomic<long> recv_calls{0};
  std::atomic<long> udp_units{0};
  std::string received;
  std::vector<std::thread> threads;
  std::latch start(kSenders + kUdpThreads + 1);

  for (int t = 0; t < kSenders; ++t) {
    threads.emplace_back([&, t, s = p.client]() mutable {
      start.arrive_and_wait();
      for (int r = 0; r < kRecords; ++r) {
        char rec[kRecordSize + 1];
        std::snprintf(rec, sizeof rec, "T%d-R%04d-......", t, r);
        std::string_view left(rec, kRecordSize);
        while (!left.empty()) {
          try {
            std::size_t n = s.send(left);
            ++send_calls;
            send_bytes += static_cast<long>(n);
            left.remove_prefix(n);
          } catch (const repy::SocketWouldBlockError&) {
            ++would_blocks;
            s.wait_writable(1s);
          } catch (...) {
            ++unexpected;
            return;
          }
        }
      }
    });
  }
  for (int t = 0; t < kUdpThreads; ++t) {
    threads.emplace_back([&, t, ctx = p.ctx]() mutable {
      start.arrive_and_wait();
      for (int i = 0; i < kDatagrams; ++i) {
        std::string msg(static_cast<std::size_t>(10 + i), 'u');
        try {
          std::size_t n = ctx.sendmessage_ipv6("::1", sink_port, msg, "::1", udp_ports[t]);
          udp_units += static_cast<long>(64 + n);
        } catch (...) {
          ++unexpected;
        }
      }
    });
  }
  threads.emplace_back([&, s = p.accepted]() mutable {
    start.arrive_and_wait();
    while (received.size() < expected_bytes) {
      if (!s.wait_readable(5s)) {
        ++unexpected;
        return;
      }
      try {
        received += s.recv(4096);
        ++recv_calls;
      } catch (...) {
        ++unexpected;
        return;
      }
    }
  });
  for (auto& t : threads) t.join();

  ASSERT_EQ(unexpected.load(), 0);
  ASSERT_EQ(received.size(), expected_bytes);
  EXPECT_EQ(send_bytes.load(), static_cast<long>(expected_bytes));
  // Every record arrived once (records may interleave only at send-call boundaries).
  if (send_calls.load() == kSenders * kRecords) {
    std::map<std::string, int> seen;
    for (std::size_t i = 0; i < received.size(); i += kRecordSize) {
      ++seen[received.substr(i, kRecordSize)];
    }
    EXPECT_EQ(seen.size(), std::size_t{kSenders} * kRecords);
    for (const auto& [rec, count] : seen) EXPECT_EQ(count, 1) << rec;
  }
  const NetTotals d = net_totals(p.ctx) - before;
  if (would_blocks.load() == 0) {
    EXPECT_EQ(d.loopsend, 64.0 * static_cast<double>(send_calls.load()) +
                              static_cast<double>(send_bytes.load()) +
                              64.0 * static_cast<double>(recv_calls.load()) +
                              static_cast<double>(udp_units.load()));
    EXPECT_EQ(d.looprecv, 64.0 * static_cast<double>(send_calls.load()) +
                              64.0 * static_cast<double>(recv_calls.load()) +
                              static_cast<double>(received.size()));
  } else {
    RecordProperty("would_blocks", static_cast<int>(would_blocks.load()));
  }
  EXPECT_EQ(d.netsend, 0);
  EXPECT_EQ(d.netrecv, 0);
}

TEST(sockets_test, racing_send_recv_and_close_is_safe) {
  for (int round = 0; round < 5; ++round) {
    Pair p = connected_pair();
    std::atomic<long> unexpected{0}, received{0};
    std::atomic<int> trues{0};
    std::mutex why_mutex;
    std::string why;
    auto note = [&](const std::string& who) {
      ++unexpected;
      std::string what = "?";
      try {
        throw;
      } catch (const std::exception& e) {
        what = type_of(e) + ": " + e.what();
      } catch (...) {
      }
      std::lock_guard lock(why_mutex);
      why += who + ": " + what + "\n";
    };
    std::vector<std::thread> threads;
    for (int t = 0; t < 2; ++t) {
      threads.emplace_back([&, s = p.client]() mutable {
        for (int i = 0; i < 2000; ++i) {
          try {
            s.send("0123456789");
          } catch (const repy::SocketWouldBlockError&) {
            s.wait_writable(10ms);
          } catch (const repy::SocketClosedLocal&) {
            return;
          } catch (...) {
            note("sender");
            return;
          }
        }
      });
    }
    threads.emplace_back([&, s = p.accepted]() mutable {
      while (true) {
        try {
          if (!s.wait_readable(5s)) {
            std::lock_guard lock(why_mutex);
            why += "receiver: the peer's close never arrived\n";
            ++unexpected;
            return;
          }
          received += static_cast<long>(s.recv(1000).size());
        } catch (const repy::SocketClosedRemote&) {
          return;
        } catch (...) {
          note("receiver");
          return;
        }
      }
    });
    threads.emplace_back([&, s = p.client]() mutable {
      // Close while the senders are busy: after some bytes arrived.
      wait_until([&] { return received.load() > 100; }, 5s);
      if (s.close()) ++trues;
    });
    threads.emplace_back([&, s = p.client]() mutable {
      wait_until([&] { return received.load() > 100; }, 5s);
      if (s.close()) ++trues;
    });
    for (auto& t : threads) t.join();
    EXPECT_EQ(unexpected.load(), 0) << "round " << round << "\n" << why;
    EXPECT_EQ(trues.load(), 1) << "round " << round;
    EXPECT_FALSE(p.client.close());
    expect_throws<repy::SocketClosedLocal>([&] { p.client.send("x"); }, "after race");
  }
}

TEST(sockets_test, close_from_another_thread_wakes_wait_readable) {
  Pair p = connected_pair();
  auto udp = p.ctx.listenformessage_ipv6("::1", free_port());
  struct Case {
    const char* name;
    std::function<bool()> wait;
    std::function<bool()> close;
  };
  std::vector<Case> cases = {
      {"TCPSocket", [s = p.accepted] { return s.wait_readable(10s); },
       [s = p.accepted]() mutable { return s.close(); }},
      {"TCPServerSocket", [s = p.server] { return s.wait_readable(10s); },
       [s = p.server]() mutable { return s.close(); }},
      {"UDPServerSocket", [s = udp] { return s.wait_readable(10s); },
       [s = udp]() mutable { return s.close(); }},
  };
  for (auto& c : cases) {
    std::atomic<bool> result{false};
    std::atomic<bool> returned{false};
    auto start = clock_type::now();
    std::thread waiter([&] {
      result = c.wait();
      returned = true;
    });
    // Give the waiter time to block; the outcome must be the same if it has not yet.
    std::this_thread::sleep_for(100ms);
    EXPECT_FALSE(returned.load()) << c.name << ": wait returned before anything happened";
    EXPECT_TRUE(c.close()) << c.name;
    const bool woke = wait_until([&] { return returned.load(); }, 3s);
    EXPECT_TRUE(woke) << c.name << ": close() did not wake wait_readable";
    waiter.join();  // returns by its own 10 s timeout at worst
    EXPECT_TRUE(result.load()) << c.name << ": a closed socket is 'readable' (recv raises)";
    EXPECT_LT(seconds_since(start), 3.5) << c.name;
  }
}

TEST(sockets_test, a_call_waiting_on_the_rate_limit_does_not_block_others) {
  const int udp_port = free_port();
  const int tcp_port = free_port();
  Fd sink = raw_bound(SOCK_DGRAM);
  const int sink_port = local_port(sink.get());
  // 4 datagrams of 4064 units at 4000/s: the sender waits about 3 s in all.
  Context ctx = context_with({tcp_port}, {udp_port}, {{"loopsend", "4000"}});
  std::atomic<bool> done{false};
  std::thread slow([&, c = ctx]() mutable {
    for (int i = 0; i < 4; ++i) {
      c.sendmessage_ipv6("::1", sink_port, std::string(4000, 's'), "::1", udp_port);
    }
    done = true;
  });
  // Once the sender is over its limit it is waiting; other calls must not queue
  // behind it.
  ASSERT_TRUE(wait_until([&] { return usage(ctx, "loopsend") > 5000; }, 5s));
  const auto start = clock_type::now();
  auto report = ctx.getresources();
  auto addrs = ctx.getAddripv6("::1");
  auto listener = ctx.listenforconnection_ipv6("::1", tcp_port);
  EXPECT_TRUE(listener.close());
  const double took = seconds_since(start);
  EXPECT_LT(took, 0.5) << "calls on other resources waited for the rate-limited sender";
  EXPECT_FALSE(done.load()) << "the sender should still have been waiting";
  slow.join();
  EXPECT_EQ(total(ctx, "loopsend"), 4 * (64 + 4000));
}

TEST(sockets_test, sending_while_the_listener_closes_never_fails) {
  for (int round = 0; round < 5; ++round) {
    const int port = free_port();
    Fd sink = raw_bound(SOCK_DGRAM);
    const int sink_port = local_port(sink.get());
    Context ctx;
    auto listener = ctx.listenformessage_ipv6("::1", port);
    std::atomic<int> sent{0};
    std::mutex why_mutex;
    std::string why;
    std::thread sender([&, c = ctx]() mutable {
      for (int i = 0; i < 200; ++i) {
        try {
          if (c.sendmessage_ipv6("::1", sink_port, "m", "::1", port) == 1) ++sent;
        } catch (const std::exception& e) {
          std::lock_guard lock(why_mutex);
          why += type_of(e) + ": " + e.what() + "\n";
        }
      }
    });
    wait_until([&] { return sent.load() > 20; }, 5s);
    EXPECT_TRUE(listener.close());
    sender.join();
    EXPECT_EQ(sent.load(), 200) << "round " << round << "\n" << why;
  }
}
