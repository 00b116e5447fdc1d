// Zones of link-local addresses are the context's stack's interfaces (SPEC section 3):
// a name only the stack has is accepted, a name only the host has is refused, alias
// labels are no interface names, and a zone number the stack lacks fails at the bind.
#include <gtest/gtest.h>
#include <net/if.h>

#include <string>

#include "repy/repy.hpp"
#include "stack_fixtures.hpp"
#include "test_support.hpp"

namespace {

using repy::Context;
using repy::Policy;
using repy::Stack;
using stack_fixtures::Netns;

// An interface of the host that `ns` does not have, if the host has one.
std::string host_only_interface() {
  std::string found;
  if (struct if_nameindex* names = ::if_nameindex()) {
    for (auto* n = names; n->if_index != 0; ++n) {
      std::string name = n->if_name;
      if (name != "lo" && name != "rv0" && name != "rv1") {
        found = name;
        break;
      }
    }
    ::if_freenameindex(names);
  }
  return found;
}

TEST(zones_test, zone_names_are_the_interfaces_of_the_context_stack) {
  Netns ns;
  REQUIRE_NETNS(ns);
  // A veth pair inside the namespace: dummy links need a module machines may lack.
  ASSERT_TRUE(ns.ip("link add rv0 type veth peer name rv1"));
  ASSERT_TRUE(ns.ip("link set rv0 up"));
  ASSERT_TRUE(ns.ip("addr add fe80::5/64 dev rv0 nodad"));
  Context inside(Policy::unlimited(), Stack::netns(ns.name()));
  const int port = repy_test::free_port();

  auto listener = inside.listenformessage_ipv6("fe80::5%rv0", port);
  const int rv0 = inside.stack().if_nametoindex("rv0");
  EXPECT_EQ(inside.getresources().used_messports, (std::set<int>{port}));
  // The same address by the stack's index number is the same listener's address.
  EXPECT_THROW(inside.listenformessage_ipv6("fe80::5%" + std::to_string(rv0), port),
               repy::AlreadyListeningError);
  listener.close();

  // The host does not have rv0 (unless by chance, with another index).
  Context host;
  if (::if_nametoindex("rv0") == 0) {
    EXPECT_THROW(host.listenformessage_ipv6("fe80::5%rv0", port), repy::RepyArgumentError);
  }
  const std::string host_only = host_only_interface();
  if (!host_only.empty()) {
    EXPECT_THROW(inside.listenformessage_ipv6("fe80::5%" + host_only, port),
                 repy::RepyArgumentError)
        << host_only;
  }
}

TEST(zones_test, an_alias_label_is_not_an_interface_name) {
  Context ctx;
  const int port = repy_test::free_port();
  EXPECT_THROW(ctx.listenformessage_ipv6("fe80::1%lo:junk", port), repy::RepyArgumentError);
  EXPECT_THROW(ctx.sendmessage_ipv6("fe80::1%lo:1", port, "x", "::1", port),
               repy::RepyArgumentError);
}

TEST(zones_test, a_zone_number_the_stack_lacks_is_an_address_binding_error) {
  Context ctx;
  // Interface indexes this high are never handed out on a test machine.
  EXPECT_THROW(ctx.listenformessage_ipv6("fe80::1%987654", repy_test::free_port()),
               repy::AddressBindingError);
}

TEST(zones_test, a_link_local_address_without_a_zone_says_to_add_one) {
  Context ctx;
  try {
    ctx.listenformessage_ipv6("fe80::1", repy_test::free_port());
    FAIL() << "bound a link-local address without a zone";
  } catch (const repy::AddressBindingError& e) {
    EXPECT_NE(std::string(e.what()).find("needs a zone"), std::string::npos) << e.what();
  }
}

}  // namespace
