#!/bin/sh
# Key and password injection into real ext4 images with a real libguestfs appliance: every
# case below shares ONE appliance launch, plus one launch for libguestfs inspection (slow
# under TCG, so one disk only) and one deadline run that never finishes launching.
# Results are read back with debugfs, never with the code under test.
#
# usage: inject_component.sh GUEST_INJECT_TOOL KEYS_GOOD_FILE
set -eu
tool=$(realpath "$1") keys=$(realpath "$2")

skip() { echo "skip: $*"; exit 77; }
for t in mkfs.ext4 debugfs e2label sfdisk qemu-img supermin; do
  command -v "$t" >/dev/null || skip "$t is not installed"
done
ls /boot/vmlinuz-* >/dev/null 2>&1 || skip "no kernel in /boot for the libguestfs appliance"
for k in /boot/vmlinuz-*; do [ -r "$k" ] || skip "$k is not readable (libguestfs needs it)"; done
[ "$(id -u)" = 0 ] || skip "fixtures need root to set file owners (mkfs.ext4 -d copies them)"
# KVM hangs on these machines: use TCG unless told otherwise.
export LIBGUESTFS_BACKEND_SETTINGS="${LIBGUESTFS_BACKEND_SETTINGS:-force_tcg}"

tmp=$(mktemp -d /var/tmp/guest-inject.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
failures=0
ok() { echo "ok: $*"; }
bad() { echo "FAIL: $*"; failures=$((failures + 1)); }
check() { # check DESCRIPTION COMMAND...
  what=$1; shift
  if "$@"; then ok "$what"; else bad "$what"; fi
}

# ---------------------------------------------------------------- fixtures
mkroot() {
  d=$1
  mkdir -p "$d/etc" "$d/root" "$d/home/alice" "$d/bin" "$d/usr/bin" "$d/tmp"
  printf 'NAME="Debian GNU/Linux"\nVERSION_ID="12"\nID=debian\n' >"$d/etc/os-release"
  echo 12.0 >"$d/etc/debian_version"
  # Every fixture has the same label, like clones of one image: the batch must not mix them.
  printf 'LABEL=root / ext4 defaults 0 1\n' >"$d/etc/fstab"
  printf 'root:x:0:0:root:/root:/bin/sh\nalice:x:1000:1000:Alice:/home/alice:/bin/sh\n' >"$d/etc/passwd"
  printf 'root:x:0:\nshadow:x:42:\nalice:x:1000:\n' >"$d/etc/group"
  printf 'root:*:19000:0:99999:7:::\nalice:!:19000:0:99999:7:::\n' >"$d/etc/shadow"
  chown 0:42 "$d/etc/shadow"; chmod 0640 "$d/etc/shadow"
  chmod 0700 "$d/root"
  chown 1000:1000 "$d/home/alice"; chmod 0755 "$d/home/alice"
}
mkimg() { truncate -s 32M "$2"; mkfs.ext4 -q -F -L root -d "$1" "$2"; }

grep '^ssh-ed25519 ' "$keys" | head -n 1 >key.pub
grep '^ssh-rsa ' "$keys" | head -n 1 >old.pub
key=$(cat key.pub)
old=$(cat old.pub)
printf 'Corr3ct-horse-battery\n' >pw

mkroot fresh; mkimg fresh fresh.img                      # no /root/.ssh at all

mkroot nonl                                               # alice's file lacks its final newline
mkdir -m 0700 nonl/home/alice/.ssh
printf '%s' "$old" >nonl/home/alice/.ssh/authorized_keys
chmod 0600 nonl/home/alice/.ssh/authorized_keys
chown -R 1000:1000 nonl/home/alice/.ssh
mkimg nonl nonl.img

mkroot present                                            # the key is already there
mkdir -m 0700 present/root/.ssh
printf '%s\n%s\n' "$old" "$key" >present/root/.ssh/authorized_keys
mkimg present present.img
cp present/root/.ssh/authorized_keys present.before

mkroot sshlink; ln -s /etc sshlink/root/.ssh; mkimg sshlink sshlink.img

mkroot shadowlink
mv shadowlink/etc/shadow shadowlink/etc/shadow.real
ln -s shadow.real shadowlink/etc/shadow
mkimg shadowlink shadowlink.img

mkroot noroot; printf 'alice:!:19000:0:99999:7:::\n' >noroot/etc/shadow; mkimg noroot noroot.img

mkroot selinux; mkdir -p selinux/etc/selinux
printf 'SELINUX=enforcing\nSELINUXTYPE=targeted\n' >selinux/etc/selinux/config
mkimg selinux selinux.img

mkroot q; mkimg q q.raw
qemu-img convert -f raw -O qcow2 q.raw asraw.qcow2       # opened as raw: must fail cleanly
qemu-img convert -f raw -O qcow2 q.raw good.qcow2        # opened as qcow2: must work
mkdir store
qemu-img convert -f raw -O raw q.raw store/base.raw
qemu-img create -q -f qcow2 -b "$tmp/store/base.raw" -F raw overlay.qcow2
qemu-img create -q -f qcow2 -b "$tmp/q.raw" -F raw outside.qcow2
cp fresh.img untouched.img

# A partitioned disk: root on partition 1, /home on partition 2 (found through fstab).
mkroot split
printf 'LABEL=root / ext4 defaults 0 1\nLABEL=home /home ext4 defaults 0 2\n' >split/etc/fstab
mkdir -p splithome/alice; chown 1000:1000 splithome/alice
mv split/home/alice split/alice-was-here
mkimg split split-p1.img
mkimg splithome split-p2.img; e2label split-p2.img home
truncate -s 72M split.img
printf 'label: dos\nstart=2048, size=65536, type=83\nstart=67584, size=65536, type=83\n' | sfdisk -q split.img
dd if=split-p1.img of=split.img bs=512 seek=2048 conv=notrunc status=none
dd if=split-p2.img of=split.img bs=512 seek=67584 conv=notrunc status=none
part_of() { dd if="$1" of="$1.p$2" bs=512 skip=$3 count=65536 status=none; echo "$1.p$2"; }
sum_untouched=$(md5sum <untouched.img)

# ---------------------------------------------------------------- one appliance
"$tool" --store "$tmp/store" \
  "disk=$tmp/fresh.img,format=raw,key=key.pub,pw=pw" \
  "disk=$tmp/nonl.img,format=raw,part=-1,key=key.pub,user=alice" \
  "disk=$tmp/present.img,format=raw,part=-1,key=key.pub" \
  "disk=$tmp/sshlink.img,format=raw,part=-1,key=key.pub" \
  "disk=$tmp/shadowlink.img,format=raw,part=-1,pw=pw" \
  "disk=$tmp/noroot.img,format=raw,part=-1,pw=pw" \
  "disk=$tmp/selinux.img,format=raw,part=-1,key=key.pub" \
  "disk=$tmp/asraw.qcow2,format=raw,key=key.pub" \
  "disk=$tmp/good.qcow2,format=qcow2,part=-1,key=key.pub" \
  "disk=$tmp/overlay.qcow2,format=qcow2,part=-1,pw=pw" \
  "disk=$tmp/outside.qcow2,format=qcow2,part=-1,key=key.pub" \
  "disk=$tmp/untouched.img,format=raw,key=old.pub,user=Bad:User" \
  "disk=$tmp/untouched.img,format=vmdk,key=key.pub" \
  "disk=$tmp/split.img,format=raw,part=1,key=key.pub" \
  >results.txt
cat results.txt
result() { sed -n "s/^job $1: //p" results.txt; }

if grep -q 'appliance launch failed' results.txt; then
  skip "the libguestfs appliance cannot start here: $(result 0)"
fi

# debugfs helpers: content, "mode uid gid" and inode type of a path inside an image.
dcat() { debugfs -R "cat $2" "$1" 2>/dev/null; }
dstat() { debugfs -R "stat $2" "$1" 2>/dev/null |
  sed -n 's/.*Mode: *\([0-7]*\).*/\1/p; s/^User: *\([0-9]*\) *Group: *\([0-9]*\).*/\1 \2/p' | tr '\n' ' '; }
dtype() { debugfs -R "stat $2" "$1" 2>/dev/null | sed -n 's/.*Type: \([a-z]*\).*/\1/p'; }
verify_hash() { # IMAGE USER: the shadow field verifies against the password with crypt(3)
  /usr/bin/python3 -W ignore -c '
import crypt, sys
pw, user = open(sys.argv[1]).read().strip(), sys.argv[2]
for line in sys.stdin:
    f = line.split(":")
    if f[0] == user:
        sys.exit(0 if f[1].startswith("$6$") and crypt.crypt(pw, f[1]) == f[1] else 1)
sys.exit(1)' pw "$2" <<EOF
$(dcat "$1" /etc/shadow)
EOF
}

# A disk without ~/.ssh gets 0700 root-owned .ssh and a 0600 authorized_keys with the key.
check "key injection reports success" test "$(result 0)" = "ok key_added=1 password_set=1 relabel=none"
check "missing .ssh is created 0700 root:root" test "$(dstat fresh.img /root/.ssh)" = "0700 0 0 "
check "authorized_keys is 0600 root:root" test "$(dstat fresh.img /root/.ssh/authorized_keys)" = "0600 0 0 "
check "authorized_keys holds exactly the key" test "$(dcat fresh.img /root/.ssh/authorized_keys)" = "$key"
check "the root password verifies against the SHA-512 hash" verify_hash fresh.img root
check "shadow keeps mode 0640 and group shadow" test "$(dstat fresh.img /etc/shadow)" = "0640 0 42 "
check "other shadow entries are untouched" sh -c "debugfs -R 'cat /etc/shadow' fresh.img 2>/dev/null | grep -qx 'alice:!:19000:0:99999:7:::'"
check "no clear-text password on the disk" sh -c "! grep -a -q 'Corr3ct-horse' fresh.img"
check "no placeholder left in /etc" sh -c "! debugfs -R 'ls /etc' fresh.img 2>/dev/null | grep -q shadow.hv"

# A file without its final newline gets one before the new key; owner stays the user's.
check "alice's key is added" test "$(result 1)" = "ok key_added=1 password_set=0 relabel=none"
printf '%s\n%s\n' "$old" "$key" >nonl.want
dcat nonl.img /home/alice/.ssh/authorized_keys >nonl.got
check "the old key keeps its own line, the new one follows" cmp -s nonl.want nonl.got
check "alice's authorized_keys is 0600 alice:alice" test "$(dstat nonl.img /home/alice/.ssh/authorized_keys)" = "0600 1000 1000 "
check "alice's .ssh is 0700 alice:alice" test "$(dstat nonl.img /home/alice/.ssh)" = "0700 1000 1000 "

# Injecting a key that is already there changes nothing.
check "an already present key is not added twice" test "$(result 2)" = "ok key_added=0 password_set=0 relabel=none"
dcat present.img /root/.ssh/authorized_keys >present.after
check "authorized_keys is byte-for-byte unchanged" cmp -s present.before present.after

# Guest symlinks are refused, not followed.
case $(result 3) in *symlink*) ok ".ssh -> /etc is refused";; *) bad ".ssh -> /etc is refused: $(result 3)";; esac
check "nothing was written into the guest's /etc" sh -c "! debugfs -R 'ls /etc' sshlink.img 2>/dev/null | grep -q authorized_keys"
check ".ssh is still the symlink" test "$(dtype sshlink.img /root/.ssh)" = symlink
case $(result 4) in *"/etc/shadow is a symlink"*) ok "a symlinked /etc/shadow is refused";;
  *) bad "a symlinked /etc/shadow is refused: $(result 4)";; esac
