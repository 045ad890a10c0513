#!/usr/bin/env bash
# The host side of a routed tap, made by the module alone: the host namespace starts with
# forwarding off, no proxy ARP and no route to the VM. A plug must make the VM reachable
# from the external namespace (a real ping through the host); the tap deleted and made again
# comes back routed (the link watcher); a restart's resync removes a stale route of ours
# and restores a missing one; unplug removes exactly our routes, never a foreign one.
. "$(dirname "$0")/lib.sh"

# vm1: the guest's view (address /32, gateway 169.254.1.1 answered by proxy ARP)
vm_wire() { # vm_wire TAP NS ADDR MAC: a veth standing in for the tap, its peer in NS
	ip -n "$HV" link add "$1" type veth peer name eth0 netns "$2"
	ip -n "$2" link set eth0 address "$4"
	ip -n "$2" link set eth0 up
	ip -n "$2" addr add "$3/32" dev eth0
	ip -n "$2" route add 169.254.1.1 dev eth0
	ip -n "$2" route add default via 169.254.1.1
	ip -n "$HV" link set "$1" up
}
for n in "$HV" "$VM1" "$VM2" "$EXT"; do
	ip netns add "$n" || skip "cannot create network namespaces"
	ip -n "$n" link set lo up
done
vm_wire tapA "$VM1" 10.0.0.5 fa:16:3e:00:00:01
ip -n "$HV" link add eth0 type veth peer name eth0 netns "$EXT"
ip -n "$HV" link set eth0 up
ip -n "$HV" addr add 198.51.100.2/24 dev eth0
ip -n "$HV" route add default via 198.51.100.1
ip -n "$EXT" link set eth0 up
ip -n "$EXT" addr add 198.51.100.1/24 dev eth0
ip -n "$EXT" route add 10.0.0.0/24 via 198.51.100.2

sysctl_is() { [ "$(in_ns "$HV" sysctl -n "$1")" = "$2" ]; }
our_route() { ip -n "$HV" "${@:3}" route show proto 199 dev "$1" | grep -q "^$2 "; }
route_on() { ip -n "$HV" route show dev "$1" | grep -q "^$2 "; }
wait_route() { # wait_route TAP IP: up to 5 s
	for _ in $(seq 50); do our_route "$1" "$2" && return 0; sleep 0.1; done
	return 1
}

cat >"$WORK/s.json" <<'JSON'
{"security_groups": [{"id": "g", "rules": [
   {"direction": "ingress", "protocol": "icmp"}, {"direction": "egress"}]}],
 "ports": []}
JSON
cat >"$WORK/p1.json" <<'JSON'
{"id": "p1", "ifname": "tapA", "mac_address": "fa:16:3e:00:00:01",
 "fixed_ips": ["10.0.0.5", "fd00::5"], "security_groups": ["g"]}
JSON
cat >"$WORK/p2.json" <<'JSON'
{"id": "p2", "ifname": "tapZ", "mac_address": "fa:16:3e:00:00:02",
 "fixed_ips": ["10.0.0.6"], "security_groups": ["g"]}
JSON
cat >"$WORK/p4.json" <<'JSON'
{"id": "p4", "ifname": "tapY", "mac_address": "fa:16:3e:00:00:04",
 "fixed_ips": ["10.0.0.8"], "security_groups": ["g"]}
JSON
cat >"$WORK/bad.json" <<'JSON'
{"id": "p3", "ifname": "all", "mac_address": "fa:16:3e:00:00:03",
 "fixed_ips": ["10.0.0.7"], "security_groups": ["g"]}
JSON

check "the host starts with forwarding off" sysctl_is net.ipv4.ip_forward 0
check_not "before the plug the VM is unreachable" ping_ok "$EXT" 10.0.0.5
check "hv-nf applies the groups" nf apply "$WORK/s.json"
check "hv-nf plugs the port" nf plug "$WORK/p1.json"
check "IPv4 forwarding is on" sysctl_is net.ipv4.ip_forward 1
check "IPv6 forwarding is on (the port has an IPv6 fixed IP)" \
	sysctl_is net.ipv6.conf.all.forwarding 1
