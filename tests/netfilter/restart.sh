#!/usr/bin/env bash
# Restarts and repairs: re-running the programming process (re-init + full resync) while
# a stream runs loses no packet; `nft flush table inet hvagent` by someone else is repaired
# by the next resync; a batch the kernel rejects leaves the previous ruleset in force and
# names the object at fault.
. "$(dirname "$0")/lib.sh"
setup
cat >"$WORK/s.json" <<'JSON'
{"security_groups": [{"id": "web", "rules": [
   {"direction": "ingress", "protocol": "tcp", "port_range_min": 22, "port_range_max": 22},
   {"direction": "ingress", "protocol": "icmp"},
   {"direction": "egress"}]}],
 "ports": [{"id": "p1", "ifname": "tapA", "mac_address": "fa:16:3e:00:00:01",
            "fixed_ips": ["10.0.0.5"], "security_groups": ["web"]}]}
JSON
check "hv-nf applies the state" nf apply "$WORK/s.json"
serve "$VM1" 22; serve "$VM1" 23
wait_listen "$VM1" 22; wait_listen "$VM1" 23

# 400 echo requests, 10 ms apart, while the process restarts and resyncs 10 times.
in_ns "$EXT" ping -q -n -i 0.01 -c 400 -W 1 10.0.0.5 >"$WORK/ping.out" 2>&1 &
ping_pid=$!
for _ in $(seq 10); do
	nf resync || not_ok "resync failed"
	nf apply "$WORK/s.json" || not_ok "apply failed"
done
wait $ping_pid
check "restarting the programming process with a stream running loses no packets ($(grep -o '[0-9]* received' "$WORK/ping.out"))" \
	grep -q ' 400 received' "$WORK/ping.out"

check_not "before tampering, port 23 is dropped" tcp_reach "$EXT" 10.0.0.5 23
in_ns "$HV" nft flush table inet hvagent
check "after 'nft flush table inet hvagent' port 23 is open (the tampering took effect)" tcp_reach "$EXT" 10.0.0.5 23
check "hv-nf resync" nf resync
check_not "the resync repaired it: port 23 is dropped again" tcp_reach "$EXT" 10.0.0.5 23
check "and port 22 is still allowed" tcp_reach "$EXT" 10.0.0.5 22

# Someone deletes an element the committed state holds: the next diff that removes it is
# rejected by the kernel as a whole.
in_ns "$HV" nft delete element inet hvagent rg_web_4 '{ 10.0.0.5 }'
cp "$STATE" "$WORK/state.before"
nf unplug p1 2>"$WORK/unplug.err"
rc=$?
check "a batch the kernel rejects fails the request" test $rc -ne 0
check "the error names the object at fault ($(cat "$WORK/unplug.err"))" grep -q "port p1" "$WORK/unplug.err"
check "the desired state is unchanged" cmp -s "$STATE" "$WORK/state.before"
check "the previous ruleset is still in force" tcp_reach "$EXT" 10.0.0.5 22
check_not "... and still drops what it dropped" tcp_reach "$EXT" 10.0.0.5 23
check "the failure triggered a full resync: the deleted element is back" \
	sh -c "ip netns exec '$HV' nft list set inet hvagent rg_web_4 | grep -q 10.0.0.5"
check "the retried request succeeds" nf unplug p1
finish
