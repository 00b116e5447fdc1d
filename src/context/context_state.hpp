// What a Context shares with its sockets: its policy, its accounting, its stack.
#pragma once

#include <memory>

#include "core/access.hpp"
#include "nanny/nanny.hpp"
#include "net/registry.hpp"
#include "repy/policy.hpp"
#include "repy/stack.hpp"
#include "stack/stack_impl.hpp"

namespace repy::detail {

struct ContextState {
  ContextState(Policy p, Stack s)
      : policy(std::move(p)), stack(std::move(s)), nanny(data(policy)) {}

  /// The stack's socket operations.
  StackImpl& ops() const noexcept { return impl(stack); }
  /// The sockets open on the stack, this context's among them.
  Registry& registry() const noexcept { return impl(stack).registry(); }
  /// This context, as the owner of its registry entries.
  const void* owner() const noexcept { return this; }

  const Policy policy;
  const Stack stack;
  Nanny nanny;
};

/// The renewable resources a peer's traffic is charged to (SPEC section 4).
inline Resource send_resource(bool loopback) noexcept {
  return loopback ? Resource::loopsend : Resource::netsend;
}
inline Resource recv_resource(bool loopback) noexcept {
  return loopback ? Resource::looprecv : Resource::netrecv;
}

}  // namespace repy::detail
