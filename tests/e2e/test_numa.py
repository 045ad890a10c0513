#!/usr/bin/python3
"""NUMATopologyFilter through hvcentral: a flavor's hw:numa_nodes (and hw:numa_cpus.N /
hw:numa_mem.N) become the guest cells the scheduler fits, read as the hosts read them. The
guide's example (8 vCPUs / 4 GB as 6+2 CPUs and 3+1 GB) goes to the host with two NUMA
cells, not to the one with a single larger cell that has more free RAM. Between two reports
the cells hvcentral placed guest cells on count: with the host's agent stopped (no report),
a third two-cell guest is refused by NUMATopologyFilter although the host's RAM in total
still has room. A flavor whose cells do not split is refused naming the extra spec."""
import os
import signal

import harness
from harness import check

CONF = ("[scheduler]\nenabled_filters = RamFilter, ComputeFilter, NUMATopologyFilter\n"
        "ram_allocation_ratio = 1.0\n")
# node-1: one cell of 16 CPUs / 16 GB; node-2: three cells of 8 CPUs / 4 GB
HOSTS = {"node-1": "vcpus = 16\nmemory_mb = 16384\nnuma_cells = 1\n",
         "node-2": "vcpus = 24\nmemory_mb = 12288\nnuma_cells = 3\n"}


def create(c, name, flavor, *extra):
    return c.hv("server", "create", name, "--flavor", flavor, "--image", "cirros",
                "--no-admin-pass", *extra)


def main():
    # the agent of node-2 is stopped for a while below: heartbeats may pause for 60 s
    c = harness.Cluster(suspect_after=60, down_after=90)
    c.start_central(conf_extra=CONF)
    rc, _, err = c.hv("quota", "set", "--instances", "-1", "--cores", "-1", "--ram", "-1")
    check(rc == 0, "the admin project's quota is lifted: " + err)
    for h, fake in HOSTS.items():
        c.allow(h)
        c.start_agent(h, fake=fake)
    for h in HOSTS:
        c.wait_host(h, "up")
        harness.wait_for("%s reports its cells" % h, lambda h=h: len(((
            c.hv_json("host", "show", h).get("resources") or {}).get("numa_topology") or {})
            .get("cells") or []) == (1 if h == "node-1" else 3))

    rc, _, err = c.hv("flavor", "create", "numa.guide", "--vcpus", "8", "--ram", "4096",
                      "--disk", "1", "--property", "hw:numa_nodes=2",
                      "--property", "hw:numa_cpus.0=0-5", "--property", "hw:numa_cpus.1=6,7",
                      "--property", "hw:numa_mem.0=3072", "--property", "hw:numa_mem.1=1024")
    check(rc == 0, "the guide's NUMA flavor is created: " + err)
    # --wait: a server still spawning refuses a delete (task_in_flight)
    rc, _, err = create(c, "guide", "numa.guide", "--wait")
    check(rc == 0, "a server of it is created: " + err)
    check(c.show("guide")["host"] == "node-2",
          "the guide's example goes to the two-cell host, not to the one-cell host with "
          "more free RAM: " + c.show("guide")["host"])
    rc, _, err = c.hv("server", "delete", "guide", "--wait")
    check(rc == 0, "deleted: " + err)

    rc, _, err = c.hv("flavor", "create", "numa.two", "--vcpus", "4", "--ram", "4096",
                      "--disk", "1", "--property", "hw:numa_nodes=2")
    check(rc == 0, "a two-cell flavor (2 CPUs / 2 GB a cell): " + err)
    # node-2's agent stops: no report will say what the next servers take
    os.kill(c.procs["agent-node-2"].pid, signal.SIGSTOP)
    try:
        for name in ("a", "b"):
            rc, _, err = create(c, name, "numa.two")
            check(rc == 0, "%s is created: %s" % (name, err))
            check(c.show(name)["host"] == "node-2",
                  "%s goes to node-2, the only host with two cells" % name)
        # cells 0 and 1 are full (2 x 2048 MB each); cell 2 alone cannot take two guest
        # cells, though 4096 MB of the host's 12288 are free
        rc, out, err = create(c, "c", "numa.two")
        check(rc != 0 and "NUMATopologyFilter removed 2" in err and "RamFilter" not in err,
              "the third is refused by NUMATopologyFilter alone, from the claims: " + err)
        rc, _, _ = c.hv("server", "show", "c")
        check(rc != 0, "and nothing was created")
    finally:
        os.kill(c.procs["agent-node-2"].pid, signal.SIGCONT)

    rc, _, err = c.hv("flavor", "create", "numa.uneven", "--vcpus", "3", "--ram", "1024",
                      "--disk", "1", "--property", "hw:numa_nodes=2")
    check(rc == 0, "a flavor whose cells do not split evenly is stored: " + err)
    rc, _, err = create(c, "d", "numa.uneven")
    check(rc != 0 and "flavor.extra_specs.hw:numa_nodes" in err and "does not divide" in err,
          "a server of it is refused naming the extra spec: " + err)
    rc, _, _ = c.hv("server", "show", "d")
    check(rc != 0, "and nothing was created")


harness.run(main)
