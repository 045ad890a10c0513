#!/usr/bin/python3
"""hv server create without --host: the scheduler places each server from the hosts'
reports. The most free RAM wins (RAM weigher), hints keep servers together or apart, a
host that is down is never chosen, servers created one after the other between two
reports never overcommit a host (ram_allocation_ratio 1.5), and when nothing fits the
error says which filter removed which hosts and nothing is created."""
import harness
from harness import check

RAM = {"node-1": 4096, "node-2": 8192, "node-3": 2048}


def create(c, name, ram, *extra):
    return c.hv("server", "create", name, "--flavor-spec", "vcpus=1,ram=%d,disk=1" % ram,
                "--image", "cirros", "--no-admin-pass", *extra)


def host_of(c, name):
    return c.show(name)["host"]


def main():
    c = harness.Cluster(suspect_after=2, down_after=4)
    c.start_central()
    rc, _, err = c.hv("quota", "set", "--instances", "-1", "--cores", "-1", "--ram", "-1")
    check(rc == 0, "the admin project's quota is lifted: " + err)
    for h, ram in RAM.items():
        c.allow(h)
        c.start_agent(h, fake="memory_mb = %d\nvcpus = 64\n" % ram)
    for h, ram in RAM.items():
        c.wait_host(h, "up")
        harness.wait_for("%s reports %d MB" % (h, ram), lambda h=h, ram=ram: (
            c.hv_json("host", "show", h).get("resources") or {}).get("memory_mb") == ram)

    rc, _, err = create(c, "a", 1024)
    check(rc == 0 and host_of(c, "a") == "node-2",
          "without --host the server goes to the host with the most free RAM (node-2): " + err)
    a = c.show("a")["uuid"]
    rc, _, err = create(c, "b", 512, "--hint", "different_host=" + a)
    check(rc == 0 and host_of(c, "b") == "node-1",
          "--hint different_host keeps it off a's host (node-1 has the most free RAM left): " + err)
    rc, _, err = create(c, "c", 512, "--hint", "same_host=" + c.show("b")["uuid"])
    check(rc == 0 and host_of(c, "c") == "node-1", "--hint same_host puts it beside b: " + err)

    rc, out, err = create(c, "huge", 100000)
    check(rc != 0 and "No valid host was found: 3 hosts; RamFilter removed 3" in err
          and "no_valid_host" in err, "a flavor no host can take is refused naming the filter: " + err)
    rc, _, _ = c.hv("server", "show", "huge")
    check(rc != 0, "and nothing was created")
    rc, _, err = create(c, "bad", 512, "--hint", "query=[\">=\", \"$free_disk\", 1]")
    check(rc != 0 and "hints.query" in err, "a hint that does not parse names it: " + err)

    c.kill("agent-node-2")
    c.wait_host("node-2", "down", timeout=30)
    # node-1: 4096 * 1.5 = 6144 MB, 1024 used; node-3: 2048 * 1.5 = 3072 MB
    placed = {"node-1": 0, "node-3": 0}
    refused = 0
    for i in range(20):
        rc, _, err = create(c, "fill-%d" % i, 512)
        if rc == 0:
            h = host_of(c, "fill-%d" % i)
            check(h in placed, "fill-%d is not on the down host node-2 (%s)" % (i, h))
            placed[h] += 1
        else:
            check("No valid host" in err, "a create that does not fit says No valid host: " + err)
            refused += 1
    check(placed == {"node-1": 10, "node-3": 6} and refused == 4,
          "16 servers fill node-1 and node-3 exactly to their 1.5 RAM ratio, 4 are refused (%s)"
          % placed)
    servers = c.hv_json("server", "list")
    for h, ram in (("node-1", 4096), ("node-3", 2048)):
        used = sum(s["flavor"]["ram_mb"] for s in servers if s["host"] == h
                   and s["vm_state"] != "deleted")
        check(used <= ram * 1.5, "%s holds %d MB <= %d MB" % (h, used, ram * 1.5))


harness.run(main)
