// The sockets open on one stack.
#include "net/registry.hpp"

#include <utility>

namespace repy::detail {

Registry::Entry::Entry(Entry&& other) noexcept
    : registry_(std::exchange(other.registry_, nullptr)), it_(other.it_) {}

Registry::Entry& Registry::Entry::operator=(Entry&& other) noexcept {
  if (this != &other) {
    release();
    registry_ = std::exchange(other.registry_, nullptr);
    it_ = other.it_;
  }
  return *this;
}

void Registry::Entry::release() noexcept {
  if (registry_ == nullptr) return;
  std::lock_guard lock(registry_->mutex_);
  registry_->records_.erase(it_);
  registry_ = nullptr;
}

Registry::Entry Registry::add(Role role, const LocalKey& key, const void* owner,
                              std::weak_ptr<const Registered> socket) {
  std::lock_guard lock(mutex_);
  return Entry(this, records_.emplace(std::pair{role, key}, Record{owner, std::move(socket)}));
}

std::shared_ptr<const Registered> Registry::find(Role role, const LocalKey& key,
                                                 const void* owner) const {
  std::shared_ptr<const Registered> closing;
  {
    std::lock_guard lock(mutex_);
    auto [first, last] = records_.equal_range({role, key});
    for (auto it = first; it != last; ++it) {
      if (owner != nullptr && it->second.owner != owner) continue;
      auto socket = it->second.socket.lock();
      if (!socket) continue;
      if (!socket->closed()) return socket;
      closing = std::move(socket);
    }
  }
  // Closing elsewhere right now: the caller will bind the address itself, so it must
  // be free by then.
  if (closing) closing->wait_released();
  return nullptr;
}

std::set<int> Registry::ports(Role role, const void* owner) const {
  std::set<int> out;
  std::lock_guard lock(mutex_);
  for (const auto& [id, record] : records_) {
    if (id.first != role || record.owner != owner) continue;
    if (auto socket = record.socket.lock(); socket && !socket->closed()) out.insert(id.second.port);
  }
  return out;
}

}  // namespace repy::detail
