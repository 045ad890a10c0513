#!/usr/bin/python3
"""The guide's placement and accounting through Debian's `openstack` against hvcentral and
three fake agents: hypervisor list/show/stats; an aggregate with a zone and a property and
a host in it, seen in `availability zone list`; a server created in that zone lands on
the aggregate's host; an anti-affinity server group spreads its servers (`--hint group=`)
and refuses one more; usage list/show; and members are refused what nova's policy keeps
for admins, with nothing changed."""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
import harness  # noqa: E402
from harness import check  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import clouds  # noqa: E402
from test_openstack import Cloud  # noqa: E402

HOSTS = ("node-1", "node-2", "node-3")


def main():
    c = harness.Cluster()
    port = harness.free_port()
    c.start_central(conf_extra="[openstack]\nlisten = 127.0.0.1:%d\n" % port)
    for h in HOSTS:
        c.allow(h)
        c.start_agent(h)
    for h in HOSTS:
        c.wait_host(h, "up")
    url = "http://127.0.0.1:%d" % port
    config = clouds.setup(c, url, [("hv-admin", "alice", "admin", "admin", "alice-pass-1"),
                                   ("hv-bob", "bob", "admin", "member", "bob-pass-22")])
    cl = Cloud(c, url, config)
    raw = c.path("tiny.raw")
    with open(raw, "wb") as f:
        f.write(b"\0" * 65536)
    img = cl.osc_json("hv-admin", "image", "create", "--file", raw, "--disk-format", "raw",
                      "--container-format", "bare", "--public", "cirros")
    img = cl.osc_json("hv-admin", "image", "show", img["id"])
    check(img["status"] == "active", "an image to boot from (%s)" % img["status"])

    # hypervisors (2.5.x of the guide: the hosts' capacity and use)
    hyps = cl.osc_json("hv-admin", "hypervisor", "list")
    check(sorted(h["Hypervisor Hostname"] for h in hyps) == list(HOSTS),
          "hypervisor list shows the three hosts (%s)" % hyps)
    shown = cl.osc_json("hv-admin", "hypervisor", "show", "node-2")
    check(shown["hypervisor_hostname"] == "node-2" and shown["vcpus"] > 0 and
          shown["memory_mb"] > 0 and shown["state"] == "up",
          "hypervisor show node-2 has its capacity and state (%s)" %
          {k: shown.get(k) for k in ("vcpus", "memory_mb", "state")})
    stats = cl.osc_json("hv-admin", "hypervisor", "stats", "show")
    check(stats["count"] == 3 and stats["vcpus"] == 3 * shown["vcpus"],
          "hypervisor stats add the three up (%s)" % stats)
    rc, _, err = cl.osc("hv-bob", "hypervisor", "list")
    check(rc != 0 and "403" in err, "a member may not list hypervisors (%s)" % err.strip()[-120:])

    # an aggregate with a zone, a property and a host (2.4)
    agg = cl.osc_json("hv-admin", "aggregate", "create", "--zone", "az1", "--property",
                      "ssd=true", "fast")
    check(agg["availability_zone"] == "az1", "aggregate create --zone az1 (%s)" % agg)
    cl.osc("hv-admin", "aggregate", "add", "host", "fast", "node-3")
    agg = cl.osc_json("hv-admin", "aggregate", "show", "fast")
    check(agg["hosts"] == ["node-3"] and "ssd" in json.dumps(agg["properties"]),
          "aggregate show: host node-3, property ssd=true (%s)" % agg)
    rc, _, err = cl.osc("hv-admin", "aggregate", "add", "host", "fast", "nowhere")
    check(rc != 0, "a host that never connected is refused (%s)" % err.strip()[-120:])
    rc, _, err = cl.osc("hv-bob", "aggregate", "create", "mine")
    check(rc != 0 and "403" in err, "a member may not create an aggregate")
    check([a["Name"] for a in cl.osc_json("hv-admin", "aggregate", "list")] == ["fast"],
          "and nothing was made by the refusals")
    zones = {z["Zone Name"]: z["Zone Status"]
             for z in cl.osc_json("hv-admin", "availability", "zone", "list", "--compute")}
    check(zones.get("az1") == "available" and zones.get("nova") == "available",
          "availability zone list: az1 and nova (%s)" % zones)
    made = cl.osc_json("hv-admin", "server", "create", "--flavor", "m1.tiny", "--image",
                       "cirros", "--availability-zone", "az1", "--wait", "in-az1")
    check(made["OS-EXT-SRV-ATTR:host"] == "node-3",
          "a server created in az1 lands on node-3 (%s)" % made.get("OS-EXT-SRV-ATTR:host"))

    # server group with anti-affinity (2.5)
    group = cl.osc_json("hv-admin", "server", "group", "create", "--policy", "anti-affinity",
                        "spread")
    check(group["policy"] == "anti-affinity" if "policy" in group else
          "anti-affinity" in json.dumps(group), "server group create (%s)" % group)
    placed = []
    for i in range(3):
        s = cl.osc_json("hv-admin", "server", "create", "--flavor", "m1.tiny", "--image",
                        "cirros", "--hint", "group=%s" % group["id"], "--wait", "sg-%d" % i)
        placed.append(s["OS-EXT-SRV-ATTR:host"])
    check(sorted(placed) == list(HOSTS), "three members on three hosts (%s)" % placed)
    rc, _, err = cl.osc("hv-admin", "server", "create", "--flavor", "m1.tiny", "--image",
                        "cirros", "--hint", "group=%s" % group["id"], "sg-3")
    check(rc != 0 and "No valid host" in err,
          "a fourth is refused: No valid host (%s)" % err.strip()[-160:])
    members = cl.osc_json("hv-admin", "server", "group", "show", "spread")["members"]
    check(len(members) == 3, "the group has the three members (%s)" % members)

    # usage (2.1.6)
    usage = cl.osc_json("hv-admin", "usage", "list")
    count = lambda u: len(u["Servers"]) if isinstance(u["Servers"], list) else u["Servers"]
    check(len(usage) == 1 and count(usage[0]) == 4,
          "usage list: the admin project with its 4 servers (%s)" % usage)
    one = cl.osc_json("hv-admin", "usage", "show", "--project", "admin")
    check("Servers" in one and count(one) == 4, "usage show --project admin (%s)" % one)


if __name__ == "__main__":
    harness.run(main)
