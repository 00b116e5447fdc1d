// Small text helpers shared by every parser in the library.
#include "core/text.hpp"

#include <fmt/format.h>

namespace repy::detail {

namespace {
constexpr std::string_view white_space = " \t\r\n\v\f";
}  // namespace

std::vector<std::string_view> split_words(std::string_view text, std::string_view separators) {
  std::vector<std::string_view> words;
  std::size_t start = text.find_first_not_of(separators);
  while (start != std::string_view::npos) {
    std::size_t end = text.find_first_of(separators, start);
    words.push_back(text.substr(start, end == std::string_view::npos ? end : end - start));
    start = end == std::string_view::npos ? end : text.find_first_not_of(separators, end);
  }
  return words;
}

std::string_view trim(std::string_view text) noexcept {
  std::size_t first = text.find_first_not_of(white_space);
  if (first == std::string_view::npos) return {};
  std::size_t last = text.find_last_not_of(white_space);
  return text.substr(first, last - first + 1);
}

std::string quote(std::string_view value) {
  constexpr std::size_t max_shown = 80;
  std::string out = "'";
  for (std::size_t i = 0; i < value.size() && i < max_shown; ++i) {
    auto c = static_cast<unsigned char>(value[i]);
    if (c == '\\' || c == '\'') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c >= 0x7f) {
      out += fmt::format("\\x{:02x}", c);
    } else {
      out += static_cast<char>(c);
    }
  }
  out += '\'';
  if (value.size() > max_shown) out += fmt::format(" (+{} more bytes)", value.size() - max_shown);
  return out;
}

}  // namespace repy::detail
