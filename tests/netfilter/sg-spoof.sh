#!/usr/bin/env bash
# Anti-spoofing: a port sends only from its MAC and fixed IPs (plus allowed address pairs);
# a spoofed source IP or MAC is dropped before conntrack, and ARP claiming a foreign
# address never reaches the host's neighbour table.
. "$(dirname "$0")/lib.sh"
setup
cat >"$WORK/s.json" <<'JSON'
{"security_groups": [{"id": "open", "rules": [
   {"direction": "ingress", "ethertype": "IPv4"}, {"direction": "egress", "ethertype": "IPv4"}]}],
 "ports": [
  {"id": "p1", "ifname": "tapA", "mac_address": "fa:16:3e:00:00:01", "fixed_ips": ["10.0.0.5"],
   "allowed_address_pairs": [{"ip_address": "10.0.0.64/26"}], "security_groups": ["open"]},
  {"id": "p2", "ifname": "tapB", "mac_address": "fa:16:3e:00:00:02", "fixed_ips": ["10.0.0.6"],
   "security_groups": ["open"]}]}
JSON
check "hv-nf applies the state" nf apply "$WORK/s.json"
serve "$EXT" 80; wait_listen "$EXT" 80
ip -n "$HV" route add 10.0.0.64/26 dev tapA
ip -n "$VM1" addr add 10.0.0.200/32 dev eth0
ip -n "$VM1" addr add 10.0.0.70/32 dev eth0
check "the port's own address gets out" tcp_reach "$VM1" 198.51.100.1 80 10.0.0.5
check_not "a spoofed source IP is dropped" tcp_reach "$VM1" 198.51.100.1 80 10.0.0.200
check_not "another port's address is a spoofed source too" tcp_reach "$VM1" 198.51.100.1 80 10.0.0.6
check "an allowed address pair (a /26) may be used as source" tcp_reach "$VM1" 198.51.100.1 80 10.0.0.70
check "the drops were counted in raw_pre, before conntrack" \
	sh -c "ip netns exec '$HV' nft list chain inet hvagent raw_pre | grep -q 'counter packets [1-9]'"
check_not "no conntrack entry was created for the spoofed source" \
	sh -c "ip netns exec '$HV' conntrack -L -s 10.0.0.200 2>/dev/null | grep -q ."
# ARP requests for the gateway sent as raw frames from vm1, once with its own address as
# sender and once claiming vm2's: only the first may teach the host a neighbour.
arp_from() { # arp_from SENDER_IP
	in_ns "$VM1" /usr/bin/python3 - "$1" <<'PY'
import socket, struct, sys
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind(("eth0", 0))
mac = bytes.fromhex("fa163e000001")
arp = struct.pack("!HHBBH", 1, 0x0800, 6, 4, 1) + mac + socket.inet_aton(sys.argv[1]) \
      + b"\0" * 6 + socket.inet_aton("10.0.0.1")
s.send(b"\xff" * 6 + mac + b"\x08\x06" + arp)
PY
}
ip -n "$HV" neigh flush dev tapA
arp_from 10.0.0.5; sleep 0.5
check "an ARP request from the port's own address teaches the host its neighbour" \
	sh -c "ip -n '$HV' neigh show dev tapA | grep -q '^10.0.0.5 '"
arp_from 10.0.0.6; sleep 0.5
check_not "an ARP request claiming another port's address is dropped" \
	sh -c "ip -n '$HV' neigh show dev tapA | grep -q '^10.0.0.6 '"
ip -n "$VM1" link set eth0 address fa:16:3e:00:00:55
ip -n "$HV" neigh flush dev tapA
check_not "a spoofed MAC is dropped" tcp_reach "$VM1" 198.51.100.1 80 10.0.0.5
ip -n "$VM1" link set eth0 address fa:16:3e:00:00:01
check "with its own MAC back the port works again" tcp_reach "$VM1" 198.51.100.1 80 10.0.0.5
finish