check "the symlink's target is untouched" test "$(dcat shadowlink.img /etc/shadow.real | head -n 1)" = "root:*:19000:0:99999:7:::"

# Users are never created.
case $(result 5) in *"user root has no entry in /etc/shadow"*) ok "root missing from shadow is an error";;
  *) bad "root missing from shadow is an error: $(result 5)";; esac
check "shadow without root is unchanged" test "$(dcat noroot.img /etc/shadow)" = "alice:!:19000:0:99999:7:::"

# SELinux guests are relabelled at first boot (Debian's appliance has no setfiles).
case $(result 6) in "ok key_added=1 password_set=0 relabel="*) ok "the SELinux guest gets its key";;
  *) bad "the SELinux guest gets its key: $(result 6)";; esac
if [ "$(result 6)" = "ok key_added=1 password_set=0 relabel=autorelabel" ]; then
  check "/.autorelabel is created" test "$(dtype selinux.img /.autorelabel)" = regular
else
  check "relabelled in place, no /.autorelabel" test -z "$(dtype selinux.img /.autorelabel)"
fi
check "a non-SELinux guest gets no /.autorelabel" test -z "$(dtype fresh.img /.autorelabel)"

# The recorded format is what counts: a qcow2 file recorded as raw holds no filesystem.
case $(result 7) in "error -"*"no operating system found"*) ok "qcow2 opened as raw fails cleanly";;
  *) bad "qcow2 opened as raw fails cleanly: $(result 7)";; esac
