// The Repy calls on the process-wide default context.
#include "repy/api.hpp"

#include <cstdlib>
#include <mutex>
#include <optional>

namespace repy {

Context& default_context() {
  // Built on first use; a restrictions file that fails to load leaves nothing behind,
  // so the next call tries again (after the user fixed the file).
  static std::mutex mutex;
  static std::optional<Context> context;
  std::lock_guard lock(mutex);
  if (!context) {
    const char* file = std::getenv("REPY_RESTRICTIONS");
    context.emplace(file != nullptr && *file != '\0' ? Policy::load(file) : Policy::unlimited());
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

}  // namespace repy
