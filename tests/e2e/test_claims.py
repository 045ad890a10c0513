#!/usr/bin/python3
"""A host's claim is the last word on a placement. Each spawn carries the limits the
scheduler's filters checked (RAM under ram_allocation_ratio); the host checks them again
against what it really has free and refuses with claim_refused when that changed since its
report. hvcentral then places the server again on another host, never one it tried
(RetryFilter), up to [scheduler] max_attempts; when none is left the server ends in error
with every host's refusal. The fake hosts' outside_memory_mb makes memory really used that
their reports do not allocate. The filter list is one long line, read whole."""
import harness
from harness import check

# node-1 and node-3 report much free RAM but really have little (their own processes)
HOSTS = {
    "node-1": "memory_mb = 8192\noutside_memory_mb = 7680\n",
    "node-2": "memory_mb = 4096\n",
    "node-3": "memory_mb = 6144\noutside_memory_mb = 6000\n",
}


def create(c, name, ram):
    return c.hv("server", "create", name, "--flavor-spec", "vcpus=1,ram=%d,disk=1" % ram,
                "--image", "cirros", "--no-admin-pass", "--wait")


# nova's default list and three more: longer than the 198 bytes inih's buffer holds
FILTERS = ("RetryFilter, AvailabilityZoneFilter, RamFilter, ComputeFilter, "
           "ComputeCapabilitiesFilter, ImagePropertiesFilter, ServerGroupAntiAffinityFilter, "
           "ServerGroupAffinityFilter, CoreFilter, DiskFilter, AggregateMultiTenancyIsolation")


def start_central(c, max_attempts):
    assert len("enabled_filters = " + FILTERS) > 198
    c.start_central(conf_extra="[scheduler]\nram_allocation_ratio = 1.0\nmax_attempts = %d\n"
                    "enabled_filters = %s\n" % (max_attempts, FILTERS))


def wait_hosts(c):
    for h in HOSTS:
        c.wait_host(h, "up")
        # a report with "real" comes from a host sample: the agent's claim has it too
        harness.wait_for("%s reports its real usage" % h, lambda h=h: "real" in (
            c.hv_json("host", "show", h).get("resources") or {}))


def agent_log(c, h):
    with open(c.path("agent-%s.log" % h)) as f:
        return f.read()


