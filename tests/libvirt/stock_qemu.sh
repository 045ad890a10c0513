#!/bin/sh
# stock_qemu.sh WALKER GUESTIMG - runs WALKER (test_stock) against the distribution's libvirtd
# as the package ships it: its own /etc/libvirt configs (Debian: qemu as libvirt-qemu,
# dynamic_ownership = 1), uri qemu:///system, started as the package would start it when no
# init system is present (virtlogd -d, libvirtd -d). A daemon that already runs is used and
# left alone; only daemons this script started are stopped. The guest's files sit under
# /var/lib (the default paths), in a scratch directory removed afterwards.
set -u
walker=$1 guestimg=$2
skip() { echo "SKIP: $*"; exit 77; }
[ "$(id -u)" = 0 ] || skip "needs root to start the system libvirtd"
[ -f /etc/libvirt/qemu.conf ] && command -v libvirtd >/dev/null && command -v virtlogd >/dev/null ||
	skip "libvirt-daemon-system is not installed"
for p in qemu-system-x86_64 qemu-img virsh cpio busybox; do
	command -v "$p" >/dev/null 2>&1 || skip "$p is not installed"
done
ls /boot/vmlinuz-* >/dev/null 2>&1 || skip "no /boot/vmlinuz-* to boot"

started=""
alive() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }
dir=""
cleanup() {
	for pid in $started; do kill "$pid" 2>/dev/null; done
	[ -z "$dir" ] || [ -n "${HV_KEEP_TMP:-}" ] || rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

if ! alive /run/virtlogd.pid; then
	virtlogd -d || { echo "FAIL: virtlogd -d"; exit 1; }
	sleep 0.5
	started="$started $(cat /run/virtlogd.pid)"
fi
if ! alive /run/libvirtd.pid; then
	libvirtd -d || { echo "FAIL: libvirtd -d"; exit 1; }
	started="$started $(cat /run/libvirtd.pid 2>/dev/null)"
fi
i=0
until virsh -q -c qemu:///system version >/dev/null 2>&1; do
	i=$((i + 1)); [ $i -lt 100 ] || { echo "FAIL: qemu:///system does not answer"; exit 1; }
	sleep 0.2
done
echo "# qemu.conf sets: $(grep -E '^[[:space:]]*(user|group|dynamic_ownership|security_driver)[[:space:]]*=' /etc/libvirt/qemu.conf | tr '\n' ' ')(nothing else: the package's defaults)"
echo "# the DAC label libvirtd runs qemu as: $(virsh -c qemu:///system capabilities | grep -o "<baselabel type='qemu'>[^<]*" | sed 's/.*>//')"

# /var/lib/hvagent as the agent should make it (0711); instances/ under it is the default
if [ ! -d /var/lib/hvagent ]; then mkdir -m 0711 /var/lib/hvagent; fi
dir=$(mktemp -d /var/lib/hvagent/stock-test-XXXXXX)
chmod 0711 "$dir"
kernel=$("$guestimg" initramfs "$dir") || exit $?
cp "$kernel" "$dir/kernel"
rm -rf "$dir/initramfs"
"$guestimg" datadisk "$dir/root.qcow2" || exit 1
truncate -s 16M "$dir/rescue.raw"
printf 'HVDISK rescue\n' | dd of="$dir/rescue.raw" bs=512 seek=1 conv=notrunc status=none

HV_STOCK_DIR=$dir "$walker"
