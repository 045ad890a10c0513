#!/bin/sh
# stockd.sh start|stop|clean DIR - the distribution's libvirtd as the package ships it (its own
# /etc/libvirt configs; Debian: qemu as libvirt-qemu, dynamic_ownership = 1), uri
# qemu:///system, for tests that need no isolation from the host's daemon.
#   start  starts virtlogd and libvirtd as the package would without an init system
#          (virtlogd -d, libvirtd -d) unless they run; records in DIR/stockd.pids the
#          pids of the daemons it started, and nothing else
#          and undefines the stale leftovers of killed test runs (see stale below)
#   clean  destroys and undefines the domains whose files are under DIR (a failed test's
#          leftovers), and only those
#   stop   clean, then stops the daemons start started; a daemon that already ran is left
#          alone
# Exits 77 when not root or the package is missing.
set -u
cmd=$1 dir=$2
uri=qemu:///system

alive() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

clean() {
	for d in $(virsh -q -c $uri list --all --name 2>/dev/null); do
		virsh -q -c $uri dumpxml "$d" 2>/dev/null | grep -qF "$dir/" || continue
		virsh -q -c $uri destroy "$d" >/dev/null 2>&1
		virsh -q -c $uri undefine "$d" >/dev/null 2>&1
	done
}

# A test run killed by SIGKILL (a CI timeout, an interrupted run) cannot clean up: its domain
# stays defined in /etc/libvirt/qemu, and every later agent on this daemon refuses to start
# with an empty journal while the hypervisor lists an hvagent instance. stale undefines the
# shut-off hvagent domains whose files are all in a test run's temp dir (/tmp/hv-e2e-*,
# /tmp/hvwf-*) that no running process names any more, and nothing else.
stale() {
	for d in $(virsh -q -c $uri list --inactive --name 2>/dev/null); do
		xml=$(virsh -q -c $uri dumpxml "$d" 2>/dev/null) || continue
		printf '%s' "$xml" | grep -qF 'urn:hvagent:instance' || continue
		files=$(printf '%s' "$xml" | sed -n "s/.*<source file='\([^']*\)'.*/\1/p")
		[ -n "$files" ] || continue
		ok=1
		for f in $files; do
			case $f in
			/tmp/hv-e2e-*/* | /tmp/hvwf-*/*)
				run=$(printf '%s' "$f" | cut -d/ -f1-3)
				pgrep -f -- "$run" >/dev/null && ok= ;;
			*) ok= ;;
			esac
		done
		[ -n "$ok" ] || continue
		echo "# stock libvirtd: undefining $d, left by a killed test run"
		virsh -q -c $uri undefine "$d" >/dev/null 2>&1
	done
}

case $cmd in
start)
	[ "$(id -u)" = 0 ] || { echo "SKIP: needs root to start the system libvirtd"; exit 77; }
	[ -f /etc/libvirt/qemu.conf ] && command -v libvirtd >/dev/null &&
		command -v virtlogd >/dev/null ||
		{ echo "SKIP: libvirt-daemon-system is not installed"; exit 77; }
	: >"$dir/stockd.pids"
	if ! alive /run/virtlogd.pid; then
		virtlogd -d || exit 1
		i=0
		while ! alive /run/virtlogd.pid; do i=$((i + 1)); [ $i -lt 50 ] || exit 1; sleep 0.1; done
		cat /run/virtlogd.pid >>"$dir/stockd.pids"
	fi
	if ! alive /run/libvirtd.pid; then
		libvirtd -d || exit 1
		i=0
		while ! alive /run/libvirtd.pid; do i=$((i + 1)); [ $i -lt 50 ] || exit 1; sleep 0.1; done
		cat /run/libvirtd.pid >>"$dir/stockd.pids"
	fi
	i=0
	until virsh -q -c $uri version >/dev/null 2>&1; do
		i=$((i + 1)); [ $i -lt 150 ] || { echo "qemu:///system does not answer" >&2; exit 1; }
		sleep 0.2
	done
	stale
	echo "# stock libvirtd: qemu.conf sets $(grep -cE '^[[:space:]]*[a-z_]+[[:space:]]*=' /etc/libvirt/qemu.conf) keys (the package's defaults otherwise); qemu runs as $(virsh -c $uri capabilities | grep -o "<baselabel type='qemu'>[^<]*" | sed 's/.*>//')"
	;;
clean)
	clean
	;;
stop)
	clean
	[ -f "$dir/stockd.pids" ] || exit 0
	for pid in $(cat "$dir/stockd.pids"); do kill "$pid" 2>/dev/null; done
	;;
*)
	echo "usage: $0 start|stop|clean DIR" >&2
	exit 2
	;;
esac
