// resolv.conf text and files.
#include "stack/resolver/resolv_conf.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <limits>
#include <optional>
#include <variant>

#include "core/error_map.hpp"
#include "core/files.hpp"
#include "core/text.hpp"
#include "stack/arguments.hpp"

namespace repy::detail {
namespace {

// "ADDR" or "[ADDR]:PORT" -> the form ares_set_servers_ports_csv takes; nullopt if bad.
// ip_literal takes no zone: c-ares' csv form cannot carry one, and a link-local server
// without it is useless.
std::optional<std::string> nameserver_entry(std::string_view word) {
  if (word.empty() || word.front() != '[') {
    if (!ip_literal(word)) return std::nullopt;
    return std::string(word);
  }
  auto close = word.find(']');
  if (close == std::string_view::npos) return std::nullopt;
  auto addr = word.substr(1, close - 1);
  auto rest = word.substr(close + 1);
  if (!ip_literal(addr)) return std::nullopt;
  if (rest.empty()) return std::string(addr);
  auto port = rest.front() == ':' ? parse_int(rest.substr(1), 1, 65535) : std::nullopt;
  if (!port) return std::nullopt;
  return fmt::format("[{}]:{}", addr, *port);
}

// The words after "options"; `fail` raises the error for this line.
template <class Fail>
void read_options(ResolvConf& conf, const std::vector<std::string_view>& words, Fail fail) {
  for (std::size_t i = 1; i < words.size(); ++i) {
    auto opt = words[i];
    auto colon = opt.find(':');
    auto key = opt.substr(0, colon);
    auto value = colon == std::string_view::npos
                     ? std::nullopt
                     : parse_int(opt.substr(colon + 1), 0, std::numeric_limits<int>::max());
    if (key == "ndots" || key == "timeout" || key == "attempts") {
      if (!value) {
        fail(fmt::format("option {} needs a number", key));
        continue;
      }
      if (key == "ndots") conf.ndots = std::min(*value, 15);
      if (key == "timeout") conf.timeout_s = std::clamp(*value, 1, 30);
      if (key == "attempts") conf.attempts = std::clamp(*value, 1, 5);
    } else if (key == "rotate") {
      conf.rotate = true;
    }
    // Other options (edns0, inet6, ...) do not change what c-ares does here.
  }
}

}  // namespace

ResolvConf parse_resolv_conf(std::string_view text, std::string_view call,
                             std::string_view argument) {
  ResolvConf conf;
  std::size_t lineno = 0;
  for (std::string_view rest = text; !rest.empty();) {
    auto nl = rest.find('\n');
    auto line = trim(rest.substr(0, nl));
    rest = nl == std::string_view::npos ? std::string_view{} : rest.substr(nl + 1);
    ++lineno;
    if (line.empty() || line.front() == '#' || line.front() == ';') continue;
    auto words = split_words(line);
    auto fail = [&](std::string_view why) {
      throw_argument_error(call, fmt::format("{} line {}", argument, lineno), why, line);
    };
    if (words[0] == "nameserver") {
      if (words.size() < 2) fail("nameserver needs an address");
      auto entry = nameserver_entry(words[1]);
      if (!entry) fail("nameserver is not an IP address or [IP]:PORT");
      conf.nameservers.push_back(std::move(*entry));
    } else if (words[0] == "search" || words[0] == "domain") {
      if (words.size() < 2) fail(fmt::format("{} needs a domain", words[0]));
      // As in libc, the last search/domain line wins.
      conf.search.assign(words.begin() + 1, words.end());
    } else if (words[0] == "options") {
      read_options(conf, words, fail);
    }
    // Unknown keywords (sortlist, lookup, ...) are ignored, as libc does.
  }
  if (conf.nameservers.empty()) {
    throw_argument_error(call, argument, "has no 'nameserver' line", text);
  }
  return conf;
}

std::string resolv_conf_text(std::string_view text_or_path, std::string_view call,
                             std::string_view argument) {
  auto first = trim(text_or_path.substr(0, text_or_path.find('\n')));
  auto first_word = first.substr(0, first.find_first_of(" \t"));
  bool is_text = text_or_path.find('\n') != std::string_view::npos || first.empty() ||
                 first_word == "nameserver" || first_word == "search" || first_word == "domain" ||
                 first_word == "options" || first.front() == '#' || first.front() == ';';
  if (is_text) return std::string(text_or_path);
  if (first.find('\0') != std::string_view::npos) {
    throw_argument_error(call, argument, "is a path with a NUL byte", text_or_path);
  }
  auto read = read_regular_file(std::string(first), max_resolv_conf_bytes);
  if (const auto* problem = std::get_if<FileProblem>(&read)) {
    throw_argument_error(
        call, argument,
        fmt::format("is not resolv.conf text, and as a path it cannot be read: {}", problem->why),
        text_or_path);
  }
  return std::get<std::string>(std::move(read));
}

}  // namespace repy::detail
