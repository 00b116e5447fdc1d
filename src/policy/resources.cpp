// repy6 — Repy's resource names and kinds, in the order of detail::Resource.
#include <array>
#include <cstddef>
#include <optional>
#include <string_view>

#include "policy/policy_data.hpp"

namespace repy::detail {

namespace {

struct ResourceInfo {
  std::string_view name;
  ResourceKind kind;
};

// Indexed by Resource; the order must follow the enum.
constexpr std::array<ResourceInfo, resource_count> resource_table{{
    {"netsend", ResourceKind::renewable},
    {"netrecv", ResourceKind::renewable},
    {"loopsend", ResourceKind::renewable},
    {"looprecv", ResourceKind::renewable},
    {"cpu", ResourceKind::renewable},
    {"filewrite", ResourceKind::renewable},
    {"fileread", ResourceKind::renewable},
    {"lograte", ResourceKind::renewable},
    {"random", ResourceKind::renewable},
    {"insockets", ResourceKind::fungible},
    {"outsockets", ResourceKind::fungible},
    {"events", ResourceKind::fungible},
    {"filesopened", ResourceKind::fungible},
    {"memory", ResourceKind::quantity},
    {"diskused", ResourceKind::quantity},
    {"messport", ResourceKind::individual},
    {"connport", ResourceKind::individual},
}};

static_assert(static_cast<std::size_t>(Resource::connport) + 1 == resource_count,
              "resource_table must list every Resource");

}  // namespace

std::string_view resource_name(Resource r) noexcept {
  return resource_table[static_cast<std::size_t>(r)].name;
}

std::optional<Resource> resource_from_name(std::string_view name) noexcept {
  for (std::size_t i = 0; i < resource_count; ++i) {
    if (resource_table[i].name == name) return static_cast<Resource>(i);
  }
  return std::nullopt;
}

ResourceKind resource_kind(Resource r) noexcept {
  return resource_table[static_cast<std::size_t>(r)].kind;
}

}  // namespace repy::detail
