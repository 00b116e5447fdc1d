#!/usr/bin/env bash
# Builds and runs the consumer program (tests/consumer) against repy6 one of three ways:
#   find_package     install the build tree into a temporary prefix, check that the
#                    licence is installed, then find_package(repy6 CONFIG) through
#                    CMAKE_PREFIX_PATH
#   add_subdirectory add_subdirectory(<source tree>) from the consumer's project, always
#                    as a shared librepy6 (the other two use the build tree's library):
#                    checks that it exports no repy::detail, Boost or fmt symbol, and
#                    that installing the consumer installs nothing of repy6
#   pkg_config       the same install as find_package, compiled by hand with
#                    `pkg-config --cflags --libs repy6` (no --static, even for librepy6.a)
# Usage: run.sh MODE --source DIR --build DIR --work DIR [--cxx COMPILER]
#               [--build-type TYPE] [--cxx-flags FLAGS] [--ld-flags FLAGS] [--shared ON|OFF]
# --shared says what the build tree holds.
set -euo pipefail

mode=${1:?usage: run.sh find_package|add_subdirectory|pkg_config --source DIR ...}
shift
source_dir="" build_dir="" work_dir="" cxx="c++" build_type="" cxx_flags="" ld_flags=""
shared="OFF"
while (($#)); do
  case "$1" in
    --source) source_dir=$2 ;;
    --build) build_dir=$2 ;;
    --work) work_dir=$2 ;;
    --cxx) cxx=$2 ;;
    --build-type) build_type=$2 ;;
    --cxx-flags) cxx_flags=$2 ;;
    --ld-flags) ld_flags=$2 ;;
    --shared) shared=$2 ;;
    *) echo "run.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
  shift 2
done
[[ -n $source_dir && -n $build_dir && -n $work_dir ]] || {
  echo "run.sh: --source, --build and --work are required" >&2
  exit 2
}

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
jobs=${REPY6_CONSUMER_JOBS:-2}
rm -rf "$work_dir"
mkdir -p "$work_dir"

# The compiler, build type and flags of the repy6 build, so that (for instance) an
# ASan-instrumented static librepy6 is linked with the ASan runtime.
common=(-DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_BUILD_TYPE="$build_type"
        -DCMAKE_CXX_FLAGS="$cxx_flags" -DCMAKE_EXE_LINKER_FLAGS="$ld_flags"
        -DCMAKE_SHARED_LINKER_FLAGS="$ld_flags")

install_repy6() {
  echo "== installing repy6 from $build_dir into $work_dir/prefix"
  local config=()
  [[ -n $build_type ]] && config=(--config "$build_type")
  cmake --install "$build_dir" --prefix "$work_dir/prefix" "${config[@]}"
  if [[ $shared == ON ]]; then
    check_exports "$(find "$work_dir/prefix" -name 'librepy6.so' -print -quit)"
  fi
}

# Fails when the shared library $1 exports anything of repy::detail, Boost or fmt:
# only what include/repy marks REPY6_API may leave it.
check_exports() {
  local symbols leaked
  symbols=$(nm -D --defined-only -C "$1")
  leaked=$(grep -E 'repy::detail|boost::|fmt::' <<<"$symbols" || true)
  echo "== $(basename "$1") exports $(wc -l <<<"$symbols") symbols"
  if [[ -n $leaked ]]; then
    echo "FAIL: $1 exports symbols that are not repy6's API:" >&2
    head -n 20 <<<"$leaked" >&2
    exit 1
  fi
  echo "ok  : no repy::detail, boost:: or fmt:: symbol among them"
}

run_consumer() {
  echo "== running $1"
  # A shared librepy6 lives in the temporary prefix, not on the loader's path.
  local lib
  lib=$(find "$work_dir/prefix" -name 'librepy6.so*' -print -quit 2>/dev/null || true)
  if [[ -n $lib ]]; then
    LD_LIBRARY_PATH="$(dirname "$lib")${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" "$1"
  else
    "$1"
  fi
}

case "$mode" in
  find_package)
    install_repy6
    # CMAKE_INSTALL_DOCDIR, by default share/doc/repy6.
    license=$(find "$work_dir/prefix" -path '*/doc/repy6/LICENSE' -print -quit)
    if [[ -z $license ]] || ! cmp -s "$source_dir/LICENSE" "$license"; then
      echo "FAIL: the install has no copy of LICENSE in share/doc/repy6" >&2
      exit 1
    fi
    echo "ok  : LICENSE is installed as ${license#"$work_dir/prefix/"}"
    echo "== configuring the consumer with find_package(repy6 CONFIG)"
    cmake -S "$here" -B "$work_dir/build" "${common[@]}" \
      -DREPY6_CONSUMER_MODE=package -DCMAKE_PREFIX_PATH="$work_dir/prefix"
    cmake --build "$work_dir/build" -j "$jobs"
    run_consumer "$work_dir/build/consumer"
    ;;
  add_subdirectory)
    echo "== configuring the consumer with add_subdirectory($source_dir)"
    cmake -S "$here" -B "$work_dir/build" "${common[@]}" \
      -DREPY6_CONSUMER_MODE=subdirectory -DREPY6_SOURCE_DIR="$source_dir" \
      -DBUILD_SHARED_LIBS=ON
    cmake --build "$work_dir/build" -j "$jobs"
    check_exports "$work_dir/build/repy6/librepy6.so"
    # repy6 is a part of this project, not a package of its own: no install rules.
    cmake --install "$work_dir/build" --prefix "$work_dir/prefix"
    if [[ -n $(find "$work_dir/prefix" -type f 2>/dev/null) ]]; then
      echo "FAIL: installing the consumer installed repy6's files:" >&2
      find "$work_dir/prefix" -type f >&2
      exit 1
    fi
    echo "ok  : installing the consumer installs nothing of repy6"
    run_consumer "$work_dir/build/consumer"  # its build RPATH finds librepy6.so
    ;;
  pkg_config)
    install_repy6
    pc_dir=$(dirname "$(find "$work_dir/prefix" -name repy6.pc -print -quit)")
    export PKG_CONFIG_PATH="$pc_dir${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
    echo "== pkg-config repy6 $(pkg-config --modversion repy6) from $pc_dir"
    # shellcheck disable=SC2046,SC2086  # pkg-config output and flags are word lists
    "$cxx" -std=c++20 $cxx_flags $(pkg-config --cflags repy6) "$here/main.cpp" \
      -o "$work_dir/consumer" $ld_flags $(pkg-config --libs repy6)
    run_consumer "$work_dir/consumer"
    ;;
  *)
    echo "run.sh: unknown mode '$mode'" >&2
    exit 2
    ;;
esac
