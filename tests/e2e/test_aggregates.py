#!/usr/bin/python3
"""Host aggregates and availability zones through hv against hvcentral and three fake
hosts: an aggregate's zone restricts where --availability-zone servers go, its metadata
with a flavor's aggregate_instance_extra_specs restricts them too (the filter enabled in
[scheduler]), a host is in one zone only, and bad input names the field and changes
nothing."""
import os
import signal
import subprocess

import harness
from harness import check

HOSTS = ("node-1", "node-2", "node-3")
CONF = ("[scheduler]\nenabled_filters = AvailabilityZoneFilter, RamFilter, ComputeFilter, "
        "AggregateInstanceExtraSpecsFilter, AggregateRamFilter, AggregateCoreFilter, "
        "AggregateDiskFilter\n")


def create(c, name, *extra):
    return c.hv("server", "create", name, "--flavor", "m1.tiny", "--image", "cirros",
                "--no-admin-pass", *extra)


def agg(c, name):
    return c.hv_json("aggregate", "show", name)


def main():
    c = harness.Cluster()
    c.start_central(conf_extra=CONF)
    rc, _, err = c.hv("quota", "set", "--instances", "-1", "--cores", "-1", "--ram", "-1")
    check(rc == 0, "quota lifted: " + err)
    for h in HOSTS:
        c.allow(h)
        c.start_agent(h, fake="memory_mb = 16384\nvcpus = 16\n")
    for h in HOSTS:
        c.wait_host(h, "up")
        harness.wait_for(h + " reports", lambda h=h: c.hv_json("host", "show", h).get(
            "resources"))

    zones = c.hv_json("availability", "zone", "list")
    check([(z["zone_name"], sorted(z["hosts"]), z["zone_state"]) for z in zones]
          == [("nova", list(HOSTS), "available")],
          "every host starts in the default zone nova: %s" % zones)

    a = c.hv_json("aggregate", "create", "rack-a", "--zone", "az1", "--property", "ssd=true")
    check(a["name"] == "rack-a" and a["availability_zone"] == "az1"
          and a["metadata"] == {"availability_zone": "az1", "ssd": "true"} and a["hosts"] == [],
          "aggregate create: zone and metadata %s" % a)
    rc, out, err = c.hv("aggregate", "add", "host", "rack-a", "node-3")
    check(rc == 0, "add host: " + err)
    zones = {z["zone_name"]: sorted(z["hosts"]) for z in c.hv_json("availability", "zone", "list")}
    check(zones == {"nova": ["node-1", "node-2"], "az1": ["node-3"]},
          "node-3 is in az1, the others stay in nova: %s" % zones)

    for i in range(4):
        rc, _, err = create(c, "z-%d" % i, "--availability-zone", "az1")
        check(rc == 0 and c.show("z-%d" % i)["host"] == "node-3"
              and c.show("z-%d" % i)["availability_zone"] == "az1",
              "--availability-zone az1 puts z-%d on node-3: %s" % (i, err))
    for i in range(4):
        rc, _, err = create(c, "n-%d" % i, "--availability-zone", "nova")
        check(rc == 0 and c.show("n-%d" % i)["host"] in ("node-1", "node-2"),
              "--availability-zone nova keeps n-%d off node-3: %s" % (i, err))
    rc, _, err = create(c, "nowhere", "--availability-zone", "az9")
    check(rc == 1 and "args.availability_zone" in err and "az9" in err,
          "a zone nothing names is refused as nova refuses it: " + err.strip())
    rc, _, err = c.hv("aggregate", "create", "empty", "--zone", "az-empty")
    check(rc == 0, "an aggregate with a zone and no host (%s)" % err.strip())
    rc, _, err = create(c, "nowhere", "--availability-zone", "az-empty")
    check(rc != 0 and "no_valid_host" in err and "AvailabilityZoneFilter removed 3" in err,
          "a zone no host is in: no valid host naming the filter: " + err)
    rc, _, err = c.hv("aggregate", "delete", "empty")
    check(rc == 0, "and it goes (%s)" % err.strip())

    # metadata + flavor extra spec
    rc, _, err = c.hv("aggregate", "create", "gpu", "--property", "gpu=yes")
    check(rc == 0, "a second aggregate without a zone: " + err)
    rc, _, err = c.hv("aggregate", "add", "host", "gpu", "node-1")
    check(rc == 0, "node-1 into gpu: " + err)
    rc, _, err = c.hv("aggregate", "add", "host", "gpu", "node-3")
    check(rc == 0, "node-3 may be in two aggregates (one zone): " + err)
    rc, _, err = c.hv("flavor", "create", "g1", "--vcpus", "1", "--ram", "256", "--disk", "1",
                      "--property", "aggregate_instance_extra_specs:gpu=yes")
    check(rc == 0, "a flavor asking for gpu=yes: " + err)
    for i in range(3):
        rc, _, err = c.hv("server", "create", "g-%d" % i, "--flavor", "g1", "--image",
                          "cirros", "--no-admin-pass", "--availability-zone", "nova")
        check(rc == 0 and c.show("g-%d" % i)["host"] == "node-1",
              "the gpu flavor in zone nova lands on node-1 only: %s" % err)
    rc, _, err = c.hv("aggregate", "unset", "gpu", "--property", "gpu")
    check(rc == 0, "unset gpu: " + err)
    rc, _, err = c.hv("server", "create", "g-x", "--flavor", "g1", "--image", "cirros",
                      "--no-admin-pass")
    check(rc != 0 and "AggregateInstanceExtraSpecsFilter" in err,
          "without the key no host matches, naming the filter: " + err)

    # an aggregate's allocation ratios override the config's for its hosts
    rc, _, err = c.hv("aggregate", "create", "tight", "--property",
                      "ram_allocation_ratio=0.01")
    check(rc == 0, "an aggregate with a small RAM ratio: " + err)
    for h in ("node-1", "node-2"):
        rc, _, err = c.hv("aggregate", "add", "host", "tight", h)
        check(rc == 0, h + " into tight: " + err)
    rc, _, err = create(c, "r-0", "--availability-zone", "nova")
    check(rc != 0 and "AggregateRamFilter removed 2" in err,
          "16384 MB * 0.01 leaves no room for 512 MB on node-1 and node-2: " + err)
    rc, _, err = c.hv("aggregate", "set", "tight", "--property", "ram_allocation_ratio=1.0",
                      "--property", "cpu_allocation_ratio=0.01")
    check(rc == 0, "RAM ratio back to 1.0, vCPU ratio 0.01: " + err)
    rc, _, err = create(c, "r-0", "--availability-zone", "nova")
    check(rc != 0 and "AggregateCoreFilter removed 2" in err,
          "16 vCPUs * 0.01 leaves no room for one: " + err)
    rc, _, err = c.hv("aggregate", "unset", "tight", "--property", "cpu_allocation_ratio")
    check(rc == 0, "the vCPU ratio falls back to the config's: " + err)
    rc, _, err = create(c, "r-0", "--availability-zone", "nova")
    check(rc == 0, "and the server fits again: " + err)
    for h in ("node-1", "node-2"):
        c.hv("aggregate", "remove", "host", "tight", h)
    rc, _, err = c.hv("aggregate", "delete", "tight")
    check(rc == 0, "tight deleted: " + err)

    # bad input: named field, nothing changed
    before = c.hv_json("aggregate", "list")
    rc, _, err = c.hv("aggregate", "create", "rack-a")
    check(rc != 0 and "args.name" in err, "duplicate name: " + err)
    rc, _, err = c.hv("aggregate", "add", "host", "rack-a", "node-9")
    check(rc != 0 and "args.host" in err and "node-9" in err, "unknown host: " + err)
    rc, _, err = c.hv("aggregate", "add", "host", "nope", "node-1")
    check(rc != 0 and "args.aggregate" in err, "unknown aggregate: " + err)
    rc, _, err = c.hv("aggregate", "create", "rack-b", "--zone", "az2")
    check(rc == 0, "rack-b in az2: " + err)
    rc, _, err = c.hv("aggregate", "add", "host", "rack-b", "node-3")
    check(rc != 0 and "args.host" in err and "az1" in err,
          "a host in az1 cannot join an az2 aggregate: " + err)
    rc, _, err = c.hv("aggregate", "set", "gpu", "--zone", "az3")
    check(rc != 0 and "availability_zone" in err,
          "giving gpu (node-1 in nova, node-3 in az1) a zone would split them: " + err)
    rc, _, err = c.hv("aggregate", "delete", "rack-a")
    check(rc != 0 and "args.aggregate" in err and "host" in err and "conflict" in err,
          "an aggregate with hosts is not deleted: " + err)
    rc, _, err = c.hv("aggregate", "create", "bad", "--zone", "a:b")
    check(rc != 0 and "availability_zone" in err, "a zone with ':' is refused: " + err)
    rc, _, err = c.hv("aggregate", "create", "bad", "--property", "k!=v")
    check(rc != 0 and "args.properties" in err, "a bad metadata key is refused: " + err)
    after = c.hv_json("aggregate", "list")
    check([x for x in after if x["name"] != "rack-b"] == before,
          "the refused requests changed nothing")

    rc, _, err = c.hv("aggregate", "set", "rack-b", "--name", "rack-c", "--property", "x=1")
    check(rc == 0 and agg(c, "rack-c")["metadata"] == {"availability_zone": "az2", "x": "1"},
          "set renames and merges metadata: " + err)
    rc, _, err = c.hv("aggregate", "remove", "host", "rack-a", "node-3")
    check(rc == 0 and agg(c, "rack-a")["hosts"] == [], "remove host: " + err)
    rc, _, err = c.hv("aggregate", "delete", "rack-a")
    check(rc == 0, "an empty aggregate is deleted: " + err)
    rc, _, _ = c.hv("aggregate", "show", "rack-a")
    check(rc != 0, "and is gone")
    zones = {z["zone_name"] for z in c.hv_json("availability", "zone", "list")}
    check(zones == {"nova"}, "node-3 is back in nova (az2 has no hosts): %s" % zones)
    rc, out, _ = c.hv("aggregate", "--help")
    check(rc == 0 and "Examples:" in out, "hv aggregate --help has examples")

    aggs = c.hv_json("aggregate", "list")
    c.kill("hvcentral", signal.SIGTERM)
    c.start_central(conf_extra=CONF)
    check(c.hv_json("aggregate", "list") == aggs, "a restart keeps every aggregate: %s" % aggs)
    reload_config(c)


