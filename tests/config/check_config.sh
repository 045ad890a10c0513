#!/bin/sh
# check_config.sh - `hvagent --check-config` itself with a driver the agent was built
# without (the fixture "thirdparty"): a good config exits 0, a bad key in the driver's own
# section is reported as FILE:LINE with exit 78 (tests/data/config/driver/bad/*.err).
# usage: check_config.sh HVAGENT FIXTURE_DRIVER_DIR TESTS_DATA_CONFIG_DIR
set -u
# meson passes the program relative to the build directory; the checks cd elsewhere
hvagent=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
HVAGENT_DRIVER_DIR=$2
export HVAGENT_DRIVER_DIR
data=$3

cd "$data/driver/good" || exit 1
if ! "$hvagent" --check-config -c thirdparty.conf >/dev/null; then
	echo "check_config: the good config was refused" >&2
	exit 1
fi
cd "$data/driver/bad" || exit 1
for conf in *.conf; do
	out=$("$hvagent" --check-config -c "$conf" 2>&1 >/dev/null)
	rc=$?
	if [ "$rc" -ne 78 ]; then
		echo "check_config: $conf: exit $rc, expected 78" >&2
		exit 1
	fi
	printf '%s\n' "$out" | diff -u "${conf%.conf}.err" - || exit 1
done
