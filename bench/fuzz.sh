#!/usr/bin/env bash
# Runs every fuzz target (tests/fuzz/targets.sh) for RUNS executions each, one after
# another, from its committed seeds, and prints per target the executions, executions per
# second, the coverage (edges "cov" and features "ft") at the start and at the end, the new
# corpus units, and the crashes (0 expected: any crash, leak or timeout is a bug; its
# reproducer is kept in BUILD_DIR/tests/fuzz and the script exits 1). Each row is printed
# when its target is done, and the whole table again at the end.
# Usage: bench/fuzz.sh [BUILD_DIR] [RUNS] [TARGET...]  (defaults: build, 1000000, all)
# HV_FUZZ_MAX_SECONDS=N stops each target after N seconds (its row then shows the executions
# it made), for a machine too slow to make RUNS executions in the time there is.
# Each target runs in a temp directory removed afterwards; nothing else is written. It takes
# a while (the controller targets set up a controller per input): run it under nice.
set -u

header() {
	printf '%-11s %10s %8s %7s %7s %7s %7s %7s %6s %7s\n' target execs exec/s time \
		cov0 cov ft0 ft new crashes
}

# run_target TARGET: prints its row; returns 1 on a crash or a failed build.
run_target() {
	local t=$1 status work start secs execs rate units cov0 cov1 crashes=0 f
	fuzz_build "$src" "$out" "$t" >"$out/bench-build-$t.log" 2>&1
	status=$?
	if [ "$status" -ne 0 ]; then
		printf '%-11s %s\n' "$t" "not built: $(tail -1 "$out/bench-build-$t.log")"
		[ "$status" -eq 77 ]
		return
	fi
	work=$(mktemp -d /tmp/hv-fuzz-bench-XXXXXX)
	mkdir -p "$work/corpus" && fuzz_copy_seeds "$src" "$t" "$work/corpus"
	start=$(date +%s)
	(cd "$work" && TMPDIR=$work ASAN_OPTIONS="$FUZZ_ASAN_OPTIONS" "$out/fuzz-$t" \
		-runs="$runs" -max_total_time="${HV_FUZZ_MAX_SECONDS:-0}" -max_len=8192 -timeout=10 -print_final_stats=1 corpus \
		>"$work/log" 2>&1)
	secs=$(($(date +%s) - start))
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/log")
	rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$work/log")
	units=$(sed -n 's/^stat::new_units_added: *//p' "$work/log")
	cov0=$(grep -m1 'INITED' "$work/log" | sed -n 's/.* cov: \([0-9]*\) ft: \([0-9]*\).*/\1 \2/p')
	cov1=$(grep ' cov: ' "$work/log" | tail -1 | sed -n 's/.* cov: \([0-9]*\) ft: \([0-9]*\).*/\1 \2/p')
	for f in "$work"/crash-* "$work"/leak-* "$work"/timeout-* "$work"/oom-*; do
		[ -e "$f" ] || continue
		crashes=$((crashes + 1))
		cp "$f" "$out/$t-$(basename "$f")"
		echo "fuzz-$t: reproducer kept: $out/$t-$(basename "$f")" >&2
		grep -m3 'ERROR\|SUMMARY' "$work/log" >&2
	done
	rm -rf "$work"
	# shellcheck disable=SC2086 # "cov ft" pairs split into words on purpose
	set -- ${cov0:-? ?} ${cov1:-? ?}
	printf '%-11s %10s %8s %6ss %7s %7s %7s %7s %6s %7s\n' "$t" "${execs:-?}" "${rate:-?}" \
		"$secs" "$1" "$3" "$2" "$4" "${units:-?}" "$crashes"
	[ "$crashes" -eq 0 ]
}

main() {
	src=$(cd "$(dirname "$0")/.." && pwd)
	local build=${1:-build} rows="" failed=0 t row targets
	runs=${2:-1000000}
	shift 2 2>/dev/null || shift $#
	targets=$*
	mkdir -p "$build/tests/fuzz" || return 1
	out=$(cd "$build/tests/fuzz" && pwd)
	# shellcheck source=../tests/fuzz/targets.sh
	. "$src/tests/fuzz/targets.sh"
	echo "fuzzing, $runs executions per target ($(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg))"
	header
	for t in ${targets:-$FUZZ_TARGETS}; do
		row=$(run_target "$t") || failed=1
		echo "$row"
		rows="$rows$row"$'\n'
	done
	echo
	echo "fuzzing, $runs executions per target: every target"
	header
	printf '%s' "$rows"
	return "$failed"
}

# one line, so that editing this file while it runs cannot change what bash reads next
main "$@"; exit $?
