#!/usr/bin/env bash
# Formats the C++ sources with the repository's .clang-format, or with --check lists
# the files that differ (exit 1 when any does) without touching them.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if ! command -v clang-format >/dev/null; then
  echo "format.sh: clang-format is not installed (apt-get install clang-format)" >&2
  exit 2
fi
mapfile -t files < <(git ls-files '*.cpp' '*.hpp')
if [[ ${1:-} == --check ]]; then
  differ=()
  for file in "${files[@]}"; do
    clang-format --dry-run --Werror "$file" >/dev/null 2>&1 || differ+=("$file")
  done
  if ((${#differ[@]})); then
    printf 'format.sh: not clang-formatted: %s\n' "${differ[@]}"
    exit 1
  fi
  echo "format.sh: all ${#files[@]} files are clang-formatted"
else
  clang-format -i "${files[@]}"
fi
