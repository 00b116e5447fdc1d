#!/usr/bin/env bash
# Builds repy6 and runs its test suite three ways: the `dev` preset (Debug, warnings
# are errors, every test), `asan` (AddressSanitizer + UBSan) and `tsan` (ThreadSanitizer,
# the tests labelled `concurrency`), after checking that the sources are clang-formatted.
# Stops at the first failure, exiting non-zero.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

step=""
trap 'status=$?; if ((status != 0)); then echo "test.sh: FAILED at: $step" >&2; fi' EXIT

run() {
  step="$*"
  echo
  echo "==== $step"
  "$@"
}

run bash scripts/deps.sh
run bash scripts/format.sh --check
for preset in dev asan tsan; do
  run cmake --preset "$preset"
  run cmake --build --preset "$preset"
  run ctest --preset "$preset" --output-on-failure
done
step=""
echo
echo "test.sh: all presets passed (dev, asan, tsan)"
