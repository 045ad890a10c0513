#!/usr/bin/python3
"""Usage and hypervisors through hv against hvcentral and two fake hosts: a project's
usage over a range is the hours each server existed inside it (created to deleted, or to
now) times its flavor, checked against the servers' own recorded times; hypervisor list
shows what hvcentral allocated beside what each host reports, and stats add up; bad
dates name the field."""
import time

import harness
from harness import check

HOSTS = ("node-1", "node-2")
MS_H = 3600000.0


def iso(ms):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms / 1000))


def close(a, b):
    return abs(a - b) <= 1e-6 * max(1.0, abs(b))


def main():
    c = harness.Cluster()
    c.start_central()
    for h in HOSTS:
        c.allow(h)
        c.start_agent(h, fake="memory_mb = 16384\nvcpus = 16\n")
    for h in HOSTS:
        c.wait_host(h, "up")
        harness.wait_for(h + " reports", lambda h=h: c.hv_json("host", "show", h).get(
            "resources"))
    rc, _, err = c.hv("project", "create", "demo")
    check(rc == 0, "project demo: " + err)

    for name, flavor, host in (("a", "m1.tiny", "node-1"), ("b", "m1.small", "node-2"),
                               ("d", "m1.tiny", "node-2")):
        rc, _, err = c.hv("server", "create", name, "--flavor", flavor, "--image", "cirros",
                          "--no-admin-pass", "--host", host, "--project", "demo", "--wait")
        check(rc == 0, "server %s: %s" % (name, err))
    time.sleep(1.2)
    rc, _, err = c.hv("server", "delete", "d", "--wait")
    check(rc == 0, "d deleted: " + err)
    d = c.hv_json("server", "show", "d")
    check(d["vm_state"] == "deleted", "d is deleted")
    a = c.show("a")

    # a range from one second before the first create to a fixed end after d's deletion
    start_ms = (a["created_ms"] // 1000 - 1) * 1000
    end_ms = (d["updated_ms"] // 1000 + 2) * 1000
    time.sleep(max(0, (end_ms - time.time() * 1000) / 1000) + 0.2)
    u = c.hv_json("usage", "show", "--project", "demo", "--start", iso(start_ms),
                  "--end", iso(end_ms))
    rows = {r["name"]: r for r in u["server_usages"]}
    check(set(rows) == {"a", "b", "d"}, "three servers counted: %s" % sorted(rows))
    want = {"hours": 0.0, "vcpus": 0.0, "ram": 0.0, "disk": 0.0}
    for n in ("a", "b", "d"):
        s = c.hv_json("server", "show", n)
        f = s["flavor"]
        died = s["updated_ms"] if s["vm_state"] == "deleted" else end_ms
        hours = (min(died, end_ms) - max(s["created_ms"], start_ms)) / MS_H
        check(close(rows[n]["hours"], hours), "%s: %.9f hours, expected %.9f" % (
            n, rows[n]["hours"], hours))
        want["hours"] += hours
        want["vcpus"] += hours * f["vcpus"]
        want["ram"] += hours * f["ram_mb"]
        want["disk"] += hours * (f["root_gb"] + f.get("ephemeral_gb", 0))
    check(rows["d"]["state"] == "terminated" and rows["d"]["ended_at"]
          and rows["a"]["ended_at"] is None, "d ended (terminated), a runs")
    check(close(u["total_hours"], want["hours"]) and close(u["total_vcpus_usage"], want["vcpus"])
          and close(u["total_memory_mb_usage"], want["ram"])
          and close(u["total_local_gb_usage"], want["disk"]),
          "totals match the servers' times: %s vs %s" % (u, want))

    # a range ending before d was created leaves d's hours out... and one after d leaves it out
    after = c.hv_json("usage", "show", "--project", "demo", "--start", iso(end_ms),
                      "--end", iso(end_ms + 3600000))
    check({r["name"] for r in after["server_usages"]} == {"a", "b"},
          "a range after d's deletion counts a and b only")
    lst = c.hv_json("usage", "list", "--start", iso(start_ms), "--end", iso(end_ms))
    demo = c.hv_json("project", "show", "demo")["id"]
    check([x["tenant_id"] for x in lst] == [demo] and close(lst[0]["total_hours"], want["hours"]),
          "usage list: one row, demo's: %s" % lst)
    check(c.hv_json("usage", "list", "--project", "admin", "--start", iso(start_ms)) == [],
          "usage list --project admin: admin used nothing")
    rc, _, err = c.hv("usage", "list", "--project", "nope")
    check(rc != 0 and "args.project" in err, "an unknown project names args.project: " + err)

    rc, _, err = c.hv("usage", "list", "--start", "2026-13-01")
    check(rc != 0 and "args.start" in err, "a bad date names args.start: " + err)
    rc, _, err = c.hv("usage", "list", "--start", "2026-02-30")
    check(rc != 0 and "args.start" in err, "February 30th names args.start: " + err)
    rc, _, err = c.hv("usage", "list", "--start", "2026-12-02", "--end", "2026-12-01")
    check(rc != 0 and "args.end" in err, "an end before the start names args.end: " + err)

    # hypervisors
    hv = {h["hypervisor_hostname"]: h for h in c.hv_json("hypervisor", "list")}
    check(set(hv) == set(HOSTS), "two hypervisors: %s" % sorted(hv))
    check(hv["node-1"]["vcpus_used"] == 1 and hv["node-1"]["memory_mb_used"] == 512
          and hv["node-1"]["running_vms"] == 1 and hv["node-1"]["vcpus"] == 16
          and hv["node-1"]["memory_mb"] == 16384, "node-1 allocates a (m1.tiny): %s" % hv["node-1"])
    check(hv["node-2"]["memory_mb_used"] == 2048 and hv["node-2"]["local_gb_used"] == 20
          and hv["node-2"]["running_vms"] == 1, "node-2 allocates b (m1.small) only: %s"
          % hv["node-2"])
    harness.wait_for("node-2 reports b", lambda: c.hv_json("hypervisor", "show", "node-2")[
        "reported"]["running_vms"] == 1)
    one = c.hv_json("hypervisor", "show", "node-2")
    check("numa_cells" in one and "measured" in one and one["state"] == "up"
          and one["status"] == "enabled", "show has NUMA cells and the measured side: %s" % one)
    stats = c.hv_json("hypervisor", "stats")
    hv = c.hv_json("hypervisor", "list")
    for k in ("vcpus", "vcpus_used", "memory_mb", "memory_mb_used", "local_gb",
              "local_gb_used", "running_vms", "free_ram_mb"):
        check(stats[k] == sum(h[k] for h in hv), "stats %s adds up: %s" % (k, stats[k]))
    check(stats["count"] == 2, "stats counts two hosts")
    rc, _, err = c.hv("hypervisor", "show", "node-9")
    check(rc != 0 and "args.hypervisor" in err, "an unknown hypervisor names it: " + err)


harness.run(main)
