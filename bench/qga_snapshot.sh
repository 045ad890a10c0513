#!/bin/sh
# qga_snapshot.sh BENCH [RUNS] - the guest's freeze and pause during a snapshot of a 1 GiB
# disk (900 MB of it written), live (the driver's way) beside paused for the whole copy, on
# a private libvirtd + QEMU/TCG with the qemu-ga guest of tests/libvirt/qgaguest.sh. Root.
set -u
bench=$1
runs=${2:-3}
tests=$(cd "$(dirname "$0")/../tests/libvirt" && pwd)
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root to run a private libvirtd"; exit 77; }
for p in qemu-system-x86_64 qemu-img libvirtd virtlogd virsh busybox cpio mkfs.ext4; do
	command -v "$p" >/dev/null 2>&1 || { echo "SKIP: $p is not installed"; exit 77; }
done
dir=$(mktemp -d /var/tmp/hvqgabench-XXXXXX)
chmod 755 "$dir"
trap '"$tests/privd.sh" stop "$dir" >/dev/null 2>&1; rm -rf "$dir"' EXIT INT TERM
kernel=$("$tests/qgaguest.sh" initramfs "$dir") || exit $?
rm -rf "$dir/initramfs"
"$tests/qgaguest.sh" datadisk "$dir/disk.raw" 1024 900 || exit 1
"$tests/privd.sh" start "$dir" || exit 1
"$bench" "qemu+unix:///system?socket=$dir/sock/libvirt-sock" "$kernel" "$dir/initrd.img" \
	"$dir/disk.raw" "$runs"
