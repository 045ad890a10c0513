#!/usr/bin/env bash
# cmd_throughput.sh - starts hvcentral and one hvagent (fake driver, no added latency) in a
# temp dir on ipc:// sockets, runs cmd_throughput (spawn+delete pairs through the API), and
# prints commands/s with p50/p99 latency. Cleans up everything it started.
# Usage: bench/cmd_throughput.sh [BUILD_DIR] [-- cmd_throughput options]
#   BUILD_DIR defaults to build; HV_BENCH_DIR picks the temp dir's parent (default /tmp;
#   /dev/shm shows the cost of the agent's fsync'd journal by removing it).
#   HV_BENCH_CALLGRIND=agent (or =central) runs that process under callgrind (counts zeroed
#   once the agent is up, dumped after the run) and prints its instructions per command, a
#   figure that does not depend on machine load; use a small --pairs then (valgrind is ~50x
#   slower). HV_BENCH_KEEP=DIR keeps the profile for callgrind_annotate.
# Figures (2 cores, debugoptimized, --pairs 1000, window 64; median of 3; instructions from
# HV_BENCH_CALLGRIND with --pairs 200), before -> after the group-commit journal and the
# direct JSON codec:
#   hvagent   instructions/command 1.48 M -> 0.67 M; CPU/command 655-815 -> 260-325 us
#   hvcentral instructions/command 1.36 M -> 0.84 M; CPU/command 390-505 -> 225-300 us
#   /dev/shm  761 -> 2414 commands/s, p50 64 -> 26 ms, p99 277 -> 42 ms (load 2.3-6)
#   disk      230 -> 1693 commands/s, p50 220 -> 37 ms, p99 750 -> 64 ms (--pairs 500 before)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$here/build}
[ "${1:-}" ] && shift
[ "${1:-}" = "--" ] && shift
build=$(cd "$build" && pwd)
for b in central/hvcentral agent/hvagent cli/hv bench/cmd_throughput drivers/fake/hvagent-driver-fake.so; do
	[ -e "$build/$b" ] || { echo "cmd_throughput: $build/$b not built" >&2; exit 2; }
done
dir=$(mktemp -d "${HV_BENCH_DIR:-/tmp}/hv-bench.XXXXXX")
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$dir"
}
trap cleanup EXIT INT TERM

pub=$("$build/central/hvcentral" --init "$dir/central" 2>/dev/null)
cat > "$dir/central.conf" <<CONF
[DEFAULT]
state_dir = $dir/central
log_level = warning
[agents]
endpoint = ipc://$dir/agents.sock
[api]
endpoint = ipc://$dir/api.sock
CONF
mkdir -p "$dir/agent"
cat > "$dir/agent.conf" <<CONF
[DEFAULT]
host_id = node-1
state_dir = $dir/agent
driver = fake
driver_dir = $build/drivers/fake
instances_path = $dir/agent/instances
image_store = $dir/images
log_level = warning
max_concurrent_builds = 16
[controller]
endpoint = ipc://$dir/agents.sock
server_public_key = $pub
keys_dir = $dir/agent/keys
[fake]
vcpus = 4096
memory_mb = 16000000
local_gb = 1000000
CONF
"$build/agent/hvagent" -c "$dir/agent.conf" --show-public-key > "$dir/central/agents/node-1.pub"
wrap=() cwrap=() prof=${HV_BENCH_CALLGRIND:-}
[ "$prof" = 1 ] && prof=agent
cg=(valgrind --tool=callgrind --callgrind-out-file="$dir/callgrind.out" --dump-instr=no)
[ "$prof" = agent ] && wrap=("${cg[@]}")
[ "$prof" = central ] && cwrap=("${cg[@]}")
exec 3< <("${cwrap[@]}" "$build/central/hvcentral" -c "$dir/central.conf" 2>"$dir/hvcentral.log")
pids+=($!)
read -r ready <&3
HVAGENT_DRIVER_DIR=$build/drivers/fake "${wrap[@]}" "$build/agent/hvagent" -c "$dir/agent.conf" 2>"$dir/agent.log" &
pids+=($!)
export HV_API=ipc://$dir/api.sock
for _ in $(seq 100); do
	"$build/cli/hv" host list -f json 2>/dev/null | grep -q '"state": "up"' && break
	sleep 0.1
done
# the window keeps more servers alive at once than the default quota (10) allows
"$build/cli/hv" quota set --instances -1 --cores -1 --ram -1 >/dev/null
cpu_ms() { # utime+stime of the process whose command line names FILE, in ms
	local pid
	pid=$(pgrep -f -- "$1" | head -1)
	awk -v hz="$(getconf CLK_TCK)" '{ print ($14 + $15) * 1000 / hz }' "/proc/$pid/stat"
}
c0=$(cpu_ms "$dir/central.conf"); a0=$(cpu_ms "$dir/agent.conf")
[ "$prof" ] && callgrind_control -z "$(pgrep -f -- "$dir/$prof.conf" | head -1)" >/dev/null
echo "== cmd_throughput: API -> hvcentral -> hvagent -> fake driver -> RESULT ($(nproc) cores, state in ${HV_BENCH_DIR:-/tmp})"
out=$("$build/bench/cmd_throughput" --host node-1 "$@")
echo "$out"
c1=$(cpu_ms "$dir/central.conf"); a1=$(cpu_ms "$dir/agent.conf")
n=$(echo "$out" | awk '/^commands:/ { print $2 }')
# CPU per command does not depend on what else runs on the machine; throughput does
awk -v n="$n" -v c="$c1" -v c0="$c0" -v a="$a1" -v a0="$a0" 'BEGIN { c -= c0; a -= a0
	printf "CPU per command: hvcentral %.0f us, hvagent %.0f us (capacity on one free core each: %.0f / %.0f commands/s)\n",
		c * 1000 / n, a * 1000 / n, n * 1000 / c, n * 1000 / a }'
if [ "$prof" ]; then
	callgrind_control -d "$(pgrep -f -- "$dir/$prof.conf" | head -1)" >/dev/null 2>&1
	ir=$(callgrind_annotate "$dir/callgrind.out.1" 2>/dev/null |
		awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1 + 0 }')
	awk -v ir="$ir" -v n="$n" -v p="$prof" 'BEGIN {
		printf "%s instructions per command: %.0f (callgrind)\n", p == "agent" ? "hvagent" : "hvcentral", ir / n }'
	[ "${HV_BENCH_KEEP:-}" ] && cp "$dir"/callgrind.out* "$HV_BENCH_KEEP"/
fi
echo "machine load while measuring: $(cut -d' ' -f1-3 /proc/loadavg)"
