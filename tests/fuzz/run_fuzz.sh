#!/usr/bin/env bash
# Builds one libFuzzer target with clang (libFuzzer + ASan + UBSan, leak detection on; see
# targets.sh) and runs it for a bounded time from its seed corpus, in a private temp
# directory that is removed afterwards (the committed seeds stay untouched).
# Usage: run_fuzz.sh SOURCE_ROOT BUILD_DIR TARGET [SECONDS]
# Exit 0: no crash; 1: a crash, leak or timeout (the reproducer is kept in BUILD_DIR and
# printed); 77: no clang, libFuzzer runtime or library development files.
set -u
src=$1 build=$2 target=$3 seconds=${4:-5}
# shellcheck source=targets.sh
. "$src/tests/fuzz/targets.sh"
fuzz_build "$src" "$build" "$target"
status=$?
[ "$status" -eq 0 ] || exit "$status"

work=$(mktemp -d /tmp/hv-fuzz-XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/corpus" && fuzz_copy_seeds "$src" "$target" "$work/corpus"
cd "$work" || exit 1
# TMPDIR: a target that needs files makes them under the run's own directory
TMPDIR=$work ASAN_OPTIONS=$FUZZ_ASAN_OPTIONS "$build/fuzz-$target" \
	-max_total_time="$seconds" -max_len=8192 -timeout=10 -print_final_stats=1 \
	"$work/corpus" 2>&1 | tail -25
status=${PIPESTATUS[0]}
if [ "$status" -ne 0 ]; then
	for f in "$work"/crash-* "$work"/leak-* "$work"/timeout-*; do
		[ -e "$f" ] || continue
		cp "$f" "$build/$target-$(basename "$f")" &&
			echo "reproducer kept: $build/$target-$(basename "$f")"
		od -c "$f" | head -20
	done
	exit 1
fi
echo "fuzz-$target: fuzzed ${seconds}s without a crash"
