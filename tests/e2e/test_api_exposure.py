#!/usr/bin/python3
"""The hv API is not authenticated, so who can connect to its socket can drive hvcentral: a
socket directory open to every user (made under umask 000) can no longer be listed or
written by others at start, others cannot connect to the socket, and a directory another
user owns is refused with its name."""
import os
import stat
import subprocess

import harness
from harness import check


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def main():
    if os.geteuid() != 0:
        print("skipped: needs root to create a directory another user owns")
        raise SystemExit(harness.SKIP)
    c = harness.Cluster()
    shared = c.path("shared")
    old = os.umask(0)
    try:
        os.mkdir(shared, 0o777)
        c.api = "ipc://%s/api.sock" % shared
        c.start_central()
    finally:
        os.umask(old)
    check(mode(shared) & 0o006 == 0, "a socket directory open to every user can no longer be "
          "listed or written by others at start (now %04o)" % mode(shared))
    check(mode(os.path.join(shared, "api.sock")) & 0o007 == 0,
          "and others cannot connect to the socket, whatever the umask (%04o)"
          % mode(os.path.join(shared, "api.sock")))
    log = open(c.path("hvcentral.log")).read()
    check("open to every user" in log and shared in log, "hvcentral says what it changed")
    rc, _, err = c.hv("server", "list")
    check(rc == 0, "hv still works for its owner (%s)" % err.strip())
    c.kill("hvcentral")

    theirs = c.path("theirs")
    os.mkdir(theirs, 0o755)
    os.chown(theirs, 65534, 65534)
    c.api = "ipc://%s/api.sock" % theirs
    try:
        c.start_central()
        started = True
    except harness.Failure:
        started = False
    check(not started, "a socket directory another user owns is refused: hvcentral does not start")
    log = open(c.path("hvcentral.log")).read()
    check(theirs in log and "another user could replace the socket" in log,
          "and the refusal names the directory and why")


if __name__ == "__main__":
    harness.run(main)
