// repy::Context: its state, and what it reports of its resources.
#include "repy/context.hpp"

#include "context/context_state.hpp"

namespace repy {

using namespace detail;

Context::Context() : Context(Policy::unlimited()) {}

Context::Context(Policy policy, Stack stack)
    : state_(std::make_shared<ContextState>(std::move(policy), std::move(stack))) {}

const Policy& Context::policy() const noexcept { return state_->policy; }
const Stack& Context::stack() const noexcept { return state_->stack; }

ResourceReport Context::getresources() const {
  NannyReport accounts = state_->nanny.report();
  ResourceReport report;
  report.limits = std::move(accounts.limits);
  report.usage = std::move(accounts.usage);
  report.totals = std::move(accounts.totals);
  const PolicyData& policy = data(state_->policy);
  report.any_port = policy.any_port;
  report.allowed_connports = policy.connports;
  report.allowed_messports = policy.messports;
  const Registry& registry = state_->registry();
  report.used_connports = registry.ports(Role::connection, state_->owner());
  report.used_connports.merge(registry.ports(Role::tcp_listener, state_->owner()));
  report.used_messports = registry.ports(Role::udp_listener, state_->owner());
  return report;
}

}  // namespace repy
