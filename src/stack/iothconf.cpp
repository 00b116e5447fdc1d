// iothconf strings: parsing (every key checked before anything changes) and applying.
#include "stack/iothconf.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <array>
#include <limits>
#include <optional>

#include "core/error_map.hpp"
#include "core/text.hpp"
#include "stack/arguments.hpp"
#include "stack/stack_impl.hpp"

namespace repy::detail {

namespace {

// One "key" or "key=value" item of an iothconf string.
struct ConfItem {
  std::string_view key;
  std::string_view value;
  bool has_value = false;
};

std::vector<ConfItem> split_config(std::string_view call, std::string_view argument,
                                   std::string_view config) {
  std::vector<ConfItem> out;
  for (auto item : split_words(config, ",")) {
    ConfItem c;
    auto eq = item.find('=');
    c.key = item.substr(0, eq);
    if (eq != std::string_view::npos) {
      c.value = item.substr(eq + 1);
      c.has_value = true;
    }
    if (c.key.empty()) throw_argument_error(call, argument, "has an item without a key", item);
    out.push_back(c);
  }
  return out;
}

// The keys of iothconf's automatic configuration, which repy6 does not do.
constexpr std::array<std::string_view, 11> automatic_keys = {
    "dhcp", "dhcp4", "dhcp6", "rd", "rd6", "slaac", "auto", "auto4", "auto6", "fqdn", "debug"};

class ConfReader {
 public:
  ConfReader(std::string_view call, std::string_view config) : call_(call), config_(config) {}

  IothConf read() {
    for (const auto& item : split_config(call_, "config", config_)) {
      if (!read_link_item(item) && !read_ip_item(item)) refuse(item);
    }
    if (conf_.dns.empty() && !conf_.domains.empty()) {
      throw_argument_error(call_, "domain", "needs at least one dns= server", config_);
    }
    return std::move(conf_);
  }

 private:
  std::string_view need_value(const ConfItem& item) const {
    if (!item.has_value || item.value.empty()) {
      throw_argument_error(call_, item.key, fmt::format("needs a value ('{}=...')", item.key),
                           config_);
    }
    return item.value;
  }

  bool read_link_item(const ConfItem& item) {
    const auto key = item.key;
    if (key == "eth") {
      if (item.has_value) throw_argument_error(call_, "eth", "takes no value", item.value);
      conf_.eth = true;
    } else if (key == "mac" || key == "macaddr") {
      conf_.mac = parse_mac(call_, need_value(item));
      conf_.has_mac = true;
    } else if (key == "iface" || key == "ifname") {
      check_ifname(call_, key, need_value(item));
      conf_.ifname = item.value;
    } else if (key == "ifindex") {
      auto index = parse_int(need_value(item), 1, std::numeric_limits<int>::max());
      if (!index) throw_argument_error(call_, "ifindex", "must be a number > 0", item.value);
      conf_.ifindex = *index;
    } else {
      return false;
    }
    return true;
  }

  bool read_ip_item(const ConfItem& item) {
    const auto key = item.key;
    if (key == "ip") {
      auto value = need_value(item);
      auto slash = value.find('/');
      auto len = slash == std::string_view::npos
                     ? std::nullopt
                     : parse_int(value.substr(slash + 1), std::numeric_limits<int>::min(),
                                 std::numeric_limits<int>::max());
      if (!len) throw_argument_error(call_, "ip", "needs ADDRESS/PREFIXLEN", value);
      auto addr = parse_stack_ip(call_, "ip", 0, value.substr(0, slash));
      check_prefix(call_, family_of(addr), *len);
      conf_.ips.push_back({addr, *len});
    } else if (key == "gw") {
      conf_.gws.push_back(parse_stack_ip(call_, "gw", 0, need_value(item)));
    } else if (key == "dns") {
      parse_stack_ip(call_, "dns", 0, need_value(item));
      conf_.dns.emplace_back(item.value);
    } else if (key == "domain") {
      if (need_value(item).find_first_of(" \t") != std::string_view::npos) {
        throw_argument_error(call_, "domain", "must not contain white space", item.value);
      }
      conf_.domains.emplace_back(item.value);
    } else {
      return false;
    }
    return true;
  }

