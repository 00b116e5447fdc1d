// repy6 — Repy's restrictions text: `resource NAME VALUE`, `call ...`, comments.
#include "policy/restrictions.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstddef>
#include <limits>
#include <optional>
#include <string>
#include <system_error>
#include <utility>

#include "core/address.hpp"
#include "core/text.hpp"
#include "repy/errors.hpp"

namespace repy::detail {

namespace {

// Linux keeps interface names in IFNAMSIZ (16) bytes including the terminator.
constexpr std::size_t max_iface_name = 15;

// from_chars reports a decimal beyond the range of a double as out of range whether it
// is too large or too close to zero; the sign of its decimal order of magnitude tells
// which (out of range, it is at least 308 or at most -324). `digits` has no sign.
bool is_too_large(std::string_view digits) {
  long long exponent = 0;
  if (auto e = digits.find_first_of("eE"); e != std::string_view::npos) {
    std::string_view text = digits.substr(e + 1);
    if (!text.empty() && text.front() == '+') text.remove_prefix(1);
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), exponent);
    // An exponent beyond even a long long decides alone.
    if (ec == std::errc::result_out_of_range) return text.front() != '-';
    digits = digits.substr(0, e);
  }
  const std::size_t point = std::min(digits.find('.'), digits.size());
  const std::size_t first = digits.find_first_of("123456789");
  if (first == std::string_view::npos) return false;
  // The power of ten of the first significant digit: 2 for "123.4", -2 for ".012".
  const auto order =
      static_cast<long long>(point) - static_cast<long long>(first) - (first < point ? 1 : 0);
  return exponent > -order;
}

// Repy reads every value with Python's float(): an optional sign, decimals such as ".10"
// or "5.", exponents, "inf", "infinity" and "nan" in any case; a value beyond a double
// reads as infinity and one too close to zero as zero. from_chars has that grammar
// without the locale, except that it refuses a leading '+' and reports both kinds of
// out-of-range alike.
std::optional<double> python_float(std::string_view word) {
  const bool negative = !word.empty() && word.front() == '-';
  if (!word.empty() && (word.front() == '+' || word.front() == '-')) word.remove_prefix(1);
  if (word.empty() || word.front() == '+' || word.front() == '-') return std::nullopt;
  double value = 0;
  const char* last = word.data() + word.size();
  auto [end, ec] = std::from_chars(word.data(), last, value, std::chars_format::general);
  if (end != last) return std::nullopt;
  if (ec == std::errc::result_out_of_range) {
    value = is_too_large(word) ? std::numeric_limits<double>::infinity() : 0.0;
  } else if (ec != std::errc{}) {
    return std::nullopt;
  }
  return negative ? -value : value;
}

// Collects the state of one parse so that each line is one small step.
class Parser {
 public:
  explicit Parser(std::string_view text) : text_(text) {
    data_.limits.fill(0);  // deny by default
  }

  PolicyData run() {
    // A file saved by some Windows editors starts with a UTF-8 byte order mark.
    constexpr std::string_view bom = "\xEF\xBB\xBF";
    if (text_.substr(0, bom.size()) == bom) text_.remove_prefix(bom.size());

    std::size_t pos = 0;
    while (pos <= text_.size()) {
      std::size_t newline = text_.find('\n', pos);
      if (newline == std::string_view::npos) newline = text_.size();
      line_ = text_.substr(pos, newline - pos);
      if (!line_.empty() && line_.back() == '\r') line_.remove_suffix(1);
      ++line_number_;
      parse_line();
      pos = newline + 1;
    }
    for (Resource r : {Resource::connport, Resource::messport}) {
      const auto& ports = r == Resource::connport ? data_.connports : data_.messports;
      data_.limits[static_cast<std::size_t>(r)] = static_cast<double>(ports.size());
    }
    return std::move(data_);
  }

 private:
  [[noreturn]] void fail(std::string_view reason) const {
    throw ResourceParseError(
        fmt::format("Policy::parse: line {}: {}: {}", line_number_, reason, quote(line_)));
  }

