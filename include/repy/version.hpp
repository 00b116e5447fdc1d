// repy6 — library version.
#pragma once

#define REPY6_VERSION_MAJOR 0
#define REPY6_VERSION_MINOR 1
#define REPY6_VERSION_PATCH 0

namespace repy {
/// The library's version as "MAJOR.MINOR.PATCH".
inline constexpr const char* version = "0.1.0";
}  // namespace repy
