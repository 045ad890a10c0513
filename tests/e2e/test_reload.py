#!/usr/bin/python3
"""SIGHUP (systemctl reload): hvcentral and hvagent re-read their config. What can change live
is applied (log level, liveness intervals, the allowlist, even a key file rewritten in
place); each other change is named as needing a restart; a config that does not parse is
refused with its FILE:LINE and the running one stays in force."""
import os
import re
import signal
import time

import harness
from harness import check


def log_after(c, name, mark):
    with open(c.path(name)) as f:
        return f.read()[mark:]


def log_size(c, name):
    return os.path.getsize(c.path(name))


def hup_and_wait(c, proc, log, needle):
    mark = log_size(c, log)
    proc.send_signal(signal.SIGHUP)
    harness.wait_for(needle, lambda: needle in log_after(c, log, mark), timeout=10)
    return mark


def main():
    c = harness.Cluster(suspect_after=30, down_after=60)
    central = c.start_central()
    c.allow("node-1")
    agent = c.start_agent("node-1")
    c.wait_host("node-1", "up")
    conf = c.path("agent-node-1", "hvagent.conf")
    alog = "agent-node-1.log"

    # agent: the log level applies at once, a driver key waits for a restart
    mark = log_size(c, alog)
    rc, _, err = c.hv("server", "create", "vm", "--host", "node-1", "--flavor-spec",
                      "vcpus=1,ram=64,disk=1", "--image", "cirros", "--wait")
    check(rc == 0, "a server is created: " + err.strip())
    check("<6>hvagent: spawn done" in log_after(c, alog, mark),
          "hvagent logs info lines at log_level = debug")
    harness.conf_set(conf, "fake", log_level="notice", vcpus="4")
    mark = hup_and_wait(c, agent, alog, "reload: done")
    out = log_after(c, alog, mark)
    check("[DEFAULT] log_level applied" in out,
          "hvagent reload applies [DEFAULT] log_level live")
    check("[fake] vcpus changed; it takes effect at the next restart" in out,
          "and names [fake] vcpus as needing a restart")
    mark = log_size(c, alog)
    rc, _, err = c.hv("server", "stop", "vm", "--wait")
    later = log_after(c, alog, mark)
    check(rc == 0 and "<7>" not in later and "<6>" not in later,
          "a stop after the reload logs no debug or info line (level notice): " + err.strip())
    check(agent.poll() is None, "hvagent keeps running through the reload")

    # agent: a config that does not parse is refused and changes nothing
    with open(conf, "a") as f:
        f.write("[controller]\nheartbeat_interval = often\n")
    mark = hup_and_wait(c, agent, alog, "reload refused")
    out = log_after(c, alog, mark)
    check(re.search(r"<3>hvagent: reload refused, the running config stays: \S*hvagent.conf:\d+:"
                    r" \[controller\] heartbeat_interval", out) is not None,
          "a config that does not parse is refused, naming FILE:LINE and the key")
    check("applied" not in out, "and nothing of it is applied")
    rc, _, err = c.hv("server", "start", "vm", "--wait")
    check(rc == 0 and c.show("vm")["vm_state"] == "active",
          "the agent still serves commands after a refused reload: " + err.strip())

    # hvcentral: shorter liveness intervals apply at once
    cconf = c.path("central.conf")
    clog = "hvcentral.log"
    c.kill("agent-node-1")
    time.sleep(3)
    check(c.host_state("node-1") == "up", "with suspect_after = 30 a silent host is still up")
    harness.conf_set(cconf, "agents", suspect_after=1, down_after=2)
    with open(cconf, "a") as f:
        f.write("[agents]\nmax_message_kb = 2048\n")
    mark = hup_and_wait(c, central, clog, "reload: done")
    out = log_after(c, clog, mark)
    check("[agents] suspect_after applied" in out and "[agents] down_after applied" in out,
          "hvcentral reload applies the liveness intervals live")
    check("[agents] max_message_kb changed; it takes effect at the next restart" in out,
          "and names [agents] max_message_kb as needing a restart")
    c.wait_host("node-1", "down", timeout=10)
    check(True, "and the silent host goes down by the new down_after")

    # hvcentral: a bad config is refused; the allowlist is re-read anyway, even a key file
    # rewritten in place (which leaves the directory's time alone)
    pub = c.path("central", "agents", "node-2.pub")
    with open(pub, "w") as f:
        f.write("0" * 40 + "\n")
    time.sleep(0.1)
    c.start_agent("node-2")
    time.sleep(3)
    check(c.host_state("node-2") in (None, "down") or "node-2" not in c.hosts(),
          "node-2 with a wrong key in the allowlist has no session")
    key = c.agent_key("node-2")
    with open(pub, "r+") as f:
        f.write(key + "\n")
    with open(cconf, "a") as f:
        f.write("[agents]\ndown_after = never\n")
    mark = hup_and_wait(c, central, clog, "reload refused")
    out = log_after(c, clog, mark)
    check(re.search(r"<3>hvcentral: reload refused, the running config stays: \S*central.conf:"
                    r"\d+: \[agents\] down_after", out) is not None,
          "hvcentral refuses a config that does not parse, naming FILE:LINE and the key")
    c.wait_host("node-2", "up", timeout=20)
    check(True, "the allowlist was re-read: node-2's key, rewritten in place, is accepted")
    check(central.poll() is None, "hvcentral keeps running")


harness.run(main)
