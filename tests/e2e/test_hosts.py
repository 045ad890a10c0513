#!/usr/bin/python3
"""Host liveness as operators see it in `hv host list`: agents that report are up, an agent
killed goes suspect then down (short intervals from the config), a down host takes no new
server, and a restarted agent is up again."""
import harness
from harness import check


def main():
    c = harness.Cluster(suspect_after=2, down_after=4)
    c.start_central()
    for h in ("node-1", "node-2"):
        c.allow(h)
        c.start_agent(h)
    c.wait_host("node-1", "up")
    c.wait_host("node-2", "up")
    hosts = c.hosts()
    check(hosts["node-1"]["state"] == "up" and hosts["node-2"]["state"] == "up",
          "host list shows both agents up")
    harness.wait_for("node-1 resources", lambda: c.hosts()["node-1"]["resources"].get("vcpus") == 8)
    check(True, "host list carries the agent's report (vcpus = 8 from [fake] vcpus)")
    rc, out, _ = c.hv("host", "list")
    check(rc == 0 and "node-1" in out and "up" in out, "host list prints a table for people")
    h = c.hv_json("host", "show", "node-1")
    check(h["state"] == "up" and h["resources"]["memory_mb"] == 8192, "host show has state and memory")

    c.kill("agent-node-2")
    c.wait_host("node-2", "suspect", timeout=30)
    check(True, "a killed agent's host goes suspect")
    c.wait_host("node-2", "down", timeout=30)
    check(True, "then down")
    check(c.host_state("node-1") == "up", "the other host stays up")

    rc, _, err = c.hv("server", "create", "vm", "--host", "node-2", "--flavor-spec",
                      "vcpus=1,ram=64,disk=1", "--image", "cirros")
    check(rc == 1 and "down" in err, "a down host takes no new server (exit 1, says down)")
    rc, _, err = c.hv("server", "list", "-f", "json")
    check(rc == 0 and out is not None and "vm" not in [s["name"] for s in c.hv_json("server", "list")],
          "and nothing was created")

    c.start_agent("node-2")
    c.wait_host("node-2", "up")
    check(True, "a restarted agent is up again")
    rc, _, err = c.hv("server", "create", "vm", "--host", "node-2", "--flavor-spec",
                      "vcpus=1,ram=64,disk=1", "--image", "cirros", "--wait")
    check(rc == 0, "and takes servers again")
    rc, _, err = c.hv("host", "show", "node-9")
    check(rc == 1 and "node-9" in err, "an unknown host exits 1 naming it")


harness.run(main)
