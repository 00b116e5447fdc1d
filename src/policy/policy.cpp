// repy6 — restrictions policy: Repy's resource-file syntax and its data.
#include "repy/policy.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstddef>
#include <limits>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "core/address.hpp"
#include "core/text.hpp"
#include "policy/policy_data.hpp"
#include "repy/errors.hpp"

namespace repy {
namespace detail {

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

}  // namespace detail

namespace {

using detail::PolicyData;
using detail::Resource;
using detail::ResourceKind;

constexpr double infinity = std::numeric_limits<double>::infinity();

// Linux keeps interface names in IFNAMSIZ (16) bytes including the terminator.
constexpr std::size_t max_iface_name = 15;

// A restrictions file is a few hundred bytes; the cap only stops a mistaken path
// (a device, a huge log) from being read into memory.
constexpr std::size_t max_file_bytes = 1 << 20;

bool is_blank(char c) noexcept {
  return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

std::vector<std::string_view> split_words(std::string_view text) {
  std::vector<std::string_view> words;
  std::size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && is_blank(text[i])) ++i;
    std::size_t start = i;
    while (i < text.size() && !is_blank(text[i])) ++i;
    if (i > start) words.push_back(text.substr(start, i - start));
  }
  return words;
}

// Repy reads values with Python's float(): an optional sign, decimals like ".10",
// exponents like "1e4". from_chars gives the same grammar without the locale, except
// that it refuses a leading '+', which Python allows.
std::optional<double> parse_number(std::string_view word) {
  if (!word.empty() && word.front() == '+') {
    word.remove_prefix(1);
    if (!word.empty() && (word.front() == '+' || word.front() == '-')) return std::nullopt;
  }
  if (word.empty()) return std::nullopt;
  double value = 0;
  auto [end, ec] =
      std::from_chars(word.data(), word.data() + word.size(), value, std::chars_format::general);
  if (ec != std::errc{} || end != word.data() + word.size()) return std::nullopt;
  if (std::isnan(value)) return std::nullopt;
  return value;
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
        fmt::format("Policy::parse: line {}: {}: {}", line_number_, reason, detail::quote(line_)));
  }

  void parse_line() {
    std::string_view content = line_;
    // '#' starts a comment wherever it is on the line.
    if (auto hash = content.find('#'); hash != std::string_view::npos) {
      content = content.substr(0, hash);
    }
    auto words = split_words(content);
    if (words.empty()) return;
    // Old restriction files list the calls a program may make; Repy V2 ignores them.
    if (words[0] == "call") return;
    if (words[0] != "resource") {
      fail(fmt::format("expected 'resource NAME VALUE' or 'call ...', not {}",
                       detail::quote(words[0])));
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

    auto resource = detail::resource_from_name(name);
    if (!resource) fail(fmt::format("unknown resource {}", detail::quote(name)));
    auto number = parse_number(value);
    if (!number) fail(fmt::format("value of {} is not a number: {}", name, detail::quote(value)));
    if (*number < 0) fail(fmt::format("value of {} is negative: {}", name, value));

    if (detail::resource_kind(*resource) == ResourceKind::individual) {
      return add_port(*resource, name, value, *number);
    }
    auto index = static_cast<std::size_t>(*resource);
    if (seen_[index]) fail(fmt::format("resource {} is given twice", name));
    seen_[index] = true;
    data_.limits[index] = *number;
  }

  void add_port(Resource r, std::string_view name, std::string_view value, double number) {
    if (number != std::floor(number) || number < 1 || number > 65535) {
      fail(fmt::format("{} must be a port from 1 to 65535, not {}", name, value));
    }
    auto port = static_cast<int>(number);
    (r == Resource::connport ? data_.connports : data_.messports).insert(port);
  }

  void parse_ip_line(std::string_view value) {
    PolicyData::Preference preference;
    try {
      preference.ip = detail::parse_ip("Policy::parse", "ip", value);
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
      fail(fmt::format("{} is not an interface name", detail::quote(value)));
    }
    PolicyData::Preference preference;
    preference.iface = std::string(value);
    data_.preferences.push_back(std::move(preference));
  }

  void parse_nootherips_line(std::string_view value) {
    if (seen_nootherips_) fail("resource nootherips is given twice");
    seen_nootherips_ = true;
    auto number = parse_number(value);
    if (!number || (*number != 0 && *number != 1)) {
      fail(fmt::format("nootherips must be 0 or 1, not {}", detail::quote(value)));
    }
    data_.nootherips = *number == 1;
  }

  std::string_view text_;
  std::string_view line_;
  std::size_t line_number_ = 0;
  PolicyData data_;
  std::array<bool, detail::resource_count> seen_{};
  bool seen_nootherips_ = false;
};

