#!/usr/bin/env bash
# Installs dependencies, builds, and runs every test suite. Extra arguments go to
# `meson test` (e.g. `scripts/test.sh --suite netfilter`) and run only that.
# Without arguments it also runs the e2e suite with hvcentral and hvagent under valgrind
# memcheck, the unit, interop and e2e suites built with the sanitizers, and checks that the
# tree builds and passes its unit suite with every optional feature off.
#
# Two lanes run at once, one core each:
#   guests  the suites that boot QEMU/TCG guests, launch libguestfs appliances, drive
#           Chromium or run rpmbuild (libvirt, guest, dashboard, packaging), one at a time:
#           they share the system libvirtd and each keeps a core busy;
#   rest    every other test of the default build (two at once where a test allows it),
#           then memcheck, the sanitizer build and the minimal build.
# The guests lane's output is printed when both lanes are done.
# Environment: HV_TEST_QUICK=1 skips the extra memcheck, sanitizer and minimal runs.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/deps.sh

build=build
[ -d "$build" ] || meson setup "$build" >/dev/null
meson compile -C "$build"

if [ $# -gt 0 ]; then
  status=0
  meson test -C "$build" --print-errorlogs --num-processes 2 "$@" || status=$?
  exit $status
fi

guest_suites=(libvirt guest dashboard packaging)

lane_guests() {
  local args=() s
  for s in "${guest_suites[@]}"; do args+=(--suite "$s"); done
  meson test -C "$build" --no-rebuild --print-errorlogs --num-processes 1 \
    --logbase testlog-guests "${args[@]}"
}

lane_rest() {
  local args=() s status=0
  for s in "${guest_suites[@]}"; do args+=(--no-suite "$s"); done
  meson test -C "$build" --no-rebuild --print-errorlogs --num-processes 2 "${args[@]}" \
    || status=$?
  if [ "${HV_TEST_QUICK:-0}" = 1 ]; then return $status; fi

  echo "== valgrind memcheck: the e2e suite, hvcentral and hvagent under valgrind"
  meson test -C "$build" --no-rebuild --setup memcheck --suite e2e --num-processes 2 \
    --print-errorlogs || status=$?
  echo "== sanitizers (AddressSanitizer + UBSan): unit, interop and e2e suites"
  [ -d build-asan ] || meson setup build-asan -Db_sanitize=address,undefined -Db_lundef=false >/dev/null
  nice meson compile -C build-asan || return 1
  # interop and e2e run the daemons themselves (hvagent, hvcentral) under the sanitizers
  meson test -C build-asan --no-rebuild --setup asan --suite unit --suite interop --suite e2e \
    --num-processes 2 --print-errorlogs || status=$?
  echo "== optional features disabled: build + unit suite"
  [ -d build-minimal ] || meson setup build-minimal -Dlibvirt=disabled -Dnetfilter=disabled \
      -Dlibguestfs=disabled -Dconfigdrive=disabled -Dsystemd=disabled -Dmicrohttpd=disabled >/dev/null
  nice meson compile -C build-minimal || return 1
  meson test -C build-minimal --no-rebuild --suite unit --print-errorlogs || status=$?
  return $status
}

guests_log=$build/meson-logs/lane-guests.txt
mkdir -p "$build/meson-logs"
start=$SECONDS
(lane_guests; rc=$?; echo "== the guests lane (${guest_suites[*]}) took $((SECONDS - start)) s"; exit $rc) \
  >"$guests_log" 2>&1 &
guests_pid=$!
status=0
lane_rest || status=$?
echo "== the other lane took $((SECONDS - start)) s"
wait "$guests_pid" || status=1
cat "$guests_log"

logs=("$build"/meson-logs/testlog.json "$build"/meson-logs/testlog-guests.json)
for f in "$build"/meson-logs/testlog-memcheck.json build-asan/meson-logs/testlog-asan.json \
  build-minimal/meson-logs/testlog.json; do
  if [ -f "$f" ]; then logs+=("$f"); fi
done
scripts/test-summary.sh "${logs[@]}" || status=$?
exit $status
