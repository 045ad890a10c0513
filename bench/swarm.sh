#!/usr/bin/env bash
# swarm.sh - hvcentral at scale, against hvswarm (many fake hosts in one process, CURVE on
# loopback TCP). Two figures, printed, never asserted:
#   ingest  HOSTS hosts each REPORTing every INTERVAL s: hvcentral's CPU share (one core =
#           100 %) over a window, the reports/s it took in, and how long the whole swarm
#           took to connect and be welcomed.
#   create  SERVERS `server.create` requests without a host (the scheduler places each one)
#           on a HOSTS-host swarm, WINDOW in flight, each answered when its spawn's RESULT
#           arrived: servers/s and p50/p99 to active.
# Usage: bench/swarm.sh ingest|create [BUILD_DIR] [HOSTS [INTERVAL|SERVERS [SECONDS|WINDOW]]]
#   defaults: ingest 10000 hosts, 10 s, a 60 s window; create 1000 hosts, 1000 servers, 64.
# The open-file limit is raised for both processes (each host is one connection to
# hvcentral, and two open files in hvswarm: its socket and its connection). A swarm larger
# than one process's limit allows runs as several hvswarm processes (--part K/N).
# HV_SWARM_CONNECT_RATE: hosts connected a second (ingest: 250, as agents reconnecting with
# jitter after a controller restart; create: 0, all at once). 10 000 hosts connecting at
# once are a storm of CURVE handshakes on one machine's two cores, not a steady fleet.
# Figures (2 cores, debugoptimized, this machine, other work running; see docs/scheduler.md):
#   create 1000 hosts, 1000 servers, window 64: 901 servers/s, p50 64 ms, p99 148 ms to
#   active (22 servers/s, p99 3.8 s when each decision read every host from the store);
#   ingest 2000 hosts / 10 s: 9.5-11.4 % of one core; 5000 hosts: 17.3-22.8 %; 10000
#   hosts: 41.5 % (415 us per report, RSS 598 MiB), welcomed in 49 s, the swarm in 2
#   processes on the same 2 cores. hvswarm on epoll, split by the open-file limit: 13 % of
#   one core at 2000 hosts (63-67 % with its old poll loop over every socket), 27-28 % at
#   5000 (100 % before), 55 % at 10000 (before: 1.4 cores and not all welcomed in 600 s).
set -euo pipefail
mode=${1:-}
case "$mode" in ingest | create) shift ;; *)
	echo "usage: bench/swarm.sh ingest|create [BUILD_DIR] [HOSTS [INTERVAL|SERVERS [SECONDS|WINDOW]]]" >&2
	exit 2 ;;
esac
here=$(cd "$(dirname "$0")/.." && pwd)
build=$here/build
if [ -n "${1:-}" ] && [ -d "$1" ]; then build=$1; shift; fi
build=$(cd "$build" && pwd)
if [ "$mode" = ingest ]; then
	hosts=${1:-10000} interval=${2:-10} seconds=${3:-60}
	rate=${HV_SWARM_CONNECT_RATE:-250}
else
	hosts=${1:-1000} servers=${2:-1000} window=${3:-64} interval=10
	rate=${HV_SWARM_CONNECT_RATE:-0}
fi
for b in central/hvcentral bench/hvswarm bench/cmd_throughput cli/hv; do
	[ -x "$build/$b" ] || { echo "swarm.sh: $build/$b not built" >&2; exit 2; }
done
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
parts=1
if [ "$(ulimit -n)" != unlimited ]; then
	if [ "$(ulimit -n)" -lt $((hosts + 256)) ]; then
		echo "swarm.sh: the open-file limit ($(ulimit -n)) is below $((hosts + 256)): skipped" >&2
		exit 77
	fi
	per=$((($(ulimit -n) - 64) / 2))
	parts=$(((hosts + per - 1) / per))
fi
dir=$(mktemp -d "${HV_BENCH_DIR:-/tmp}/hv-swarm.XXXXXX")
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$dir"
}
trap cleanup EXIT INT TERM

