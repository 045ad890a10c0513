#!/bin/sh
# stock_qemu.sh WALKER GUESTIMG - runs WALKER (test_stock) against the distribution's libvirtd
# as the package ships it (stockd.sh: its own configs, uri qemu:///system, started as the
# package would when no init system runs it; a daemon that already runs is used and left
# alone). The guest's files sit under /var/lib/hvagent, the default paths, in a scratch
# directory removed afterwards.
set -u
walker=$1 guestimg=$2
here=$(cd "$(dirname "$0")" && pwd)
skip() { echo "SKIP: $*"; exit 77; }
[ "$(id -u)" = 0 ] || skip "needs root to start the system libvirtd"
for p in qemu-system-x86_64 qemu-img virsh cpio busybox; do
	command -v "$p" >/dev/null 2>&1 || skip "$p is not installed"
done
ls /boot/vmlinuz-* >/dev/null 2>&1 || skip "no /boot/vmlinuz-* to boot"

# /var/lib/hvagent as the agent should make it (0711); instances/ under it is the default
[ -d /var/lib/hvagent ] || mkdir -m 0711 /var/lib/hvagent
dir=$(mktemp -d /var/lib/hvagent/stock-test-XXXXXX)
chmod 0711 "$dir"
cleanup() {
	"$here/stockd.sh" stop "$dir"
	[ -n "${HV_KEEP_TMP:-}" ] || rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
"$here/stockd.sh" start "$dir" || exit $?

kernel=$("$guestimg" initramfs "$dir") || exit $?
cp "$kernel" "$dir/kernel"
rm -rf "$dir/initramfs"
"$guestimg" datadisk "$dir/root.qcow2" || exit 1
truncate -s 16M "$dir/rescue.raw"
printf 'HVDISK rescue\n' | dd of="$dir/rescue.raw" bs=512 seek=1 conv=notrunc status=none

HV_STOCK_DIR=$dir "$walker"
