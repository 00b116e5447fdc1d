// The nanny: per-context resource accounting (Repy's "nanny").
#pragma once

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "policy/policy_data.hpp"

namespace repy::detail {

class Nanny;

/// What the nanny knows of its resources, by Repy name.
struct NannyReport {
  std::map<std::string, double> limits;  // +infinity where unlimited
  std::map<std::string, double> usage;   // renewable: not yet drained; fungible: held
  std::map<std::string, double> totals;  // renewable: everything ever charged
};

/// One held unit of a fungible resource (an insocket or an outsocket). Move-only;
/// gives the unit back when destroyed or released. Never throws.
class Hold {
 public:
  Hold() noexcept = default;
  Hold(Hold&& other) noexcept;
  Hold& operator=(Hold&& other) noexcept;
  Hold(const Hold&) = delete;
  Hold& operator=(const Hold&) = delete;
  ~Hold();

  void release() noexcept;
  explicit operator bool() const noexcept { return nanny_ != nullptr; }

 private:
  friend class Nanny;
  Hold(Nanny* nanny, Resource r) noexcept : nanny_(nanny), resource_(r) {}
  Nanny* nanny_ = nullptr;
  Resource resource_ = Resource::insockets;
};

/// Accounting for one context. Thread-safe and lock-free: each renewable resource is
/// one atomic "finishing time" (when everything charged so far will have drained at
/// the limit's pace), so a charge is a clock read and a compare-and-swap, and threads
/// using different resources never touch the same cache line. The Nanny must outlive
/// its Holds.
class Nanny {
 public:
  using clock = std::chrono::steady_clock;

  explicit Nanny(const PolicyData& policy);
  Nanny(const Nanny&) = delete;
  Nanny& operator=(const Nanny&) = delete;

  /// When a call waiting on renewable resource `r` may go: the moment what was charged
  /// drains to the limit (Repy's rule: only usage strictly above the limit makes a call
  /// wait). A time not after now means at once; unlimited resources are always ready.
  /// @throws ResourceExhaustedError for a limit of 0, which never drains.
  clock::time_point ready_at(Resource r, std::string_view call) const {
    // Inline for the common unlimited case: no bucket, no clock, no call.
    if (std::isinf(policy_.limit(r))) return clock::time_point::min();
    return metered_ready_at(r, call);
  }

  /// Whether `ready` (a ready_at() answer) is not after now. The clock is read only when
  /// `ready` is after this thread's last reading, which is not after now either.
  static bool reached(clock::time_point ready) noexcept;

  /// Sleeps this thread until ready_at(r). `call` names the Repy call, for messages.
  /// @throws ResourceExhaustedError at once when the limit is 0.
  void wait(Resource r, std::string_view call) const {
    if (!std::isinf(policy_.limit(r))) wait_metered(r, call);  // inline, as ready_at()
  }

  /// Charges an amount of a renewable resource after the act. Never waits or throws.
  void charge(Resource r, double amount) noexcept;

  /// Takes one unit of a fungible resource.
  /// @throws ResourceExhaustedError when all units are held.
  Hold acquire(Resource r, std::string_view call);

  /// Limits, current usage and totals by Repy name.
  NannyReport report() const;

 private:
  friend class Hold;
  clock::time_point metered_ready_at(Resource r, std::string_view call) const;
  void wait_metered(Resource r, std::string_view call) const;
  void give_back(Resource r) noexcept;

  struct alignas(64) Renewable {
    // Steady-clock nanoseconds at which the usage charged so far has drained; usage
    // now is (finish - now) * limit. One word, so a charge needs no lock.
    std::atomic<std::int64_t> finish_ns{0};
    // Everything ever charged: whole amounts (every socket call's) in an integer, whose
    // atomic add is one instruction where a double's is a compare-and-swap loop, the
    // rest in a double. Reported as their sum (exact for whole amounts up to 2^53).
    std::atomic<std::int64_t> whole_total{0};
    std::atomic<double> part_total{0};
  };
  struct alignas(64) Fungible {
    std::atomic<long> held{0};
  };

  const PolicyData& policy_;
  std::array<Renewable, resource_count> renewable_;
  std::array<Fungible, resource_count> fungible_;
};

}  // namespace repy::detail
