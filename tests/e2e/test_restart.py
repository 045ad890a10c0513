#!/usr/bin/python3
"""A controller restart loses nothing: servers and their states survive hvcentral being
killed, agents come back on their own, and work continues. A command given while the
host's agent is away is delivered (same cmd_id) when it returns - unless it carries a
secret, which hvcentral keeps in memory only: after a restart such a command fails with a
clear error instead of going out without its password."""
import harness
from harness import check


def states(c, name):
    s = c.show(name)
    return s["vm_state"], s["task_state"], s["power_state"]


def main():
    c = harness.Cluster(suspect_after=2, down_after=60)
    c.start_central()
    c.allow("node-1")
    c.start_agent("node-1")
    c.wait_host("node-1", "up")
    for n in ("a", "b"):
        rc, _, err = c.hv("server", "create", n, "--host", "node-1", "--flavor-spec",
                          "vcpus=1,ram=64,disk=1", "--image", "cirros", "--wait")
        check(rc == 0, "server %s created" % n)
    rc, _, _ = c.hv("server", "pause", "b", "--wait")
    check(rc == 0, "server b paused")

    c.kill("hvcentral")
    c.start_central()
    check(states(c, "a") == ("active", None, "running") and states(c, "b") == ("paused", None, "paused"),
          "after kill -9 and restart, hvcentral still knows both servers and their states")
    c.wait_host("node-1", "up")
    check(True, "the agent reconnects on its own")
    rc, _, err = c.hv("server", "unpause", "b", "--wait")
    check(rc == 0 and states(c, "b") == ("active", None, "running"), "and work continues")

    # the fake hypervisor lives in the agent's memory, so the command given while the agent
    # is away is a spawn: it needs nothing the restarted fake would have forgotten
    c.kill("agent-node-1")
    c.wait_host("node-1", "suspect", timeout=30)
    rc, out, err = c.hv("server", "create", "c", "--host", "node-1", "--flavor-spec",
                        "vcpus=1,ram=64,disk=1", "--image", "cirros")
    check(rc == 0, "a create for a suspect host is accepted and journaled")
    check(states(c, "c") == ("building", "spawning", "nostate"), "the server shows the spawn in flight")
    c.start_agent("node-1")
    harness.wait_for("c active", lambda: states(c, "c") == ("active", None, "running"), timeout=60)
    check(True, "the returning agent receives the journaled spawn and the server ends active")
    cmds = c.show("c")["recent_commands"]
    check(cmds[0]["action"] == "spawn" and cmds[0]["state"] == "done" and cmds[0]["attempts"] >= 1,
          "the spawn command is done")


    # a create carries a generated admin password; with the agent away it waits in
    # hvcentral's journal without it
    c.kill("agent-node-1")
    c.wait_host("node-1", "suspect", timeout=30)
    rc, out, err = c.hv("server", "create", "d", "--host", "node-1", "--flavor-spec",
                        "vcpus=1,ram=64,disk=1", "--image", "cirros", "--admin-pass", "Pw-kept-in-memory-1")
    check(rc == 0 and states(c, "d") == ("building", "spawning", "nostate"), "a create with a password is journaled")
    check(c.central_holds("Pw-kept-in-memory-1") == [], "the journaled command does not hold the password")
    c.kill("hvcentral")
    c.start_central()
    harness.wait_for("d failed", lambda: states(c, "d")[0] == "error")
    s = c.show("d")
    cmd = s["recent_commands"][0]
    check(cmd["action"] == "spawn" and cmd["state"] == "failed" and cmd["error"]["code"] == "interrupted"
          and "secret" in cmd["error"]["message"],
          "after a restart the spawn fails as interrupted, saying its secret is gone")
    check("run it again" in (s["fault"] or ""), "the server's fault tells the operator what to do")
    c.start_agent("node-1")
    c.wait_host("node-1", "up")
    rc, _, _ = c.hv("server", "create", "e", "--host", "node-1", "--flavor-spec", "vcpus=1,ram=64,disk=1",
                    "--image", "cirros", "--wait")
    check(rc == 0, "the host works on")
    with open(c.path("agent-node-1.log")) as f:
        check(s["uuid"] not in f.read(), "the agent never received the command without its password")
    check(c.central_holds("Pw-kept-in-memory-1") == [], "nor did the password reach hvcentral's files")


harness.run(main)
