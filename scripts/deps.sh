#!/usr/bin/env bash
# Installs the Debian packages repy6 needs to build, test and run its demo — only those
# that are missing. Does nothing (and needs no network) when all are installed.
set -euo pipefail

packages=(
  g++ cmake make pkg-config
  libboost-dev libfmt-dev libgtest-dev libgmock-dev libbenchmark-dev
  libc-ares-dev libnl-3-dev libnl-route-3-dev libnl-idiag-3-dev
  libvdestack-dev libvdeplug-dev vdeplug
  dnsmasq-base iproute2 clang-format
  python3 python3-dev pybind11-dev python3-pytest
)

if ! command -v dpkg-query >/dev/null || ! command -v apt-get >/dev/null; then
  echo "deps.sh: this script knows Debian and Ubuntu (dpkg-query, apt-get) only;" >&2
  echo "deps.sh: install the equivalents of: ${packages[*]}" >&2
  exit 1
fi

missing=()
for package in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$package" 2>/dev/null || true)
  [[ $status == installed ]] || missing+=("$package")
done

if ((${#missing[@]} == 0)); then
  echo "deps.sh: all ${#packages[@]} packages are installed"
  exit 0
fi

as_root=()
if ((EUID != 0)); then
  if ! command -v sudo >/dev/null; then
    echo "deps.sh: missing packages and no sudo; as root run:" >&2
    echo "  apt-get update && apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
  as_root=(sudo)
fi

echo "deps.sh: installing ${missing[*]}"
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive \
  apt-get install -y --no-install-recommends "${missing[@]}"