def hup(c, needle):
    log = c.path("hvcentral.log")
    mark = os.path.getsize(log)
    c.procs["hvcentral"].send_signal(signal.SIGHUP)
    harness.wait_for(needle, lambda: needle in open(log).read()[mark:], timeout=10)
    return open(log).read()[mark:]


def reload_config(c):
    """[scheduler] is re-read on SIGHUP; a bad value is refused naming its key, at reload and
    at start."""
    conf = c.path("central.conf")
    text = open(conf).read()
    with open(conf, "w") as f:
        f.write(text.replace("[scheduler]\n", "[scheduler]\ndefault_availability_zone = "
                             "zone-x\n"))
    out = hup(c, "reload: done")
    check("default_availability_zone applied" in out, "the new default zone is applied: " + out)
    zones = {z["zone_name"] for z in c.hv_json("availability", "zone", "list")}
    check(zones == {"zone-x"}, "hosts in no zone are now in zone-x: %s" % zones)
    rc, _, err = create(c, "zx", "--availability-zone", "zone-x")
    check(rc == 0, "and servers are placed in it: " + err)

    with open(conf, "a") as f:
        f.write("ram_allocation_ratio = lots\n")
    out = hup(c, "reload refused")
    check("ram_allocation_ratio" in out, "a bad ratio is refused naming the key: " + out)
    zones = {z["zone_name"] for z in c.hv_json("availability", "zone", "list")}
    check(zones == {"zone-x"}, "and the running config stays: %s" % zones)
    text = open(conf).read().replace("ram_allocation_ratio = lots\n", "")
    with open(conf, "w") as f:
        f.write(text.replace("enabled_filters = ", "enabled_filters = NoSuchFilter, "))
    c.kill("hvcentral", signal.SIGTERM)
    r = subprocess.run([c.binary("central/hvcentral"), "-c", conf], capture_output=True,
                       text=True, timeout=30)
    check(r.returncode != 0 and "enabled_filters" in r.stderr and "NoSuchFilter" in r.stderr,
          "hvcentral does not start with a bad [scheduler], naming it: " + r.stderr)


harness.run(main)