check "qcow2 opened as qcow2 works" test "$(result 8)" = "ok key_added=1 password_set=0 relabel=none"
qemu-img convert -f qcow2 -O raw good.qcow2 good.raw
check "the key is inside the qcow2 image" test "$(dcat good.raw /root/.ssh/authorized_keys)" = "$key"
check "an overlay on a base in the image store works" test "$(result 9)" = "ok key_added=0 password_set=1 relabel=none"
case $(result 10) in *"backing file outside the image store"*) ok "a backing file outside the store is refused";;
  *) bad "a backing file outside the store is refused: $(result 10)";; esac
qemu-img convert -f qcow2 -O raw overlay.qcow2 overlay.raw
check "the overlay got the password" verify_hash overlay.raw root
check "the base image in the store did not" test "$(dcat store/base.raw /etc/shadow | head -n 1)" = "root:*:19000:0:99999:7:::"

# Requests that fail validation never reach the appliance and change nothing.
case $(result 11) in *"jobs[11].key_user"*) ok "a bad user name is refused before launch";;
  *) bad "a bad user name is refused before launch: $(result 11)";; esac
case $(result 12) in *"jobs[12].format"*) ok "an unknown format is refused before launch";;
  *) bad "an unknown format is refused before launch: $(result 12)";; esac