  void parse_line() {
    // '#' starts a comment wherever it is on the line, as in Repy.
    auto words = split_words(line_.substr(0, line_.find('#')));
    if (words.empty()) return;
    // Old restriction files list the calls a program may make; Repy V2 ignores them.
    if (words[0] == "call") return;
    if (words[0] != "resource") {
      fail(fmt::format("expected 'resource NAME VALUE' or 'call ...', not {}", quote(words[0])));
    }
    if (words.size() != 3) {
      fail(fmt::format("'resource' takes a name and a value, got {} word(s) after it",
                       words.size() - 1));
    }
    std::string_view name = words[1];
    std::string_view value = words[2];

    if (name == "ip") return parse_ip_line(value);
    if (name == "iface") return parse_iface_line(value);
    if (name == "nootherips") return parse_nootherips_line(value);

    auto resource = resource_from_name(name);
    if (!resource) fail(fmt::format("unknown resource {}", quote(name)));
    const double number = read_value(name, value);
    const ResourceKind kind = resource_kind(*resource);
    auto index = static_cast<std::size_t>(*resource);
    if (kind == ResourceKind::individual) {
      add_port(*resource, name, value, number);
      data_.named[index] = true;
      return;
    }
    // Counts are whole in Repy; only rates may be fractions.
    if (kind != ResourceKind::renewable && number != std::floor(number)) {
      fail(fmt::format("value of {} must be a whole number, not {}", name, quote(value)));
    }
    if (data_.named[index]) fail(fmt::format("resource {} is given twice", name));
    data_.named[index] = true;
    data_.limits[index] = number;
  }

  // The value of a `resource` line: a finite number, not negative.
  double read_value(std::string_view name, std::string_view value) const {
    auto number = python_float(value);
    if (!number) fail(fmt::format("value of {} is not a number: {}", name, quote(value)));
    // Python reads "inf", "nan" and "1e999" too, but no limit can be built on them.
    if (!std::isfinite(*number)) {
      fail(fmt::format("value of {} must be a finite number, not {}", name, quote(value)));
    }
    if (*number < 0) fail(fmt::format("value of {} is negative: {}", name, quote(value)));
    // Python reads "-0" as -0.0; a limit reports it as plain 0.
    return *number == 0 ? 0.0 : *number;
  }

  void add_port(Resource r, std::string_view name, std::string_view value, double number) {
    if (number != std::floor(number) || number < 1 || number > 65535) {
      fail(fmt::format("{} must be a port from 1 to 65535, not {}", name, quote(value)));
    }
    auto port = static_cast<int>(number);
    (r == Resource::connport ? data_.connports : data_.messports).insert(port);
  }

  void parse_ip_line(std::string_view value) {
    PolicyData::Preference preference;
    try {
      // A dotted quad is an IPv4 preference, kept in the mapped form the sockets see.
      preference.ip = value.find(':') == std::string_view::npos
                          ? parse_ipv4("Policy::parse", "ip", value)
                          : parse_ip("Policy::parse", "ip", value);
    } catch (const RepyArgumentError& e) {
      // The address parser's message already says what is wrong; drop its call name,
      // which this message gives once at the front.
      std::string_view why = e.what();
      constexpr std::string_view prefix = "Policy::parse: ";
      if (why.substr(0, prefix.size()) == prefix) why.remove_prefix(prefix.size());
      fail(why);
    }
    data_.preferences.push_back(std::move(preference));
  }

  void parse_iface_line(std::string_view value) {
    if (value.size() > max_iface_name || value.find('/') != std::string_view::npos ||
        value == "." || value == "..") {
      fail(fmt::format("{} is not an interface name", quote(value)));
    }
    PolicyData::Preference preference;
    preference.iface = std::string(value);
    data_.preferences.push_back(std::move(preference));
  }

  void parse_nootherips_line(std::string_view value) {
    if (seen_nootherips_) fail("resource nootherips is given twice");
    seen_nootherips_ = true;
    auto number = python_float(value);
    if (!number || (*number != 0 && *number != 1)) {
      fail(fmt::format("nootherips must be 0 or 1, not {}", quote(value)));
    }
    data_.nootherips = *number == 1;
  }

  std::string_view text_;
  std::string_view line_;
  std::size_t line_number_ = 0;
  PolicyData data_;
  bool seen_nootherips_ = false;
};

}  // namespace

PolicyData parse_restrictions(std::string_view text) { return Parser(text).run(); }

}  // namespace repy::detail
