#!/bin/sh
# Every golden domain XML must pass libvirt's own schema (virt-xml-validate).
set -eu
dir=$1
n=0
for f in "$dir"/*.xml; do
	case $(basename "$f") in caps-*) continue ;; esac
	virt-xml-validate "$f" domain >/dev/null || { echo "invalid: $f" >&2; virt-xml-validate "$f" domain; exit 1; }
	n=$((n + 1))
done
[ "$n" -gt 0 ] || { echo "no golden files in $dir" >&2; exit 1; }
echo "$n domain XML files valid"