check "the refused disk is bit-for-bit unchanged" test "$(md5sum <untouched.img)" = "$sum_untouched"

# A partition number names the root filesystem directly.
check "part=1 puts the key on the first partition" test "$(result 13)" = "ok key_added=1 password_set=0 relabel=none"
check "root's key is on partition 1" test "$(dcat "$(part_of split.img 1 2048)" /root/.ssh/authorized_keys)" = "$key"

# ---------------------------------------------------------------- inspection
# libguestfs inspection follows the guest's fstab: alice's home is on partition 2.
"$tool" "disk=$tmp/split.img,format=raw,part=-2,key=key.pub,user=alice" >inspect.txt
cat inspect.txt
check "inspection finds the root and mounts /home from fstab" \
  test "$(cat inspect.txt)" = "job 0: ok key_added=1 password_set=0 relabel=none"
p2=$(part_of split.img 2 67584)
check "alice's key is on the /home partition" test "$(dcat "$p2" /alice/.ssh/authorized_keys)" = "$key"
check "owned by alice, 0600" test "$(dstat "$p2" /alice/.ssh/authorized_keys)" = "0600 1000 1000 "

# ---------------------------------------------------------------- deadline
# A 2 s deadline cannot cover a launch: the job reports the timeout and no qemu survives.
"$tool" --timeout 2 "disk=$tmp/untouched.img,format=raw,key=key.pub" >deadline.txt
cat deadline.txt
case $(cat deadline.txt) in *"error -110"*"deadline of 2 s passed"*) ok "the deadline stops the job";;
  *) bad "the deadline stops the job";; esac
leftover=0
for p in /proc/[0-9]*; do
  if { tr "\\0" " " <"$p/cmdline"; } 2>/dev/null | grep -q "$tmp/untouched.img"; then leftover=1; fi
done
check "no qemu is left running on the disk" test $leftover = 0
check "the interrupted disk is unchanged" test "$(md5sum <untouched.img)" = "$sum_untouched"

[ $failures = 0 ] || { echo "$failures check(s) failed"; exit 1; }
