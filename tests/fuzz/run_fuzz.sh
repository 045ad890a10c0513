#!/usr/bin/env bash
# Builds the HVA/1 decoder fuzzer with clang (libFuzzer + ASan + UBSan; meson builds with
# gcc, so this script compiles directly) and runs it for a bounded time from the seed
# corpus. Usage: run_fuzz.sh SOURCE_ROOT BUILD_DIR [SECONDS]
# Exit 0: no crash; 1: a crash (the reproducer is kept and printed); 77: no clang/libFuzzer.
set -u
src=$1 build=$2 seconds=${3:-25}
out=$build/fuzz-proto
work=$(mktemp -d /tmp/hv-fuzz-XXXXXX)
trap 'rm -rf "$work"' EXIT

if ! command -v clang >/dev/null; then
	echo "SKIP: clang is not installed (apt-get install clang libclang-rt-14-dev)"; exit 77
fi
echo 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { return 0; }' >"$work/probe.c"
if ! clang -fsanitize=fuzzer "$work/probe.c" -o "$work/probe" 2>/dev/null; then
	echo "SKIP: clang has no libFuzzer runtime (apt-get install libclang-rt-14-dev)"; exit 77
fi
flags=$(pkg-config --cflags --libs jansson libzmq libsodium) || { echo "SKIP: jansson/libzmq/libsodium dev files missing"; exit 77; }

# shellcheck disable=SC2086
clang -std=c17 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined \
	-fno-sanitize-recover=undefined -Wall -Werror -Wno-unused-parameter \
	-I"$src/common" -I"$src/agent" -I"$src/plugins/include" \
	"$src/tests/fuzz/fuzz_proto.c" "$src/common/proto.c" "$src/common/json.c" \
	"$src/agent/req.c" "$src/agent/inst.c" "$src/agent/net.c" "$src/common/lifecycle.c" $flags -o "$out" || exit 1

# the committed seeds stay untouched: the run grows a private copy
mkdir -p "$work/corpus" && cp "$src"/tests/fuzz/corpus/* "$work/corpus/"
cd "$work" || exit 1
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 "$out" -max_total_time="$seconds" \
	-max_len=8192 -timeout=10 -print_final_stats=1 "$work/corpus" 2>&1 | tail -25
status=${PIPESTATUS[0]}
if [ "$status" -ne 0 ]; then
	for f in "$work"/crash-* "$work"/leak-* "$work"/timeout-*; do
		[ -e "$f" ] || continue
		cp "$f" "$build/" && echo "reproducer kept: $build/$(basename "$f")"
		od -c "$f" | head -20
	done
	exit 1
fi
echo "fuzzed ${seconds}s without a crash"
