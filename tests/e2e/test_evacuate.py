#!/usr/bin/python3
"""Evacuate (the guide's 2.6): a server whose host is down is rebuilt from its image on
another host, named (`hv server evacuate --host`) or chosen by the scheduler (`hv host
evacuate`), with a new admin password printed once; refused while the host is up, toward
the host itself or an unknown one, and for a server with a task in flight. When the old
host comes back, what it still holds of the evacuated servers is destroyed there, and the
servers live on, untouched, on their new hosts. node-1 and node-3 share their instances
path, as hosts on shared storage do: --on-shared-storage boots a server's own disk there,
and a server whose disk is not there goes to error."""
import json
import os
import signal
import time

import harness
from harness import check


def main():
    c = harness.Cluster(suspect_after=2, down_after=4)
    c.start_central()
    shared = c.path("agent-node-1", "instances")
    os.makedirs(shared)
    os.makedirs(c.path("agent-node-3"))
    os.symlink(shared, c.path("agent-node-3", "instances"))
    for h in ("node-1", "node-2", "node-3"):
        c.allow(h)
        c.start_agent(h)
    for h in ("node-1", "node-2", "node-3"):
        c.wait_host(h, "up")
    for name in ("ev-1", "ev-2", "ev-3", "ev-4"):
        rc, _, err = c.hv("server", "create", name, "--host", "node-1", "--flavor", "m1.tiny",
                          "--image", "cirros", "--no-admin-pass", "--wait")
        check(rc == 0, "%s is created on node-1 (%s)" % (name, err.strip()))
    rc, _, err = c.hv("server", "stop", "ev-2", "--wait")
    check(rc == 0, "ev-2 is stopped")
    uuids = {n: c.show(n)["uuid"] for n in ("ev-1", "ev-2", "ev-3", "ev-4")}

    def disk(n):
        return os.path.join(shared, uuids[n] + ".fake-root")
    check(os.path.exists(disk("ev-3")), "node-1 wrote ev-3's disk under its instances path")

    rc, _, err = c.hv("server", "evacuate", "ev-1", "--host", "node-2")
    check(rc == 1 and "not down" in err, "a server whose host is up is not evacuated (%s)" %
          err.strip())
    check(c.show("ev-1")["host"] == "node-1", "and it stays where it is")

    # node-1 stops answering (frozen, as a host that lost its network): down, not dead
    c.procs["agent-node-1"].send_signal(signal.SIGSTOP)
    c.wait_host("node-1", "down", timeout=30)

    rc, _, err = c.hv("server", "evacuate", "ev-1", "--host", "node-1")
    check(rc == 1 and "args.host" in err, "not toward the host it leaves (%s)" % err.strip())
    rc, _, err = c.hv("server", "evacuate", "ev-1", "--host", "nowhere")
    check(rc == 1 and "args.host" in err, "not toward an unknown host (%s)" % err.strip())
    check(c.show("ev-1")["host"] == "node-1", "and the refusals changed nothing")

    rc, out, err = c.hv("server", "evacuate", "ev-1", "--host", "node-2", "--wait", "-f", "json")
    check(rc == 0, "ev-1 is evacuated to node-2 (%s)" % err.strip())
    rec = json.loads(out)
    check(rec["host"] == "node-2" and rec["vm_state"] == "active" and not rec.get("task_state"),
          "it is active on node-2: %s/%s/%s" % (rec["host"], rec["vm_state"],
                                                 rec.get("task_state")))
    check(len(rec.get("adminPass", "")) == 16, "a new admin password is printed once")
    check(rec["uuid"] == uuids["ev-1"], "it is the same server (same uuid)")

    rc, _, err = c.hv("server", "evacuate", "ev-3", "--on-shared-storage", "--admin-pass", "x")
    check(rc == 2 and "--on-shared-storage" in err,
          "a password cannot be given with --on-shared-storage (%s)" % err.strip())
    rc, out, err = c.hv("server", "evacuate", "ev-3", "--host", "node-3", "--on-shared-storage",
                        "--wait", "-f", "json")
    check(rc == 0, "ev-3 is evacuated on shared storage to node-3 (%s)" % err.strip())
    rec = json.loads(out)
    check(rec["host"] == "node-3" and rec["vm_state"] == "active" and "adminPass" not in rec,
          "it is active on node-3, with no new password: %s/%s" % (rec["host"],
                                                                   rec["vm_state"]))
    rc, out, _ = c.hv("server", "console-log", "ev-3")
    check(rc == 0 and "existing disk" in out,
          "node-3 booted the disk node-1 left, creating none: %r" % out.strip()[-120:])
    os.unlink(disk("ev-4"))  # as if node-1's instances path were not shared
    rc, _, err = c.hv("server", "evacuate", "ev-4", "--host", "node-3", "--on-shared-storage",
                      "--wait")
    ev4 = c.show("ev-4")
    check(rc != 0 and ev4["vm_state"] == "error" and "reuse_disk" in json.dumps(ev4),
          "ev-4, whose disk is not there, goes to error naming reuse_disk (%s; %s)" % (
              err.strip()[-160:], ev4.get("fault")))

    rc, out, err = c.hv("host", "evacuate", "node-1", "--wait")
    check(rc == 0, "hv host evacuate node-1 succeeds (%s)" % err.strip())
    check("ev-2" in out and "evacuated to node-" in out, "a line per server: %r" % out)
    ev2 = c.show("ev-2")
    check(ev2["host"] in ("node-2", "node-3") and ev2["vm_state"] == "stopped" and
          ev2["power_state"] == "shutdown",
          "the scheduler put ev-2 on an up host, stopped as it was: %s (%s/%s)" % (
              ev2["host"], ev2["vm_state"], ev2["power_state"]))

    # node-1 comes back: it still holds both guests; they are destroyed there, never kept
    c.procs["agent-node-1"].send_signal(signal.SIGCONT)
    c.wait_host("node-1", "up", timeout=60)

    def destroyed():
        log = open(c.path("agent-node-1.log")).read()
        return all(("destroy" in line and u in line)
                   for u in uuids.values()
                   for line in [next((l for l in log.splitlines()
                                      if u in l and "destroy" in l), "")])
    harness.wait_for("node-1 to get a destroy of both leftovers", destroyed, timeout=60)
    time.sleep(1)
    check(os.path.exists(disk("ev-3")),
          "the leftover's destroy on node-1 kept ev-3's disk, node-3's now")
    for n, state in (("ev-1", "active"), ("ev-2", "stopped"), ("ev-3", "active")):
        s = c.show(n)
        check(s["host"] != "node-1" and s["vm_state"] == state,
              "%s lives on on %s, untouched by its leftover's destroy (%s)" %
              (n, s["host"], s["vm_state"]))
    rc, _, err = c.hv("server", "evacuate", "ev-1")
    check(rc == 1 and "not down" in err, "and it is not evacuated again while node-2 is up")


if __name__ == "__main__":
    harness.run(main)