// Owns a file descriptor for the duration of Policy::load.
class FileDescriptor {
 public:
  explicit FileDescriptor(int fd) noexcept : fd_(fd) {}
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  ~FileDescriptor() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const noexcept { return fd_; }

 private:
  int fd_;
};

[[noreturn]] void fail_load(const std::filesystem::path& file, std::string_view reason) {
  throw ResourceParseError(
      fmt::format("Policy::load: cannot read '{}': {}", file.string(), reason));
}

std::string errno_text(int error) { return std::generic_category().message(error); }

std::string read_file(const std::filesystem::path& file) {
  int fd = -1;
  do {
    fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) fail_load(file, errno_text(errno));
  FileDescriptor owner(fd);

  std::string text;
  char buffer[4096];
  for (;;) {
    ssize_t n = ::read(owner.get(), buffer, sizeof buffer);
    if (n < 0) {
      if (errno == EINTR) continue;
      fail_load(file, errno_text(errno));  // e.g. EISDIR for a directory
    }
    if (n == 0) break;
    if (text.size() + static_cast<std::size_t>(n) > max_file_bytes) {
      fail_load(file, fmt::format("larger than {} bytes", max_file_bytes));
    }
    text.append(buffer, static_cast<std::size_t>(n));
  }
  return text;
}

}  // namespace

Policy::Policy(std::shared_ptr<const detail::PolicyData> data) : data_(std::move(data)) {}

Policy Policy::unlimited() {
  auto data = std::make_shared<PolicyData>();
  data->limits.fill(infinity);
  data->any_port = true;
  // tcp_buffer/udp_buffer keep their defaults, Repy's caps: unlimited rates do not mean
  // letting the kernel queue unbounded data for the program.
  return Policy(std::move(data));
}

Policy Policy::parse(std::string_view restrictions_text) {
  return Policy(std::make_shared<const PolicyData>(Parser(restrictions_text).run()));
}

Policy Policy::load(const std::filesystem::path& file) {
  std::string text = read_file(file);
  try {
    return parse(text);
  } catch (const ResourceParseError& e) {
    // Name the file too: a program may load several restriction files.
    throw ResourceParseError(fmt::format("Policy::load: '{}': {}", file.string(), e.what()));
  }
}

double Policy::limit(std::string_view resource) const {
  auto r = detail::resource_from_name(resource);
  if (!r) {
    throw RepyArgumentError(
        fmt::format("Policy::limit: resource {} is not a Repy resource", detail::quote(resource)));
  }
  return data_->limit(*r);
}

bool Policy::allows_connport(int port) const {
  if (port < 1 || port > 65535) return false;
  return data_->any_port || data_->connports.count(port) != 0;
}

bool Policy::allows_messport(int port) const {
  if (port < 1 || port > 65535) return false;
  return data_->any_port || data_->messports.count(port) != 0;
}

Policy Policy::with_socket_buffers(int tcp_bytes, int udp_bytes) const {
  if (tcp_bytes < 0) {
    throw RepyArgumentError(
        fmt::format("Policy::with_socket_buffers: tcp_bytes must be 0 or more, not {}", tcp_bytes));
  }
  if (udp_bytes < 0) {
    throw RepyArgumentError(
        fmt::format("Policy::with_socket_buffers: udp_bytes must be 0 or more, not {}", udp_bytes));
  }
  auto data = std::make_shared<PolicyData>(*data_);
  data->tcp_buffer = tcp_bytes;
  data->udp_buffer = udp_bytes;
  return Policy(std::move(data));
}

}  // namespace repy
