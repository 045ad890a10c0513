#!/usr/bin/env bash
# rpm.sh SRCDIR WORKDIR - the packaging acceptance test: builds the SRPM and every binary
# RPM with packaging/build-rpm.sh (rpmlint must report 0 errors), compares `rpm -qpl` of
# each package with tests/packaging/expected/NAME.list, installs them all into a scratch
# root and checks that units, configs, driver plugins, completion, sysusers.d and
# tmpfiles.d land where the daemons and systemd look, then runs `systemd-analyze verify`
# on the installed units. Exits 77 when a tool it needs is missing.
# Must never touch the host's rpm database, /etc or systemd state: everything happens in
# WORKDIR.
set -euo pipefail

src=$1
work=$2
for tool in rpmbuild rpmlint rpm systemd-analyze systemd-sysusers systemd-tmpfiles git; do
  if ! command -v "$tool" >/dev/null; then
    echo "SKIP: $tool is not installed (scripts/deps.sh installs rpm, rpmlint and systemd)"
    exit 77
  fi
done
if ! git -C "$src" rev-parse --git-dir >/dev/null 2>&1; then
  echo "SKIP: $src is not a git checkout (build-rpm.sh archives the working tree with git)"
  exit 77
fi

fail=0
bad() { echo "FAIL: $*"; fail=1; }

out=$work/rpms
rm -rf "$work"
mkdir -p "$work"
"$src/packaging/build-rpm.sh" "$out"
version=$(rpm -qp --qf '%{VERSION}' "$out"/SRPMS/*.src.rpm 2>/dev/null)
grep -q ' 0 errors, ' "$out/rpmlint.txt" || bad "rpmlint reported errors"

# --- every package holds exactly the files its list names --------------------------
expected=$src/tests/packaging/expected
declare -A seen=()
for f in "$out"/SRPMS/*.rpm "$out"/RPMS/*/*.rpm; do
  case $f in
    *.src.rpm) name=src ;;
    *) name=$(rpm -qp --qf '%{NAME}' "$f" 2>/dev/null) ;;
  esac
  seen[$name]=1
  # build-id links carry hashes of the binaries; the version changes with releases
  if ! diff -u --label "expected/$name.list" --label "rpm -qpl $(basename "$f")" \
      "$expected/$name.list" \
      <(rpm -qpl "$f" 2>/dev/null | grep -v '^/usr/lib/\.build-id' | sed "s/$version/VERSION/g"); then
    bad "$name: files differ from expected/$name.list"
  fi
done
for list in "$expected"/*.list; do
  name=$(basename "$list" .list)
  [ -n "${seen[$name]:-}" ] || bad "no package $name was built"
done

# The driver plugins are dlopen()ed, never linked: no package may provide them as a library.
for f in "$out"/RPMS/*/hvagent-driver-*.rpm; do
  if rpm -qp --provides "$f" 2>/dev/null | grep -q '\.so'; then
    bad "$(basename "$f") provides $(rpm -qp --provides "$f" 2>/dev/null | grep '\.so' | tr '\n' ' ')"
  fi
done

# --- install into a scratch root --------------------------------------------------
root=$work/root
mkdir -p "$root"
rpm --root "$root" --dbpath /rpmdb --initdb
# --noscripts: scriptlets would call systemctl and systemd-sysusers on this root; the
# sysusers.d and tmpfiles.d files are applied explicitly below instead.
rpm --root "$root" --dbpath /rpmdb -i --nodeps --noscripts --notriggers \
  "$out"/RPMS/*/*.rpm 2>&1 | grep -v 'use Alien\|know what you are doing\|does not exist - using root' || true
rpm --root "$root" --dbpath /rpmdb -V -a --nodeps --noscripts >/dev/null 2>&1 ||
  echo "note: rpm -V reports differences (owners of hvcentral's directories before sysusers ran)"

need() { [ -e "$root$1" ] || bad "$1 is not installed"; }

# Units: where systemd looks for vendor units (its unit path on this machine).
unit_path=$(pkg-config --variable=systemdsystemunitpath systemd 2>/dev/null ||
            echo /usr/lib/systemd/system)
for u in hvagent.service hvcentral.service hvagent.service.d/50-libvirt.conf; do
  need "/usr/lib/systemd/system/$u"
done
case ":$unit_path:" in
  *:/usr/lib/systemd/system:*) ;;
  *) bad "/usr/lib/systemd/system is not in systemd's unit path ($unit_path)" ;;
esac

# The binaries' compiled-in config paths and driver dir are where the files landed.
agent=$root/usr/sbin/hvagent
central=$root/usr/bin/hvcentral
agent_conf=$("$agent" --help | sed -n 's/.*config file (default \([^)]*\)).*/\1/p')
central_conf=$("$central" --help | sed -n 's/.*config file (default \([^,)]*\).*/\1/p')
[ "$agent_conf" = /etc/hvagent/hvagent.conf ] || bad "hvagent reads '$agent_conf'"
[ "$central_conf" = /etc/hvcentral/hvcentral.conf ] || bad "hvcentral reads '$central_conf'"
need "$agent_conf"; need "$agent_conf.d"; need "$central_conf"; need "$central_conf.d"
"$agent" --check-config -c "$root$agent_conf" >"$work/agent.effective" ||
  bad "hvagent --check-config refuses the packaged $agent_conf"