port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
pub=$("$build/central/hvcentral" --init "$dir/central" 2>/dev/null)
cat > "$dir/central.conf" <<CONF
[DEFAULT]
state_dir = $dir/central
log_level = warning
[agents]
endpoint = tcp://127.0.0.1:$port
report_interval = $interval
[api]
endpoint = ipc://$dir/api.sock
CONF
"$build/central/hvcentral" -c "$dir/central.conf" > "$dir/central.out" 2> "$dir/central.log" &
central=$!
pids+=("$central")
for _ in $(seq 100); do grep -q '^ready' "$dir/central.out" 2>/dev/null && break; sleep 0.1; done
grep -q '^ready' "$dir/central.out" || { echo "swarm.sh: hvcentral did not start" >&2; cat "$dir/central.log" >&2; exit 1; }

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)
t0=$(date +%s.%N)
swarms=()
for k in $(seq 0 $((parts - 1))); do
	part=$([ "$parts" = 1 ] || echo "--part $k/$parts")
	# shellcheck disable=SC2086 # $part is empty or two words
	"$build/bench/hvswarm" --endpoint "tcp://127.0.0.1:$port" --server-key "$pub" \
		--allow-dir "$dir/central/agents" --hosts "$hosts" --report-interval "$interval" --connect-rate "$rate" $part \
		> "$dir/swarm$k.out" 2> "$dir/swarm$k.log" &
	swarms+=($!)
	pids+=($!)
done
all_ready() { [ "$(cat "$dir"/swarm*.out 2>/dev/null | grep -c '^ready')" = "$parts" ]; }
swarm_ticks() { local t=0 s; for s in "${swarms[@]}"; do t=$((t + $(cpu_ticks "$s"))); done; echo "$t"; }
for _ in $(seq 6000); do
	all_ready && break
	for s in "${swarms[@]}"; do kill -0 "$s" 2>/dev/null || break 2; done
	sleep 0.1
done
all_ready || { echo "swarm.sh: the swarm was not welcomed in 600 s" >&2; tail "$dir"/swarm*.log "$dir/central.log" >&2; exit 1; }
t1=$(date +%s.%N)
echo "swarm: $hosts hosts in $parts hvswarm process(es) connected (CURVE, tcp loopback; $([ "$rate" = 0 ] && echo "all at once" || echo "$rate a second")) and welcomed in $(echo "$t1 - $t0" | bc) s"

if [ "$mode" = ingest ]; then
	sleep "$interval" # past the connect storm: every host is on its report cycle
	c0=$(cpu_ticks "$central") s0=$(swarm_ticks) w0=$(date +%s.%N)
	sleep "$seconds"
	c1=$(cpu_ticks "$central") s1=$(swarm_ticks) w1=$(date +%s.%N)
	wall=$(echo "$w1 - $w0" | bc -l)
	share=$(echo "100 * ($c1 - $c0) / $hz / $wall" | bc -l)
	sshare=$(echo "100 * ($s1 - $s0) / $hz / $wall" | bc -l)
	printf 'ingest: %d hosts, a REPORT each per %d s (%.0f reports/s, plus PINGs), over %.1f s\n' \
		"$hosts" "$interval" "$(echo "$hosts / $interval" | bc -l)" "$wall"
	printf 'hvcentral CPU share: %.1f %% of one core (%.0f us per report)\n' "$share" \
		"$(echo "($c1 - $c0) / $hz * 1000000 / ($wall * $hosts / $interval)" | bc -l)"
	printf 'hvswarm CPU share (the load generator): %.1f %% of one core\n' "$sshare"
	printf 'hvcentral RSS: %s MiB\n' "$(awk '/VmRSS/{printf "%.1f", $2/1024}' "/proc/$central/status")"
else
	# the default project's quota (10 instances) would refuse most of them
	HV_API="ipc://$dir/api.sock" "$build/cli/hv" quota set --instances -1 --cores -1 --ram -1 >/dev/null
	HV_API="ipc://$dir/api.sock" "$build/bench/cmd_throughput" --scheduled --create-only \
		--pairs "$servers" --window "$window" --prefix web | sed 's/commands/servers/g'
fi
kill "${swarms[@]}"
wait "${swarms[@]}" 2>/dev/null || true
for k in $(seq 0 $((parts - 1))); do echo "swarm counters: $(tail -1 "$dir/swarm$k.out")"; done
