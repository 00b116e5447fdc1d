// The library's one way into its public handles: what a Stack, Policy, Context or
// socket handle holds, and handles made from the objects behind them. Every public class
// names this struct as its friend, so no public header hands out a detail type.
#pragma once

#include <memory>
#include <utility>

#include "repy/context.hpp"
#include "repy/policy.hpp"
#include "repy/sockets.hpp"
#include "repy/stack.hpp"

namespace repy::detail {

struct Access {
  static StackImpl& impl(const Stack& stack) noexcept { return *stack.impl_; }
  static Stack make_stack(std::shared_ptr<StackImpl> impl) noexcept {
    return Stack(std::move(impl));
  }

  static const PolicyData& data(const Policy& policy) noexcept { return *policy.data_; }
  static Policy make_policy(std::shared_ptr<const PolicyData> data) {
    return Policy(std::move(data));
  }

  static const std::shared_ptr<ContextState>& state(const Context& context) noexcept {
    return context.state_;
  }

  static TCPSocket make_handle(std::shared_ptr<TcpSocketImpl> impl) noexcept {
    return TCPSocket(std::move(impl));
  }
  static TCPServerSocket make_handle(std::shared_ptr<TcpServerImpl> impl) noexcept {
    return TCPServerSocket(std::move(impl));
  }
  static UDPServerSocket make_handle(std::shared_ptr<UdpServerImpl> impl) noexcept {
    return UDPServerSocket(std::move(impl));
  }
  /// Defined beside Connecting (context/connecting.cpp), which is complete there only.
  static PendingConnection make_pending(std::unique_ptr<Connecting> impl) noexcept;
};

/// The implementation behind a Stack handle.
inline StackImpl& impl(const Stack& stack) noexcept { return Access::impl(stack); }
/// The parsed data behind a Policy.
inline const PolicyData& data(const Policy& policy) noexcept { return Access::data(policy); }

}  // namespace repy::detail
