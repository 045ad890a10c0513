#!/bin/sh
# e2e_qemu.sh WALKER - builds the tiny guest, starts a private libvirtd, runs the walker
# (test_qemu_e2e) against it, and always tears the daemon and its guests down.
set -u
walker=$1
here=$(cd "$(dirname "$0")" && pwd)
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root to run a private libvirtd"; exit 77; }
for p in qemu-system-x86_64 qemu-img libvirtd virtlogd unshare nsenter cpio busybox virsh; do
	command -v "$p" >/dev/null 2>&1 || { echo "SKIP: $p is not installed"; exit 77; }
done
ls /boot/vmlinuz-* >/dev/null 2>&1 || { echo "SKIP: no /boot/vmlinuz-* to boot"; exit 77; }

dir=$(mktemp -d /tmp/hve2e-XXXXXX)
chmod 755 "$dir"
cleanup() {
	"$here/privd.sh" stop "$dir" >/dev/null 2>&1
	[ -n "${HV_KEEP_TMP:-}" ] || rm -rf "$dir"
}
trap cleanup EXIT INT TERM

kernel=$("$here/mkguest.sh" "$dir") || exit $?
"$here/privd.sh" start "$dir" || { echo "FAIL: private libvirtd did not start"; cat "$dir/libvirtd.log" 2>/dev/null | tail -20; exit 1; }

HV_E2E_URI="qemu+unix:///system?socket=$dir/sock/libvirt-sock" \
HV_E2E_KERNEL="$kernel" HV_E2E_INITRD="$dir/initrd.img" \
HV_E2E_DIR="$dir" HV_E2E_PRIVD="$here/privd.sh" \
	"$walker"
rc=$?
[ $rc = 0 ] || tail -20 "$dir/libvirtd.log" 2>/dev/null
exit $rc