"$central" --check-config -c "$root$central_conf" >/dev/null ||
  bad "hvcentral --check-config refuses the packaged $central_conf"
driver_dir=$(sed -n 's/^driver_dir = //p' "$work/agent.effective")
for d in fake libvirt; do
  need "$driver_dir/hvagent-driver-$d.so"
done
# The packaged agent loads each packaged plugin from the packaged driver dir (fake, and
# libvirt on its test:///default connection; no controller needed to start).
for d in fake libvirt; do
  t=$work/agent-$d
  mkdir -p "$t"
  cat >"$t/hvagent.conf" <<CONF
[DEFAULT]
host_id = pkg-test
driver = $d
driver_dir = $root$driver_dir
state_dir = $t/state
image_store = $t/images
instances_path = $t/instances
[controller]
endpoint = tcp://127.0.0.1:9
keys_dir = $t/keys
[libvirt]
uri = test:///default
[guest]
config_drive_dir = $t/config-drives
CONF
  timeout 3 "$agent" -c "$t/hvagent.conf" >"$t/log" 2>&1 || true
  grep -q "started: host_id=pkg-test driver=$d\$" "$t/log" || { cat "$t/log"; bad "the agent does not start with the packaged $d driver"; }
done
pc_driverdir=$(PKG_CONFIG_SYSROOT_DIR= PKG_CONFIG_LIBDIR=$root/usr/lib64/pkgconfig \
  pkg-config --variable=driverdir hvagent-driver)
[ "$pc_driverdir" = "$driver_dir" ] || bad "hvagent-driver.pc says driverdir=$pc_driverdir, the agent $driver_dir"

# Completion: bash-completion loads completions/NAME on first use of NAME.
need /usr/share/bash-completion/completions/hv
words=$(bash -c 'source "$1"; COMP_WORDS=(hv server ""); COMP_CWORD=2; _hv; echo "${COMPREPLY[*]}"' \
  _ "$root/usr/share/bash-completion/completions/hv")
for w in create list show; do
  case " $words " in *" $w "*) ;; *) bad "installed completion does not offer $w: '$words'" ;; esac
done

# Man pages.
for m in man8/hvagent.8 man5/hvagent.conf.5 man8/hvcentral.8 man1/hv.1; do
  need "/usr/share/man/$m.gz"
done

# sysusers.d and tmpfiles.d: in systemd's directories, and valid: applying them to the
# root creates the hvcentral user and the directories with the owners the units expect.
need /usr/lib/sysusers.d/hvcentral.conf
need /usr/lib/tmpfiles.d/hvagent.conf
need /usr/lib/tmpfiles.d/hvcentral.conf
systemd-sysusers --root="$root" >/dev/null 2>&1 || bad "systemd-sysusers refuses the sysusers.d file"
grep -q '^hvcentral:' "$root/etc/passwd" || bad "sysusers.d created no hvcentral user"
systemd-tmpfiles --root="$root" --create hvagent.conf hvcentral.conf ||
  bad "systemd-tmpfiles refuses the tmpfiles.d files"
check_dir() { # PATH MODE OWNER
  local got
  got=$(stat -c '%a %U' "$root$1" 2>/dev/null || true)
  # stat names the owner from the host's passwd: compare the uid with the root's passwd
  local uid want_uid
  uid=$(stat -c '%u' "$root$1" 2>/dev/null || echo none)
  want_uid=$(awk -F: -v u="$3" '$1 == u { print $3 }' "$root/etc/passwd")
  [ -n "$want_uid" ] || want_uid=0
  [ "${got%% *}" = "$2" ] && [ "$uid" = "$want_uid" ] ||
    bad "$1: mode/uid ${got%% *}/$uid, want $2/$want_uid ($3)"
}
check_dir /var/lib/hvagent 711 root
check_dir /var/lib/hvcentral 700 hvcentral
check_dir /run/hvcentral 750 hvcentral

# --- systemd-analyze verify on the installed units ---------------------------------
# verify resolves the units' dependencies (multi-user.target, sysinit.target, ...) in
# the root: give it this machine's own units, under the root's /lib.
mkdir -p "$root/lib/systemd"
cp -a /lib/systemd/system "$root/lib/systemd/"
# ExecReload= runs kill(1), which util-linux puts on every system these packages install
# on (--nodeps left it out of the root): give the root this machine's.
mkdir -p "$root/bin"
cp /usr/bin/kill "$root/bin/kill"
# It checks Documentation=man: pages with man(1): point it at the installed pages.
# Any message (an unknown key is only a warning) fails the test.
if ! MANPATH=$root/usr/share/man systemd-analyze verify --root="$root" \
    hvagent.service hvcentral.service >"$work/verify.txt" 2>&1 || [ -s "$work/verify.txt" ]; then
  cat "$work/verify.txt"
  bad "systemd-analyze verify"
fi
for u in hvagent hvcentral; do
  systemd-analyze security --offline=yes --root="$root" "$u.service" 2>/dev/null |
    sed -n 's/^→ //p'
done

[ $fail = 0 ] && echo "PASS: $(ls "$out"/RPMS/*/*.rpm | wc -l) binary RPMs + SRPM, rpmlint: $(tail -n 1 "$out/rpmlint.txt")"
exit $fail
