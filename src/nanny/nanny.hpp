// The nanny: per-context resource accounting (Repy's "nanny").
#pragma once

#include <atomic>
#include <map>
#include <mutex>
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

/// Accounting for one context. Thread-safe; each resource has its own lock, so threads
/// using different resources never contend. The Nanny must outlive its Holds.
class Nanny {
 public:
  explicit Nanny(const PolicyData& policy);
  Nanny(const Nanny&) = delete;
  Nanny& operator=(const Nanny&) = delete;

  /// Waits while the renewable resource is over its limit (token bucket draining at
  /// `limit` per second). `call` names the Repy call, for messages.
  /// @throws ResourceExhaustedError at once when the limit is 0 (it never drains).
  void wait(Resource r, std::string_view call);

  /// Charges an amount of a renewable resource after the act. Never waits or throws.
  void charge(Resource r, double amount) noexcept;

  /// Takes one unit of a fungible resource.
  /// @throws ResourceExhaustedError when all units are held.
  Hold acquire(Resource r, std::string_view call);

  /// Limits, current usage and totals by Repy name.
  NannyReport report() const;

 private:
  friend class Hold;
  void give_back(Resource r) noexcept;

  struct alignas(64) Renewable {
    mutable std::mutex mutex;
    double usage = 0;              // charged and not yet drained
    std::atomic<double> total{0};  // everything ever charged (exact for whole amounts
                                   // up to 2^53); atomic so unlimited ones need no lock
    double last_drain = 0;         // steady-clock seconds of the last drain
  };
  struct alignas(64) Fungible {
    std::atomic<long> held{0};
  };

  const PolicyData& policy_;
  std::array<Renewable, resource_count> renewable_;
  std::array<Fungible, resource_count> fungible_;
};

}  // namespace repy::detail
