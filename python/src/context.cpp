// repy6 for Python — repy.Context (the Repy calls of one sandbox), its ResourceReport,
// and the process-wide default context. The package makes the module-level functions
// from Context's methods (python/repy6/_calls.py), so a call is bound here only.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <optional>
#include <sstream>
#include <string>

#include "bind.hpp"

namespace repy::python {

using namespace pybind11::literals;

void bind_context(py::module_& m) {
  py::class_<ResourceReport>(m, "ResourceReport", "What Context.getresources() reports.")
      .def_readonly("limits", &ResourceReport::limits,
                    "Every resource -> its limit (inf where unlimited).")
      .def_readonly("usage", &ResourceReport::usage,
                    "Renewable: charged and not yet drained; fungible: held now.")
      .def_readonly("totals", &ResourceReport::totals,
                    "Renewable: everything ever charged to the context.")
      .def_readonly("any_port", &ResourceReport::any_port, "Whether every port is allowed.")
      .def_readonly("allowed_connports", &ResourceReport::allowed_connports)
      .def_readonly("allowed_messports", &ResourceReport::allowed_messports)
      .def_readonly("used_connports", &ResourceReport::used_connports)
      .def_readonly("used_messports", &ResourceReport::used_messports)
      .def("__repr__", [](py::object self) {
        std::ostringstream out;
        out << "ResourceReport(limits=" << py::repr(self.attr("limits")).cast<std::string>()
            << ", usage=" << py::repr(self.attr("usage")).cast<std::string>()
            << ", totals=" << py::repr(self.attr("totals")).cast<std::string>() << ")";
        return out.str();
      });

  py::class_<Context> ctx(m, "Context",
                          "One sandbox: runs the Repy calls on its stack under its policy. "
                          "Copies share state; sockets keep their context alive.");
  ctx.def(py::init([](std::optional<Policy> policy, std::optional<Stack> stack) {
            return Context(policy ? *policy : Policy::unlimited(), stack ? *stack : Stack::host());
          }),
          "policy"_a = py::none(), "stack"_a = py::none(),
          "A context with `policy` (default: unlimited) on `stack` (default: the host's).");
  ctx.def_property_readonly("policy", [](const Context& c) { return c.policy(); });
  ctx.def_property_readonly("stack", [](const Context& c) { return c.stack(); });
  ctx.def("getresources", &Context::getresources, "Limits, usage and totals.");

  // The Repy calls, one statement each: every one may wait (name servers, connects, the
  // nanny's rate limits), so all run without the GIL.
  ctx.def("getAddripv6", &Context::getAddripv6, "name"_a, released(),
          "A name's IPv6 addresses: a list of AddrInfo.");
  ctx.def("getmyip_ipv6", &Context::getmyip_ipv6, released());
  ctx.def("sendmessage_ipv6", with_data<2>(&Context::sendmessage_ipv6), "destip"_a, "destport"_a,
          "message"_a, "localip"_a, "localport"_a, released(),
          "Sends one datagram (bytes, or a str as Latin-1); returns the bytes sent.");
  ctx.def("openconnection_ipv6", &Context::openconnection_ipv6, "destip"_a, "destport"_a,
          "localip"_a, "localport"_a, "timeout"_a, released());
  ctx.def("listenforconnection_ipv6", &Context::listenforconnection_ipv6, "localip"_a,
          "localport"_a, released());
  ctx.def("listenformessage_ipv6", &Context::listenformessage_ipv6, "localip"_a, "localport"_a,
          released());
  // SPEC 9: Repy V2's IPv4 calls.
  ctx.def("gethostbyname", &Context::gethostbyname, "name"_a, released());
  ctx.def("getmyip", &Context::getmyip, released());
  ctx.def("sendmessage", with_data<2>(&Context::sendmessage), "destip"_a, "destport"_a, "message"_a,
          "localip"_a, "localport"_a, released());
  ctx.def("openconnection", &Context::openconnection, "destip"_a, "destport"_a, "localip"_a,
          "localport"_a, "timeout"_a, released());
  ctx.def("listenforconnection", &Context::listenforconnection, "localip"_a, "localport"_a,
          released());
  ctx.def("listenformessage", &Context::listenformessage, "localip"_a, "localport"_a, released());

  // The first use loads REPY_RESTRICTIONS, a file read.
  m.def(
      "default_context", [] { return default_context(); }, released(),
      "The process-wide context (REPY_RESTRICTIONS names its restrictions file; else "
      "unlimited). A handle: it shares state with every other handle to it.");
}

}  // namespace repy::python
