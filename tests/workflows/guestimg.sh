#!/bin/sh
# guestimg.sh - the guest pieces the workflow tests share.
#
#   guestimg.sh initramfs OUTDIR [MODULE...]
#                                   the tiny guest of tests/libvirt/mkguest.sh, with an init
#                                   in front of its own that loads the block, cdrom and ext4
#                                   modules (and MODULEs) and reports on ttyS0 what the guest
#                                   was given; writes OUTDIR/initrd.img, prints the kernel path.
#   guestimg.sh datadisk FILE       a small qcow2 disk whose sector 1 the guest reads and
#                                   rewrites (HVGUEST-DISKS / -DISK-WROTE lines)
#   guestimg.sh rootdisk FILE       an ext4 root disk (raw, made by mkfs.ext4 -d) with
#                                   /etc/passwd, /etc/shadow (root locked) and /root
#
# Lines the guest prints, besides mkguest.sh's HVGUEST-BOOTED / -READY / -POWERBUTTON:
#   HVGUEST-DISKS vda=<text> ...  what sector 1 of each data disk held at boot
#   HVGUEST-DISK-WROTE <id>     the boot id the guest wrote to its only data disk
#   HVGUEST-CD label=|uuid=|hostname=|key=   from the config-2 drive
#   HVGUEST-CD user_data_sha256=|admin_pass_sha256=   what user_data and admin_pass hold
#   HVGUEST-UD <line>           each line of its user_data (up to 100, printable bytes only)
#   HVGUEST-ROOT key=<line>     each line of the root disk's /root/.ssh/authorized_keys
#   HVGUEST-ROOT shadow=<hash>  root's field of the root disk's /etc/shadow
#   HVGUEST-NET if=|mac=|address=|gateway=   the first network of network_data.json, as
#                               the guest configured it (the routed model: a /32 and an
#                               on-link gateway)
#   HVGUEST-NET listening=22,80  TCP echo servers (busybox nc) the guest then runs
set -eu
here=$(cd "$(dirname "$0")" && pwd)
mkguest=$here/../libvirt/mkguest.sh

# The modules a name needs, dependencies first, from the kernel's own modules.dep.
module_chain() ( # KVER NAME (a subshell: the recursion keeps its own variables)
	dep=/lib/modules/$1/modules.dep
	line=$(grep -E "/$2\.ko(\.xz|\.zst|\.gz)?:" "$dep" | head -n 1)
	[ -n "$line" ] || return 0
	for d in $(echo "${line#*:}" | tr ' ' '\n' | tac); do
		n=$(basename "$d"); n=${n%%.ko*}
		module_chain "$1" "$n"
	done
	echo "${line%%:*}"
)

add_modules() { # ROOT KVER NAME...
	root=$1 kver=$2; shift 2
	mkdir -p "$root/lib/wf"
	: >"$root/lib/wf/order"
	for name in "$@"; do
		for rel in $(module_chain "$kver" "$name"); do
			base=$(basename "$rel"); base=${base%%.ko*}.ko
			grep -qx "$base" "$root/lib/wf/order" && continue
			src=/lib/modules/$kver/$rel
			case $rel in
			*.ko.xz) xz -dc "$src" >"$root/lib/wf/$base" ;;
			*.ko.zst) zstd -qdc "$src" >"$root/lib/wf/$base" ;;
			*.ko.gz) gzip -dc "$src" >"$root/lib/wf/$base" ;;
			*) cp "$src" "$root/lib/wf/$base" ;;
			esac
			echo "$base" >>"$root/lib/wf/order"
		done
	done
}

case ${1:-} in
initramfs)
	out=$2
	shift 2
	kernel=$("$mkguest" "$out") || exit $?
	kver=${kernel#/boot/vmlinuz-}
	root=$out/initramfs
	add_modules "$root" "$kver" virtio_pci virtio_blk ata_piix sr_mod isofs crc32c_generic ext4 \
		virtio_net "$@"
	mv "$root/init" "$root/init.base"
	cat >"$root/init" <<'INIT'
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
while read -r m; do insmod "/lib/wf/$m" 2>/dev/null; done </lib/wf/order
mkdir -p /mnt/cd /mnt/root
# Block devices appear a moment after their modules load.
i=0
while [ $i -lt 30 ] && ! { [ -b /dev/vda ] && ls /dev/sr* >/dev/null 2>&1; }; do sleep 0.1; i=$((i + 1)); done
[ -b /dev/vda ] || sleep 1
for cd in /dev/sr*; do
	[ -b "$cd" ] && mount -t iso9660 -o ro "$cd" /mnt/cd 2>/dev/null || continue
	md=/mnt/cd/openstack/latest/meta_data.json
	if [ -f "$md" ]; then
		echo "HVGUEST-CD label=$(dd if="$cd" bs=1 skip=32808 count=32 2>/dev/null | tr -d ' ')"
		echo "HVGUEST-CD uuid=$(grep -o '"uuid": *"[^"]*"' "$md" | head -n 1 | sed 's/.*"\([^"]*\)"$/\1/')"
		echo "HVGUEST-CD hostname=$(grep -o '"hostname": *"[^"]*"' "$md" | head -n 1 | sed 's/.*"\([^"]*\)"$/\1/')"
		sed -n 's/.*"public_keys": *{\([^}]*\)}.*/\1/p' "$md" | grep -o '"\(ssh\|ecdsa\)-[^"]*"' |
			tr -d '"' | while read -r k; do echo "HVGUEST-CD key=$k"; done
		pw=$(grep -o '"admin_pass": *"[^"]*"' "$md" | head -n 1 | sed 's/.*"\([^"]*\)"$/\1/')
		[ -z "$pw" ] || echo "HVGUEST-CD admin_pass_sha256=$(printf %s "$pw" | sha256sum | cut -d' ' -f1)"
		ud=/mnt/cd/openstack/latest/user_data
		if [ -f "$ud" ]; then
			echo "HVGUEST-CD user_data_sha256=$(sha256sum <"$ud" | cut -d' ' -f1)"
			# printable text only: a gzip'd payload must not put binary on the console
			sed 's/\r$//' "$ud" | tr -cd '\11\12\40-\176' | head -n 100 |
				while IFS= read -r l; do echo "HVGUEST-UD $l"; done
		fi
		nd=/mnt/cd/openstack/latest/network_data.json
		[ -f "$nd" ] && cp "$nd" /tmp/network_data.json
	fi
	umount /mnt/cd
