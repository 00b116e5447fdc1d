// The Repy calls on the process-wide default context.
#include "repy/api.hpp"

#include <atomic>
#include <cstdlib>
#include <mutex>
#include <optional>

namespace repy {

Context& default_context() {
  // Built on first use. The fast path is one atomic load, so threads calling the free
  // functions do not queue on a lock; a restrictions file that fails to load leaves
  // nothing behind, so a later call tries again.
  static std::atomic<Context*> ready{nullptr};
  static std::mutex building;
  static std::optional<Context> context;
  if (Context* c = ready.load(std::memory_order_acquire)) return *c;
  std::lock_guard lock(building);
  if (!context) {
    const char* file = std::getenv("REPY_RESTRICTIONS");
    context.emplace(file != nullptr && *file != '\0' ? Policy::load(file) : Policy::unlimited());
    ready.store(&*context, std::memory_order_release);
  }
  return *context;
}

std::vector<AddrInfo> getAddripv6(std::string_view name) {
  return default_context().getAddripv6(name);
}
std::string getmyip_ipv6() { return default_context().getmyip_ipv6(); }
std::size_t sendmessage_ipv6(std::string_view destip, int destport, std::string_view message,
                             std::string_view localip, int localport) {
  return default_context().sendmessage_ipv6(destip, destport, message, localip, localport);
}
TCPSocket openconnection_ipv6(std::string_view destip, int destport, std::string_view localip,
                              int localport, double timeout) {
  return default_context().openconnection_ipv6(destip, destport, localip, localport, timeout);
}
TCPServerSocket listenforconnection_ipv6(std::string_view localip, int localport) {
  return default_context().listenforconnection_ipv6(localip, localport);
}
UDPServerSocket listenformessage_ipv6(std::string_view localip, int localport) {
  return default_context().listenformessage_ipv6(localip, localport);
}
ResourceReport getresources() { return default_context().getresources(); }

std::string gethostbyname(std::string_view name) { return default_context().gethostbyname(name); }
std::string getmyip() { return default_context().getmyip(); }
std::size_t sendmessage(std::string_view destip, int destport, std::string_view message,
                        std::string_view localip, int localport) {
  return default_context().sendmessage(destip, destport, message, localip, localport);
}
TCPSocket openconnection(std::string_view destip, int destport, std::string_view localip,
                         int localport, double timeout) {
  return default_context().openconnection(destip, destport, localip, localport, timeout);
}
TCPServerSocket listenforconnection(std::string_view localip, int localport) {
  return default_context().listenforconnection(localip, localport);
}
UDPServerSocket listenformessage(std::string_view localip, int localport) {
  return default_context().listenformessage(localip, localport);
}

}  // namespace repy
