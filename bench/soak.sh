#!/usr/bin/env bash
# The full-size soak: tests/reliability/soak.py with ACTIONS random server actions through
# hvcentral's API across 3 fake-driver agents (5 % injected driver failures, two agent
# kill -9 + restarts, one hvcentral kill -9 + restart), then the invariants checked. Prints
# the counts (ok, refused by state, failed, errors by code) and the duration; exits 1 when
# an invariant does not hold (the cluster's directory is kept and named).
# Usage: bench/soak.sh [BUILD_DIR] [ACTIONS] [SEED]  (defaults: build, 10000, 1)
set -u
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:-build}" && pwd) || exit 1
export HV_BUILD_ROOT=$build
start=$(date +%s.%N)
/usr/bin/python3 "$here/../tests/reliability/soak.py" "${2:-10000}" "${3:-1}"
status=$?
printf 'soak.sh: %s actions, seed %s, wall %.1f s, exit %d\n' "${2:-10000}" "${3:-1}" \
	"$(echo "$(date +%s.%N) - $start" | bc)" "$status"
exit $status