done
# The first network of network_data.json on the interface with its MAC address, then echo
# servers on 22 and 80 (a firewall test tells an open port from a dropped one).
if [ -f /tmp/network_data.json ]; then
	nd=/tmp/network_data.json
	field() { grep -o "\"$1\": *\"[^\"]*\"" "$nd" | head -n 1 | sed 's/.*"\([^"]*\)"$/\1/'; }
	mac=$(field ethernet_mac_address) addr=$(field ip_address) mask=$(field netmask)
	gw=$(field gateway)
	i=0 nic=
	[ -n "$mac" ] && [ -n "$addr" ] || i=50
	while [ $i -lt 50 ] && [ -z "$nic" ]; do
		for n in /sys/class/net/*; do
			[ "$(cat "$n/address" 2>/dev/null)" = "$mac" ] && nic=${n##*/}
		done
		[ -n "$nic" ] || sleep 0.1
		i=$((i + 1))
	done
	if [ -n "$nic" ] && [ -n "$addr" ]; then
		eval "$(ipcalc -p "$addr" "${mask:-255.255.255.255}")"
		ip link set lo up
		ip link set "$nic" up
		ip addr add "$addr/$PREFIX" dev "$nic"
		if [ -n "$gw" ]; then
			ip route add "$gw" dev "$nic"
			ip route add default via "$gw" dev "$nic"
		fi
		echo "HVGUEST-NET if=$nic mac=$mac address=$addr/$PREFIX gateway=$gw"
		nc -ll -p 22 -e /bin/cat </dev/null >/dev/null 2>&1 &
		nc -ll -p 80 -e /bin/cat </dev/null >/dev/null 2>&1 &
		echo "HVGUEST-NET listening=22,80"
	elif [ -n "$addr" ]; then
		echo "HVGUEST-NET no interface with mac=$mac"
	fi
fi
if [ -b /dev/vda ]; then
	if mount -t ext4 -o ro /dev/vda /mnt/root 2>/dev/null; then
		ak=/mnt/root/root/.ssh/authorized_keys
		[ -f "$ak" ] && while read -r k; do echo "HVGUEST-ROOT key=$k"; done <"$ak"
		echo "HVGUEST-ROOT shadow=$(grep '^root:' /mnt/root/etc/shadow | cut -d: -f2)"
		umount /mnt/root
	else
		# Data disks: sector 1 holds one line that the last boot of that disk wrote. The
		# guest writes its boot id only when it has one disk (not while rescued).
		seen="" n=0
		for d in /dev/vd?; do
			v=$(dd if="$d" bs=512 skip=1 count=1 2>/dev/null | tr -d '\000' | head -n 1)
			case $v in HVDISK*) seen="$seen ${d#/dev/}=${v#HVDISK }"; n=$((n + 1)) ;; esac
		done
		[ $n = 0 ] || echo "HVGUEST-DISKS$seen"
		if [ $n = 1 ]; then
			id=$(cat /proc/sys/kernel/random/boot_id)
			echo "HVDISK $id" | dd of=/dev/vda bs=512 seek=1 count=1 conv=sync,fsync 2>/dev/null &&
				echo "HVGUEST-DISK-WROTE $id"
		fi
	fi
fi
umount /sys /proc 2>/dev/null; umount -l /dev 2>/dev/null
exec /init.base
INIT
	chmod +x "$root/init"
	(cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) >"$out/initrd.img"
	echo "$kernel"
	;;
datadisk)
	raw=$2.raw
	truncate -s 64M "$raw"
	printf 'HVDISK fresh\n' | dd of="$raw" bs=512 seek=1 conv=notrunc status=none
	qemu-img convert -q -f raw -O qcow2 "$raw" "$2"
	rm -f "$raw"
	;;
rootdisk)
	d=$2.tree
	rm -rf "$d"
	mkdir -p "$d/etc" "$d/root"
	printf 'root:x:0:0:root:/root:/bin/sh\n' >"$d/etc/passwd"
	printf 'root:x:0:\nshadow:x:42:\n' >"$d/etc/group"
	printf 'root:*:19000:0:99999:7:::\n' >"$d/etc/shadow"
	printf 'ID=debian\nVERSION_ID="12"\n' >"$d/etc/os-release"
	echo 12.0 >"$d/etc/debian_version"
	printf 'LABEL=root / ext4 defaults 0 1\n' >"$d/etc/fstab"
	chmod 0640 "$d/etc/shadow"; chown 0:42 "$d/etc/shadow"; chmod 0700 "$d/root"
	truncate -s 64M "$2"
	mkfs.ext4 -q -F -L root -d "$d" "$2"
	rm -rf "$d"
	;;
*)
	echo "usage: $0 initramfs OUTDIR | datadisk FILE | rootdisk FILE" >&2
	exit 2
	;;
esac
