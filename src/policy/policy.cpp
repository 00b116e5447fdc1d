// repy6 — the public face of a restrictions policy: the ways to make one and to ask it.
#include "repy/policy.hpp"

#include <fmt/format.h>

#include <cstddef>
#include <limits>
#include <string>
#include <utility>
#include <variant>

#include "core/error_map.hpp"
#include "core/files.hpp"
#include "core/text.hpp"
#include "policy/policy_data.hpp"
#include "policy/restrictions.hpp"
#include "repy/errors.hpp"

namespace repy {

namespace {

using detail::PolicyData;

// A restrictions file is a few hundred bytes; the cap only stops a mistaken path
// (a huge log, say) from being read into memory.
constexpr std::size_t max_file_bytes = 1 << 20;

bool valid_port(int port) noexcept { return port >= 1 && port <= 65535; }

}  // namespace

Policy::Policy(std::shared_ptr<const PolicyData> data) : data_(std::move(data)) {}

Policy Policy::unlimited() {
  auto data = std::make_shared<PolicyData>();
  data->limits.fill(std::numeric_limits<double>::infinity());
  data->any_port = true;
  // tcp_buffer/udp_buffer keep their defaults, Repy's caps: unlimited rates do not mean
  // letting the kernel queue unbounded data for the program.
  return Policy(std::move(data));
}

Policy Policy::parse(std::string_view restrictions_text) {
  return Policy(std::make_shared<const PolicyData>(detail::parse_restrictions(restrictions_text)));
}

Policy Policy::load(const std::filesystem::path& file) {
  auto read = detail::read_regular_file(file, max_file_bytes);
  if (auto* problem = std::get_if<detail::FileProblem>(&read)) {
    throw ResourceParseError(
        fmt::format("Policy::load: cannot read '{}': {}", file.string(), problem->why));
  }
  try {
    return parse(std::get<std::string>(read));
  } catch (const ResourceParseError& e) {
    // Name the file too: a program may load several restriction files.
    throw ResourceParseError(fmt::format("Policy::load: '{}': {}", file.string(), e.what()));
  }
}

double Policy::limit(std::string_view resource) const {
  auto r = detail::resource_from_name(resource);
  if (!r)
    detail::throw_argument_error("Policy::limit", "resource", "is not a Repy resource", resource);
  return data_->limit(*r);
}

std::vector<std::string> Policy::named_resources() const {
  std::vector<std::string> names;
  for (std::size_t i = 0; i < detail::resource_count; ++i) {
    if (data_->named[i])
      names.emplace_back(detail::resource_name(static_cast<detail::Resource>(i)));
  }
  return names;
}

bool Policy::allows_connport(int port) const {
  return valid_port(port) && (data_->any_port || data_->connports.count(port) != 0);
}

bool Policy::allows_messport(int port) const {
  return valid_port(port) && (data_->any_port || data_->messports.count(port) != 0);
}

Policy Policy::with_socket_buffers(int tcp_bytes, int udp_bytes) const {
  if (tcp_bytes < 0) {
    detail::throw_argument_error("Policy::with_socket_buffers", "tcp_bytes", "must be 0 or more",
                                 std::to_string(tcp_bytes));
  }
  if (udp_bytes < 0) {
    detail::throw_argument_error("Policy::with_socket_buffers", "udp_bytes", "must be 0 or more",
                                 std::to_string(udp_bytes));
  }
  auto data = std::make_shared<PolicyData>(*data_);
  data->tcp_buffer = tcp_bytes;
  data->udp_buffer = udp_bytes;
  return Policy(std::move(data));
}

}  // namespace repy
