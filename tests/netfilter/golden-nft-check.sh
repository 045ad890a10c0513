#!/usr/bin/env bash
# Every golden file is valid nft input, as nft itself judges it: the full state loads into
# an empty namespace, and each diff applies on top of it. Runs in a private network
# namespace (unshare -n), never in the host's ruleset.
set -eu
data=$1 nft=$2
[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root for unshare -n"; exit 77; }
unshare -n true 2>/dev/null || { echo "SKIP: cannot create a network namespace"; exit 77; }
status=0
for f in "$data"/*.nft; do
	case $f in
	*.diff.nft)
		base="$data/$(basename "$f" | sed 's/-to-.*//').nft"
		if unshare -n sh -c "'$nft' -f '$base' && '$nft' -c -f '$f' && '$nft' -f '$f'"; then
			echo "ok - $(basename "$f") applies on $(basename "$base")"
		else
			echo "not ok - $(basename "$f")"; status=1
		fi ;;
	*)
		if unshare -n "$nft" -c -f "$f" && unshare -n "$nft" -f "$f"; then
			echo "ok - $(basename "$f") loads"
		else
			echo "not ok - $(basename "$f")"; status=1
		fi ;;
	esac
done
exit $status
