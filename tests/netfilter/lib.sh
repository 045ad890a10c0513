# lib.sh - the world the real-packet tests run in, sourced by each test.
#
# Four network namespaces per run, named uniquely: hv (the host, where hv-nf programs its
# tables), vm1 and vm2 (instances behind veth "taps" tapA/tapB, routed: /32 host routes
# and proxy ARP, as hvagent's routed model), ext (a machine on the external network).
# No traffic leaves these namespaces; everything is torn down by the EXIT trap. Every
# traffic check is bounded (-c counts, -w timeouts).
#
#   vm1 10.0.0.5 fa:16:3e:00:00:01 ─ tapA ┐
#   vm2 10.0.0.6 fa:16:3e:00:00:02 ─ tapB ┤ hv (forwarding) eth0 198.51.100.2 ─ ext 198.51.100.1
#                                                 floating IPs 203.0.113.0/24 on hv eth0

set -u

HVNF=${HVNF:?path to hv-nf}
DATA=${DATA:?path to tests/data/netfilter}
skip() { echo "SKIP: $*"; exit 77; }

[ "$(id -u)" -eq 0 ] || skip "needs root to create network namespaces"
for t in ip nft nc socat ping conntrack ss; do
	command -v "$t" >/dev/null || skip "needs $t"
done

SUFFIX="h5$$"
HV="hv-$SUFFIX" VM1="vm1-$SUFFIX" VM2="vm2-$SUFFIX" EXT="ext-$SUFFIX"
WORK=$(mktemp -d /tmp/hv-nf-test.XXXXXX)
STATE="$WORK/state.json"
FAILS=0
PIDS=()

cleanup() {
	# Servers run inside our namespaces: end every process there, then the namespaces.
	for n in "$HV" "$VM1" "$VM2" "$EXT"; do
		for p in $(ip netns pids "$n" 2>/dev/null); do kill "$p" 2>/dev/null; done
	done
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	for n in "$HV" "$VM1" "$VM2" "$EXT"; do ip netns del "$n" 2>/dev/null; done
	rm -rf "$WORK"
}
trap cleanup EXIT

ok() { echo "ok - $*"; }
not_ok() { echo "not ok - $*"; FAILS=$((FAILS + 1)); }
check() { # check "description" command...
	local what=$1; shift
	if "$@"; then ok "$what"; else not_ok "$what"; fi
}
check_not() {
	local what=$1; shift
	if "$@"; then not_ok "$what"; else ok "$what"; fi
}
finish() {
	if [ "$FAILS" -ne 0 ]; then
		echo "$FAILS check(s) failed; ruleset in $HV:"
		ip netns exec "$HV" nft list ruleset 2>&1 | head -150
		exit 1
	fi
	exit 0
}

in_ns() { local n=$1; shift; ip netns exec "$n" "$@"; }
nf() { ip netns exec "$HV" "$HVNF" --state "$STATE" --external eth0 "$@"; }

# topology: no rules yet.
setup() {
	for n in "$HV" "$VM1" "$VM2" "$EXT"; do
		ip netns add "$n" || skip "cannot create network namespaces"
		ip -n "$n" link set lo up
	done
	ip -n "$HV" link add tapA type veth peer name eth0 netns "$VM1"
	ip -n "$HV" link add tapB type veth peer name eth0 netns "$VM2"
	ip -n "$HV" link add eth0 type veth peer name eth0 netns "$EXT"
	ip -n "$VM1" link set eth0 address fa:16:3e:00:00:01
	ip -n "$VM2" link set eth0 address fa:16:3e:00:00:02
	in_ns "$HV" sysctl -qw net.ipv4.ip_forward=1
	for t in tapA tapB; do
		ip -n "$HV" link set "$t" up
		in_ns "$HV" sysctl -qw "net.ipv4.conf.$t.proxy_arp=1"
	done
	ip -n "$HV" link set eth0 up
	ip -n "$HV" addr add 198.51.100.2/24 dev eth0
	ip -n "$HV" route add 10.0.0.5/32 dev tapA
	ip -n "$HV" route add 10.0.0.6/32 dev tapB
	ip -n "$HV" route add default via 198.51.100.1
	local i=5
	for v in "$VM1" "$VM2"; do
		ip -n "$v" link set eth0 up
		ip -n "$v" addr add "10.0.0.$i/24" dev eth0
		ip -n "$v" route add default via 10.0.0.1
		i=$((i + 1))
	done
	ip -n "$EXT" link set eth0 up
	ip -n "$EXT" addr add 198.51.100.1/24 dev eth0
	ip -n "$EXT" route add 203.0.113.0/24 via 198.51.100.2
	ip -n "$EXT" route add 10.0.0.0/24 via 198.51.100.2
}

# serve NS PORT: a TCP server (IPv4 and IPv6) that answers each connection with the
# namespace's name.
serve() {
	in_ns "$1" socat "TCP6-LISTEN:$2,fork,reuseaddr,ipv6only=0" "SYSTEM:echo $1" >/dev/null 2>&1 &
	PIDS+=($!)
}
# echo_server NS PORT: echoes lines back, for long-lived sessions.
echo_server() {
	in_ns "$1" socat "TCP6-LISTEN:$2,fork,reuseaddr,ipv6only=0" EXEC:cat >/dev/null 2>&1 &
	PIDS+=($!)
}
# whoami_server NS PORT: answers with the peer address it sees.
whoami_server() {
	in_ns "$1" socat "TCP-LISTEN:$2,fork,reuseaddr" 'SYSTEM:echo $SOCAT_PEERADDR' >/dev/null 2>&1 &
	PIDS+=($!)
}
wait_listen() { # wait_listen NS PORT
	for _ in $(seq 50); do
		in_ns "$1" ss -ltn "sport = :$2" | grep -q LISTEN && return 0
		sleep 0.1
	done
	return 1
}

# tcp_reach FROM DST PORT [SRC]: a connection completes and the server answers.
tcp_reach() {
	local src=()
	[ $# -ge 4 ] && src=(-s "$4")
	[ -n "$(in_ns "$1" nc -w 2 "${src[@]}" "$2" "$3" </dev/null 2>/dev/null)" ]
}
# tcp_answer FROM DST PORT: what the server answered ("" when nothing).
tcp_answer() { in_ns "$1" nc -w 2 "$2" "$3" </dev/null 2>/dev/null; }
ping_ok() { in_ns "$1" ping -q -c 1 -W 1 "$2" >/dev/null 2>&1; }

# A long-lived session: session_open NAME FROM DST PORT; session_alive NAME.
session_open() {
	local name=$1 from=$2 dst=$3 port=$4
	local fd
	mkfifo "$WORK/$name.in"
	: >"$WORK/$name.out"
	# Held read-write by this shell: writes never block, even once the client is gone.
	exec {fd}<>"$WORK/$name.in"
	eval "FD_$name=$fd"
	in_ns "$from" socat -T 600 - "TCP:$dst:$port" <"$WORK/$name.in" >"$WORK/$name.out" 2>/dev/null &
	PIDS+=($!)
	session_alive "$name"
}
# Sends one numbered line and waits up to 3 s for its echo.
session_alive() {
	local name=$1 n
	n=$(( $(cat "$WORK/$name.n" 2>/dev/null || echo 0) + 1 ))
	echo "$n" >"$WORK/$name.n"
	eval "echo line-$n >&\$FD_$name"
	for _ in $(seq 30); do
		grep -qx "line-$n" "$WORK/$name.out" && return 0
		sleep 0.1
	done
	return 1
}
