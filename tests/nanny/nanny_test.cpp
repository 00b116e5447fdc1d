// Tests of repy::detail::Nanny: token buckets, fungible holds, reports, threads.
#include "nanny/nanny.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <limits>
#include <thread>
#include <utility>
#include <vector>

#include "core/access.hpp"
#include "repy/errors.hpp"
#include "repy/policy.hpp"

namespace {

using repy::Policy;
using repy::ResourceExhaustedError;
using repy::detail::Hold;
using repy::detail::Nanny;
using repy::detail::Resource;
using ::testing::AllOf;
using ::testing::HasSubstr;
using clock_type = std::chrono::steady_clock;

constexpr double inf = std::numeric_limits<double>::infinity();

double seconds_since(clock_type::time_point start) {
  return std::chrono::duration<double>(clock_type::now() - start).count();
}

// ---- renewable

TEST(nanny_test, zero_limit_throws_at_once) {
  Policy policy = Policy::parse("resource netsend 10\n");  // netrecv unmentioned: 0
  Nanny nanny(repy::detail::data(policy));
  auto start = clock_type::now();
  try {
    nanny.wait(Resource::netrecv, "sendmessage_ipv6");
    FAIL() << "wait on a zero limit returned";
  } catch (const ResourceExhaustedError& e) {
    EXPECT_THAT(e.what(), AllOf(HasSubstr("sendmessage_ipv6"), HasSubstr("netrecv")));
  }
  EXPECT_LT(seconds_since(start), 0.5);
  EXPECT_THROW(nanny.wait(Resource::netrecv, "x"), repy::ResourceUsageError);
}

TEST(nanny_test, unlimited_never_waits) {
  Policy policy = Policy::unlimited();
  Nanny nanny(repy::detail::data(policy));
  auto start = clock_type::now();
  for (int i = 0; i < 1000; ++i) {
    nanny.wait(Resource::loopsend, "send");
    nanny.charge(Resource::loopsend, 1e9);
  }
  nanny.wait(Resource::loopsend, "send");
  EXPECT_LT(seconds_since(start), 0.5);
  auto report = nanny.report();
  EXPECT_EQ(report.totals.at("loopsend"), 1e12);
  EXPECT_EQ(report.usage.at("loopsend"), 0);
  EXPECT_EQ(report.limits.at("loopsend"), inf);
}

TEST(nanny_test, usage_at_the_limit_does_not_wait) {
  Policy policy = Policy::parse("resource netsend 1000\n");
  Nanny nanny(repy::detail::data(policy));
  nanny.charge(Resource::netsend, 1000);
  auto start = clock_type::now();
  nanny.wait(Resource::netsend, "send");
  EXPECT_LT(seconds_since(start), 0.1);
}

TEST(nanny_test, usage_over_the_limit_waits_for_the_excess_to_drain) {
  Policy policy = Policy::parse("resource netsend 1000\n");
  Nanny nanny(repy::detail::data(policy));
  auto start = clock_type::now();
  nanny.charge(Resource::netsend, 1500);  // 500 over: half a second at 1000/s
  nanny.wait(Resource::netsend, "send");
  double elapsed = seconds_since(start);
  EXPECT_GE(elapsed, 0.49);
  EXPECT_LT(elapsed, 0.9);
  EXPECT_LE(nanny.report().usage.at("netsend"), 1000);
}

TEST(nanny_test, rate_matches_the_limit) {
  constexpr double limit = 20000;
  constexpr double chunk = 1000;
  constexpr double total = 60000;
  Policy policy = Policy::parse("resource loopsend 20000\n");
  Nanny nanny(repy::detail::data(policy));
  auto start = clock_type::now();
  double charged = 0;
  while (charged < total) {
    nanny.wait(Resource::loopsend, "send");
    nanny.charge(Resource::loopsend, chunk);
    charged += chunk;
  }
  nanny.wait(Resource::loopsend, "send");  // as the next call would
  double elapsed = seconds_since(start);
  double expected = (total - limit) / limit;  // 2 s: the first `limit` is a free burst
  EXPECT_GE(elapsed, expected * 0.98);
  // Oversleeping is made up for by the bucket, so only the last sleep can run late;
  // the bound is loose for a loaded machine.
  EXPECT_LE(elapsed, expected * 1.3);
  EXPECT_EQ(nanny.report().totals.at("loopsend"), total);
}

TEST(nanny_test, usage_drains_over_time) {
  Policy policy = Policy::parse("resource netrecv 1000\n");
  Nanny nanny(repy::detail::data(policy));
  nanny.charge(Resource::netrecv, 100000);
  double first = nanny.report().usage.at("netrecv");
  EXPECT_LE(first, 100000);
  EXPECT_GT(first, 90000);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  double second = nanny.report().usage.at("netrecv");
  // At least 50 ms at 1000/s have drained.
  EXPECT_LE(second, first - 49);
  EXPECT_EQ(nanny.report().totals.at("netrecv"), 100000);  // totals never drain
}

TEST(nanny_test, totals_are_exact) {
  Policy policy = Policy::unlimited();
  Nanny nanny(repy::detail::data(policy));
  nanny.charge(Resource::loopsend, 64 + 5);  // a 5-byte loopback sendmessage_ipv6
  EXPECT_EQ(nanny.report().totals.at("loopsend"), 69);
  for (int i = 0; i < 1000; ++i) nanny.charge(Resource::netsend, 64 + 1);
  nanny.charge(Resource::netsend, 0);
  EXPECT_EQ(nanny.report().totals.at("netsend"), 65000);
  EXPECT_EQ(nanny.report().totals.at("netrecv"), 0);
}

TEST(nanny_test, bad_amounts_are_ignored) {
  Policy policy = Policy::parse("resource netsend 1000\n");
  Nanny nanny(repy::detail::data(policy));
  nanny.charge(Resource::netsend, -5);
  nanny.charge(Resource::netsend, std::nan(""));
  nanny.charge(Resource::netsend, inf);
  auto report = nanny.report();
  EXPECT_EQ(report.totals.at("netsend"), 0);
  EXPECT_EQ(report.usage.at("netsend"), 0);
}

// ---- fungible

TEST(nanny_test, fungible_exhaustion_and_give_back) {
  Policy policy = Policy::parse("resource outsockets 2\n");
  Nanny nanny(repy::detail::data(policy));
  Hold a = nanny.acquire(Resource::outsockets, "openconnection_ipv6");
  Hold b = nanny.acquire(Resource::outsockets, "openconnection_ipv6");
  EXPECT_TRUE(a);
  EXPECT_TRUE(b);
  EXPECT_EQ(nanny.report().usage.at("outsockets"), 2);
  try {
    nanny.acquire(Resource::outsockets, "openconnection_ipv6");
    FAIL() << "a third outsocket was given";
  } catch (const ResourceExhaustedError& e) {
    EXPECT_THAT(e.what(),
                AllOf(HasSubstr("openconnection_ipv6"), HasSubstr("outsockets"), HasSubstr("2")));
  }
  EXPECT_EQ(nanny.report().usage.at("outsockets"), 2);  // the failure took nothing
  a.release();
  EXPECT_FALSE(a);
  a.release();  // a second release gives nothing back
  EXPECT_EQ(nanny.report().usage.at("outsockets"), 1);
  Hold c = nanny.acquire(Resource::outsockets, "getconnection");
  EXPECT_EQ(nanny.report().usage.at("outsockets"), 2);
  // insockets are counted apart from outsockets (and here their limit is 0).
  EXPECT_THROW(nanny.acquire(Resource::insockets, "listenformessage_ipv6"), ResourceExhaustedError);
}

TEST(nanny_test, hold_gives_back_on_destruction) {
  Policy policy = Policy::parse("resource insockets 1\n");
  Nanny nanny(repy::detail::data(policy));
  {
    Hold h = nanny.acquire(Resource::insockets, "listenforconnection_ipv6");
    EXPECT_THROW(nanny.acquire(Resource::insockets, "listenforconnection_ipv6"),
                 ResourceExhaustedError);
  }
  EXPECT_EQ(nanny.report().usage.at("insockets"), 0);
  EXPECT_NO_THROW(nanny.acquire(Resource::insockets, "listenforconnection_ipv6"));
}

TEST(nanny_test, hold_move_semantics) {
  Policy policy = Policy::parse("resource insockets 2\n");
  Nanny nanny(repy::detail::data(policy));
  Hold a = nanny.acquire(Resource::insockets, "listen");
  Hold moved(std::move(a));
  EXPECT_FALSE(a);  // NOLINT(bugprone-use-after-move): moved-from state is specified
  EXPECT_TRUE(moved);
  EXPECT_EQ(nanny.report().usage.at("insockets"), 1);

  Hold b = nanny.acquire(Resource::insockets, "listen");
  EXPECT_EQ(nanny.report().usage.at("insockets"), 2);
  moved = std::move(b);  // moved's own unit goes back; b's unit moves over
  EXPECT_FALSE(b);       // NOLINT(bugprone-use-after-move)
  EXPECT_TRUE(moved);
  EXPECT_EQ(nanny.report().usage.at("insockets"), 1);

  Hold& alias = moved;
  moved = std::move(alias);  // self-move keeps the unit
  EXPECT_TRUE(moved);
  EXPECT_EQ(nanny.report().usage.at("insockets"), 1);

  Hold empty;
  EXPECT_FALSE(empty);
  moved = std::move(empty);
  EXPECT_FALSE(moved);
  EXPECT_EQ(nanny.report().usage.at("insockets"), 0);
}

TEST(nanny_test, unlimited_fungible_never_runs_out) {
  Policy policy = Policy::unlimited();
  Nanny nanny(repy::detail::data(policy));
  std::vector<Hold> holds;
  for (int i = 0; i < 1000; ++i) holds.push_back(nanny.acquire(Resource::outsockets, "open"));
  EXPECT_EQ(nanny.report().usage.at("outsockets"), 1000);
  holds.clear();
  EXPECT_EQ(nanny.report().usage.at("outsockets"), 0);
}

// ---- report

TEST(nanny_test, report_names_every_resource) {
  Policy policy = Policy::parse(
      "resource netsend 10\nresource insockets 3\nresource connport 80\n"
      "resource messport 53\nresource messport 54\n");
  Nanny nanny(repy::detail::data(policy));
  auto report = nanny.report();
  for (std::size_t i = 0; i < repy::detail::resource_count; ++i) {
    auto r = static_cast<Resource>(i);
    std::string name(repy::detail::resource_name(r));
    EXPECT_EQ(report.limits.count(name), 1u) << name;
    EXPECT_EQ(report.usage.count(name), 1u) << name;
    bool renewable = repy::detail::resource_kind(r) == repy::detail::ResourceKind::renewable;
    EXPECT_EQ(report.totals.count(name), renewable ? 1u : 0u) << name;
  }
  EXPECT_EQ(report.limits.at("netsend"), 10);
  EXPECT_EQ(report.limits.at("netrecv"), 0);
  EXPECT_EQ(report.limits.at("insockets"), 3);
  // Ports are the policy's and the context's to report, not the nanny's.
  auto full = repy::Context(policy).getresources();
  EXPECT_FALSE(full.any_port);
  EXPECT_EQ(full.allowed_connports, (std::set<int>{80}));
  EXPECT_EQ(full.allowed_messports, (std::set<int>{53, 54}));
  EXPECT_TRUE(full.used_connports.empty());
  EXPECT_EQ(full.limits, report.limits);
}

TEST(nanny_test, report_of_unlimited_policy) {
  Policy policy = Policy::unlimited();
  Nanny nanny(repy::detail::data(policy));
  auto report = nanny.report();
  EXPECT_TRUE(repy::Context(policy).getresources().any_port);
  for (const auto& [name, limit] : report.limits) EXPECT_EQ(limit, inf) << name;
}

// ---- threads

TEST(nanny_test, concurrent_charges_keep_exact_totals) {
  Policy policy = Policy::unlimited();
  Nanny nanny(repy::detail::data(policy));
  constexpr int threads = 8;
  constexpr int per_thread = 20000;
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&nanny, t] {
      // Half the threads share one resource, half spread over two, so both the
      // contended and the uncontended paths run.
      Resource r = t % 2 == 0 ? Resource::loopsend : Resource::netsend;
      for (int i = 0; i < per_thread; ++i) {
        nanny.wait(r, "send");
        nanny.charge(r, 69);
        nanny.charge(Resource::looprecv, 64);
      }
    });
  }
  for (auto& w : workers) w.join();
  auto report = nanny.report();
  EXPECT_EQ(report.totals.at("loopsend"), 69.0 * per_thread * threads / 2);
  EXPECT_EQ(report.totals.at("netsend"), 69.0 * per_thread * threads / 2);
  EXPECT_EQ(report.totals.at("looprecv"), 64.0 * per_thread * threads);
}

