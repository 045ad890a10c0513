#!/usr/bin/env bash
# Prints the cmocka summary line of every test and one closing line for all runs:
# "N passed, N failed, N skipped". Exits 1 when anything failed.
set -euo pipefail
/usr/bin/python3 - "$@" <<'PY'
import json, re, sys
passed = failed = skipped = 0
for path in sys.argv[1:]:
    for line in open(path):
        t = json.loads(line)
        res = t.get("result")
        out = (t.get("stdout") or "") + (t.get("stderr") or "")
        for m in re.findall(r"^\[  (?:PASSED|FAILED|SKIPPED) +\] .*$", out, re.M):
            print(f"{t['name']}: {m}")
        if res in ("OK", "EXPECTEDFAIL"):
            passed += 1
        elif res == "SKIP":
            skipped += 1
            reason = (out.strip().splitlines() or ["(no reason printed)"])[-1]
            print(f"SKIP {t['name']}: {reason}")
        else:
            failed += 1
            print(f"FAIL {t['name']}: {res}")
print(f"{passed} passed, {failed} failed, {skipped} skipped")
sys.exit(1 if failed else 0)
PY