def main():
    c = harness.Cluster()
    start_central(c, 1)
    rc, _, err = c.hv("quota", "set", "--instances", "-1", "--cores", "-1", "--ram", "-1")
    check(rc == 0, "the admin project's quota is lifted: " + err)
    for h, fake in HOSTS.items():
        c.allow(h)
        c.start_agent(h, fake=fake)
    wait_hosts(c)

    # max_attempts = 1: node-1 (the most free RAM reported) refuses, and that is the end
    rc, _, err = create(c, "one", 1024)
    check(rc != 0 and "no_valid_host" in err and "node-1: claim refused: memory" in err,
          "with max_attempts = 1 the create fails naming node-1's refusal: " + err)
    s = c.show("one")
    check(s["vm_state"] == "error" and "1 attempt of 1" in s["fault"]
          and "node-1: claim refused: memory: 1024 MB asked, 512 MB left of the limit 8192 MB"
          in s["fault"], "hv server show says why: %s / %s" % (s["vm_state"], s["fault"]))
    check("spawn refused: code=claim_refused" in agent_log(c, "node-1"),
          "node-1's agent refused the spawn itself")

    c.kill("hvcentral")
    c.kill("agent-node-1")
    start_central(c, 3)
    c.start_agent("node-1", fake=HOSTS["node-1"])
    wait_hosts(c)
    # node-1 reconnected and said what it holds: "one" never reached it, and its fault still
    # says why, not merely that the host does not know it
    harness.wait_for("node-1's new snapshot", lambda: open(c.path("hvcentral.log")).read()
                     .count("received SNAPSHOT host=node-1 ") >= 2)
    s = c.show("one")
    check("node-1: claim refused" in s["fault"],
          "after node-1's snapshot one's fault is still the refusal: " + s["fault"])
    # node-1 refuses, then node-3 (next most free RAM), then node-2 takes it
    rc, _, err = create(c, "two", 1024)
    check(rc == 0, "with max_attempts = 3 the create succeeds: " + err)
    s = c.show("two")
    check(s["host"] == "node-2" and s["vm_state"] == "active",
          "the server lands on node-2 after node-1 and node-3 refused: %s %s (%s)"
          % (s["host"], s["vm_state"], s.get("fault")))
    for h in ("node-1", "node-3"):
        check(agent_log(c, h).count("spawn refused: code=claim_refused") >= 1,
              h + " refused it")
    check("spawn refused" not in agent_log(c, "node-2"), "node-2 accepted it")

    # a server with a port: the port follows it from each refusing host to the next
    c.hv_json("network", "create", "private")
    c.hv_json("subnet", "create", "private-v4", "--network", "private",
              "--subnet-range", "10.0.0.0/24")
    rc, _, err = c.hv("server", "create", "four", "--flavor-spec", "vcpus=1,ram=1024,disk=1",
                      "--image", "cirros", "--no-admin-pass", "--network", "private",
                      "--wait")
    s = c.show("four")
    check(rc == 0 and s["host"] == "node-2" and s["vm_state"] == "active",
          "a server with a port is placed again too, on node-2: %s %s (%s)" % (
              s["host"], s["vm_state"], err.strip() or s.get("fault")))
    ports = [p for p in c.hv_json("port", "list") if p["device_id"] == s["uuid"]]
    check(len(ports) == 1 and ports[0]["binding:host_id"] == "node-2",
          "its port is bound to node-2: %s" % [p["binding:host_id"] for p in ports])
    # these fake hosts run no firewall: they refuse the port commands, which hvcentral logs

    def port_cmds(h):
        return [ln for ln in open(c.path("hvcentral.log")).read().splitlines()
                if "host=%s refused" % h in ln and "port_" in ln]
    harness.wait_for("node-1 and node-3 sent port_plug then port_unplug", lambda: all(
        [("port_plug" in x) for x in port_cmds(h)][-2:] == [True, False] and
        "port_unplug" in port_cmds(h)[-1] for h in ("node-1", "node-3")), timeout=30)
    check(True, "the refusing hosts got the port plugged, then unplugged")
    check([x for x in port_cmds("node-2") if "port_plug" in x] and
          not [x for x in port_cmds("node-2") if "port_unplug" in x],
          "node-2 got it plugged, and kept")

    # 3500 MB: node-2 has 3072 left (RamFilter); node-1 and node-3 refuse; nothing is left
    rc, _, err = create(c, "three", 3500)
    s = c.show("three")
    check(rc != 0 and s["vm_state"] == "error", "a server no host can claim ends in error: " + err)
    for want in ("2 attempts refused", "node-1: claim refused", "node-3: claim refused",
                 "RetryFilter removed 2", "RamFilter removed 1"):
        check(want in s["fault"], "its fault says %r: %s" % (want, s["fault"]))
    rc, out, err = c.hv("host", "show", "node-2")
    check(rc == 0 and "Memory MiB (used/total)" in out and "0-3" in out and "4-7" in out
          and "/2048" in out, "hv host show prints node-2's two NUMA cells: " + out + err)
    check("cpu.frequency" in out and "2400" in out, "and its metrics: " + out)
    servers = [x for x in c.hv_json("server", "list") if x["vm_state"] != "deleted"]
    on2 = sum(x["flavor"]["ram_mb"] for x in servers if x["host"] == "node-2"
              and x["vm_state"] == "active")
    check(on2 == 2048, "node-2 holds only two's and four's 1024 MB each (%d)" % on2)


harness.run(main)
