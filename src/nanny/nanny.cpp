// repy6 — the nanny: token buckets for renewable resources, counters for fungible ones.
#include "nanny/nanny.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <string>
#include <thread>

#include "repy/errors.hpp"

namespace repy::detail {

namespace {

using clock = Nanny::clock;

std::int64_t ns_of(clock::time_point t) noexcept {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

// This thread's latest steady-clock reading. A clock read costs as much as the rest of
// a charge, and a bucket that drained before this moment has drained by now as well
// (the clock is monotonic), so checks against it need no new reading.
constinit thread_local std::int64_t last_read_ns = std::numeric_limits<std::int64_t>::min();

std::int64_t now_ns() noexcept { return last_read_ns = ns_of(clock::now()); }

constexpr double ns_per_second = 1e9;
// A charge never pushes the finishing time further than this (about 292 years fit in
// an int64 of nanoseconds; a century is plenty and leaves room for the arithmetic).
constexpr double max_backlog_ns = 100.0 * 365 * 24 * 3600 * ns_per_second;

[[noreturn]] void throw_never_drains(std::string_view call, Resource r) {
  throw ResourceExhaustedError(
      fmt::format("{}: resource {} has a limit of 0 per second, so it can never be used", call,
                  resource_name(r)));
}

}  // namespace

// ---- Hold

Hold::Hold(Hold&& other) noexcept : nanny_(other.nanny_), resource_(other.resource_) {
  other.nanny_ = nullptr;
}

Hold& Hold::operator=(Hold&& other) noexcept {
  if (this != &other) {
    release();
    nanny_ = other.nanny_;
    resource_ = other.resource_;
    other.nanny_ = nullptr;
  }
  return *this;
}

Hold::~Hold() { release(); }

void Hold::release() noexcept {
  if (nanny_ != nullptr) {
    nanny_->give_back(resource_);
    nanny_ = nullptr;
  }
}

// ---- Nanny

Nanny::Nanny(const PolicyData& policy) : policy_(policy) {}

Nanny::clock::time_point Nanny::metered_ready_at(Resource r, std::string_view call) const {
  if (!(policy_.limit(r) > 0)) throw_never_drains(call, r);
  // Usage is at most the limit once at most one second of draining is left.
  const std::int64_t finish =
      renewable_[static_cast<std::size_t>(r)].finish_ns.load(std::memory_order_acquire);
  return clock::time_point(std::chrono::nanoseconds(finish) - std::chrono::seconds(1));
}

bool Nanny::reached(clock::time_point ready) noexcept {
  if (ready == clock::time_point::min()) return true;
  const std::int64_t ready_ns = ns_of(ready);
  return ready_ns <= last_read_ns || ready_ns <= now_ns();
}

void Nanny::wait_metered(Resource r, std::string_view call) const {
  for (;;) {
    const auto ready = ready_at(r, call);
    if (reached(ready)) return;
    std::this_thread::sleep_until(ready);
  }
}

void Nanny::charge(Resource r, double amount) noexcept {
  // A negative, NaN or infinite amount would corrupt the account for good.
  if (!(amount > 0) || std::isinf(amount)) return;
  auto& bucket = renewable_[static_cast<std::size_t>(r)];
  constexpr double exact_integers = 9007199254740992.0;  // 2^53
  const auto whole = static_cast<std::int64_t>(std::min(amount, exact_integers));
  if (static_cast<double>(whole) == amount) {
    bucket.whole_total.fetch_add(whole, std::memory_order_relaxed);
  } else {
    bucket.part_total.fetch_add(amount, std::memory_order_relaxed);
  }
  const double limit = policy_.limit(r);
  // Without a limit there is nothing to drain: no clock, no compare-and-swap.
  if (std::isinf(limit) || !(limit > 0)) return;
  const auto cost =
      static_cast<std::int64_t>(std::min(amount / limit * ns_per_second, max_backlog_ns));
  const std::int64_t now = now_ns();
  std::int64_t finish = bucket.finish_ns.load(std::memory_order_relaxed);
  // Usage drained to nothing restarts from now; otherwise the cost queues behind it.
  while (!bucket.finish_ns.compare_exchange_weak(
      finish, std::max(finish, now) + cost, std::memory_order_acq_rel, std::memory_order_relaxed)) {
  }
}

Hold Nanny::acquire(Resource r, std::string_view call) {
  const double limit = policy_.limit(r);
  auto& counter = fungible_[static_cast<std::size_t>(r)].held;
  long held = counter.load(std::memory_order_relaxed);
  do {
    if (static_cast<double>(held) + 1 > limit) {
      throw ResourceExhaustedError(
          fmt::format("{}: no {} left (limit {}, {} held)", call, resource_name(r), limit, held));
    }
  } while (!counter.compare_exchange_weak(held, held + 1, std::memory_order_acq_rel,
                                          std::memory_order_relaxed));
  return Hold(this, r);
}

void Nanny::give_back(Resource r) noexcept {
  fungible_[static_cast<std::size_t>(r)].held.fetch_sub(1, std::memory_order_acq_rel);
}

NannyReport Nanny::report() const {
  NannyReport report;
  const std::int64_t now = now_ns();
  for (std::size_t i = 0; i < resource_count; ++i) {
    auto r = static_cast<Resource>(i);
    std::string name(resource_name(r));
    const double limit = policy_.limit(r);
    report.limits[name] = limit;
    switch (resource_kind(r)) {
      case ResourceKind::renewable: {
        const auto& bucket = renewable_[i];
        const auto left_ns =
            std::max<std::int64_t>(0, bucket.finish_ns.load(std::memory_order_acquire) - now);
        report.usage[name] =
            std::isinf(limit) ? 0 : static_cast<double>(left_ns) / ns_per_second * limit;
        report.totals[name] =
            static_cast<double>(bucket.whole_total.load(std::memory_order_relaxed)) +
            bucket.part_total.load(std::memory_order_relaxed);
        break;
      }
      case ResourceKind::fungible:
        report.usage[name] = static_cast<double>(fungible_[i].held.load(std::memory_order_acquire));
        break;
      case ResourceKind::quantity:
      case ResourceKind::individual:
        // Nothing to measure here: memory and disk are not tracked, and the ports in
        // use are the context's to report.
        report.usage[name] = 0;
        break;
    }
  }
  return report;
}

}  // namespace repy::detail
