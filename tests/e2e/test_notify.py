#!/usr/bin/python3
"""systemd's view of the daemons (Type=notify, WatchdogSec=): hvcentral and hvagent, each
given a NOTIFY_SOCKET the test reads and WATCHDOG_USEC, say READY=1 once they serve, keep a
STATUS= line with their hosts or instances, and send WATCHDOG=1 at half the interval; a main
loop stalled on purpose (HV_FAULT=loop_stall@3) stops the pings while the process lives."""
import statistics

import harness
from harness import check

WATCHDOG_USEC = 1000000  # pings every 0.5 s


def check_rate(name, times):
    gaps = [b - a for a, b in zip(times, times[1:])]
    if harness.WRAPPER:  # under valgrind the loop's pace is the tool's, not the daemon's
        check(len(times) >= 1, "%s pings WATCHDOG=1 (under %s)" % (name, harness.WRAPPER[0]))
        return
    # the property systemd relies on: no gap reaches the deadline (WATCHDOG_USEC)
    check(len(times) >= 5 and 0.4 <= statistics.median(gaps) <= 0.6 and
          max(gaps) < WATCHDOG_USEC / 1e6,
          "%s pings WATCHDOG=1 at half of WATCHDOG_USEC (%d in 3 s, median gap %.3f s, "
          "longest %.3f s)" % (name, len(times), statistics.median(gaps) if gaps else -1,
                                max(gaps) if gaps else -1))


def check_stall(name, sock, proc):
    first = sock.pings(5 * harness.slow(), count=2)
    check(len(first) == 2, "%s with loop_stall@3 sent its first 2 pings (%d)" % (name, len(first)))
    check(not sock.pings(2.5) and proc.poll() is None,
          "then its loop stalled: no WATCHDOG=1 for 2.5 s while the process lives")


def main():
    c = harness.Cluster()
    cn = c.notify_socket("central")
    central = c.start_central(env=cn.env(WATCHDOG_USEC))
    ready = cn.wait("hvcentral READY=1", lambda f: "READY" in f, timeout=5)
    check(ready["READY"] == "1" and ready.get("STATUS", "").endswith("; 0 hosts up"),
          "hvcentral says READY=1 once its sockets are bound: " + ready.get("STATUS", ""))
    check_rate("hvcentral", cn.pings(3))

    an = c.notify_socket("agent")
    c.allow("node-1")
    c.start_agent("node-1", env=an.env(WATCHDOG_USEC))
    ready = an.wait("hvagent READY=1", lambda f: "READY" in f)
    check(ready.get("STATUS", "").startswith("connected to ") and
          ready["STATUS"].endswith("; 0 instances"),
          "hvagent says READY=1 once its controller session is up: " + ready["STATUS"])
    early = [f for _, f in an.received[:an.received.index(next(
        m for m in an.received if "READY" in m[1]))]]
    check(all(f.get("STATUS", "connecting").startswith("connecting") for f in early),
          "and not before: until then its status says it is connecting")
    check_rate("hvagent", an.pings(3))
    cn.wait("hvcentral STATUS 1 hosts up", lambda f: f.get("STATUS", "").endswith("; 1 hosts up"),
            timeout=15)
    check(True, "hvcentral's STATUS counts the host up")
    rc, _, err = c.hv("server", "create", "vm", "--host", "node-1", "--flavor-spec",
                      "vcpus=1,ram=64,disk=1", "--image", "cirros", "--wait")
    check(rc == 0, "a server is created: " + err.strip())
    an.wait("hvagent STATUS 1 instances", lambda f: f.get("STATUS", "").endswith("; 1 instances"))
    check(True, "hvagent's STATUS counts its instance")

    # stalled loops: the pings stop, the processes stay (systemd would abort and restart them)
    c.kill("agent-node-1", harness.signal.SIGTERM)
    stalled = c.notify_socket("agent-stall")
    agent = c.start_agent("node-1", env=dict(stalled.env(WATCHDOG_USEC), HV_FAULT="loop_stall@3"))
    check_stall("hvagent", stalled, agent)
    c.kill("agent-node-1", harness.signal.SIGTERM)
    check(agent.returncode == 0, "a stalled hvagent still stops on SIGTERM (exit 0)")
    c.kill("hvcentral", harness.signal.SIGTERM)
    check(central.returncode == 0, "hvcentral stops on SIGTERM (exit 0)")
    stalled = c.notify_socket("central-stall")
    central = c.start_central(env=dict(stalled.env(WATCHDOG_USEC), HV_FAULT="loop_stall@3"))
    check_stall("hvcentral", stalled, central)


harness.run(main)
