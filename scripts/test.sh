#!/usr/bin/env bash
# Installs dependencies, builds, and runs every test suite. Extra arguments go to
# `meson test` (e.g. `scripts/test.sh --suite netfilter`).
# Also runs the e2e suite with hvcentral and hvagent under valgrind memcheck, the unit,
# interop and e2e suites built with the sanitizers, and checks that the tree builds and passes
# its unit suite with every optional feature off.
# Environment: HV_TEST_QUICK=1 skips the extra sanitizer and minimal builds.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/deps.sh

build=build
[ -d "$build" ] || meson setup "$build" >/dev/null
meson compile -C "$build"

status=0
meson test -C "$build" --print-errorlogs --num-processes 2 "$@" || status=$?

if [ "${HV_TEST_QUICK:-0}" != 1 ] && [ $# -eq 0 ]; then
  echo "== valgrind memcheck: the e2e suite, hvcentral and hvagent under valgrind"
  meson test -C "$build" --setup memcheck --suite e2e --num-processes 1 --print-errorlogs \
    || status=$?
  echo "== sanitizers (AddressSanitizer + UBSan): unit, interop and e2e suites"
  [ -d build-asan ] || meson setup build-asan -Db_sanitize=address,undefined -Db_lundef=false >/dev/null
  meson compile -C build-asan
  # interop and e2e run the daemons themselves (hvagent, hvcentral) under the sanitizers
  meson test -C build-asan --setup asan --suite unit --suite interop --suite e2e \
    --num-processes 2 --print-errorlogs || status=$?
  echo "== optional features disabled: build + unit suite"
  [ -d build-minimal ] || meson setup build-minimal -Dlibvirt=disabled -Dnetfilter=disabled \
      -Dlibguestfs=disabled -Dconfigdrive=disabled -Dsystemd=disabled -Dmicrohttpd=disabled >/dev/null
  meson compile -C build-minimal
  meson test -C build-minimal --suite unit --print-errorlogs || status=$?
fi

scripts/test-summary.sh "$build"/meson-logs/testlog.json \
  $( [ -f "$build"/meson-logs/testlog-memcheck.json ] && echo "$build"/meson-logs/testlog-memcheck.json ) \
  $( [ -f build-asan/meson-logs/testlog-asan.json ] && echo build-asan/meson-logs/testlog-asan.json ) \
  $( [ -f build-minimal/meson-logs/testlog.json ] && echo build-minimal/meson-logs/testlog.json ) || status=$?
exit $status
