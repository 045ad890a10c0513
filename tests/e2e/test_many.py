#!/usr/bin/python3
"""Several servers in one command, as the guide's "managing multiple instances
simultaneously" does from the dashboard: `hv server stop a b c --wait` stops all three and
prints a line each; a name that does not exist fails alone (exit 1, the others still act);
-f json gives the records as a list; an option the action does not take is refused before
anything is sent."""
import json

import harness
from harness import check

NAMES = ["m-1", "m-2", "m-3"]


def vm_state(c, name):
    return c.show(name)["vm_state"]


def main():
    c = harness.Cluster()
    c.start_central()
    c.allow("node-1")
    c.start_agent("node-1")
    c.wait_host("node-1", "up")
    for n in NAMES:
        rc, _, err = c.hv("server", "create", n, "--flavor", "m1.tiny", "--image", "cirros",
                          "--no-admin-pass", "--wait")
        check(rc == 0, "%s is created (%s)" % (n, err.strip()))

    rc, out, err = c.hv("server", "stop", *NAMES, "--wait")
    check(rc == 0, "stop of three servers succeeds (%s)" % err.strip())
    check(out.splitlines() == ["%s: stopped" % n for n in NAMES],
          "one line per server, in order: %r" % out)
    check(all(vm_state(c, n) == "stopped" for n in NAMES), "all three are stopped")

    rc, out, err = c.hv("server", "start", "m-1", "nope", "m-3", "--wait")
    check(rc == 1, "a server that does not exist makes the command fail (exit %d)" % rc)
    check("nope" in err, "and the error names it: %s" % err.strip())
    check(vm_state(c, "m-1") == "active" and vm_state(c, "m-3") == "active",
          "the others were still started")
    check(vm_state(c, "m-2") == "stopped", "and the one not named was left alone")

    rc, out, err = c.hv("server", "reboot", "m-1", "m-3", "--hard", "--wait", "-f", "json")
    check(rc == 0, "a hard reboot of two succeeds (%s)" % err.strip())
    recs = json.loads(out)
    check([r["name"] for r in recs] == ["m-1", "m-3"] and
          all(r["vm_state"] == "active" for r in recs),
          "-f json lists both records, active: %s" % [(r["name"], r["vm_state"]) for r in recs])

    rc, _, err = c.hv("server", "stop", "m-1", "m-3", "--hard")
    check(rc == 2 and "--hard" in err, "--hard on stop is a usage error (%s)" % err.strip())
    check(vm_state(c, "m-1") == "active", "and nothing was stopped")

    # rename (the guide's edit instance; nova's PUT /servers/{id} name)
    uuid = c.show("m-2")["uuid"]
    rc, out, err = c.hv("server", "set", "m-2", "--name", "m-two", "-f", "json")
    check(rc == 0 and json.loads(out)["name"] == "m-two", "set --name renames (%s)" % err.strip())
    check(c.show(uuid)["name"] == "m-two", "the server is found by its new name's record")
    rc, _, err = c.hv("server", "set", "m-two", "--name", "m-1")
    check(rc == 1 and "args.name" in err, "a name another server has is refused naming "
          "args.name (%s)" % err.strip())
    rc, _, err = c.hv("server", "set", "m-two", "--name", "0d2c2ae4-0000-4000-8000-000000000000")
    check(rc == 1 and "args.name" in err, "a uuid-shaped name is refused (%s)" % err.strip())
    rc, _, err = c.hv("server", "set", "m-two")
    check(rc == 2 and "--name" in err, "set without --name is a usage error")
    check(c.show(uuid)["name"] == "m-two", "and the refused renames changed nothing")
    NAMES[1] = "m-two"

    rc, out, err = c.hv("server", "delete", *NAMES, "--wait")
    check(rc == 0, "delete of three succeeds (%s)" % err.strip())
    check(c.hv_json("server", "list") == [], "none is left")


if __name__ == "__main__":
    harness.run(main)
