#!/usr/bin/python3
"""hvcentral's database on a full disk: nothing a client was told is lost. hvcentral stays
up; a change it cannot store is refused (busy, naming the database) and leaves no trace,
neither in the database nor on a host; reads and the hosts' liveness go on; once the disk
has room it works again by itself; and after kill -9 every change it acknowledged is
there. Its state directory is a small tmpfs the test fills (needs root to mount it)."""
import os
import subprocess
import sys

import harness
from harness import check

SPEC = ("--flavor-spec", "vcpus=1,ram=64,disk=1", "--image", "cirros")


def fill(path):
    """Writes path until the filesystem refuses a byte more."""
    with open(path, "wb", buffering=0) as f:
        chunk = b"\0" * 65536
        while True:
            try:
                f.write(chunk)
            except OSError:
                if len(chunk) == 1:
                    return
                chunk = chunk[: len(chunk) // 2]


def main():
    if os.geteuid() != 0:
        print("SKIP: needs root to mount a tmpfs under hvcentral's state directory")
        sys.exit(77)
    c = harness.Cluster(suspect_after=3, down_after=6)
    state = c.path("central")
    os.makedirs(state)
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m,mode=0700", "tmpfs", state]).returncode:
        print("SKIP: cannot mount a tmpfs here")
        sys.exit(77)
    try:
        run(c, state)
    finally:
        c.stop_all(keep_logs=True)
        subprocess.run(["umount", "-l", state])


def run(c, state):
    c.start_central()
    c.allow("node-1")
    c.start_agent("node-1")
    c.wait_host("node-1", "up")
    rc, _, err = c.hv("server", "create", "before", "--host", "node-1", *SPEC, "--wait")
    check(rc == 0, "a server is created while the disk has room: " + err)

    filler = os.path.join(state, "filler")
    fill(filler)
    acked, refused = [], []
    for i in range(40):
        name = "full-%d" % i
        rc, out, err = c.hv("server", "create", name, "--host", "node-1", *SPEC)
        if rc == 0:
            acked.append(name)
        else:
            refused.append((name, err))
        if len(refused) >= 3:
            break
    check(refused, "with the disk full a create is refused (%d acknowledged first)" % len(acked))
    name, err = refused[0]
    check("busy" in err and "database" in err and os.path.join(state, "hvcentral.db") in err
          and "nothing was changed" in err,
          "the refusal says busy, names the database and that nothing changed: " + err)
    check(c.procs["hvcentral"].poll() is None, "hvcentral is still running")

    rc, out, err = c.hv("server", "list")
    check(rc == 0 and "before" in out, "reads are served with the disk full")
    for n, _ in refused:
        check(n not in out, "the refused %s is not listed" % n)
    harness.wait_for("the host stays up", lambda: c.host_state("node-1") == "up", timeout=10)
    import time
    time.sleep(7)  # longer than down_after: heartbeats must keep the host up meanwhile
    check(c.host_state("node-1") == "up", "the host is still up after down_after with the disk full")
    with open(c.path("agent-node-1.log")) as f:
        log = f.read()
    for n, _ in refused:
        rc, out, _ = c.hv("server", "show", n)
        check(rc != 0, "the refused %s does not exist" % n)
    check(log.count("spawn accepted") == 1 + len(acked),
          "the host received only the acknowledged spawns (%d)" % (1 + len(acked)))

    os.unlink(filler)
    rc, _, err = c.hv("server", "create", "after", "--host", "node-1", *SPEC, "--wait")
    check(rc == 0, "with room again, a create works without a restart: " + err)

    c.kill("hvcentral")
    c.start_central()
    rc, out, _ = c.hv("server", "list")
    for n in ["before", "after"] + acked:
        check(n in out, "after kill -9, the acknowledged %s is there" % n)
    c.wait_host("node-1", "up")
    for n in ["before", "after"] + acked:
        harness.wait_for("%s active" % n, lambda n=n: c.show(n)["vm_state"] == "active", timeout=30)
    check(True, "and every acknowledged server is active")


harness.run(main)
