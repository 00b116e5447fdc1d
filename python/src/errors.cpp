// repy6 for Python — Repy's exception hierarchy as Python classes, and the translation
// of repy6's C++ exceptions into them.
#include <pybind11/pybind11.h>

#include <array>
#include <cstddef>
#include <exception>
#include <stdexcept>
#include <string>
#include <type_traits>

#include "bind.hpp"

namespace repy::python {

namespace {

/// One Repy exception class: its name, its parent's, and how to recognise it.
struct ErrorClass {
  const char* name;
  const char* parent;  // nullptr for RepyException, whose parent is Exception
  bool (*matches)(const RepyException&) noexcept;
};

template <class E>
bool is(const RepyException& e) noexcept {
  if constexpr (std::is_same_v<E, RepyException>) {
    (void)e;
    return true;
  } else {
    return dynamic_cast<const E*>(&e) != nullptr;
  }
}

// The hierarchy of include/repy/errors.hpp. Parents come before their children, so the
// classes can be made in this order and, read backwards, a class is always tried before
// its ancestors when an exception is translated.
constexpr std::array classes{
    ErrorClass{"RepyException", nullptr, is<RepyException>},
    ErrorClass{"RepyArgumentError", "RepyException", is<RepyArgumentError>},
    ErrorClass{"TimeoutError", "RepyException", is<TimeoutError>},
    ErrorClass{"CodeUnsafeError", "RepyException", is<CodeUnsafeError>},
    ErrorClass{"ContextUnsafeError", "RepyException", is<ContextUnsafeError>},
    ErrorClass{"ResourceParseError", "RepyException", is<ResourceParseError>},
    ErrorClass{"ResourceUsageError", "RepyException", is<ResourceUsageError>},
    ErrorClass{"ResourceExhaustedError", "ResourceUsageError", is<ResourceExhaustedError>},
    ErrorClass{"ResourceForbiddenError", "ResourceUsageError", is<ResourceForbiddenError>},
    ErrorClass{"FileError", "RepyException", is<FileError>},
    ErrorClass{"FileNotFoundError", "FileError", is<FileNotFoundError>},
    ErrorClass{"FileInUseError", "FileError", is<FileInUseError>},
    ErrorClass{"SeekPastEndOfFileError", "FileError", is<SeekPastEndOfFileError>},
    ErrorClass{"FileClosedError", "FileError", is<FileClosedError>},
    ErrorClass{"LockDoubleReleaseError", "RepyException", is<LockDoubleReleaseError>},
    ErrorClass{"NetworkError", "RepyException", is<NetworkError>},
    ErrorClass{"NetworkAddressError", "NetworkError", is<NetworkAddressError>},
    ErrorClass{"AlreadyListeningError", "NetworkError", is<AlreadyListeningError>},
    ErrorClass{"DuplicateTupleError", "NetworkError", is<DuplicateTupleError>},
    ErrorClass{"CleanupInProgressError", "NetworkError", is<CleanupInProgressError>},
    ErrorClass{"InternetConnectivityError", "NetworkError", is<InternetConnectivityError>},
    ErrorClass{"AddressBindingError", "NetworkError", is<AddressBindingError>},
    ErrorClass{"ConnectionRefusedError", "NetworkError", is<ConnectionRefusedError>},
    ErrorClass{"LocalIPChanged", "NetworkError", is<LocalIPChanged>},
    ErrorClass{"SocketClosedLocal", "NetworkError", is<SocketClosedLocal>},
    ErrorClass{"SocketClosedRemote", "NetworkError", is<SocketClosedRemote>},
    ErrorClass{"SocketWouldBlockError", "NetworkError", is<SocketWouldBlockError>},
    ErrorClass{"TCPServerSocketInvalidError", "NetworkError", is<TCPServerSocketInvalidError>},
};

// The Python class of each entry above. Owned by the module (and never freed, like any
// class of an extension module).
std::array<PyObject*, classes.size()> python_classes{};

}  // namespace

void bind_errors(py::module_& m) {
  for (std::size_t i = 0; i < classes.size(); ++i) {
    PyObject* base = PyExc_Exception;
    if (classes[i].parent != nullptr) base = m.attr(classes[i].parent).ptr();
    // "repy6.Name": the package is where users meet the class, so tracebacks say so.
    const std::string qualified = std::string("repy6.") + classes[i].name;
    PyObject* type = PyErr_NewException(qualified.c_str(), base, nullptr);
    if (type == nullptr) throw py::error_already_set();
    python_classes[i] = type;
    m.add_object(classes[i].name, py::handle(type));
  }

  py::register_exception_translator([](std::exception_ptr thrown) {
    // Anything but a RepyException leaves this function and goes on to pybind11's own
    // translators (std::bad_alloc as MemoryError and so on).
    try {
      std::rethrow_exception(thrown);
    } catch (const RepyException& e) {
      for (std::size_t i = classes.size(); i-- > 0;) {
        if (classes[i].matches(e)) {
          PyErr_SetString(python_classes[i], e.what());
          return;
        }
      }
    }
  });
}

}  // namespace repy::python