  [[noreturn]] void refuse(const ConfItem& item) const {
    const auto key = item.key;
    if (std::find(automatic_keys.begin(), automatic_keys.end(), key) != automatic_keys.end()) {
      throw_argument_error(call_, "config",
                           fmt::format("key '{}' (automatic configuration) is not supported; use "
                                       "ip=, gw=, dns=",
                                       key),
                           config_);
    }
    if (key == "stack" || key == "vnl") {
      throw_argument_error(call_, "config",
                           fmt::format("key '{}=' only belongs in the Stack constructor", key),
                           config_);
    }
    throw_argument_error(call_, "config", fmt::format("has an unknown key '{}'", key), config_);
  }

  std::string_view call_;
  std::string_view config_;
  IothConf conf_;
};

}  // namespace

IothConf parse_iothconf(std::string_view call, std::string_view config) {
  return ConfReader(call, config).read();
}

void apply_iothconf(std::string_view call, StackImpl& stack, const IothConf& conf,
                    std::string_view config) {
  int ifindex = conf.ifindex;
  if (ifindex == 0 && conf.touches_link()) {
    // The VDE stacks name their first interface vde0; elsewhere the caller must say.
    if (conf.ifname.empty() && stack.kind() != "vdestack") {
      throw_argument_error(call, "iface",
                           fmt::format("(or ifindex=) is needed on the {} stack", stack.kind()),
                           config);
    }
    ifindex = netlink::link_index(stack, conf.ifname.empty() ? "vde0" : conf.ifname);
  }
  // A MAC change must come before the link is up; addresses and routes need it up.
  if (conf.has_mac) netlink::link_set_mac(stack, ifindex, conf.mac);
  if (conf.touches_link()) netlink::link_set_updown(stack, ifindex, true);
  for (const auto& ip : conf.ips) {
    netlink::addr_change(stack, true, ip.addr, ip.prefixlen, ifindex, stack.skip_dad());
  }
  for (const auto& gw : conf.gws) {
    netlink::route_change(stack, true, gw, any_address(family_of(gw)), 0, ifindex);
  }
  if (!conf.dns.empty()) {
    std::string text;
    for (const auto& d : conf.dns) text += fmt::format("nameserver {}\n", d);
    if (!conf.domains.empty()) text += fmt::format("search {}\n", fmt::join(conf.domains, " "));
    stack.configure_resolver(text);
  }
}

namespace {

bool is_kernel(std::string_view kind) { return kind == "kernel" || kind == "host"; }

// The stack= and vnl= items of a configuration string; the rest stays in request.config.
void read_stack_items(std::string_view stack, StackRequest& request, std::string_view& kind) {
  constexpr std::string_view call = "Stack";
  for (const auto& item : split_config(call, "stack", stack)) {
    if (item.key == "stack" || item.key == "vnl") {
      if (!item.has_value || item.value.empty()) {
        throw_argument_error(call, "stack", fmt::format("has '{}=' without a value", item.key),
                             stack);
      }
      if (item.key == "stack") {
        kind = item.value;
      } else {
        request.vdeurls.emplace_back(item.value);
      }
      continue;
    }
    if (!request.config.empty()) request.config += ',';
    request.config.append(item.key);
    if (item.has_value) {
      request.config += '=';
      request.config.append(item.value);
    }
  }
}

}  // namespace

StackRequest parse_stack_request(std::string_view stack, std::vector<std::string> vdeurls) {
  constexpr std::string_view call = "Stack";
  StackRequest request;
  request.vdeurls = std::move(vdeurls);
  std::string_view kind = stack;
  // Only a configuration string names its URLs in vnl= items; the plain names take them
  // in `vdeurls`.
  std::string_view urls_argument = "vdeurls";
  bool configured =
      stack.find('=') != std::string_view::npos || stack.find(',') != std::string_view::npos;
  if (configured) {
    kind = "vdestack";  // iothconf's default for a configured stack
    read_stack_items(stack, request, kind);
    request.conf = parse_iothconf(call, request.config);
    urls_argument = "vnl";
  }
  if (is_kernel(kind)) {
    if (!request.vdeurls.empty()) {
      throw_argument_error(call, urls_argument, "must be empty for the kernel stack",
                           request.vdeurls.front());
    }
    request.kind = StackRequest::Kind::host;
  } else if (kind == "vdestack") {
    request.kind = StackRequest::Kind::vdestack;
  } else {
    throw_argument_error(call, "stack",
                         configured ? "names an unknown stack (kernel or vdestack)"
                                    : "names an unknown stack: use 'kernel', 'vdestack' or a "
                                      "configuration 'stack=vdestack,vnl=URL,...'",
                         kind);
  }
  return request;
}

}  // namespace repy::detail
