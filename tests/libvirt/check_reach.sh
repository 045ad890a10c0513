#!/bin/sh
# check_reach.sh HVAGENT - `hvagent --check-config` runs the start-up self-check against the
# distribution's libvirtd as shipped (stockd.sh: qemu as the package's unprivileged user):
# an instances path or a config drive directory under a 0700 directory exits 78 naming that
# directory; reachable 0711 directories pass (0); a libvirtd that cannot be reached is a
# warning (0), and the config is still printed. No guest is started.
set -u
hvagent=$1
here=$(cd "$(dirname "$0")" && pwd)
[ -n "${HV_LIBVIRT_DRIVER:-}" ] || { echo "HV_LIBVIRT_DRIVER is not set (run through meson test)"; exit 1; }
HVAGENT_DRIVER_DIR=$(dirname "$HV_LIBVIRT_DRIVER")
export HVAGENT_DRIVER_DIR

[ -d /var/lib/hvagent ] || mkdir -m 0711 /var/lib/hvagent 2>/dev/null
dir=$(mktemp -d /var/lib/hvagent/reach-test-XXXXXX 2>/dev/null) || dir=$(mktemp -d)
chmod 0711 "$dir"
cleanup() {
	"$here/stockd.sh" stop "$dir" >/dev/null 2>&1
	rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
"$here/stockd.sh" start "$dir" || exit $?

fails=0
check() { if "$@"; then echo "ok: $desc"; else echo "FAIL: $desc"; fails=$((fails + 1)); fi; }

mkdir -m 0711 "$dir/open" "$dir/open/images"
mkdir -m 0700 "$dir/closed"
# conf NAME INSTANCES_PATH CONFIG_DRIVE_DIR [URI]
conf() {
	cat >"$dir/$1.conf" <<CONF
[DEFAULT]
host_id = reach-test
driver = libvirt
state_dir = $dir/state
instances_path = $2
image_store = $dir/open/images
[controller]
endpoint = tcp://127.0.0.1:5999
keys_dir = $dir/keys
[libvirt]
uri = ${4:-qemu:///system}
virt_type = qemu
[guest]
config_drive_dir = $3
CONF
}
run() { # NAME: sets rc, out (stdout), err (stderr)
	"$hvagent" --check-config -c "$dir/$1.conf" >"$dir/out" 2>"$dir/err"
	rc=$?
	out=$(cat "$dir/out") err=$(cat "$dir/err")
	echo "# $1: exit $rc; stderr: $err"
}

conf good "$dir/open/instances" "$dir/open/config-drives"
run good
desc="reachable directories pass: exit 0, the config printed, nothing on stderr"
check [ "$rc" = 0 ] && check grep -q "^instances_path = $dir/open/instances" "$dir/out" &&
	check [ -z "$err" ]

conf inst "$dir/closed/instances" "$dir/open/config-drives"
run inst
desc="an instances path under a 0700 directory exits 78 naming that directory and its mode"
check [ "$rc" = 78 ] && check grep -q "instances_path" "$dir/err" &&
	check grep -qF "$dir/closed" "$dir/err" && check grep -q "0700" "$dir/err"

conf drive "$dir/open/instances" "$dir/closed/config-drives"
run drive
desc="a config drive directory under a 0700 directory exits 78 naming it (the check_reach op)"
check [ "$rc" = 78 ] && check grep -q "guest.config_drive_dir" "$dir/err" &&
	check grep -qF "$dir/closed" "$dir/err"

conf nodaemon "$dir/closed/instances" "$dir/open/config-drives" \
	"qemu+unix:///system?socket=$dir/no-such-socket"
run nodaemon
desc="a libvirtd that cannot be reached is a warning saying nothing was checked (exit 0)"
check [ "$rc" = 0 ] && check grep -q "warning: cannot open the libvirt host" "$dir/err" &&
	check grep -q "not checked" "$dir/err" && check [ -n "$out" ]

[ $fails = 0 ] || { echo "$fails check(s) failed"; exit 1; }
