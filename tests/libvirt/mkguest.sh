#!/bin/sh
# mkguest.sh OUTDIR - a tiny guest for QEMU/TCG: the host's Debian kernel and a busybox
# initramfs whose init prints marker lines on the serial console and powers off when the
# ACPI power button is pressed (evdev + button modules, read from /dev/input); with hvdeaf=1
# on its command line it ignores the button, as a guest without ACPI support would. Prints
# the kernel path.
set -eu
out=$1
kernel=$(ls /boot/vmlinuz-* 2>/dev/null | sort -V | tail -n 1)
[ -n "$kernel" ] || { echo "no /boot/vmlinuz-*" >&2; exit 77; }
kver=${kernel#/boot/vmlinuz-}
busybox=$(command -v busybox || true)
[ -n "$busybox" ] || { echo "no busybox" >&2; exit 77; }
root=$out/initramfs
rm -rf "$root"
mkdir -p "$root/bin" "$root/proc" "$root/sys" "$root/dev" "$root/lib" "$root/tmp"
cp "$busybox" "$root/bin/busybox"
for m in kernel/drivers/input/evdev.ko kernel/drivers/acpi/button.ko; do
	src=/lib/modules/$kver/$m
	if [ -f "$src" ]; then cp "$src" "$root/lib/"
	elif [ -f "$src.xz" ]; then xz -dc "$src.xz" >"$root/lib/$(basename "$m")"
	fi
done
cat >"$root/init" <<'INIT'
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
for m in /lib/*.ko; do insmod "$m" 2>/dev/null; done
echo "HVGUEST-BOOTED cmdline=[$(cat /proc/cmdline)]"
sleep 1
armed=0
for d in $(grep -q hvdeaf=1 /proc/cmdline || echo /sys/class/input/event*); do
	[ -e "$d" ] || continue
	if grep -q "Power Button" "$d/device/name" 2>/dev/null; then
		# READY is printed only once the device is open: a press before that is lost.
		( exec 3</dev/input/${d##*/}; : >/tmp/armed.$armed
		  dd bs=24 count=1 <&3 >/dev/null 2>&1
		  echo "HVGUEST-POWERBUTTON"; sync; poweroff -f ) &
		while [ ! -e /tmp/armed.$armed ]; do sleep 0.1; done
		armed=$((armed + 1))
	fi
done
echo "HVGUEST-READY buttons=$armed"
while true; do sleep 3600; done
INIT
chmod +x "$root/init"
(cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) >"$out/initrd.img"
echo "$kernel"
