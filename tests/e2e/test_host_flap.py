#!/usr/bin/python3
"""A host whose hypervisor goes away, as operators see it: `hv host list` shows it disabled
with the agent's reason, it takes no new server, a command sent meanwhile waits (the agent
refuses it as busy and hvcentral sends the same cmd_id again) and completes once the host
is enabled again, and then the host takes servers again."""
import harness
from harness import check

REASON = "AUTO: hypervisor connection lost"
FLAVOR = "vcpus=1,ram=64,disk=1"


def main():
    c = harness.Cluster()
    c.start_central()
    c.allow("node-1")
    # the fake driver loses its hypervisor 6 s after the agent opened it, for 6 s
    c.start_agent("node-1", env={"HVAGENT_FAKE_HOST_FLAP": "6000:6000"})
    c.wait_host("node-1", "up")
    harness.wait_for("node-1 status", lambda: c.hosts()["node-1"]["status"] == "enabled")
    h = c.hosts()["node-1"]
    check(h["status"] == "enabled" and h["disabled_reason"] is None,
          "a reporting host is enabled, without a reason")
    rc, _, err = c.hv("server", "create", "vm-1", "--host", "node-1", "--flavor-spec", FLAVOR,
                      "--image", "cirros", "--wait")
    check(rc == 0, "it takes a server")

    harness.wait_for("node-1 disabled", lambda: c.hosts()["node-1"]["status"] == "disabled",
                     timeout=20)
    h = c.hosts()["node-1"]
    check(h["state"] == "up" and h["disabled_reason"] == REASON,
          "when its hypervisor goes away the host is still up but disabled, with the reason")
    h = c.hv_json("host", "show", "node-1")
    check(h["status"] == "disabled" and h["disabled_reason"] == REASON,
          "host show says the same")
    rc, out, _ = c.hv("host", "list")
    check(rc == 0 and "disabled (" + REASON + ")" in out,
          "the host list table shows disabled with the reason")

    rc, _, err = c.hv("server", "create", "vm-2", "--host", "node-1", "--flavor-spec", FLAVOR,
                      "--image", "cirros")
    check(rc == 1 and "disabled" in err and REASON in err,
          "a disabled host takes no new server (exit 1, says disabled and why)")
    check("vm-2" not in [s["name"] for s in c.hv_json("server", "list")],
          "and nothing was created")

    sent = c.hv_json("server", "pause", "vm-1")
    cmd_id = sent["cmd_id"]
    harness.wait_for("a resend of the pause", lambda: any(
        x["cmd_id"] == cmd_id and x["attempts"] >= 2
        for x in c.show("vm-1").get("recent_commands", [])), timeout=10)
    s = c.show("vm-1")
    check(s["vm_state"] == "active" and s["task_state"] == "pausing",
          "a pause sent during the outage waits: refused as busy, sent again, not failed")
    check(c.hosts()["node-1"]["status"] == "disabled", "(the host was still disabled then)")

    harness.wait_for("node-1 enabled", lambda: c.hosts()["node-1"]["status"] == "enabled",
                     timeout=20)
    h = c.hosts()["node-1"]
    check(h["disabled_reason"] is None, "when the hypervisor is back the host is enabled again")
    harness.wait_for("vm-1 paused", lambda: (lambda s: s["vm_state"] == "paused" and
                                              not s["task_state"])(c.show("vm-1")), timeout=20)
    cmds = [x for x in c.show("vm-1")["recent_commands"] if x["cmd_id"] == cmd_id]
    check(len(cmds) == 1 and cmds[0]["state"] == "done" and cmds[0]["attempts"] >= 2,
          "the pause sent during the outage completed after it, under the same cmd_id")
    rc, _, err = c.hv("server", "create", "vm-2", "--host", "node-1", "--flavor-spec", FLAVOR,
                      "--image", "cirros", "--wait")
    check(rc == 0 and c.show("vm-2")["vm_state"] == "active", "and the host takes servers again")


harness.run(main)
