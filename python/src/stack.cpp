// repy6 for Python — repy.Stack with iothpy's face: the constructor, the configuration
// calls, getaddrinfo/getnameinfo shaped like the socket module's, and socket() giving
// a standard socket.socket whose fd lives in the stack. Also AddrInfo.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include "bind.hpp"

namespace repy::python {

namespace {

using namespace pybind11::literals;

// iothpy takes one VDE URL or a list of them.
std::vector<std::string> vde_urls(const py::object& vdeurl) {
  if (vdeurl.is_none()) return {};
  if (py::isinstance<py::str>(vdeurl)) return {vdeurl.cast<std::string>()};
  return vdeurl.cast<std::vector<std::string>>();
}

// socket.getaddrinfo's port: None, a number or a service name.
std::string service_text(const py::object& port) {
  if (port.is_none()) return {};
  if (py::isinstance<py::int_>(port)) return std::to_string(port.cast<long long>());
  return port.cast<std::string>();
}

// iothpy's linksetaddr takes "80:00:42:0e:e7:3a" or the six bytes themselves.
std::string mac_text(const py::object& mac) {
  if (!py::isinstance<py::bytes>(mac) && !py::isinstance<py::bytearray>(mac)) {
    return mac.cast<std::string>();
  }
  std::string raw =
      py::isinstance<py::bytes>(mac) ? mac.cast<std::string>() : std::string(py::bytearray(mac));
  if (raw.size() != 6) {
    throw RepyArgumentError("Stack.linksetaddr: mac: 6 bytes expected, got " +
                            std::to_string(raw.size()));
  }
  std::string text;
  for (unsigned char byte : raw) {
    char part[4];
    std::snprintf(part, sizeof part, text.empty() ? "%02x" : ":%02x", byte);
    text += part;
  }
  return text;
}

// The socket module's enum for a value (AddressFamily.AF_INET6, ...), or the plain
// number when the enum has no such member, as socket.getaddrinfo does.
py::object as_enum(const py::object& enum_type, int value) {
  try {
    return enum_type(value);
  } catch (py::error_already_set& e) {
    if (!e.matches(PyExc_ValueError)) throw;
    return py::int_(value);
  }
}

}  // namespace

py::tuple addrinfo_tuple(const AddrInfo& info) {
  py::tuple sockaddr = info.family == AF_INET6
                           ? py::make_tuple(info.ip, info.port, info.flowinfo, info.scope_id)
                           : py::make_tuple(info.ip, info.port);
  return py::make_tuple(info.family, info.socktype, info.protocol, info.canonname, sockaddr);
}

void bind_stack(py::module_& m) {
  py::class_<AddrInfo>(m, "AddrInfo", "One getaddrinfo() result (the C++ AddrInfo).")
      .def_readonly("family", &AddrInfo::family)
      .def_readonly("socktype", &AddrInfo::socktype)
      .def_readonly("protocol", &AddrInfo::protocol)
      .def_readonly("canonname", &AddrInfo::canonname)
      .def_readonly("ip", &AddrInfo::ip)
      .def_readonly("port", &AddrInfo::port)
      .def_readonly("flowinfo", &AddrInfo::flowinfo)
      .def_readonly("scope_id", &AddrInfo::scope_id)
      .def("astuple", &addrinfo_tuple,
           "(family, type, proto, canonname, sockaddr) with plain numbers, as Repy's "
           "getAddripv6 gives them.")
      .def("__eq__", [](const AddrInfo& a, const AddrInfo& b) { return a == b; })
      .def("__hash__", [](const AddrInfo& a) { return py::hash(addrinfo_tuple(a)); })
      .def("__repr__", [](const AddrInfo& a) {
        return "AddrInfo" + py::repr(addrinfo_tuple(a)).cast<std::string>();
      });

  py::class_<Stack>(m, "Stack",
                    "A network stack: the host kernel's, a network namespace, or a VDE "
                    "user-level stack; iothpy's Stack.")
      .def(py::init([](std::string_view stack, const py::object& vdeurl,
                       std::optional<std::string> config_dns) {
             auto urls = vde_urls(vdeurl);
             py::gil_scoped_release unlocked;  // a vdestack takes a while to start
             return Stack(stack, std::move(urls), config_dns.value_or(std::string()));
           }),
           "stack"_a, "vdeurl"_a = py::none(), "config_dns"_a = py::none(),
           "iothpy's constructor: 'kernel', 'vdestack' (one interface vde0, vde1, ... per URL "
           "in vdeurl, a str or a list), or a one-string configuration such as "
           "'stack=vdestack,vnl=ptp:///tmp/x,eth,ip=fc00::1/64'. config_dns is resolv.conf "
           "text or a path to such a file.")
      .def_static("host", &Stack::host, "The kernel stack of this process.")
      .def_static("netns", &Stack::netns, "name_or_path"_a, released(),
                  "An existing network namespace: a name (/run/netns/NAME) or a path.")
      .def("if_nametoindex", &Stack::if_nametoindex, "ifname"_a, released())
      .def("linksetupdown", &Stack::linksetupdown, "ifindex"_a, "up"_a, released())
      .def("linkgetaddr", &Stack::linkgetaddr, "ifindex"_a, released())
      .def(
          "linksetaddr",
          [](Stack& s, int ifindex, const py::object& mac) {
            auto text = mac_text(mac);
            py::gil_scoped_release unlocked;
            s.linksetaddr(ifindex, text);
          },
          "ifindex"_a, "mac"_a)
      .def("linksetmtu", &Stack::linksetmtu, "ifindex"_a, "mtu"_a, released())
      .def("iplink_add", &Stack::iplink_add, "ifname"_a, "ifindex"_a, "type"_a, "data"_a = "",
           released())
      .def("iplink_del", &Stack::iplink_del, "ifname"_a, "ifindex"_a = 0, released())
      .def("ipaddr_add", &Stack::ipaddr_add, "family"_a, "addr"_a, "prefixlen"_a, "ifindex"_a,
           released())
      .def("ipaddr_del", &Stack::ipaddr_del, "family"_a, "addr"_a, "prefixlen"_a, "ifindex"_a,
           released())
      .def("iproute_add", &Stack::iproute_add, "family"_a, "gw"_a, "dst"_a = "",
           "dst_prefixlen"_a = 0, "ifindex"_a = 0, released())
      .def("iproute_del", &Stack::iproute_del, "family"_a, "gw"_a, "dst"_a = "",
           "dst_prefixlen"_a = 0, "ifindex"_a = 0, released())
      .def("iothconfig", &Stack::iothconfig, "config"_a, released())
      .def("iothdns_update", &Stack::iothdns_update, "resolvconf"_a, released())
      .def(
          "getaddrinfo",
          [](const Stack& s, std::optional<std::string> host, const py::object& port, int family,
             int type, int proto, int flags) {
            const std::string service = service_text(port);
            std::vector<AddrInfo> infos;
            {
              py::gil_scoped_release unlocked;
              infos =
                  s.getaddrinfo(host.value_or(std::string()), service, family, type, proto, flags);
            }
            py::module_ socket = py::module_::import("socket");
            py::list out;
            for (const auto& info : infos) {
              py::tuple plain = addrinfo_tuple(info);
              out.append(py::make_tuple(as_enum(socket.attr("AddressFamily"), info.family),
                                        as_enum(socket.attr("SocketKind"), info.socktype), plain[2],
                                        plain[3], plain[4]));
            }
            return out;
          },
          "host"_a, "port"_a = py::none(), "family"_a = 0, "type"_a = 0, "proto"_a = 0,
          "flags"_a = 0,
          "socket.getaddrinfo on this stack's resolver: a list of (family, type, proto, "
          "canonname, sockaddr).")
      .def(
          "getnameinfo",
          [](const Stack& s, const py::tuple& sockaddr, int flags) {
            if (sockaddr.size() < 2) {
              throw RepyArgumentError("Stack.getnameinfo: sockaddr: (host, port, ...) expected");
            }
            auto ip = sockaddr[0].cast<std::string>();
            auto port = sockaddr[1].cast<int>();
            py::gil_scoped_release unlocked;
            return s.getnameinfo(ip, port, flags);
          },
          "sockaddr"_a, "flags"_a = 0, "socket.getnameinfo((host, port), flags) on this stack.")
      .def("getnameinfo", &Stack::getnameinfo, "ip"_a, "port"_a, "flags"_a = 0, released())
      .def(
          "socket",
          [](const Stack& s, int family, int type, int proto) {
            // iothpy's defaults, IPv6 first as everywhere in repy6.
            if (family == -1) family = AF_INET6;
            if (type == -1) type = SOCK_STREAM;
            if (proto == -1) proto = 0;
            int fd = -1;
            {
              py::gil_scoped_release unlocked;
              fd = s.socket(family, type, proto);
            }
            // The socket object owns the fd from here; until it exists, this code does.
            try {
              return py::module_::import("socket").attr("socket")(family, type, proto, fd);
            } catch (...) {
              ::close(fd);
              throw;
            }
          },
          "family"_a = -1, "type"_a = -1, "proto"_a = -1,
          "A standard socket.socket made inside this stack (defaults: AF_INET6, SOCK_STREAM).");
}

}  // namespace repy::python
