#!/bin/sh
# qgaguest.sh - the tiny guest with Debian's QEMU guest agent in it, for the snapshot
# (quiesce) and set-password tests and the snapshot benchmark.
#
#   qgaguest.sh initramfs OUTDIR   tests/workflows/guestimg.sh's guest plus virtio_console,
#                                  qemu-ga and shadow's chpasswd (binaries and the shared
#                                  libraries ldd names), /etc/passwd and /etc/shadow (root
#                                  locked) in the initramfs; writes OUTDIR/initrd.img and
#                                  prints the kernel path. Exits 77 without qemu-ga.
#   qgaguest.sh datadisk FILE [MB [FILL]]
#                                  an ext4 file system (raw, 64 MB unless MB) holding
#                                  /marker = "fresh" (and /fill: FILL MB of random bytes)
#
# With hvqga=1 on its command line the guest mounts /dev/vda read-write on /data (commit=60:
# what it writes stays in its page cache unless something flushes it) and runs qemu-ga on the
# virtio-serial port org.qemu.guest_agent.0 with a freeze hook. Lines it prints (through
# /dev/kmsg at KERN_CRIT, so they reach the serial console synchronously; boot the guest with
# printk.devkmsg=on so none is rate-limited):
#   HVGUEST-DATA <text>      /data/marker at boot
#   HVGUEST-QGA port=<dev>   qemu-ga started
#   HVGUEST-FREEZE           the freeze hook ran (before qemu-ga freezes /data)
#   HVGUEST-THAW             the thaw hook ran (after qemu-ga thawed /data)
#   HVGUEST-TICK <n>         every second: n written to /data/tick and synced (stops while
#                            /data is frozen)
#   HVGUEST-SHADOW <user>:<hash>   /etc/shadow changed (a password set through the agent)
#   HVGUEST-AGENT-SHUTDOWN <args>  qemu-ga ran /sbin/shutdown (guest-shutdown); the guest
#                            powers off half a second later
set -eu
here=$(cd "$(dirname "$0")" && pwd)
guestimg=$here/../workflows/guestimg.sh

# Copies a binary and every shared library ldd resolves for it into ROOT, same paths.
copy_with_libs() { # ROOT BINARY
	mkdir -p "$1$(dirname "$2")"
	cp "$2" "$1$2"
	for lib in $(ldd "$2" | sed -n 's/.*=> \(\/[^ ]*\).*/\1/p; s/^[[:space:]]*\(\/[^ ]*\) .*/\1/p'); do
		[ -e "$1$lib" ] && continue
		mkdir -p "$1$(dirname "$lib")"
		cp -L "$lib" "$1$lib"
	done
}

case ${1:-} in
initramfs)
	out=$2
	qga=$(command -v qemu-ga || ls /usr/sbin/qemu-ga 2>/dev/null || true)
	chpw=$(ls /usr/sbin/chpasswd 2>/dev/null || true)
	[ -n "$qga" ] || { echo "no qemu-ga (apt-get install qemu-guest-agent)" >&2; exit 77; }
	[ -n "$chpw" ] || { echo "no /usr/sbin/chpasswd (package passwd)" >&2; exit 77; }
	kernel=$("$guestimg" initramfs "$out" virtio_console) || exit $?
	root=$out/initramfs
	copy_with_libs "$root" "$qga"
	copy_with_libs "$root" "$chpw"
	mkdir -p "$root/etc/qemu" "$root/data" "$root/var/run" "$root/usr/bin" "$root/lib64"
	printf 'root:x:0:0:root:/root:/bin/sh\n' >"$root/etc/passwd"
	printf 'root:x:0:\nshadow:x:42:\n' >"$root/etc/group"
	printf 'root:*:19000:0:99999:7:::\n' >"$root/etc/shadow"
	chmod 0640 "$root/etc/shadow"
	cat >"$root/etc/qemu/fsfreeze-hook" <<'HOOK'
#!/bin/sh
# qemu-ga runs this with "freeze" before freezing and "thaw" after thawing; its output goes
# to /dev/null, hence the kernel log.
case $1 in
freeze) echo "<2>HVGUEST-FREEZE" >/dev/kmsg ;;
thaw) echo "<2>HVGUEST-THAW" >/dev/kmsg ;;
esac
exit 0
HOOK
	chmod +x "$root/etc/qemu/fsfreeze-hook"
	# qemu-ga's guest-shutdown runs /sbin/shutdown -h -P +0 and waits for it to return, as
	# a distribution's shutdown does once the power-off is scheduled.
	mkdir -p "$root/sbin"
	cat >"$root/sbin/shutdown" <<'SHUTDOWN'
#!/bin/sh
echo "<2>HVGUEST-AGENT-SHUTDOWN $*" >/dev/kmsg
( sleep 0.5; sync; poweroff -f ) </dev/null >/dev/null 2>&1 &
exit 0
SHUTDOWN
	chmod +x "$root/sbin/shutdown"
	# Between guestimg.sh's front init and mkguest.sh's: guestimg.sh's has loaded the modules.
	mv "$root/init.base" "$root/init.core"
	cat >"$root/init.base" <<'INIT'
#!/bin/busybox sh
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
say() { echo "<2>$*" >/dev/kmsg; }
if grep -q hvqga=1 /proc/cmdline; then
	if mount -t ext4 -o commit=60 /dev/vda /data; then
		say "HVGUEST-DATA $(cat /data/marker 2>/dev/null)"
		( n=0; while sleep 1; do
			n=$((n + 1)); echo $n >/data/tick && sync && say "HVGUEST-TICK $n"
		done ) &
	fi
	port=
	for p in /sys/class/virtio-ports/*; do
		[ "$(cat "$p/name" 2>/dev/null)" = org.qemu.guest_agent.0 ] && port=/dev/${p##*/}
	done
	i=0
	while [ -n "$port" ] && [ ! -e "$port" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
	if [ -n "$port" ]; then
		qemu-ga -m virtio-serial -p "$port" -t /var/run --fsfreeze-hook=/etc/qemu/fsfreeze-hook \
			-l /var/run/qga.log </dev/null >/dev/null 2>&1 &
		say "HVGUEST-QGA port=$port"
	fi
	( last=$(grep '^root:' /etc/shadow); while sleep 0.5; do
		cur=$(grep '^root:' /etc/shadow)
		[ "$cur" = "$last" ] || say "HVGUEST-SHADOW $(echo "$cur" | cut -d: -f1,2)"
		last=$cur
	done ) &
fi
exec /init.core
INIT
	chmod +x "$root/init.base"
	(cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) >"$out/initrd.img"
	echo "$kernel"
	;;
datadisk)
	d=$2.tree
	rm -rf "$d"
	mkdir -p "$d"
	echo fresh >"$d/marker"
	[ -z "${4:-}" ] || head -c "$(($4 * 1024 * 1024))" /dev/urandom >"$d/fill"
	truncate -s "${3:-64}M" "$2"
	mkfs.ext4 -q -F -L data -d "$d" "$2"
	rm -rf "$d"
	;;
*)
	echo "usage: $0 initramfs OUTDIR | datadisk FILE [MB]" >&2
	exit 2
	;;
esac
