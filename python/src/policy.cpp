// repy6 for Python — repy.Policy: Repy's restrictions.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>
#include <pybind11/stl/filesystem.h>

#include "bind.hpp"

namespace repy::python {

using namespace pybind11::literals;

void bind_policy(py::module_& m) {
  py::class_<Policy>(m, "Policy",
                     "An immutable restrictions policy (Repy's resource file): rates, socket "
                     "counts, allowed ports and local addresses, socket buffer caps.")
      .def_static("unlimited", &Policy::unlimited, "No limits, every port and every local IP.")
      .def_static("parse", &Policy::parse, "restrictions_text"_a,
                  "Reads Repy's restrictions syntax; raises ResourceParseError naming the line.")
      .def_static("load", &Policy::load, "file"_a, released(),
                  "parse() of a file (str or path-like).")
      .def("limit", &Policy::limit, "resource"_a,
           "The limit of a resource by Repy name (inf where unlimited).")
      .def("named_resources", &Policy::named_resources,
           "The resources the restrictions text has a line for.")
      .def("allows_connport", &Policy::allows_connport, "port"_a)
      .def("allows_messport", &Policy::allows_messport, "port"_a)
      .def("with_socket_buffers", &Policy::with_socket_buffers, "tcp_bytes"_a, "udp_bytes"_a,
           "A copy with other SO_SNDBUF/SO_RCVBUF caps in bytes (0: the kernel's default).");
}

}  // namespace repy::python
