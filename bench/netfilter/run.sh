#!/usr/bin/env bash
# Benchmark: hvagent's nftables programming (hv-nf, libnftnl batches) against Neutron's
# IptablesFirewallDriver (Debian python3-neutron: iptables-restore, ipset, conntrack),
# programming the SAME ports and rules in the same run, each in its own fresh network
# namespace. Prints medians and the ratio peer / hvagent. Not part of the test suite.
#
#   sudo bench/netfilter/run.sh            (HVNF=path/to/hv-nf, default build/netfilter/hv-nf)
#   SIZES="100 1000" NEW_PORT_SIZES="100 1000 5000" PEER_MAX=1000 bench/netfilter/run.sh
#
# Needs: root, scripts/deps.sh --bench (python3-neutron, ipset, iptables), /usr/bin/python3.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
HVNF=${HVNF:-$here/../../build/netfilter/hv-nf}
SIZES=${SIZES:-"100 1000"}                  # full sync and rule change
NEW_PORT_SIZES=${NEW_PORT_SIZES:-"100 1000 5000"}
PEER_MAX=${PEER_MAX:-1000}                  # Neutron above this size takes minutes per step
HV_REPS=${HV_REPS:-21}
PEER_REPS=${PEER_REPS:-3}
FOREIGN=${FOREIGN:-50000}

[ "$(id -u)" -eq 0 ] || { echo "run as root" >&2; exit 1; }
[ -x "$HVNF" ] || { echo "no hv-nf at $HVNF (set HVNF)" >&2; exit 1; }
/usr/bin/python3 -c 'import neutron.agent.linux.iptables_firewall' 2>/dev/null ||
	{ echo "python3-neutron missing: scripts/deps.sh --bench" >&2; exit 1; }

work=$(mktemp -d /tmp/nf-bench.XXXXXX)
ns_list=()
cleanup() {
	for n in "${ns_list[@]}"; do
		for p in $(ip netns pids "$n" 2>/dev/null); do kill "$p" 2>/dev/null || true; done
		ip netns del "$n" 2>/dev/null || true
	done
	rm -rf "$work"
}
trap cleanup EXIT
# Sets NS (not a command substitution: the list must grow in this shell for the cleanup).
fresh_ns() { NS="nfb-$1-$$"; ip netns add "$NS"; ip -n "$NS" link set lo up; ns_list+=("$NS"); }
results="$work/results.txt"
: >"$results"

hv_run() { # hv_run N RULE_CHANGES NEW_PORTS [foreign]  -> lines "hv <what> N <seconds>"
	local n=$1 ns
	fresh_ns "hv$n${4:+f}"; ns=$NS
	if [ "${4:-}" = foreign ]; then
		/usr/bin/python3 "$here/foreign_set.py" "$FOREIGN" | ip netns exec "$ns" nft -f -
	fi
	/usr/bin/python3 "$here/hv_ops.py" "$n" "$2" "$3" >"$work/ops.jsonl"
	ip netns exec "$ns" "$HVNF" --state "$work/state-$ns.json" replay "$work/ops.jsonl" |
		awk -v n="$n" -v tag="hv${4:+_foreign}" '
			$1 == "apply" { print tag, "full_sync", n, $2 / 1e6 }
			$1 == "group" { print tag, "rule_change", n, $2 / 1e6 }
			$1 == "plug"  { print tag, "new_port", n, $2 / 1e6 }' >>"$results"
}
peer_run() { # peer_run N RULE_CHANGES NEW_PORTS
	local n=$1 ns
	fresh_ns "neutron$n"; ns=$NS
	(cd "$here" && ip netns exec "$ns" /usr/bin/python3 neutron_peer.py "$n" --rule-changes "$2" --new-ports "$3" \
		2>"$work/neutron-$n.log") | awk '/^(full_sync|rule_change|new_port) / { print "neutron", $0 }' >>"$results"
}

for n in $(printf '%s\n' $SIZES $NEW_PORT_SIZES | sort -nu); do
	echo "== $n ports" >&2
	hv_run "$n" 5 "$HV_REPS"
	hv_run "$n" 0 "$HV_REPS" foreign
	if [ "$n" -le "$PEER_MAX" ]; then
		peer_run "$n" "$([ "$n" -le 100 ] && echo "$PEER_REPS" || echo 1)" "$PEER_REPS"
	fi
done

/usr/bin/python3 - "$results" "$FOREIGN" <<'PY'
import collections, statistics, sys
rows = collections.defaultdict(list)
for line in open(sys.argv[1]):
    who, what, n, secs = line.split()
    rows[(who, what, int(n))].append(float(secs))
def med(who, what, n):
    v = rows.get((who, what, n))
    return statistics.median(v) if v else None
def fmt(s):
    return "-" if s is None else ("%.3f ms" % (s * 1e3) if s < 1 else "%.2f s" % s)
print("%-12s %6s %12s %14s %10s %22s" % ("step", "ports", "neutron", "hvagent", "ratio",
                                            "hvagent, foreign %sk set" % (int(sys.argv[2]) // 1000)))
for what in ("full_sync", "rule_change", "new_port"):
    for n in sorted({k[2] for k in rows if k[1] == what}):
        p, h, f = med("neutron", what, n), med("hv", what, n), med("hv_foreign", what, n)
        ratio = "%.0fx" % (p / h) if p and h else "-"
        print("%-12s %6d %12s %14s %10s %22s" % (what, n, fmt(p), fmt(h), ratio, fmt(f)))
print("(medians; hvagent: %s samples per step, in-process commit time incl. validation and diff;"
      % max(len(v) for k, v in rows.items() if k[0] == "hv"))
print(" neutron: its firewall driver called as its agent does, incl. iptables-restore, ipset, conntrack)")
PY
