#!/bin/sh
# qga_qemu.sh WALKER - builds the guest with qemu-ga (qgaguest.sh) and its ext4 data disk,
# starts a private libvirtd (privd.sh), runs the walker (test_qga) against it, and always
# tears the daemon and its guests down. Exits 77 with the reason when this machine cannot.
set -u
walker=$1
here=$(cd "$(dirname "$0")" && pwd)
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root to run a private libvirtd"; exit 77; }
for p in qemu-system-x86_64 qemu-img libvirtd virtlogd virsh unshare nsenter cpio busybox \
	mkfs.ext4 debugfs dumpe2fs; do
	command -v "$p" >/dev/null 2>&1 || { echo "SKIP: $p is not installed"; exit 77; }
done
ls /boot/vmlinuz-* >/dev/null 2>&1 || { echo "SKIP: no /boot/vmlinuz-* to boot"; exit 77; }

dir=$(mktemp -d /tmp/hvqga-XXXXXX)
chmod 755 "$dir"
cleanup() {
	"$here/privd.sh" stop "$dir" >/dev/null 2>&1
	[ -n "${HV_KEEP_TMP:-}" ] || rm -rf "$dir"
}
trap cleanup EXIT INT TERM

kernel=$("$here/qgaguest.sh" initramfs "$dir") || { rc=$?; [ $rc = 77 ] && echo "SKIP: no qemu-ga to put in the guest"; exit $rc; }
rm -rf "$dir/initramfs"
"$here/qgaguest.sh" datadisk "$dir/data.raw" 64 || exit 1
HV_PRIVD_LOG_FILTERS="1:qemu.qemu_agent" "$here/privd.sh" start "$dir" || { echo "FAIL: private libvirtd did not start"; tail -20 "$dir/libvirtd.log" 2>/dev/null; exit 1; }

HV_QGA_URI="qemu+unix:///system?socket=$dir/sock/libvirt-sock" \
HV_QGA_KERNEL="$kernel" HV_QGA_INITRD="$dir/initrd.img" HV_QGA_DATA="$dir/data.raw" \
HV_QGA_DIR="$dir" \
	"$walker"
rc=$?
[ $rc = 0 ] || tail -20 "$dir/libvirtd.log" 2>/dev/null
exit $rc
