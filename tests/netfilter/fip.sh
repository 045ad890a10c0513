#!/usr/bin/env bash
# Floating IPs: 1:1 NAT. From outside the FIP reaches the VM, the VM goes out as the FIP,
# the host itself reaches the VM at the FIP, and disassociating cuts the NATed session.
. "$(dirname "$0")/lib.sh"
setup
cat >"$WORK/s.json" <<'JSON'
{"security_groups": [{"id": "web", "rules": [
   {"direction": "ingress", "protocol": "tcp", "port_range_min": 22, "port_range_max": 22},
   {"direction": "ingress", "protocol": "tcp", "port_range_min": 2222, "port_range_max": 2222},
   {"direction": "egress"}]}],
 "ports": [{"id": "p1", "ifname": "tapA", "mac_address": "fa:16:3e:00:00:01",
            "fixed_ips": ["10.0.0.5"], "security_groups": ["web"]}]}
JSON
cat >"$WORK/fip.json" <<'JSON'
{"id": "f1", "port_id": "p1", "floating_ip_address": "203.0.113.10", "fixed_ip_address": "10.0.0.5"}
JSON
check "hv-nf applies the state" nf apply "$WORK/s.json"
check "hv-nf associates the floating IP" nf fip "$WORK/fip.json"
check "the floating IP is an address of the external interface" \
	sh -c "ip -n '$HV' -4 addr show dev eth0 | grep -q '203.0.113.10/32'"
serve "$VM1" 22; whoami_server "$EXT" 80; echo_server "$VM1" 2222
wait_listen "$VM1" 22; wait_listen "$EXT" 80; wait_listen "$VM1" 2222
answer=$(tcp_answer "$EXT" 203.0.113.10 22)
check "external -> floating IP reaches the VM" test "$answer" = "$VM1"
answer=$(tcp_answer "$VM1" 198.51.100.1 80)
check "VM -> external leaves as the floating IP (seen as '$answer')" test "$answer" = 203.0.113.10
answer=$(tcp_answer "$HV" 203.0.113.10 22)
check "the host itself reaches the VM through the floating IP" test "$answer" = "$VM1"
check "a NATed session is established" session_open nat "$EXT" 203.0.113.10 2222
check "disassociating the floating IP" nf fip-delete f1
check_not "disassociating cut the NATed session" session_alive nat
check_not "the floating IP no longer reaches the VM" tcp_reach "$EXT" 203.0.113.10 22
check_not "the address is gone from the external interface" \
	sh -c "ip -n '$HV' -4 addr show dev eth0 | grep -q '203.0.113.10/32'"
check "no NATed connection is left in conntrack" \
	sh -c "! ip netns exec '$HV' conntrack -L -g 2>/dev/null | grep -q . && \
	       ! ip netns exec '$HV' conntrack -L -n 2>/dev/null | grep -q ."
finish
