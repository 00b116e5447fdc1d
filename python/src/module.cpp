// repy6 for Python — the extension module `_repy6` (the package `repy6` re-exports it)
// and the conversions the binding files share.
#include <pybind11/pybind11.h>

#include <cmath>
#include <string>
#include <utility>

#include "bind.hpp"

namespace repy::python {

namespace {

// The named tuple types live as long as the process: return values use them until the
// interpreter ends, and a py::object in static storage would be released after it.
PyObject* connection_tuple = nullptr;
PyObject* message_tuple = nullptr;

PyObject* make_named_tuple(py::module_& m, const char* name, const char* fields, const char* doc) {
  py::object type = py::module_::import("collections")
                        .attr("namedtuple")(name, fields, py::arg("module") = "repy6");
  type.attr("__doc__") = doc;
  m.attr(name) = type;
  return type.release().ptr();
}

}  // namespace

py::handle connection_type() { return connection_tuple; }
py::handle message_type() { return message_tuple; }

WaitDuration wait_duration(std::optional<double> seconds) {
  // About 31 years stands for "no limit": no program waits that long, and unlike
  // WaitDuration::max() it can be added to a clock's now() without overflowing.
  constexpr WaitDuration no_limit = std::chrono::hours(24 * 365 * 31);
  if (!seconds) return no_limit;
  const double s = *seconds;
  if (std::isnan(s)) throw RepyArgumentError("wait: timeout must be a number of seconds, not nan");
  if (s <= 0) return WaitDuration::zero();
  const double units =
      std::ceil(s * WaitDuration::period::den / static_cast<double>(WaitDuration::period::num));
  if (!(units < static_cast<double>(no_limit.count()))) return no_limit;
  return WaitDuration(static_cast<WaitDuration::rep>(units));
}

}  // namespace repy::python

namespace pybind11::detail {

bool type_caster<repy::python::Data>::load(handle src, bool) {
  PyObject* obj = src.ptr();
  if (PyBytes_Check(obj)) {
    value.value.assign(PyBytes_AS_STRING(obj), static_cast<std::size_t>(PyBytes_GET_SIZE(obj)));
    return true;
  }
  if (PyUnicode_Check(obj)) {
    object latin1 = reinterpret_steal<object>(PyUnicode_AsLatin1String(obj));
    if (!latin1) {
      error_already_set why;  // the UnicodeEncodeError names the character and where
      throw repy::RepyArgumentError(
          std::string("data: a str is sent as Latin-1 (one byte a character): ") + why.what());
    }
    value.value.assign(PyBytes_AS_STRING(latin1.ptr()),
                       static_cast<std::size_t>(PyBytes_GET_SIZE(latin1.ptr())));
    return true;
  }
  if (PyObject_CheckBuffer(obj)) {  // bytearray, memoryview, array.array ...
    Py_buffer view;
    if (PyObject_GetBuffer(obj, &view, PyBUF_SIMPLE) != 0) {
      PyErr_Clear();  // not contiguous: a plain "wrong type" below
      return false;
    }
    value.value.assign(static_cast<const char*>(view.buf), static_cast<std::size_t>(view.len));
    PyBuffer_Release(&view);
    return true;
  }
  return false;
}

handle type_caster<repy::Connection>::cast(repy::Connection connection, return_value_policy,
                                           handle) {
  return repy::python::connection_type()(std::move(connection.ip), connection.port,
                                         std::move(connection.socket))
      .release();
}

handle type_caster<repy::Message>::cast(repy::Message message, return_value_policy, handle) {
  return repy::python::message_type()(std::move(message.ip), message.port, bytes(message.message))
      .release();
}

}  // namespace pybind11::detail

PYBIND11_MODULE(_repy6, m) {
  using namespace repy::python;
  m.doc() =
      "repy6: the Repy V2 network API (IPv6 calls, sockets, the resource nanny, Repy's "
      "exceptions) on a chosen network stack. Use it through the package `repy6`.";
  m.attr("__version__") = repy::version;
  bind_errors(m);
  bind_policy(m);
  bind_stack(m);
  bind_sockets(m);
  connection_tuple = make_named_tuple(m, "Connection", "ip port socket",
                                      "What TCPServerSocket.getconnection() returns: the peer's "
                                      "IP (canonical text), its port, and a TCPSocket.");
  message_tuple = make_named_tuple(m, "Message", "ip port message",
                                   "What UDPServerSocket.getmessage() returns: the sender's IP "
                                   "(canonical text), its port, and the datagram as bytes.");
  bind_context(m);
  // The package is where users meet the classes; their repr and help() say so.
  for (auto item : py::reinterpret_borrow<py::dict>(m.attr("__dict__"))) {
    if (PyType_Check(item.second.ptr()) &&
        py::str(item.second.attr("__module__")).cast<std::string>() == "repy6._repy6") {
      item.second.attr("__module__") = "repy6";
    }
  }
}
