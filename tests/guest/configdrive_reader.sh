#!/bin/sh
# An independent reader (blkid, xorriso, Debian's cloud-init) finds and reads the config
# drive the way a guest does, for each kind of user data cloud-init knows (a shell script, a
# #cloud-config document, a gzip'd payload, a MIME multipart message), each with and without
# an admin password. usage: configdrive_reader.sh MKDRIVE READER_PY
set -eu
mkdrive=$1 reader=$2
for tool in blkid xorriso gzip; do
  command -v "$tool" >/dev/null || { echo "skip: $tool is not installed"; exit 77; }
done
/usr/bin/python3 -c 'import cloudinit' 2>/dev/null ||
  { echo "skip: Debian's cloud-init (package cloud-init) is not installed"; exit 77; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
printf '#!/bin/sh\necho customized > /var/tmp/customized\n' >"$tmp/script"
printf '#cloud-config\nruncmd:\n  - [sh, -c, "echo cloud-config"]\n' >"$tmp/cloud-config"
printf '#!/bin/sh\necho gzipped\n' | gzip -9n >"$tmp/gzip"
printf 'Content-Type: multipart/mixed; boundary="XYZ"\nMIME-Version: 1.0\n\n--XYZ\nContent-Type: text/x-shellscript\n\n#!/bin/sh\necho mime\n--XYZ--\n' >"$tmp/mime"

for kind in script cloud-config gzip mime; do
  for pw in 'Sup3r-secret-pw' ''; do
    if [ -n "$pw" ]; then with=with; else with=without; fi
    echo "== $kind, $with an admin password"
    rm -rf "$tmp/tree" "$tmp/disk.config"
    "$mkdrive" "$tmp/disk.config" "$pw" "$tmp/$kind"

    blkid -p -o export "$tmp/disk.config" >"$tmp/blkid"
    grep -qx 'LABEL=config-2' "$tmp/blkid" && grep -qx 'TYPE=iso9660' "$tmp/blkid" ||
      { echo "FAIL: blkid does not see an iso9660 labelled config-2:"; cat "$tmp/blkid"; exit 1; }
    echo "ok: blkid sees TYPE=iso9660 LABEL=config-2"
    [ "$(stat -c %a "$tmp/disk.config")" = 600 ] || { echo "FAIL: drive is not mode 0600"; exit 1; }
    echo "ok: the drive file is mode 0600"

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
/openstack/latest/vendor_data2.json
LIST
    diff -u "$tmp/want" "$tmp/files" || { echo "FAIL: unexpected file list"; exit 1; }
    echo "ok: openstack/latest, openstack/2015-10-15 and ec2/latest trees"

    xorriso -osirrox on -indev "$tmp/disk.config" -extract / "$tmp/tree" 2>/dev/null
    if [ -n "$pw" ]; then
      # nova's place for the password is meta_data.json, and only there
      found=$(grep -rlaF -- "$pw" "$tmp/tree" | sed "s|$tmp/tree||" | sort | tr '\n' ' ')
      [ "$found" = "/openstack/2015-10-15/meta_data.json /openstack/latest/meta_data.json " ] ||
        { echo "FAIL: the password is in: $found"; exit 1; }
      echo "ok: the password is in meta_data.json and nowhere else"
    fi
    /usr/bin/python3 "$reader" "$tmp/tree" "$pw" "$tmp/$kind" "$kind"
  done
done
