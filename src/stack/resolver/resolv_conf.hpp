// resolv.conf text: what a stack's resolver is configured from (Stack's config_dns,
// iothdns_update, iothconf's dns= and domain=).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace repy::detail {

/// What a resolv.conf text asks for.
struct ResolvConf {
  std::vector<std::string> nameservers;  // "host" or "[host]:port", validated
  std::vector<std::string> search;       // search domains, in order
  int ndots = 1;
  int timeout_s = 5;
  int attempts = 2;
  bool rotate = false;
};

/// The most a resolv.conf file may hold; real ones are a few hundred bytes.
inline constexpr std::size_t max_resolv_conf_bytes = 64 * 1024;

/// Parses resolv.conf text (nameserver, search, domain, options lines; '#' and ';'
/// comments; unknown keywords are ignored as libc does). A nameserver may carry a port
/// as "[ADDR]:PORT" (an extension, so tests can run a server on a free port). `call`
/// and `argument` name where the text came from, for messages.
/// @throws RepyArgumentError naming the line when a nameserver or option is malformed,
/// or when there is no nameserver at all.
ResolvConf parse_resolv_conf(std::string_view text, std::string_view call = "iothdns_update",
                             std::string_view argument = "resolvconf");

/// `text_or_path` is resolv.conf text, or the path of a file holding it: a single line
/// that does not start with a resolv.conf keyword is taken as a path. A path is read
/// only when it names a regular file of at most max_resolv_conf_bytes, so a FIFO or a
/// device neither blocks nor fills memory.
/// @throws RepyArgumentError naming `argument`, the path and why it cannot be read.
std::string resolv_conf_text(std::string_view text_or_path,
                             std::string_view call = "iothdns_update",
                             std::string_view argument = "resolvconf");

}  // namespace repy::detail
