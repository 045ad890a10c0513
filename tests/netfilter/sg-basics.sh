#!/usr/bin/env bash
# Security groups with real packets: what a rule allows gets through, everything else is
# dropped; remote prefixes, ICMP types, egress rules, VM-to-VM checked by both ports, and a
# tap with no port yet drops everything.
. "$(dirname "$0")/lib.sh"
setup
cat >"$WORK/s.json" <<'JSON'
{"security_groups": [
  {"id": "web", "rules": [
    {"direction": "ingress", "protocol": "tcp", "port_range_min": 22, "port_range_max": 22},
    {"direction": "ingress", "protocol": "tcp", "port_range_min": 8080, "port_range_max": 8080,
     "remote_ip_prefix": "198.51.100.0/24"},
    {"direction": "ingress", "protocol": "icmp", "port_range_min": 8},
    {"direction": "egress", "protocol": "tcp", "port_range_min": 80, "port_range_max": 80,
     "remote_ip_prefix": "198.51.100.0/24"}]},
  {"id": "open", "rules": [
    {"direction": "ingress", "ethertype": "IPv4"},
    {"direction": "egress", "ethertype": "IPv4"}]}],
 "ports": [
  {"id": "p1", "ifname": "tapA", "mac_address": "fa:16:3e:00:00:01", "fixed_ips": ["10.0.0.5"],
   "security_groups": ["web"]}],
 "taps": ["tapB"]}
JSON
check "hv-nf applies the state" nf apply "$WORK/s.json"
for p in 22 23 8080; do serve "$VM1" $p; done
for p in 22 80 81; do serve "$VM2" $p; done
for p in 80 81; do serve "$EXT" $p; done
wait_listen "$VM1" 8080; wait_listen "$VM2" 81; wait_listen "$EXT" 81

check "an allowed port is reachable" tcp_reach "$EXT" 10.0.0.5 22
check_not "a port no rule allows is dropped" tcp_reach "$EXT" 10.0.0.5 23
check "a remote prefix admits its sources" tcp_reach "$EXT" 10.0.0.5 8080
check "an ICMP type rule admits echo requests" ping_ok "$EXT" 10.0.0.5
check "an egress rule lets the VM out on its port" tcp_reach "$VM1" 198.51.100.1 80
check_not "egress to other ports is dropped" tcp_reach "$VM1" 198.51.100.1 81
check_not "a claimed tap with no port drops everything" ping_ok "$VM2" 198.51.100.1

cat >"$WORK/p2.json" <<'JSON'
{"id": "p2", "ifname": "tapB", "mac_address": "fa:16:3e:00:00:02", "fixed_ips": ["10.0.0.6"],
 "security_groups": ["open"]}
JSON
plug_p2() { nf release tapB && nf plug "$WORK/p2.json"; }
check "the claim is released and the port plugged" plug_p2
check "the plugged port follows its groups" tcp_reach "$EXT" 10.0.0.6 81
check_not "a source outside the remote prefix is dropped" tcp_reach "$VM2" 10.0.0.5 8080
check "VM to VM: sender egress and receiver ingress both allow" tcp_reach "$VM2" 10.0.0.5 22
check_not "VM to VM: the receiver's ingress rules still apply" tcp_reach "$VM2" 10.0.0.5 23
check_not "VM to VM: the sender's egress rules still apply" tcp_reach "$VM1" 10.0.0.6 22
finish
