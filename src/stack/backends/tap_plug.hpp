// VDE interfaces of any stack: a tap device made inside the stack's namespace, with a
// thread moving frames between it and a VDE plug.
#pragma once

#include <memory>
#include <string_view>

namespace repy::detail {

class StackImpl;
class TapPlug;

/// Stops a TapPlug's thread (after passing on what the stack last sent) and frees it.
struct TapPlugDelete {
  void operator()(TapPlug* plug) const noexcept;
};
using TapPlugPtr = std::unique_ptr<TapPlug, TapPlugDelete>;

/// A tap interface `ifname` made inside `stack` (entering its namespace, which needs
/// CAP_SYS_ADMIN) and plugged into the VDE network `url` by a thread that lives as long
/// as the returned pointer. `call` names the call for messages.
/// @throws NetworkError when the URL or the tap cannot be opened;
/// ResourceForbiddenError when a privilege is missing.
TapPlugPtr plug_vde_interface(StackImpl& stack, std::string_view ifname, std::string_view url,
                              std::string_view call);

}  // namespace repy::detail
