#!/bin/sh
# Injection throughput: a key and a root password into 4 instance disks, first with ONE
# libguestfs appliance for all four (our batch), then with one appliance per instance
# (nova's way), in the same run on the same kind of images. Prints both and the ratio
# (target >= 3x). Under TCG (KVM hangs on these machines) one launch costs 20-45 s.
#
# usage: guest_inject.sh GUEST_INJECT_TOOL KEYS_GOOD_FILE [N]
set -eu
tool=$(realpath "$1") keys=$(realpath "$2") n=${3:-4}
for t in mkfs.ext4 supermin; do
  command -v "$t" >/dev/null || { echo "skip: $t is not installed"; exit 77; }
done
[ "$(id -u)" = 0 ] || { echo "skip: fixtures need root"; exit 77; }
export LIBGUESTFS_BACKEND_SETTINGS="${LIBGUESTFS_BACKEND_SETTINGS:-force_tcg}"

tmp=$(mktemp -d /var/tmp/guest-bench.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
mkdir -p root/etc root/root
printf 'ID=debian\nVERSION_ID="12"\n' >root/etc/os-release
printf 'root:x:0:0:root:/root:/bin/sh\n' >root/etc/passwd
printf 'root:*:19000:0:99999:7:::\n' >root/etc/shadow
chmod 0640 root/etc/shadow; chmod 0700 root/root
truncate -s 32M base.img
mkfs.ext4 -q -F -L root -d root base.img
grep '^ssh-ed25519 ' "$keys" | head -n 1 >key.pub
printf 'bench-Passw0rd\n' >pw

jobs() { # PREFIX: one job spec per disk
  i=0
  while [ $i -lt "$n" ]; do
    cp --sparse=always base.img "$1$i.img"
    printf 'disk=%s/%s%d.img,format=raw,key=key.pub,pw=pw\n' "$tmp" "$1" $i
    i=$((i + 1))
  done
}
now() { date +%s.%N; }

# A stale appliance is rebuilt by supermin on first use; do not bill that to either side.
cp --sparse=always base.img warm.img
"$tool" "disk=$tmp/warm.img,format=raw,key=key.pub" >/dev/null

set -- $(jobs batch)
t0=$(now); "$tool" "$@" >batch.txt; t1=$(now)
set -- $(jobs single)
"$tool" --one-by-one "$@" >single.txt; t2=$(now)
for f in batch.txt single.txt; do
  [ "$(grep -c ': ok key_added=1 password_set=1' $f)" = "$n" ] || { echo "FAIL: $f"; cat $f; exit 1; }
done

awk -v n="$n" -v t0="$t0" -v t1="$t1" -v t2="$t2" 'BEGIN {
  b = t1 - t0; s = t2 - t1
  printf "inject key + password into %d disks, one appliance (batch): %.1f s (%.1f s per instance)\n", n, b, b / n
  printf "inject key + password into %d disks, one appliance each (nova): %.1f s (%.1f s per instance)\n", n, s, s / n
  printf "throughput ratio batch / one-by-one: %.2fx (target >= 3x)\n", s / b
}'
