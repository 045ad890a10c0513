#!/usr/bin/env bash
# The hvagent command line as an operator meets it: --help teaches, --check-config exits 78
# with FILE:LINE for each problem and 0 with the normalized config, --show-public-key makes
# the keypair once (0600) and prints the same public key every time.
# Usage: cli.sh HVAGENT
set -u
bin=$1
work=$(mktemp -d /tmp/hv-cli-XXXXXX)
trap 'rm -rf "$work"' EXIT
fails=0
check() { if "$@"; then echo "ok: $desc"; else echo "FAIL: $desc"; fails=$((fails + 1)); fi; }

desc="--help exits 0 and explains --check-config and the first start"
out=$("$bin" --help); rc=$?
check [ $rc -eq 0 ] && check grep -q -- "--check-config" <<<"$out" && check grep -q "First start" <<<"$out"

desc="an unknown option is a usage error (64)"
"$bin" --frobnicate >/dev/null 2>&1; rc=$?
check [ $rc -eq 64 ]

cat >"$work/bad.conf" <<'CONF'
[DEFAULT]
max_concurrent_builds = 0
[controller]
endpoint = http://controller
nonsense = 1
CONF
desc="--check-config on a bad file exits 78 naming FILE:LINE of every problem"
err=$("$bin" --check-config -c "$work/bad.conf" 2>&1 >/dev/null); rc=$?
check [ $rc -eq 78 ]
check grep -q "bad.conf:2: \[DEFAULT\] max_concurrent_builds" <<<"$err"
check grep -q "bad.conf:5: \[controller\] nonsense" <<<"$err"
check grep -q "endpoint" <<<"$err"

cat >"$work/good.conf" <<CONF
[DEFAULT]
host_id = compute-cli
state_dir = $work/state
[controller]
endpoint = tcp://127.0.0.1:5999
keys_dir = $work/keys
CONF
desc="--check-config on a good file exits 0 and prints every key"
out=$("$bin" --check-config -c "$work/good.conf" 2>&1); rc=$?
check [ $rc -eq 0 ] && check grep -q "max_concurrent_builds = " <<<"$out"

desc="--show-public-key creates a 0600 secret key and prints a 40-character public key"
k1=$("$bin" --show-public-key -c "$work/good.conf" 2>/dev/null); rc=$?
check [ $rc -eq 0 ] && check [ ${#k1} -eq 40 ]
check [ "$(stat -c %a "$work/keys/agent.key_secret")" = 600 ]
desc="--show-public-key prints the same key the second time"
k2=$("$bin" --show-public-key -c "$work/good.conf" 2>/dev/null)
check [ "$k1" = "$k2" ]
desc="the secret key never appears on stdout"
secret=$(sed -n 's/.*secret-key = "\(.*\)"/\1/p' "$work/keys/agent.key_secret")
check [ -n "$secret" ] && check [ "$k1" != "$secret" ]

desc="a missing config file is a config error"
"$bin" -c "$work/missing.conf" >/dev/null 2>&1; rc=$?
check [ $rc -eq 78 ]

printf '[DEFAULT]\nimage_store = %s/store\n' "$work" >"$work/img.conf"
head -c 65536 /dev/zero >"$work/disk.raw"
desc="image-import records the image with its format and properties"
out=$("$bin" -c "$work/img.conf" image-import "$work/disk.raw" --id tiny-1 --format raw \
	--property kernel=/boot/vmlinuz --property "os_command_line=console=ttyS0 quiet"); rc=$?
check [ $rc -eq 0 ] && check cmp -s "$work/disk.raw" "$work/store/tiny-1.img" &&
	check grep -q '"format":"raw"' "$work/store/tiny-1.json" &&
	check grep -q '"os_command_line":"console=ttyS0 quiet"' "$work/store/tiny-1.json"
desc="image-import refuses an id that exists (1), a bad id or format (64), a lying format (1)"
"$bin" -c "$work/img.conf" image-import "$work/disk.raw" --id tiny-1 --format raw 2>/dev/null
check [ $? -eq 1 ]
"$bin" -c "$work/img.conf" image-import "$work/disk.raw" --id ../x --format raw 2>/dev/null
check [ $? -eq 64 ]
"$bin" -c "$work/img.conf" image-import "$work/disk.raw" --id x --format vmdk 2>/dev/null
check [ $? -eq 64 ]
"$bin" -c "$work/img.conf" image-import "$work/disk.raw" --id x --format qcow2 2>/dev/null
check [ $? -eq 1 ] && check [ ! -e "$work/store/x.json" ]
"$bin" -c "$work/img.conf" image-import "$work/disk.raw" --id x --format raw --property novalue 2>/dev/null
check [ $? -eq 64 ] && check [ ! -e "$work/store/x.json" ]

[ $fails -eq 0 ] || { echo "$fails failed"; exit 1; }