check "proxy ARP is on on the tap" sysctl_is net.ipv4.conf.tapA.proxy_arp 1
check_not "proxy ARP is not on on every device" sysctl_is net.ipv4.conf.all.proxy_arp 1
check "our /32 route to the fixed IP through the tap" our_route tapA 10.0.0.5
check "our /128 route to the IPv6 fixed IP through the tap" our_route tapA fd00::5 -6
check "the external namespace pings the VM through the host" ping_ok "$EXT" 10.0.0.5
check "the VM pings the external namespace (its gateway by proxy ARP)" \
	ping_ok "$VM1" 198.51.100.1
check "plugging the same port again is a no-op" nf plug "$WORK/p1.json"
check "still one route of ours on the tap" \
	test "$(ip -n "$HV" route show proto 199 dev tapA | wc -l)" = 1

check "a port whose tap does not exist yet is plugged" nf plug "$WORK/p2.json"
check_not "no route to it yet" route_on tapZ 10.0.0.6
ip -n "$HV" link add tapY type veth peer name tapY-peer
nf plug "$WORK/p4.json" 2>"$WORK/down.err"
check "a port whose tap is down is plugged without a warning" test ! -s "$WORK/down.err"
check_not "no route through the down tap yet" route_on tapY 10.0.0.8

# an interface named like /proc/sys's 'all': the rules go in, the host side refuses
nf plug "$WORK/bad.json" 2>"$WORK/bad.err"
check "the port named 'all' is refused on the host side with a message" \
	grep -q "ifname: 'all' is not a tap name" "$WORK/bad.err"
check_not "and proxy ARP stays off on every device" sysctl_is net.ipv4.conf.all.proxy_arp 1
check "the port named 'all' is unplugged" nf unplug p3

# libvirt makes a new tap at each boot: the kernel drops the old one's routes and settings
nf watch 15 2>"$WORK/watch.err" &
WATCH=$!
PIDS+=("$WATCH")
sleep 1
ip -n "$HV" link del tapA
check_not "the tap's deletion took our route" our_route tapA 10.0.0.5
vm_wire tapA "$VM1" 10.0.0.5 fa:16:3e:00:00:01
check "the tap made again is routed again" wait_route tapA 10.0.0.5
check "proxy ARP is on on the new tap" sysctl_is net.ipv4.conf.tapA.proxy_arp 1
check "the VM is reachable again" ping_ok "$EXT" 10.0.0.5
vm_wire tapZ "$VM2" 10.0.0.6 fa:16:3e:00:00:02
check "the tap that appeared late is routed when it appears" wait_route tapZ 10.0.0.6
check "the late VM is reachable" ping_ok "$EXT" 10.0.0.6
ip -n "$HV" link set tapY-peer up
ip -n "$HV" link set tapY up
check "the tap that was down is routed once up" wait_route tapY 10.0.0.8
kill "$WATCH" 2>/dev/null
wait "$WATCH" 2>/dev/null

# a restart: what the journal holds is the truth; stale routes of ours go, others stay
ip -n "$HV" route add 10.0.0.99/32 dev tapA
ip -n "$HV" route add 10.0.0.77/32 dev tapA proto 199
ip -n "$HV" route del 10.0.0.5/32 dev tapA
check "resync" nf resync
check "resync restored our missing route" our_route tapA 10.0.0.5
check_not "resync removed the stale route of ours" route_on tapA 10.0.0.77
check "resync left the foreign route alone" route_on tapA 10.0.0.99

check "hv-nf unplugs the port" nf unplug p1
check_not "our IPv4 route is gone" our_route tapA 10.0.0.5
check_not "our IPv6 route is gone" our_route tapA fd00::5 -6
check "the foreign route on the same tap is still there" route_on tapA 10.0.0.99
check_not "the unplugged VM is unreachable" ping_ok "$EXT" 10.0.0.5
check "the other port keeps its route" our_route tapZ 10.0.0.6
finish
