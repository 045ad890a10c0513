#!/usr/bin/python3
"""The logs as journald and an operator's grep see them: after a short workflow (create,
pause, unpause, stop, start, reboot, a refused command, delete) every line of hvcentral's and
hvagent's logs starts with a syslog priority prefix <3>..<7> and the program; every line
that names a server's uuid carries it as an instance= field, every line that names a
command id carries it as cmd=, both at the end of the line; each command the agent ran has
its accepted and done lines with both fields, and hvcentral its done line."""
import re
import signal

import harness
from harness import check

LINE = re.compile(r"^<([3-7])>(hvagent|hvcentral): (.+)$")
FIELDS = re.compile(r"(?: instance=(\S+))?(?: cmd=(\S+))?$")


TOOL = re.compile(r"^==\d+== ")  # valgrind's own lines, when the daemons run under it


def read(c, name):
    with open(c.path(name)) as f:
        return [l for l in f.read().splitlines() if not TOOL.match(l)]


def check_lines(name, lines, uuids, cmd_ids):
    bad_prefix = [l for l in lines if not LINE.match(l)]
    check(lines and not bad_prefix,
          "%s: all %d lines carry a priority prefix (%s)" % (name, len(lines), bad_prefix[:3]))
    missing = []
    for l in lines:
        m = FIELDS.search(l)
        inst, cmd = m.group(1), m.group(2)
        for u in uuids:
            if u in l and inst != u:
                missing.append(("instance", l))
        for cid in cmd_ids:
            if cid in l and cmd != cid:
                missing.append(("cmd", l))
    check(not missing, "%s: a line naming a server or a command carries instance= / cmd= at "
          "its end (%s)" % (name, missing[:3]))


def main():
    c = harness.Cluster()
    c.start_central()
    c.allow("node-1")
    c.start_agent("node-1")
    c.wait_host("node-1", "up")
    rc, _, err = c.hv("server", "create", "web", "--host", "node-1", "--flavor-spec",
                      "vcpus=1,ram=64,disk=1", "--image", "cirros", "--wait")
    check(rc == 0, "server created: " + err.strip())
    cmd_ids = [x["cmd_id"] for x in c.show("web")["recent_commands"]]
    for action in ("pause", "unpause", "stop", "start", "reboot"):
        rc, _, err = c.hv("server", action, "web", "--wait")
        check(rc == 0, "server %s: %s" % (action, err.strip()))
        cmd_ids.append(c.show("web")["recent_commands"][0]["cmd_id"])
    rc, _, _ = c.hv("server", "unpause", "web", "--wait")
    check(rc != 0, "an unpause of an active server is refused")
    uuid = c.show("web")["uuid"]
    check(len(set(cmd_ids)) == 6, "hvcentral names the server's 6 commands")
    rc, _, err = c.hv("server", "delete", "web", "--wait")
    check(rc == 0, "server deleted: " + err.strip())
    c.kill("agent-node-1", signal.SIGTERM)
    c.kill("hvcentral", signal.SIGTERM)

    agent = read(c, "agent-node-1.log")
    central = read(c, "hvcentral.log")
    check_lines("hvagent", agent, [uuid], cmd_ids)
    check_lines("hvcentral", central, [uuid], cmd_ids)
    for cid in cmd_ids:
        for what in ("accepted", "done"):
            hit = [l for l in agent if l.endswith(" instance=%s cmd=%s" % (uuid, cid)) and
                   (" %s instance=" % what) in l]
            check(len(hit) == 1, "hvagent logs command %s %s with instance= and cmd=" % (cid, what))
    for cid in cmd_ids:
        hit = [l for l in central if l.endswith(" done host=node-1 instance=%s cmd=%s" % (uuid, cid))]
        check(len(hit) == 1, "hvcentral logs command %s done with instance= and cmd=" % cid)
    about = [l for l in central if re.match(r"<7>hvcentral: received (RESULT|EVENT|ACK) ", l)]
    check(about and all(" instance=%s" % uuid in l or " cmd=" in l for l in about),
          "hvcentral's lines about an agent's RESULT, EVENT or ACK name the instance or command "
          "(%d lines)" % len(about))
    check(any(l.startswith("<6>hvagent: lifecycle ") and l.endswith("instance=" + uuid)
              for l in agent), "a lifecycle event line carries instance=")


harness.run(main)
