#!/bin/sh
# run_guest.sh [--private] TEST.py [ARG...] - runs one real-guest workflow test: builds the tiny
# guest and its disks (guestimg.sh), then runs TEST.py with Debian's python3 against
#   - by default, the distribution's libvirtd as shipped (tests/libvirt/stockd.sh: qemu as
#     the package's unprivileged user, dynamic ownership, uri qemu:///system), the daemon
#     an operator runs;
#   - with --private, a private root-qemu libvirtd in namespaces of its own
#     (tests/libvirt/privd.sh), for a test that kills and restarts the daemon: the reason is
#     written next to the test in meson.build.
# Always tears down what it started (daemons, their guests, the temp dir). Skips (77) with
# the reason when this machine cannot run a guest.
set -u
private=
[ "${1:-}" = --private ] && { private=1; shift; }
test_py=$1
shift
here=$(cd "$(dirname "$0")" && pwd)
privd=$here/../libvirt/privd.sh
stockd=$here/../libvirt/stockd.sh
skip() { echo "SKIP: $*"; exit 77; }

[ "$(id -u)" = 0 ] || skip "needs root to run libvirtd"
for p in qemu-system-x86_64 qemu-img libvirtd virtlogd virsh unshare nsenter cpio busybox mkfs.ext4; do
	command -v "$p" >/dev/null 2>&1 || skip "$p is not installed"
done
[ -x /usr/bin/python3 ] || skip "no /usr/bin/python3"
ls /boot/vmlinuz-* >/dev/null 2>&1 || skip "no /boot/vmlinuz-* to boot"
[ -n "${HV_BUILD_ROOT:-}" ] || { echo "HV_BUILD_ROOT is not set (run through meson test)"; exit 1; }
[ -f "$HV_BUILD_ROOT/drivers/libvirt/hvagent-driver-libvirt.so" ] ||
	skip "the libvirt driver is not built in $HV_BUILD_ROOT"

dir=$(mktemp -d /tmp/hvwf-XXXXXX)
# searched (not listed) by the stock daemon's qemu user, which opens the images under it
chmod 0711 "$dir"
net=
cleanup() {
	if [ -n "$private" ]; then
		# libvirtd gives each qemu a mount namespace of its own, so privd.sh stop (which
		# kills by mount namespace, through a holder process that may be gone already)
		# can miss guests; the daemons and every guest share this run's own network
		# namespace.
		if [ -n "$net" ] && [ "$net" != "$(readlink /proc/self/ns/net)" ]; then
			for p in /proc/[0-9]*; do
				[ "$(readlink "$p/ns/net" 2>/dev/null)" = "$net" ] && kill -9 "${p#/proc/}" 2>/dev/null
			done
		fi
		"$privd" stop "$dir" >/dev/null 2>&1
	else
		"$stockd" stop "$dir" >/dev/null 2>&1
	fi
	[ -n "${HV_KEEP_TMP:-}" ] || rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

kernel=$("$here/guestimg.sh" initramfs "$dir") || exit $?
"$here/guestimg.sh" datadisk "$dir/data.qcow2" || exit 1
"$here/guestimg.sh" rootdisk "$dir/root.img" || exit 1
if [ -n "$private" ]; then
	"$privd" start "$dir" || { echo "FAIL: private libvirtd did not start"; tail -20 "$dir/libvirtd.log"; exit 1; }
	n=$(readlink "/proc/$(cat "$dir/ns.pid")/ns/net")
	case $n in "$(readlink /proc/self/ns/net)"|"") echo "FAIL: the daemon has no network namespace of its own"; exit 1 ;; esac
	net=$n
	uri="qemu+unix:///system?socket=$dir/sock/libvirt-sock"
else
	"$stockd" start "$dir" || exit $?
	uri=qemu:///system
fi

HV_WF_DIR=$dir HV_WF_URI=$uri \
HV_WF_KERNEL=$kernel HV_WF_INITRD=$dir/initrd.img HV_WF_PRIVD=$privd \
	/usr/bin/python3 -u -W ignore::DeprecationWarning "$test_py" "$@"
rc=$?
[ $rc = 0 ] || [ $rc = 77 ] || [ -z "$private" ] || tail -20 "$dir/libvirtd.log" 2>/dev/null
exit $rc
