// repy6 for Python — Repy's socket objects: TCPSocket, TCPServerSocket, UDPServerSocket.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <optional>
#include <string>

#include "bind.hpp"

namespace repy::python {

namespace {

using namespace pybind11::literals;

enum class Readiness { readable, writable };

// wait_readable/wait_writable with Python's seconds; the wait itself runs without the GIL.
template <class Socket, Readiness R>
bool wait_for(const Socket& s, std::optional<double> timeout) {
  const auto duration = wait_duration(timeout);
  py::gil_scoped_release unlocked;
  if constexpr (R == Readiness::readable) {
    return s.wait_readable(duration);
  } else {
    return s.wait_writable(duration);
  }
}

// What every socket class has: close, the fd, waiting to read, and `with` support.
template <class Socket>
py::class_<Socket> socket_class(py::module_& m, const char* name, const char* doc) {
  py::class_<Socket> cls(m, name, doc);
  // close() never waits for the nanny, but it waits for threads still inside a call on
  // the socket to leave it, and those may need the GIL to do so.
  cls.def("close", &Socket::close, released(),
          "Closes the socket: True the first time, False after. Never raises.");
  cls.def("native_handle", &Socket::native_handle,
          "The fd, for select/selectors (-1 once closed); do I/O through the methods.");
  cls.def("fileno", &Socket::native_handle, "native_handle(), for selectors and select.");
  cls.def("wait_readable", &wait_for<Socket, Readiness::readable>, "timeout"_a,
          "Waits up to `timeout` seconds (None: no limit) until the next receiving call "
          "would not raise SocketWouldBlockError; False on timeout.");
  cls.def("__enter__", [](py::object self) { return self; });
  cls.def("__exit__", [](Socket& s, const py::args&) { s.close(); });
  cls.def("__repr__", [name](const Socket& s) {
    return "<repy6." + std::string(name) + " fd=" + std::to_string(s.native_handle()) + ">";
  });
  return cls;
}

}  // namespace

// One statement a method, so that a call the library gains is one line here.
void bind_sockets(py::module_& m) {
  auto tcp = socket_class<TCPSocket>(m, "TCPSocket", "A connected TCP socket.");
  tcp.def("recv", with_data_result(&TCPSocket::recv), "bytes"_a, released(),
          "1..bytes bytes that have arrived, as bytes.");
  tcp.def("send", with_data<0>(&TCPSocket::send), "data"_a, released(),
          "Sends what the buffer takes now (bytes, or a str as Latin-1); returns the count.");
  tcp.def("wait_writable", &wait_for<TCPSocket, Readiness::writable>, "timeout"_a,
          "As wait_readable, for send().");
  // SPEC 8: polling without exceptions.
  tcp.def("try_recv", with_data_result(&TCPSocket::try_recv), "bytes"_a, released());
  tcp.def("try_send", with_data<0>(&TCPSocket::try_send), "data"_a, released());

  auto tcp_server = socket_class<TCPServerSocket>(m, "TCPServerSocket", "A listening TCP socket.");
  tcp_server.def("getconnection", &TCPServerSocket::getconnection, released(),
                 "Accepts one pending connection: Connection(ip, port, socket).");
  tcp_server.def("try_getconnection", &TCPServerSocket::try_getconnection, released());

  auto udp_server = socket_class<UDPServerSocket>(m, "UDPServerSocket", "A bound UDP socket.");
  udp_server.def("getmessage", &UDPServerSocket::getmessage, released(),
                 "Takes one datagram that has arrived: Message(ip, port, message).");
  udp_server.def("try_getmessage", &UDPServerSocket::try_getmessage, released());
}

}  // namespace repy::python
