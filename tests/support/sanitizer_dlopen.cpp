// Sanitizer runtimes refuse dlopen() with RTLD_DEEPBIND (google/sanitizers#611), and
// vdeplug opens its plugins (ptp, hub, vde, ...) exactly that way. Test binaries built
// with a sanitizer carry this dlopen, which drops the flag and hands the call on to the
// next dlopen in line (the sanitizer's own interceptor). The plugins resolve their
// symbols the ordinary way then, which works for every plugin vdeplug ships.
#include <dlfcn.h>

extern "C" void* dlopen(const char* file, int mode) {
  using dlopen_fn = void* (*)(const char*, int);
  static const auto next = reinterpret_cast<dlopen_fn>(::dlsym(RTLD_NEXT, "dlopen"));
  return next(file, mode & ~RTLD_DEEPBIND);
}
