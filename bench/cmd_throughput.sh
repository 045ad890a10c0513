#!/usr/bin/env bash
# cmd_throughput.sh - starts hvcentral and one hvagent (fake driver, no added latency) in a
# temp dir on ipc:// sockets, runs cmd_throughput (spawn+delete pairs through the API), and
# prints commands/s with p50/p99 latency. Cleans up everything it started.
# Usage: bench/cmd_throughput.sh [BUILD_DIR] [-- cmd_throughput options]
#   BUILD_DIR defaults to build; HV_BENCH_DIR picks the temp dir's parent (default /tmp;
#   /dev/shm shows the cost of the agent's fsync'd journal by removing it).
#   HV_BENCH_CALLGRIND=1 runs hvagent under callgrind (counts zeroed once the agent is up,
#   dumped after the run) and prints its instructions per command, a figure that does not
#   depend on machine load; use a small --pairs then (valgrind is ~50x slower).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$here/build}
[ "${1:-}" ] && shift
[ "${1:-}" = "--" ] && shift
build=$(cd "$build" && pwd)
for b in central/hvcentral agent/hvagent cli/cmd_throughput drivers/fake/hvagent-driver-fake.so; do
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
exec 3< <("$build/central/hvcentral" -c "$dir/central.conf" 2>"$dir/hvcentral.log")
pids+=($!)
read -r ready <&3
wrap=()
[ "${HV_BENCH_CALLGRIND:-}" ] &&
	wrap=(valgrind --tool=callgrind --callgrind-out-file="$dir/callgrind.out" --dump-instr=no)
HVAGENT_DRIVER_DIR=$build/drivers/fake "${wrap[@]}" "$build/agent/hvagent" -c "$dir/agent.conf" 2>"$dir/agent.log" &
pids+=($!)
export HV_API=ipc://$dir/api.sock
for _ in $(seq 100); do
	"$build/cli/hv" host list -f json 2>/dev/null | grep -q '"state": "up"' && break
	sleep 0.1
done
cpu_ms() { # utime+stime of the process whose command line names FILE, in ms
	local pid
	pid=$(pgrep -f -- "$1" | head -1)
	awk -v hz="$(getconf CLK_TCK)" '{ print ($14 + $15) * 1000 / hz }' "/proc/$pid/stat"
}
c0=$(cpu_ms "$dir/central.conf"); a0=$(cpu_ms "$dir/agent.conf")
[ "${#wrap[@]}" -gt 0 ] && callgrind_control -z "$(pgrep -f -- "$dir/agent.conf" | head -1)" >/dev/null
echo "== cmd_throughput: API -> hvcentral -> hvagent -> fake driver -> RESULT ($(nproc) cores, state in ${HV_BENCH_DIR:-/tmp})"
out=$("$build/cli/cmd_throughput" --host node-1 "$@")
echo "$out"
c1=$(cpu_ms "$dir/central.conf"); a1=$(cpu_ms "$dir/agent.conf")
n=$(echo "$out" | awk '/^commands:/ { print $2 }')
# CPU per command does not depend on what else runs on the machine; throughput does
awk -v n="$n" -v c="$c1" -v c0="$c0" -v a="$a1" -v a0="$a0" 'BEGIN { c -= c0; a -= a0
	printf "CPU per command: hvcentral %.0f us, hvagent %.0f us (capacity on one free core each: %.0f / %.0f commands/s)\n",
		c * 1000 / n, a * 1000 / n, n * 1000 / c, n * 1000 / a }'
if [ "${#wrap[@]}" -gt 0 ]; then
	callgrind_control -d "$(pgrep -f -- "$dir/agent.conf" | head -1)" >/dev/null
	ir=$(for f in "$dir"/callgrind.out*; do callgrind_annotate "$f" 2>/dev/null; done |
		awk '/PROGRAM TOTALS/ { gsub(",", "", $1); s += $1 } END { print s + 0 }')
	awk -v ir="$ir" -v n="$n" 'BEGIN { printf "hvagent instructions per command: %.0f (callgrind)\n", ir / n }'
	[ "${HV_BENCH_KEEP:-}" ] && cp "$dir"/callgrind.out* "$HV_BENCH_KEEP"/
fi
echo "machine load while measuring: $(cut -d' ' -f1-3 /proc/loadavg)"
