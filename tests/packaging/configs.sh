#!/usr/bin/env bash
# configs.sh DAEMON SAMPLE - the packaged sample config is accepted as shipped, and it
# documents every key the daemon knows with the daemon's own default: uncommenting every
# "#key = value" line must give exactly the effective config of an empty file.
# DAEMON is hvagent or hvcentral (both have --check-config -c FILE).
set -euo pipefail
daemon=$1
sample=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail=0

if ! "$daemon" --check-config -c "$sample" >"$work/as-shipped" 2>"$work/err"; then
  cat "$work/err"
  echo "FAIL: $(basename "$daemon") --check-config refuses $sample"
  exit 1
fi
: >"$work/empty.conf"
"$daemon" --check-config -c "$work/empty.conf" >"$work/defaults"
# as shipped (all commented out) it is the defaults
diff -u "$work/defaults" "$work/as-shipped" || { echo "FAIL: the sample sets a key"; fail=1; }

sed 's/^#\([a-z_][a-z_0-9]* =\)/\1/' "$sample" >"$work/uncommented.conf"
if ! "$daemon" --check-config -c "$work/uncommented.conf" >"$work/uncommented" 2>"$work/err"; then
  cat "$work/err"
  echo "FAIL: the sample's commented values are refused"
  exit 1
fi
# The effective config prints "key = " for an empty value; the sample writes "#key ="
if ! diff -u "$work/defaults" "$work/uncommented"; then
  echo "FAIL: the sample's commented values differ from the defaults"
  fail=1
fi
keys=$(grep -c '^[a-z_][a-z_0-9]* =' "$work/defaults")
documented=$(grep -c '^#[a-z_][a-z_0-9]* =' "$sample")
[ "$keys" = "$documented" ] || { echo "FAIL: $keys keys, $documented in the sample"; fail=1; }
# every key has a comment line right above it
awk '/^#[a-z_][a-z_0-9]* =/ { if (prev !~ /^# /) { print "FAIL: no comment above " $0; bad = 1 } }
     { prev = $0 } END { exit bad }' "$sample" || fail=1
[ $fail = 0 ] && echo "PASS: $(basename "$sample"): $keys keys, each with its default and a comment"
exit $fail
