// repy6 — the nanny: token buckets for renewable resources, counters for fungible ones.
#include "nanny/nanny.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <string>
#include <thread>

#include "repy/errors.hpp"

namespace repy::detail {

namespace {

double now_seconds() noexcept {
  using seconds = std::chrono::duration<double>;
  return std::chrono::duration_cast<seconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// What is left of `usage` at `now` after draining at `limit` per second since
// `last_drain`. An infinite limit drains everything at once (and inf * 0 would be NaN).
double drained(double usage, double last_drain, double limit, double now) noexcept {
  if (std::isinf(limit)) return 0;
  double elapsed = std::max(0.0, now - last_drain);
  return std::max(0.0, usage - elapsed * limit);
}

// One sleep is capped so that a huge backlog cannot overflow the duration; the loop in
// wait() sleeps again for the rest.
constexpr double max_sleep_seconds = 3600;

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

Nanny::Nanny(const PolicyData& policy) : policy_(policy) {
  double start = now_seconds();
  for (auto& bucket : renewable_) bucket.last_drain = start;
}

void Nanny::wait(Resource r, std::string_view call) {
  const double limit = policy_.limit(r);
  if (std::isinf(limit)) return;
  if (!(limit > 0)) {
    // A zero rate never drains: waiting would hang the caller forever.
    throw ResourceExhaustedError(
        fmt::format("{}: resource {} has a limit of 0 per second, so it can never be used", call,
                    resource_name(r)));
  }
  auto& bucket = renewable_[static_cast<std::size_t>(r)];
  for (;;) {
    double excess = 0;
    {
      std::lock_guard lock(bucket.mutex);
      double now = now_seconds();
      bucket.usage = drained(bucket.usage, bucket.last_drain, limit, now);
      bucket.last_drain = now;
      // Repy's rule: only usage strictly above the limit makes a call wait.
      if (bucket.usage <= limit) return;
      excess = bucket.usage - limit;
    }
    // Sleep without the lock, so that charges and reports from other threads go on.
    double seconds = std::min(excess / limit, max_sleep_seconds);
    std::this_thread::sleep_for(
        std::chrono::ceil<std::chrono::nanoseconds>(std::chrono::duration<double>(seconds)));
  }
}

void Nanny::charge(Resource r, double amount) noexcept {
  // A negative, NaN or infinite amount would corrupt the bucket for good.
  if (!(amount > 0) || std::isinf(amount)) return;
  auto& bucket = renewable_[static_cast<std::size_t>(r)];
  const double limit = policy_.limit(r);
  bucket.total.fetch_add(amount, std::memory_order_relaxed);
  // Without a limit there is nothing to drain: the hot path of an unlimited context
  // takes no lock and reads no clock.
  if (std::isinf(limit)) return;
  std::lock_guard lock(bucket.mutex);
  double now = now_seconds();
  bucket.usage = drained(bucket.usage, bucket.last_drain, limit, now) + amount;
  bucket.last_drain = now;
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
  const double now = now_seconds();
  for (std::size_t i = 0; i < resource_count; ++i) {
    auto r = static_cast<Resource>(i);
    std::string name(resource_name(r));
    const double limit = policy_.limit(r);
    report.limits[name] = limit;
    switch (resource_kind(r)) {
      case ResourceKind::renewable: {
        const auto& bucket = renewable_[i];
        std::lock_guard lock(bucket.mutex);
        report.usage[name] = drained(bucket.usage, bucket.last_drain, limit, now);
        report.totals[name] = bucket.total.load(std::memory_order_relaxed);
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
