// asio_echo_bench: the Asio echo server of examples/asio_echo.hpp on repy6 against its
// twin on raw Boost.Asio sockets, both served by ONE io_context thread.
//
// A forked child holds the clients (raw Asio, one thread; the same for both servers), so
// each process needs one fd per connection. Each round the child opens every connection,
// the server takes them all (not timed), then every connection sends MESSAGES messages
// of SIZE bytes, one at a time, reading each echo before the next. The server thread's
// wall and CPU time from "go" until its last session ended is the round's figure.
// Rounds alternate repy/raw (the order flips every repetition); the medians and the ratio
// raw/repy (1 = no overhead) are printed at the end.
//
//   asio_echo_bench [--connections N] [--messages N] [--size BYTES] [--repetitions N]
// clang-format off
// First: Boost 1.74's awaitable.hpp uses std::exchange without including <utility>.
#include <utility>
// clang-format on

#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <exception>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "asio_echo.hpp"

namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
using examples::asio_echo::Stats;

// ---- the raw twin of examples/asio_echo.hpp -----------------------------------------

bool closed_by_peer(const boost::system::error_code& e) {
  return e == asio::error::eof || e == asio::error::connection_reset ||
         e == asio::error::broken_pipe;
}

/// session() of asio_echo.hpp on a raw socket: echoes until the peer closes.
asio::awaitable<void> raw_session(tcp::socket socket, Stats& stats, std::size_t chunk = 4096) {
  ++stats.open;
  stats.peak = std::max(stats.peak, stats.open);
  std::vector<char> buffer(chunk);
  try {
    for (;;) {
      const std::size_t n =
          co_await socket.async_read_some(asio::buffer(buffer), asio::use_awaitable);
      stats.echoed +=
          co_await asio::async_write(socket, asio::buffer(buffer.data(), n), asio::use_awaitable);
    }
  } catch (const boost::system::system_error& e) {
    if (!closed_by_peer(e.code()) && e.code() != asio::error::operation_aborted) ++stats.failed;
  }
  boost::system::error_code ignored;
  socket.close(ignored);
  stats.session_ended();
}

/// serve() of asio_echo.hpp on a raw acceptor.
asio::awaitable<void> raw_serve(tcp::acceptor& acceptor, Stats& stats, std::size_t limit) {
  const auto ex = co_await asio::this_coro::executor;
  try {
    while (limit == 0 || stats.accepted < limit) {
      tcp::socket client = co_await acceptor.async_accept(asio::use_awaitable);
      ++stats.accepted;
      asio::co_spawn(ex, raw_session(std::move(client), stats), asio::detached);
    }
  } catch (const boost::system::system_error&) {
    // The acceptor was closed.
  }
  stats.accepting_ended();
}

// ---- the clients (forked child) -----------------------------------------------------

struct Command {
  int port = 0;  // 0: exit
  int connections = 0;
  int messages = 0;
  int size = 0;
};

void write_all(int fd, const void* data, std::size_t size) {
  const char* p = static_cast<const char*>(data);
  while (size > 0) {
    const ssize_t n = ::write(fd, p, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      std::perror("asio_echo_bench: write");
      std::exit(1);
    }
    p += n;
    size -= static_cast<std::size_t>(n);
  }
}

