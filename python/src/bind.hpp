// repy6 for Python — what the binding files share: the conversions between Python and
// repy6 values that pybind11 does not know, and one declaration per binding file.
#pragma once

#include <pybind11/pybind11.h>

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include "repy/repy.hpp"

namespace repy::python {

namespace py = pybind11;

/// Bytes a Python caller passes as data (bytes, bytearray, memoryview, or a str that is
/// encoded as Latin-1, so each character is one byte, as in a Repy program) and that
/// come back as `bytes`. A str with a character beyond U+00FF is RepyArgumentError;
/// any other type is a TypeError, like any other wrong type.
struct Data {
  std::string value;
};

/// How long a wait_* call may block, from Python's seconds. pybind11 converts the
/// argument before the GIL is released, so this is only arithmetic.
using WaitDuration = std::chrono::nanoseconds;
/// @throws RepyArgumentError for NaN. None, +inf and anything too long to represent wait
/// without a practical limit; zero or less polls once; fractions of the unit round up
/// (SPEC 8: 0.0005 s is not 0).
WaitDuration wait_duration(std::optional<double> seconds);

/// The named tuples getconnection() and getmessage() return; made at import.
py::handle connection_type();
py::handle message_type();

/// Python's plain tuple of one AddrInfo: (family, type, proto, canonname, sockaddr),
/// sockaddr being (ip, port, flowinfo, scope_id) for IPv6 and (ip, port) for IPv4, as
/// socket.getaddrinfo gives them.
py::tuple addrinfo_tuple(const AddrInfo& info);

/// A call that may wait (for the network, the nanny or a name server) runs without the
/// GIL, so other Python threads go on meanwhile.
using released = py::call_guard<py::gil_scoped_release>;

namespace adapt {
// The data a call returns leaves as bytes; its other results pass unchanged.
inline Data to_python(std::string data) { return Data{std::move(data)}; }
inline std::optional<Data> to_python(std::optional<std::string> data) {
  if (!data) return std::nullopt;
  return Data{std::move(*data)};
}
template <class T>
T to_python(T value) {
  return value;
}
inline std::string_view to_cpp(const Data& data) { return data.value; }
template <class T>
T&& to_cpp(T&& value) {
  return std::forward<T>(value);
}

inline constexpr std::size_t no_data_argument = static_cast<std::size_t>(-1);

template <std::size_t DataAt, class C, class R, class... A, std::size_t... I>
auto with_data(R (C::*method)(A...), std::index_sequence<I...>) {
  return [method](C& self, std::conditional_t<I == DataAt, const Data&, A>... args) {
    return to_python((self.*method)(to_cpp(std::forward<decltype(args)>(args))...));
  };
}
}  // namespace adapt

/// A method that carries data, as a function pybind11 can bind: the argument at
/// `DataAt` (a std::string_view, or none) takes any Data and a std::string result
/// (optional or not) returns as bytes, so that
///   cls.def("send", with_data<0>(&TCPSocket::send), released(), "data"_a)
/// is all a data-carrying call needs.
template <std::size_t DataAt, class C, class R, class... A>
auto with_data(R (C::*method)(A...)) {
  return adapt::with_data<DataAt>(method, std::index_sequence_for<A...>{});
}
/// The same for a call whose only data is its result (recv).
template <class C, class R, class... A>
auto with_data_result(R (C::*method)(A...)) {
  return with_data<adapt::no_data_argument>(method);
}

// One function per binding file, called in this order by module.cpp.
void bind_errors(py::module_& m);
void bind_policy(py::module_& m);
void bind_stack(py::module_& m);
void bind_sockets(py::module_& m);
void bind_context(py::module_& m);

}  // namespace repy::python

namespace pybind11::detail {

template <>
struct type_caster<repy::python::Data> {
  PYBIND11_TYPE_CASTER(repy::python::Data, const_name("bytes"));
  bool load(handle src, bool convert);
  static handle cast(const repy::python::Data& data, return_value_policy, handle) {
    return PyBytes_FromStringAndSize(data.value.data(), static_cast<Py_ssize_t>(data.value.size()));
  }
};

/// Connection and Message leave as the named tuples of the module; they never come in.
template <>
struct type_caster<repy::Connection> {
  PYBIND11_TYPE_CASTER(repy::Connection, const_name("Connection"));
  bool load(handle, bool) { return false; }
  static handle cast(repy::Connection connection, return_value_policy, handle);
};

template <>
struct type_caster<repy::Message> {
  PYBIND11_TYPE_CASTER(repy::Message, const_name("Message"));
  bool load(handle, bool) { return false; }
  static handle cast(repy::Message message, return_value_policy, handle);
};

}  // namespace pybind11::detail