TEST(nanny_test, concurrent_waiters_share_the_rate) {
  constexpr double limit = 200000;
  constexpr int threads = 4;
  constexpr int chunks = 100;
  constexpr double chunk = 1000;
  constexpr double total = threads * chunks * chunk;  // 400000: 1 s beyond the burst
  Policy policy = Policy::parse("resource netrecv 200000\n");
  Nanny nanny(repy::detail::data(policy));
  auto start = clock_type::now();
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&nanny] {
      for (int i = 0; i < chunks; ++i) {
        nanny.wait(Resource::netrecv, "recv");
        nanny.charge(Resource::netrecv, chunk);
      }
    });
  }
  for (auto& w : workers) w.join();
  nanny.wait(Resource::netrecv, "recv");
  double elapsed = seconds_since(start);
  double expected = (total - limit) / limit;
  EXPECT_GE(elapsed, expected * 0.98);
  EXPECT_LE(elapsed, expected * 1.5);
  EXPECT_EQ(nanny.report().totals.at("netrecv"), total);
}

TEST(nanny_test, concurrent_holds_never_exceed_the_limit) {
  Policy policy = Policy::parse("resource outsockets 3\n");
  Nanny nanny(repy::detail::data(policy));
  constexpr int threads = 8;
  constexpr int attempts = 5000;
  std::atomic<int> inside{0};
  std::atomic<int> most{0};
  std::atomic<int> granted{0};
  std::atomic<int> refused{0};
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&] {
      for (int i = 0; i < attempts; ++i) {
        try {
          Hold h = nanny.acquire(Resource::outsockets, "openconnection_ipv6");
          int now = inside.fetch_add(1) + 1;
          int seen = most.load();
          while (now > seen && !most.compare_exchange_weak(seen, now)) {
          }
          granted.fetch_add(1);
          inside.fetch_sub(1);
        } catch (const ResourceExhaustedError&) {
          refused.fetch_add(1);
        }
      }
    });
  }
  for (auto& w : workers) w.join();
  EXPECT_LE(most.load(), 3);
  EXPECT_GT(granted.load(), 0);
  EXPECT_EQ(granted.load() + refused.load(), threads * attempts);
  EXPECT_EQ(nanny.report().usage.at("outsockets"), 0);
}

}  // namespace
