// Small text helpers shared by every parser in the library (restrictions, iothconf,
// resolv.conf, addresses): one way to read a number, one way to split words, one way
// to show a value in a message.
#pragma once

#include <charconv>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace repy::detail {

/// A whole decimal number that is all of `text` (no sign other than a leading '-', no
/// white space), within [min, max]; nullopt otherwise.
template <class Int>
requires std::is_integral_v<Int> std::optional<Int> parse_int(std::string_view text, Int min,
                                                              Int max)
noexcept {
  Int value{};
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc{} || end != text.data() + text.size()) return std::nullopt;
  if (value < min || value > max) return std::nullopt;
  return value;
}

/// The words of `text`, separated by runs of any of `separators`.
std::vector<std::string_view> split_words(std::string_view text,
                                          std::string_view separators = " \t\r\v\f");

/// `text` without leading and trailing white space (space, tab, CR, VT, FF, LF).
std::string_view trim(std::string_view text) noexcept;

/// A value quoted for an error message: printable, escapes shown, length-capped.
std::string quote(std::string_view value);

}  // namespace repy::detail
