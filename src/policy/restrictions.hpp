// repy6 — the parser of Repy's restrictions text (SPEC section 5), behind Policy::parse.
#pragma once

#include <string_view>

#include "policy/policy_data.hpp"

namespace repy::detail {

/// The policy a restrictions text describes: deny by default, every line checked.
/// @throws ResourceParseError "Policy::parse: line N: why: 'the line'".
PolicyData parse_restrictions(std::string_view text);

}  // namespace repy::detail
