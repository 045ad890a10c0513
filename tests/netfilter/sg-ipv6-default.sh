#!/usr/bin/env bash
# IPv6 and the default group: IPv6 rules admit what they name and nothing else, a spoofed
# IPv6 source is dropped while neighbour discovery from the port's link-local address works,
# and members of the default group reach each other while outsiders do not.
. "$(dirname "$0")/lib.sh"
setup
in_ns "$HV" sysctl -qw net.ipv6.conf.all.forwarding=1
ip -n "$HV" addr add fe80::1/64 dev tapA nodad
ip -n "$HV" addr add fe80::1/64 dev tapB nodad
ip -n "$HV" addr add 2001:db8:ff::2/64 dev eth0 nodad
ip -n "$HV" -6 route add 2001:db8:1::5/128 dev tapA
ip -n "$HV" -6 route add 2001:db8:1::6/128 dev tapB
ip -n "$EXT" addr add 2001:db8:ff::1/64 dev eth0 nodad
ip -n "$EXT" -6 route add 2001:db8:1::/64 via 2001:db8:ff::2
i=5
for v in "$VM1" "$VM2"; do
	ip -n "$v" addr add "2001:db8:1::$i/128" dev eth0 nodad
	ip -n "$v" -6 route add default via fe80::1 dev eth0
	i=$((i + 1))
done
cat >"$WORK/s.json" <<'JSON'
{"security_groups": [
  {"id": "default", "rules": [
   {"direction": "egress", "ethertype": "IPv4"}, {"direction": "egress", "ethertype": "IPv6"},
   {"direction": "ingress", "ethertype": "IPv4", "remote_group_id": "default"},
   {"direction": "ingress", "ethertype": "IPv6", "remote_group_id": "default"}]},
  {"id": "ssh6", "rules": [
   {"direction": "ingress", "ethertype": "IPv6", "protocol": "tcp",
    "port_range_min": 22, "port_range_max": 22, "remote_ip_prefix": "2001:db8:ff::/64"}]}],
 "ports": [
  {"id": "p1", "ifname": "tapA", "mac_address": "fa:16:3e:00:00:01",
   "fixed_ips": ["10.0.0.5", "2001:db8:1::5"], "security_groups": ["default", "ssh6"]},
  {"id": "p2", "ifname": "tapB", "mac_address": "fa:16:3e:00:00:02",
   "fixed_ips": ["10.0.0.6", "2001:db8:1::6"], "security_groups": ["default"]}]}
JSON
check "hv-nf applies the state" nf apply "$WORK/s.json"
# Link-local addresses finish duplicate address detection (through the rules) first.
no_tentative() {
	for n in "$HV" "$VM1" "$VM2"; do
		[ -z "$(ip -n "$n" -6 addr show tentative)" ] || return 1
	done
}
for _ in $(seq 50); do no_tentative && break; sleep 0.1; done
serve "$VM1" 22; serve "$VM1" 23
wait_listen "$VM1" 22; wait_listen "$VM1" 23
check "an IPv6 rule admits its port from its prefix" tcp_reach "$EXT" 2001:db8:1::5 22
check_not "other IPv6 ports are dropped" tcp_reach "$EXT" 2001:db8:1::5 23
check "default group: a member reaches another member on any port (IPv4)" tcp_reach "$VM2" 10.0.0.5 23
check "default group: ... and over IPv6" tcp_reach "$VM2" 2001:db8:1::5 23
check_not "default group: a non-member does not (IPv4)" tcp_reach "$EXT" 10.0.0.5 23
ip -n "$VM1" addr add 2001:db8:1::99/128 dev eth0 nodad
serve "$EXT" 80; wait_listen "$EXT" 80
check "the port's own IPv6 address gets out" tcp_reach "$VM1" 2001:db8:ff::1 80 2001:db8:1::5
check_not "a spoofed IPv6 source is dropped" tcp_reach "$VM1" 2001:db8:ff::1 80 2001:db8:1::99
check "neighbour discovery from the port's link-local address resolved the gateway" \
	sh -c "ip -n '$VM1' -6 neigh show dev eth0 | grep -q '^fe80::1 .*lladdr'"
finish