bool read_all(int fd, void* data, std::size_t size) {
  char* p = static_cast<char*>(data);
  while (size > 0) {
    const ssize_t n = ::read(fd, p, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    p += n;
    size -= static_cast<std::size_t>(n);
  }
  return true;
}

struct ClientRun {
  Command command;
  std::vector<tcp::socket> sockets;
  std::size_t next = 0;
  int failed = 0;
};

/// One of a few connectors: opens connections until all are open (a few at a time, so
/// the listen backlog never overflows into SYN retries).
asio::awaitable<void> connector(ClientRun& run) {
  const tcp::endpoint to(asio::ip::address_v6::loopback(),
                         static_cast<unsigned short>(run.command.port));
  while (run.next < run.sockets.size()) {
    tcp::socket& s = run.sockets[run.next++];
    co_await s.async_connect(to, asio::use_awaitable);
    s.set_option(tcp::no_delay(true));
  }
}

asio::awaitable<void> client_echo(ClientRun& run, tcp::socket& s) {
  const std::string message(static_cast<std::size_t>(run.command.size), 'e');
  std::string echo(message.size(), '\0');
  try {
    for (int i = 0; i < run.command.messages; ++i) {
      co_await asio::async_write(s, asio::buffer(message), asio::use_awaitable);
      co_await asio::async_read(s, asio::buffer(echo), asio::use_awaitable);
      if (echo != message) ++run.failed;
    }
  } catch (const boost::system::system_error&) {
    ++run.failed;
  }
  boost::system::error_code ignored;
  s.close(ignored);
}

[[noreturn]] void client_main(int commands, int go, int done) {
  for (;;) {
    ClientRun run;
    if (!read_all(commands, &run.command, sizeof run.command) || run.command.port == 0) {
      std::_Exit(0);
    }
    asio::io_context io(1);
    for (int i = 0; i < run.command.connections; ++i) run.sockets.emplace_back(io);
    for (int i = 0; i < 64; ++i) {
      asio::co_spawn(io, connector(run), [&](std::exception_ptr e) {
        if (e) ++run.failed;
      });
    }
    io.run();
    if (run.failed != 0) {
      std::fprintf(stderr, "asio_echo_bench: %d connection(s) could not be opened\n", run.failed);
      std::_Exit(1);
    }
    char byte = 0;
    if (!read_all(go, &byte, 1)) std::_Exit(1);
    for (auto& s : run.sockets) asio::co_spawn(io, client_echo(run, s), asio::detached);
    io.restart();
    io.run();
    write_all(done, &run.failed, sizeof run.failed);
  }
}

// ---- the server rounds --------------------------------------------------------------

double thread_cpu_seconds() {
  timespec ts{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

struct Times {
  double wall = 0;
  double cpu = 0;
  double accept = 0;  // taking the connections (not part of the figure)
};

struct Child {
  pid_t pid = -1;
  int commands = -1, go = -1, done = -1;
};

int free_tcp_port() {
  asio::io_context io;
  tcp::acceptor a(io, tcp::endpoint(asio::ip::address_v6::loopback(), 0));
  return a.local_endpoint().port();
}

/// One round: `start(io, stats, connections, on_done)` starts the server and returns its
/// port; the child connects, and echoes once `on_done` (all taken) says "go".
template <class Start>
Times run_round(Child& child, const Command& shape, Start start) {
  asio::io_context io(1);
  Stats stats;
  using clock = std::chrono::steady_clock;
  clock::time_point t_begin = clock::now(), t0, t1;
  double c0 = 0, c1 = 0;
  const std::size_t expected = static_cast<std::size_t>(shape.connections);
  stats.idle = [&] {
    t1 = clock::now();
    c1 = thread_cpu_seconds();
    io.stop();
  };
  auto on_all_accepted = [&](std::exception_ptr e) {
    if (e || stats.accepted != expected) {
      std::fprintf(stderr, "asio_echo_bench: the server stopped taking connections\n");
      std::exit(1);
    }
    const char byte = 'g';
    t0 = clock::now();
    c0 = thread_cpu_seconds();
    write_all(child.go, &byte, 1);
  };
  // A client process that died or a connection that never came must not hang the run.
  asio::steady_timer deadline(io, std::chrono::minutes(5));
  deadline.async_wait([](boost::system::error_code e) {
    if (e) return;
    std::fprintf(stderr, "asio_echo_bench: a round took more than five minutes\n");
    std::exit(1);
  });
  Command command = shape;
  command.port = start(io, stats, expected, on_all_accepted);
  write_all(child.commands, &command, sizeof command);
  io.run();
  int failed = 0;
  if (!read_all(child.done, &failed, sizeof failed)) {
    std::fprintf(stderr, "asio_echo_bench: the client process died\n");
    std::exit(1);
  }
  const std::uint64_t want = static_cast<std::uint64_t>(shape.connections) *
                             static_cast<std::uint64_t>(shape.messages) *
                             static_cast<std::uint64_t>(shape.size);
  if (failed != 0 || stats.failed != 0 || stats.echoed != want) {
    std::fprintf(stderr,
                 "asio_echo_bench: %d client(s) and %zu session(s) failed; %llu of %llu "
                 "bytes echoed\n",
                 failed, stats.failed, static_cast<unsigned long long>(stats.echoed),
                 static_cast<unsigned long long>(want));
    std::exit(1);
  }
  Times t;
  t.wall = std::chrono::duration<double>(t1 - t0).count();
  t.cpu = c1 - c0;
  t.accept = std::chrono::duration<double>(t0 - t_begin).count();
  return t;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int parse_positive(const char* flag, const char* text) {
  char* end = nullptr;
  const long v = std::strtol(text, &end, 10);
  if (end == text || *end != '\0' || v < 1 || v > 1000000) {
    std::fprintf(stderr, "asio_echo_bench: %s needs a whole number from 1 to 1000000\n", flag);
    std::exit(2);
  }
  return static_cast<int>(v);
}

}  // namespace

int main(int argc, char** argv) {
  Command shape;
  shape.connections = 10000;
  shape.messages = 10;
  shape.size = 64;
  int repetitions = 5;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (i + 1 >= argc) {
      std::fprintf(stderr,
                   "usage: asio_echo_bench [--connections N] [--messages N] [--size BYTES] "
                   "[--repetitions N]\n");
      return 2;
    }
    const char* value = argv[++i];
    if (flag == "--connections") {
      shape.connections = parse_positive("--connections", value);
    } else if (flag == "--messages") {
      shape.messages = parse_positive("--messages", value);
    } else if (flag == "--size") {
      shape.size = parse_positive("--size", value);
    } else if (flag == "--repetitions") {
      repetitions = parse_positive("--repetitions", value);
    } else {
      std::fprintf(stderr, "asio_echo_bench: unknown flag %s\n", flag.c_str());
      return 2;
    }
  }

  // One fd per connection in each process, plus a few for the loop, the pipes, stdio.
  rlimit lim{};
  ::getrlimit(RLIMIT_NOFILE, &lim);
  lim.rlim_cur = lim.rlim_max;
  ::setrlimit(RLIMIT_NOFILE, &lim);
  ::getrlimit(RLIMIT_NOFILE, &lim);
  constexpr rlim_t spare = 64;
  if (lim.rlim_cur != RLIM_INFINITY &&
      static_cast<rlim_t>(shape.connections) + spare > lim.rlim_cur) {
    const int fewer = lim.rlim_cur > spare ? static_cast<int>(lim.rlim_cur - spare) : 1;
    std::printf("RLIMIT_NOFILE is %llu: %d connections instead of %d\n",
                static_cast<unsigned long long>(lim.rlim_cur), fewer, shape.connections);
    shape.connections = fewer;
  }

  int commands[2], go[2], done[2];
  if (::pipe(commands) != 0 || ::pipe(go) != 0 || ::pipe(done) != 0) {
    std::perror("asio_echo_bench: pipe");
    return 1;
  }
  std::fflush(stdout);
  Child child;
  child.pid = ::fork();
  if (child.pid < 0) {
    std::perror("asio_echo_bench: fork");
    return 1;
  }
  if (child.pid == 0) {
    ::close(commands[1]);
    ::close(go[1]);
    ::close(done[0]);
    client_main(commands[0], go[0], done[1]);
  }
  ::close(commands[0]);
  ::close(go[0]);
  ::close(done[1]);
  child.commands = commands[1];
  child.go = go[1];
  child.done = done[0];

  std::printf(
      "%d connections, %d messages of %d bytes each per round, one server thread; the "
      "clients in a child process\n",
      shape.connections, shape.messages, shape.size);
  std::printf("%4s %5s %10s %10s %10s\n", "rep", "side", "wall (s)", "cpu (s)", "accept (s)");
  std::fflush(stdout);

  repy::Context context(repy::Policy::unlimited());
  auto start_repy = [&](asio::io_context& io, Stats& stats, std::size_t limit, auto on_done) {
    const int port = free_tcp_port();
    repy::TCPServerSocket server = context.listenforconnection_ipv6("::1", port);
    asio::co_spawn(io, examples::asio_echo::serve(server, stats, limit),
                   [server, on_done](std::exception_ptr e) mutable {
                     server.close();
                     on_done(e);
                   });
    return port;
  };
  std::unique_ptr<tcp::acceptor> acceptor;
  auto start_raw = [&](asio::io_context& io, Stats& stats, std::size_t limit, auto on_done) {
    acceptor =
        std::make_unique<tcp::acceptor>(io, tcp::endpoint(asio::ip::address_v6::loopback(), 0));
    asio::co_spawn(io, raw_serve(*acceptor, stats, limit), [&, on_done](std::exception_ptr e) {
      acceptor->close();
      on_done(e);
    });
    return static_cast<int>(acceptor->local_endpoint().port());
  };

  std::vector<double> repy_wall, raw_wall, repy_cpu, raw_cpu, wall_ratio, cpu_ratio;
  for (int rep = 0; rep < repetitions; ++rep) {
    Times repy_t, raw_t;
    auto run_repy = [&] {
      repy_t = run_round(child, shape, start_repy);
      std::printf("%4d %5s %10.3f %10.3f %10.3f\n", rep, "repy", repy_t.wall, repy_t.cpu,
                  repy_t.accept);
      std::fflush(stdout);
    };
    auto run_raw = [&] {
      raw_t = run_round(child, shape, start_raw);
      acceptor.reset();
      std::printf("%4d %5s %10.3f %10.3f %10.3f\n", rep, "raw", raw_t.wall, raw_t.cpu,
                  raw_t.accept);
      std::fflush(stdout);
    };
    if (rep % 2 == 0) {
      run_repy();
      run_raw();
    } else {
      run_raw();
      run_repy();
    }
    repy_wall.push_back(repy_t.wall);
    raw_wall.push_back(raw_t.wall);
    repy_cpu.push_back(repy_t.cpu);
    raw_cpu.push_back(raw_t.cpu);
    wall_ratio.push_back(raw_t.wall / repy_t.wall);
    cpu_ratio.push_back(raw_t.cpu / repy_t.cpu);
  }
  Command quit;
  write_all(child.commands, &quit, sizeof quit);
  ::waitpid(child.pid, nullptr, 0);

  std::printf("\nmedians over %d repetitions:\n", repetitions);
  std::printf(
      "  wall: repy %.3f s, raw %.3f s; raw/repy %.3f (median of per-repetition "
      "ratios %.3f)\n",
      median(repy_wall), median(raw_wall), median(raw_wall) / median(repy_wall),
      median(wall_ratio));
  std::printf(
      "  cpu:  repy %.3f s, raw %.3f s; raw/repy %.3f (median of per-repetition "
      "ratios %.3f)\n",
      median(repy_cpu), median(raw_cpu), median(raw_cpu) / median(repy_cpu), median(cpu_ratio));
  std::printf("  target raw/repy >= 0.85 (wall): %s\n",
              median(wall_ratio) >= 0.85 ? "met" : "not met");
  return 0;
}
