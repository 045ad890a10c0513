#!/usr/bin/env bash
# demo.sh - the main job from a fresh clone: installs the dependencies, builds, starts
# hvcentral and two hvagents (fake driver) in a state directory, lets the agents in with
# `hv host accept`, boots a few servers, runs a few actions, and leaves everything running
# so you can keep using `hv`. Idempotent: a second run reuses what is running.
#
# Usage: scripts/demo.sh          start (or show) the demo
#        scripts/demo.sh --stop   stop it and remove its state
# Environment: HV_DEMO_DIR (default /tmp/hv-demo), HV_BUILD (default build).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
demo=${HV_DEMO_DIR:-/tmp/hv-demo}
build=${HV_BUILD:-build}

stop() {
	for f in "$demo"/*.pid; do
		[ -e "$f" ] || continue
		pid=$(cat "$f")
		# only a process we started: its command line names this demo's directory
		if [ -r "/proc/$pid/cmdline" ] && tr '\0' ' ' < "/proc/$pid/cmdline" | grep -q -- "$demo/"; then
			kill "$pid" 2>/dev/null || true
		fi
		rm -f "$f"
	done
	rm -rf "$demo"
	echo "demo stopped; $demo removed"
}
if [ "${1:-}" = "--stop" ]; then
	stop
	exit 0
elif [ $# -gt 0 ]; then
	sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'
	exit 2
fi

running() {
	[ -e "$demo/$1.pid" ] && kill -0 "$(cat "$demo/$1.pid")" 2>/dev/null
}

echo "== dependencies (scripts/deps.sh)"
scripts/deps.sh
echo "== build ($build)"
[ -d "$build" ] || meson setup "$build" >/dev/null
meson compile -C "$build" >/dev/null
bin=$repo/$build
export HV_API=ipc://$demo/api.sock
hv() { "$bin/cli/hv" "$@"; }

# the fake hypervisor lives in the agents' memory: a demo that is not entirely running
# starts over rather than show servers its hosts have forgotten
if [ -d "$demo" ] && ! { running hvcentral && running node-1 && running node-2; }; then
	echo "== a previous demo is not running whole; starting over"
	stop >/dev/null
fi
mkdir -p "$demo"
if [ ! -e "$demo/central/keys/server.key" ]; then
	"$bin/central/hvcentral" --init "$demo/central" >/dev/null 2>&1
fi
pub=$("$bin/central/hvcentral" --show-public-key --state-dir "$demo/central")

if ! running hvcentral; then
	cat > "$demo/hvcentral.conf" <<CONF
[DEFAULT]
state_dir = $demo/central
[agents]
endpoint = ipc://$demo/agents.sock
report_interval = 2
suspect_after = 6
down_after = 12
[api]
endpoint = $HV_API
[network]
# floating IPs come from this documentation range: the fake hosts plug nothing
external_cidr = 203.0.113.0/24
[openstack]
listen = 127.0.0.1:${HV_DEMO_OS_PORT:-8774}
CONF
	echo "== starting hvcentral (log: $demo/hvcentral.log)"
	"$bin/central/hvcentral" -c "$demo/hvcentral.conf" > "$demo/hvcentral.out" 2> "$demo/hvcentral.log" &
	echo $! > "$demo/hvcentral.pid"
	for _ in $(seq 50); do grep -q '^ready' "$demo/hvcentral.out" 2>/dev/null && break; sleep 0.1; done
fi

for host in node-1 node-2; do
	d=$demo/$host
	mkdir -p "$d" "$demo/images"
	if ! running "$host"; then
		cat > "$d/hvagent.conf" <<CONF
[DEFAULT]
host_id = $host
state_dir = $d
driver = fake
driver_dir = $bin/drivers/fake
report_interval = 2
instances_path = $d/instances
image_store = $demo/images
[controller]
endpoint = ipc://$demo/agents.sock
server_public_key = $pub
keys_dir = $d/keys
heartbeat_interval = 1
reconnect_min_ms = 100
reconnect_max_ms = 1000
[fake]
vcpus = 16
memory_mb = 32768
CONF
		echo "== starting hvagent $host (log: $d/hvagent.log)"
		HVAGENT_DRIVER_DIR=$bin/drivers/fake "$bin/agent/hvagent" -c "$d/hvagent.conf" > "$d/hvagent.out" 2> "$d/hvagent.log" &
		echo $! > "$demo/$host.pid"
	fi
done

state_of() { # host -> up/suspect/down/"" ; key -> pending when refused
	hv host list -f json | /usr/bin/python3 -c '
import json, sys
for h in json.load(sys.stdin):
    if h["host_id"] == sys.argv[1] or h.get("public_key") == sys.argv[1]:
        print(h["state"]); break' "$1"
}
for host in node-1 node-2; do
	[ "$(state_of "$host")" = up ] && continue
	key=$("$bin/agent/hvagent" -c "$demo/$host/hvagent.conf" --show-public-key)
	if [ ! -e "$demo/central/agents/$host.pub" ]; then
		for _ in $(seq 50); do [ "$(state_of "$key")" = pending ] && break; sleep 0.1; done
		echo "== $host's key is pending; accepting it: hv host accept --name $host -- ${key:0:12}..."
		hv host accept --name "$host" -- "$key" >/dev/null
	fi
	for _ in $(seq 100); do [ "$(state_of "$host")" = up ] && break; sleep 0.1; done
done

# the image catalog: one upload to hvcentral, fetched by each host on its first use
if ! hv image show cirros >/dev/null 2>&1; then
	head -c 1048576 /dev/zero > "$demo/cirros.raw"
	echo "== hv image create cirros --file $demo/cirros.raw --disk-format raw --public"
	hv image create cirros --file "$demo/cirros.raw" --disk-format raw --public >/dev/null
fi

boot() { # name host spec
	if ! hv server show "$1" >/dev/null 2>&1; then
		echo "== hv server create $1 --host $2 --flavor-spec $3 --image cirros --wait"
		hv server create "$1" --host "$2" --flavor-spec "$3" --image cirros --wait >/dev/null
	fi
}
boot web-1 node-1 vcpus=2,ram=512,disk=1
boot web-2 node-2 vcpus=2,ram=512,disk=1
boot db-1 node-1 vcpus=4,ram=2048,disk=10,ephemeral=5,swap=512

# the guide's launch from the catalog: a key pair (its private key saved once, 0600) and a
# server of the m1.tiny flavor that the scheduler places (no --host)
if ! hv keypair show demo-key >/dev/null 2>&1; then
	echo "== hv keypair create demo-key --private-key $demo/demo-key"
	hv keypair create demo-key --private-key "$demo/demo-key" >/dev/null
fi
if ! hv server show app-1 >/dev/null 2>&1; then
	echo "== hv server create app-1 --flavor m1.tiny --image cirros --key-name demo-key --wait"
	hv server create app-1 --flavor m1.tiny --image cirros --key-name demo-key --wait >/dev/null
	echo "   placed by the scheduler on $(hv server show app-1 -f json | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["host"])')"
fi

# the guide's launch (2.1): a security group allowing SSH, a network, a server on both with
# the key pair, a floating IP associated with it, and the project's usage
if ! hv security group show ssh >/dev/null 2>&1; then
	echo "== hv security group create ssh && hv security group rule create ssh --protocol tcp --dst-port 22"
	hv security group create ssh >/dev/null
	hv security group rule create ssh --protocol tcp --dst-port 22 >/dev/null
fi
if ! hv network show private >/dev/null 2>&1; then
	echo "== hv network create private --subnet-range 10.0.0.0/24"
	hv network create private --subnet-range 10.0.0.0/24 >/dev/null
fi
if ! hv server show web-3 >/dev/null 2>&1; then
	echo "== hv server create web-3 --flavor m1.tiny --image cirros --key-name demo-key --security-group ssh --network private --wait"
	hv server create web-3 --flavor m1.tiny --image cirros --key-name demo-key \
		--security-group ssh --network private --wait >/dev/null
	fip=$(hv floating ip create -f json | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["floating_ip_address"])')
	echo "== hv floating ip create; hv server add floating ip web-3 $fip"
	hv server add floating ip web-3 "$fip" >/dev/null
fi

act() { # action server state-it-must-be-in-first
	if [ "$(hv server show "$2" -f json | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["vm_state"])')" = "$3" ]; then
		echo "== hv server $1 $2 --wait"
		hv server "$1" "$2" --wait >/dev/null
	fi
}
act pause web-2 active
act stop db-1 active
act reboot web-1 active
if ! hv server show db-1 -f json | grep -q '"action": "snapshot"'; then
	echo "== hv server snapshot db-1 db-1-backup --wait"
	hv server snapshot db-1 db-1-backup --wait
fi

# resource usage reaches hvcentral with the agents' next report (every 2 s here)
for _ in $(seq 30); do
	hv host list -f json | /usr/bin/python3 -c '
import json, sys
sys.exit(any(h["resources"].get("vcpus_used", 0) == 0 for h in json.load(sys.stdin)))' && break
	sleep 0.1
done
echo
echo "== hv server list"
hv server list
echo "== hv host list"
hv host list
echo "== hv usage show"
hv usage show

# the OpenStack-compatible API: an admin and a member user, and a clouds.yaml naming them
os_port=${HV_DEMO_OS_PORT:-8774}
if ! hv user show demo-admin >/dev/null 2>&1; then
	hv project show demo >/dev/null 2>&1 || hv project create demo >/dev/null
	umask 077
	head -c 18 /dev/urandom | base64 | tr -d '/+=' > "$demo/admin.pw"
	head -c 18 /dev/urandom | base64 | tr -d '/+=' > "$demo/member.pw"
	hv user create demo-admin --project admin --role admin --password-file "$demo/admin.pw" >/dev/null
	hv user create demo-member --project demo --role member --password-file "$demo/member.pw" >/dev/null
	/usr/bin/python3 "$repo/tests/compat/clouds.py" "$demo/clouds.yaml" "http://127.0.0.1:$os_port" \
		"hv-admin:demo-admin:$(cat "$demo/admin.pw"):admin" \
		"hv-demo:demo-member:$(cat "$demo/member.pw"):demo"
	echo "== OpenStack API on http://127.0.0.1:$os_port: users demo-admin (admin) and demo-member (project demo); $demo/clouds.yaml"
fi
cat <<MSG

The demo keeps running. To use it:
  export HV_API=$HV_API PATH=$bin/cli:\$PATH
  hv flavor list && hv keypair list && hv quota show
  hv server create web-4 --flavor m1.small --image cirros --key-name demo-key --wait
  hv server create api --flavor m1.tiny --image cirros --min 2 --max 3 --hint different_host=\$(hv server show app-1 -f json | python3 -c 'import json,sys; print(json.load(sys.stdin)["uuid"])')
  hv server unpause web-2 --wait && hv server show web-2
  hv server console-log web-1 --length 5
  hv server resize web-4 --flavor m1.medium --wait && hv server resize-confirm web-4
  hv server console web-1 --type serial
  hv --help
OpenStack's own clients (Debian's python3-openstackclient, scripts/deps.sh installs it):
  export OS_CLIENT_CONFIG_FILE=$demo/clouds.yaml OS_CLOUD=hv-admin
  openstack server list && openstack flavor list && openstack keypair list
  openstack image list && openstack network list && openstack hypervisor list
  openstack server create --flavor m1.tiny --image cirros --key-name demo-key \\
      --security-group ssh --network private --wait web-9
  OS_CLOUD=hv-demo openstack server list   # the member sees only project demo
The dashboard (Debian's Horizon, unmodified):
  scripts/deps.sh --dashboard && scripts/dashboard.sh --port 8080 --keystone http://127.0.0.1:8774/identity/v3
  then open http://127.0.0.1:8080/ as demo-admin (password: $demo/admin.pw) or demo-member ($demo/member.pw)
Logs: $demo/hvcentral.log, $demo/node-*/hvagent.log
Stop it: scripts/demo.sh --stop
MSG
