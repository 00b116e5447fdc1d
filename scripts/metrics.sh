#!/usr/bin/env bash
# Prints the structure figures the project tracks, for the tree it is run in:
#   files over 400 lines and functions over 60 (clang-tidy's readability-function-size,
#   on build/dev/compile_commands.json), places outside the error map that throw a
#   network error (NetworkError and its subclasses), EINTR handling outside the socket
#   operations, and the dynamic symbols a shared librepy6 exports (with --symbols: builds
#   one in build/metrics-shared).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

mapfile -t sources < <(git ls-files 'src/*.cpp' 'src/*.hpp')
mapfile -t units < <(git ls-files 'src/*.cpp')

echo "== files over 400 lines"
wc -l "${sources[@]}" | awk '$2 != "total" && $1 > 400 {print "  " $1 " " $2; n++} END {print "  count: " n+0}'

echo "== functions over 60 lines"
[[ -f build/dev/compile_commands.json ]] || cmake --preset dev >/dev/null
clang-tidy -p build/dev --quiet -checks='-*,readability-function-size' \
  -config='{CheckOptions: [{key: readability-function-size.LineThreshold, value: 60}]}' \
  "${units[@]}" 2>/dev/null | { grep -E "warning: function .* exceeds" || true; } |
  sed 's/^/  /' | sort -u | tee /tmp/metrics-functions.txt | sed 's|^  /[^ ]*/src/|  src/|'
echo "  count: $(wc -l </tmp/metrics-functions.txt)"

echo "== network errors thrown outside the error map"
network='NetworkError|NetworkAddressError|AlreadyListeningError|DuplicateTupleError|CleanupInProgressError|InternetConnectivityError|AddressBindingError|ConnectionRefusedError|LocalIPChanged|SocketClosedLocal|SocketClosedRemote|SocketWouldBlockError|TCPServerSocketInvalidError'
grep -nE "throw ($network)\(" "${sources[@]}" | grep -v 'error_map.cpp:' | sed 's/^/  /' || true
echo "  count: $(grep -nE "throw ($network)\(" "${sources[@]}" | grep -vc 'error_map.cpp:' || true)"

echo "== EINTR handled outside the socket operations"
grep -n 'EINTR' "${sources[@]}" | grep -vE ':[0-9]+: *//' | grep -v '^src/net/socket_ops' | sed 's/^/  /' || true
echo "  count: $(grep -n 'EINTR' "${sources[@]}" | grep -vE ':[0-9]+: *//' | grep -vc '^src/net/socket_ops' || true)"

if [[ ${1:-} == --symbols ]]; then
  echo "== dynamic symbols of a shared librepy6 (Release)"
  cmake -S . -B build/metrics-shared -DBUILD_SHARED_LIBS=ON -DCMAKE_BUILD_TYPE=Release \
    -DREPY6_BUILD_TESTS=OFF -DREPY6_BUILD_EXAMPLES=OFF -DREPY6_BUILD_BENCHMARKS=OFF \
    -DREPY6_BUILD_PYTHON=OFF >/dev/null
  cmake --build build/metrics-shared -j2 --target repy6 >/dev/null
  lib=$(ls build/metrics-shared/librepy6.so.* | head -1)
  symbols=$(nm -D --defined-only -C "$lib")
  echo "  total: $(wc -l <<<"$symbols")"
  echo "  repy::detail: $(grep -c 'repy::detail' <<<"$symbols" || true)"
  echo "  boost:: or fmt::: $(grep -Ec 'boost::|fmt::' <<<"$symbols" || true)"
fi
