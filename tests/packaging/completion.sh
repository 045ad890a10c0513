#!/usr/bin/env bash
# completion.sh COMPLETION HV - hv's bash completion, sourced in a fresh bash: it is
# registered for hv (complete -p), offers nouns, verbs, options and option values, and
# server and host names from `hv ... list -f json` (a stand-in hv prints them); against
# a real hv with no hvcentral it offers nothing and prints nothing.
set -euo pipefail
comp=$1
hv=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Stands in for hv when hvcentral answers: the JSON layout of print_json (indent 2).
cat >"$work/hv" <<'STUB'
#!/bin/sh
case "$*" in
*"server list -f json"*) printf '[\n  {\n    "uuid": "1b4e",\n    "name": "web-1",\n    "vm_state": "active"\n  },\n  {\n    "uuid": "9c2f",\n    "name": "db-2"\n  }\n]\n' ;;
*"host list -f json"*) printf '[\n  {\n    "host_id": "node-1",\n    "state": "up"\n  }\n]\n' ;;
*) exit 3 ;;
esac
STUB
chmod +x "$work/hv"

HV_API=ipc://$work/none.sock bash --norc --noprofile -s "$comp" "$work/hv" "$hv" <<'BASH_EOF'
set -u
source "$1"
stub=$2 real=$3 fail=0
[ "$(complete -p hv)" = "complete -F _hv hv" ] || { echo "FAIL: complete -p hv: $(complete -p hv)"; fail=1; }
# expect WANT WORD...: completing the last WORD offers exactly WANT (sorted)
expect() {
	local want=$1; shift
	COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); COMPREPLY=()
	_hv 2>"${TMPDIR:-/tmp}/hv-comp-err.$$"
	local got
	got=$(printf '%s\n' "${COMPREPLY[@]}" | sort | tr '\n' ' ' | sed 's/ $//')
	if [ "$got" != "$want" ]; then
		echo "FAIL: [${COMP_WORDS[*]}] offers '$got', want '$want'"; fail=1
	fi
	if [ -s "${TMPDIR:-/tmp}/hv-comp-err.$$" ]; then
		echo "FAIL: [${COMP_WORDS[*]}] printed: $(cat "${TMPDIR:-/tmp}/hv-comp-err.$$")"; fail=1
	fi
	rm -f "${TMPDIR:-/tmp}/hv-comp-err.$$"
}
expect 'server' hv ser
expect 'create delete list rule show' hv security group ''
expect 'create delete list show' hv floating ip ''
expect 'floating security' hv server add ''
expect '--dst-port' hv security group rule create ssh --ds
expect 'aggregate availability flavor floating host hypervisor image keypair network port project quota security server subnet usage user' hv ''
expect 'add create delete list remove set show unset' hv aggregate ''
expect 'host' hv aggregate add ''
expect 'zone' hv availability ''
expect 'list' hv availability zone ''
expect 'create delete list show' hv server group ''
expect '--api --format --help --policy --project --timeout --version' hv server group create g --
expect 'affinity anti-affinity' hv server group create g --policy a
expect '--end' hv usage show --e
expect 'list show stats' hv hypervisor ''
expect 'create delete list save set show upload' hv image ''
expect 'create delete list set show unset' hv flavor ''
expect 'set show' hv quota ''
expect 'create delete list show' hv user ''
expect 'admin member reader' hv user create demo --role ''
expect '--password-file --project' hv user create demo --p
expect '--api --cores --floating-ips --format --help --instances --key-pairs --ram --security-group-rules --security-groups --timeout --version' hv quota set demo --
expect 'accept evacuate list show' hv host ''
expect 'add console console-log create delete evacuate group list pause reboot rebuild remove rescue resize resize-confirm resize-revert resume set set-password show snapshot start stop suspend unpause unrescue' hv server ''
expect 'reboot rebuild remove rescue resize resize-confirm resize-revert resume' hv server re
expect '--api --format --hard --help --timeout --version --wait -f -h' hv server reboot web-1 -
expect '--api --deleted --format --help --host --timeout --version' hv server list --
expect '--admin-pass --api --availability-zone --config-drive --flavor --flavor-spec --format --help --hint --host --image --image-format --image-property --key-file --key-name --max --min --network --no-admin-pass --project --property --security-group --server-group --timeout --user-data --version --wait' hv server create x --
expect '--image --image-format --image-property' hv server rebuild web-1 --i
expect '--user-data' hv server rebuild web-1 --u
expect '--name' hv host accept KEY --n
expect 'json table' hv -f ''
expect 'qcow2 raw' hv server rebuild web-1 --image-format ''
expect 'novnc serial' hv server console web-1 --type ''
expect 'stop' hv --api ipc:///x server sto
# options and their values before the noun do not count as words
expect 'server' hv --timeout 5 -f json ser
# names from hvcentral (the stand-in)
expect 'db-2 web-1' "$stub" server show ''
expect 'web-1' "$stub" server reboot --hard w
expect 'node-1' "$stub" server create x --host ''
expect 'node-1' "$stub" host show ''
expect '' "$stub" server create ''
# no hvcentral: nothing offered, nothing printed
expect '' "$real" server show ''
expect '' "$real" host show ''
[ $fail = 0 ] && echo "PASS: hv completion"
exit $fail
BASH_EOF
