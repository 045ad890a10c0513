#!/bin/sh
# An independent reader (blkid, xorriso, Debian's cloud-init) finds and reads the config
# drive the way a guest does. usage: configdrive_reader.sh MKDRIVE READER_PY
set -eu
mkdrive=$1 reader=$2
for tool in blkid xorriso; do
  command -v "$tool" >/dev/null || { echo "skip: $tool is not installed"; exit 77; }
done
/usr/bin/python3 -c 'import cloudinit' 2>/dev/null ||
  { echo "skip: Debian's cloud-init (package cloud-init) is not installed"; exit 77; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pw='Sup3r-secret-pw'
"$mkdrive" "$tmp/disk.config" "$pw"

blkid -p -o export "$tmp/disk.config" >"$tmp/blkid"
grep -qx 'LABEL=config-2' "$tmp/blkid" && grep -qx 'TYPE=iso9660' "$tmp/blkid" ||
  { echo "FAIL: blkid does not see an iso9660 labelled config-2:"; cat "$tmp/blkid"; exit 1; }
echo "ok: blkid sees TYPE=iso9660 LABEL=config-2"
[ "$(stat -c %a "$tmp/disk.config")" = 600 ] || { echo "FAIL: drive is not mode 0600"; exit 1; }
echo "ok: the drive file is mode 0600"
if grep -a -q -- "$pw" "$tmp/disk.config"; then echo "FAIL: clear-text password on the drive"; exit 1; fi
echo "ok: no clear-text password anywhere on the drive"

xorriso -indev "$tmp/disk.config" -find / -type f 2>/dev/null | tr -d "'" | sort >"$tmp/files"
cat >"$tmp/want" <<'LIST'
/ec2/latest/meta-data.json
/ec2/latest/user-data
/openstack/2015-10-15/meta_data.json
/openstack/2015-10-15/network_data.json
/openstack/2015-10-15/user_data
/openstack/2015-10-15/vendor_data.json
/openstack/latest/meta_data.json
/openstack/latest/network_data.json
/openstack/latest/user_data
/openstack/latest/vendor_data.json
LIST
diff -u "$tmp/want" "$tmp/files" || { echo "FAIL: unexpected file list"; exit 1; }
echo "ok: openstack/latest, openstack/2015-10-15 and ec2/latest trees"

xorriso -osirrox on -indev "$tmp/disk.config" -extract / "$tmp/tree" 2>/dev/null
/usr/bin/python3 "$reader" "$tmp/tree" "$pw"
