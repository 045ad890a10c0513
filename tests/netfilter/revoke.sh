#!/usr/bin/env bash
# Revocation: removing a rule cuts the established sessions it allowed, in the kernel's
# conntrack table, while a session a remaining rule still allows survives (its entry may be
# flushed with the group's tag, and is re-admitted on its next packet: nf_conntrack_tcp_loose).
. "$(dirname "$0")/lib.sh"
setup
group() { # group PORTS...: ingress tcp on each port, rule ids "tcp<port>"
	local rules="" sep=""
	for p in "$@"; do
		rules="$rules$sep{\"id\":\"tcp$p\",\"direction\":\"ingress\",\"protocol\":\"tcp\",\"port_range_min\":$p,\"port_range_max\":$p}"
		sep=","
	done
	echo "{\"id\":\"web\",\"rules\":[$rules,{\"direction\":\"egress\"}]}" >"$WORK/g.json"
	nf group "$WORK/g.json"
}
cat >"$WORK/s.json" <<'JSON'
{"security_groups": [{"id": "web", "rules": []}],
 "ports": [{"id": "p1", "ifname": "tapA", "mac_address": "fa:16:3e:00:00:01",
            "fixed_ips": ["10.0.0.5"], "security_groups": ["web"]}]}
JSON
check "hv-nf applies the state" nf apply "$WORK/s.json"
check "rules for ssh (22) and postgres (5432)" group 22 5432
echo_server "$VM1" 22; echo_server "$VM1" 5432
wait_listen "$VM1" 22; wait_listen "$VM1" 5432
check "an ssh session is established" session_open ssh "$EXT" 10.0.0.5 22
check "a postgres session is established" session_open pg "$EXT" 10.0.0.5 5432
check "both carry data" session_alive ssh
check "hv-nf removes the ssh rule" group 5432
check_not "a rule removal cuts the established ssh session" session_alive ssh
check "the session a remaining rule allows survives" session_alive pg
check_not "new ssh connections are refused too" tcp_reach "$EXT" 10.0.0.5 22
check "the surviving session is tracked again (re-admitted by its still-present rule)" \
	sh -c "ip netns exec '$HV' conntrack -L -p tcp --dport 5432 2>/dev/null | grep -q ESTABLISHED"
finish
