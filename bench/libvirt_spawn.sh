#!/bin/sh
# libvirt_spawn.sh BENCH [RUNS] - on a real libvirtd: spawn-to-running through the libvirt
# driver vs `virsh create` of the same XML, then reconciliation of 1000 defined domains;
# a private libvirtd + QEMU/TCG (tests/libvirt/privd.sh). Needs root.
set -u
bench=$1
runs=${2:-5}
tests=$(cd "$(dirname "$0")/../tests/libvirt" && pwd)
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root to run a private libvirtd"; exit 77; }
for p in qemu-system-x86_64 qemu-img libvirtd virtlogd virsh busybox cpio; do
	command -v "$p" >/dev/null 2>&1 || { echo "SKIP: $p is not installed"; exit 77; }
done
dir=$(mktemp -d /tmp/hvbench-XXXXXX)
chmod 755 "$dir"
trap '"$tests/privd.sh" stop "$dir" >/dev/null 2>&1; rm -rf "$dir"' EXIT INT TERM
kernel=$("$tests/mkguest.sh" "$dir") || exit $?
"$tests/privd.sh" start "$dir" || exit 1
"$bench" spawn "qemu+unix:///system?socket=$dir/sock/libvirt-sock" "$kernel" "$dir/initrd.img" "$runs"
rc=$?
"$bench" reconcile 1000 "qemu+unix:///system?socket=$dir/sock/libvirt-sock" || rc=1
exit $rc
