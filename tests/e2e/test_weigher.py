#!/usr/bin/python3
"""The metrics weigher configured in hvcentral.conf's [metrics], as nova's: weight_setting
names the metrics hosts report (cpu.frequency here, the fake's cpu_mhz) and their ratios; a
positive ratio sends servers to the faster host, a negative one (after a reload) to the
slower. A setting that does not parse is refused at reload naming the key, and the running
one stays. With required = true a metric no host reports stops the placement naming
[metrics] required; with required = false such hosts rank alike and the server is placed."""
import json
import signal

import harness
from harness import check

CONF = """[scheduler]
enabled_filters = RamFilter, ComputeFilter
ram_weight_multiplier = 0
cpu_weight_multiplier = 0
disk_weight_multiplier = 0
io_ops_weight_multiplier = 0
[metrics]
weight_setting = cpu.frequency=1.0
"""
HOSTS = {"node-1": "cpu_mhz = 2000\n", "node-2": "cpu_mhz = 3000\n"}


def reload(c, conf, **changes):
    harness.conf_set(conf, "metrics", **changes)
    log = c.path("hvcentral.log")
    with open(log) as f:
        mark = len(f.read())
    c.procs["hvcentral"].send_signal(signal.SIGHUP)

    def done():
        with open(log) as f:
            tail = f.read()[mark:]
        return tail if "reload: done" in tail or "reload refused" in tail else None
    return harness.wait_for("hvcentral's reload", done, timeout=15)


def placed(c, name):
    rc, _, err = c.hv("server", "create", name, "--flavor", "m1.tiny", "--image", "cirros",
                      "--no-admin-pass")
    return c.show(name)["host"] if rc == 0 else "refused: " + err.strip()


def main():
    c = harness.Cluster()
    c.start_central(conf_extra=CONF)
    conf = c.path("central.conf")
    for h, fake in HOSTS.items():
        c.allow(h)
        c.start_agent(h, fake=fake)
    for h in HOSTS:
        c.wait_host(h, "up")
        harness.wait_for("%s reports cpu.frequency" % h, lambda h=h: "cpu.frequency" in
                         json.dumps(c.hv_json("host", "show", h)))

    got = [placed(c, "fast-%d" % i) for i in range(3)]
    check(got == ["node-2"] * 3,
          "cpu.frequency=1.0 sends every server to the faster host (%s)" % got)

    out = reload(c, conf, weight_setting="cpu.frequency=-1.0")
    check("reload: done" in out, "a reload takes the negative ratio")
    got = [placed(c, "slow-%d" % i) for i in range(2)]
    check(got == ["node-1"] * 2, "cpu.frequency=-1.0 sends them to the slower host (%s)" % got)

    out = reload(c, conf, weight_setting="cpu.frequency")
    check("reload refused" in out and "[metrics] weight_setting" in out,
          "a setting without its ratio is refused naming the key: " + out.strip()[-200:])
    check(placed(c, "still") == "node-1", "and the running setting stays")

    out = reload(c, conf, weight_setting="no.such.metric=1.0", required="true")
    check("reload: done" in out, "a metric no host reports, required")
    got = placed(c, "none")
    check(got.startswith("refused") and "metrics.required" in got and "no_valid_host" in got,
          "stops the placement naming [metrics] required (%s)" % got)
    rc, _, _ = c.hv("server", "show", "none")
    check(rc != 0, "and nothing was created")

    reload(c, conf, required="false")
    got = placed(c, "anyway")
    check(got in HOSTS, "with required = false the hosts rank alike and it is placed (%s)" % got)


harness.run(main)
