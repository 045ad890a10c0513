#!/bin/sh
# privd.sh start|daemon|kill|stop DIR - a private libvirtd (+ virtlogd) for tests, in its own
# mount and network namespaces: its state, config and persistent domains live on tmpfs,
# its socket is DIR/sock/libvirt-sock, and nothing reaches the host's network or the
# system libvirt's files.
#   start   new namespaces, virtlogd and libvirtd
#   daemon  (re)start libvirtd only, inside the existing namespaces
#   kill    SIGKILL libvirtd (guests keep running)
#   stop    kill every process of the namespaces (daemons and guests)
set -eu
cmd=$1
dir=$2

start_libvirtd() {
	nsenter -t "$(cat "$dir/ns.pid")" -m -n libvirtd -d -f "$dir/libvirtd.conf" -p "$dir/libvirtd.pid"
	i=0
	while [ ! -S "$dir/sock/libvirt-sock" ] || ! virsh -q -c "qemu+unix:///system?socket=$dir/sock/libvirt-sock" version >/dev/null 2>&1; do
		i=$((i + 1)); [ $i -lt 300 ] || { echo "libvirtd did not come up" >&2; exit 1; }
		sleep 0.1
	done
}

case $cmd in
start)
	mkdir -p "$dir/sock"
	# HV_PRIVD_LOG_FILTERS (libvirt's log_filters, "1:qemu.qemu_agent") logs more of some
	# modules: a test that looks for what must never be logged.
	level=3
	[ -z "${HV_PRIVD_LOG_FILTERS:-}" ] || level=1
	cat >"$dir/libvirtd.conf" <<CONF
unix_sock_dir = "$dir/sock"
unix_sock_rw_perms = "0700"
auth_unix_rw = "none"
auth_unix_ro = "none"
log_level = 3
log_filters = "${HV_PRIVD_LOG_FILTERS:-}"
log_outputs = "$level:file:$dir/libvirtd.log"
CONF
	cat >"$dir/qemu.conf" <<CONF
user = "root"
group = "root"
dynamic_ownership = 0
remember_owner = 0
security_driver = "none"
vnc_listen = "127.0.0.1"
CONF
	mkdir -p /run/libvirt /var/lib/libvirt /var/cache/libvirt /var/log/libvirt /etc/libvirt/qemu
	# The namespace holder: a sleeping process whose namespaces the daemons join.
	unshare -m -n --propagation private sh -c "
		mount -t tmpfs hvtest /run/libvirt &&
		mount -t tmpfs hvtest /var/lib/libvirt &&
		mount -t tmpfs hvtest /var/cache/libvirt &&
		mount -t tmpfs hvtest /var/log/libvirt &&
		mount -t tmpfs hvtest /etc/libvirt/qemu &&
		mount --bind '$dir/qemu.conf' /etc/libvirt/qemu.conf &&
		mkdir -p /var/lib/libvirt/qemu /var/log/libvirt/qemu /var/cache/libvirt/qemu &&
		ip link set lo up &&
		echo \$\$ >'$dir/ns.pid' && exec sleep 100000" </dev/null >/dev/null 2>&1 &
	i=0
	while [ ! -s "$dir/ns.pid" ]; do i=$((i + 1)); [ $i -lt 100 ] || exit 1; sleep 0.05; done
	sleep 0.2
	nsenter -t "$(cat "$dir/ns.pid")" -m -n virtlogd -d -p "$dir/virtlogd.pid"
	start_libvirtd
	;;
daemon)
	start_libvirtd
	;;
kill)
	kill -9 "$(cat "$dir/libvirtd.pid")"
	i=0
	while kill -0 "$(cat "$dir/libvirtd.pid")" 2>/dev/null; do i=$((i + 1)); [ $i -lt 100 ] || exit 1; sleep 0.05; done
	;;
stop)
	[ -s "$dir/ns.pid" ] || exit 0
	ns=$(readlink "/proc/$(cat "$dir/ns.pid")/ns/mnt" || true)
	[ -n "$ns" ] || exit 0
	# Only processes inside this namespace: the daemons and guests this script started.
	for p in /proc/[0-9]*; do
		[ "$(readlink "$p/ns/mnt" 2>/dev/null)" = "$ns" ] && kill -9 "${p#/proc/}" 2>/dev/null || true
	done
	;;
*)
	echo "usage: $0 start|daemon|kill|stop DIR" >&2
	exit 2
	;;
esac
