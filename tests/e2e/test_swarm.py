#!/usr/bin/python3
"""200 server creates in flight at once, none naming a host, over 5 small hosts of an
hvswarm (fake hosts in one process, each with its own CURVE key): the scheduler never puts
more on a host than its allocation ratios allow (RAM 1.5, vCPU 16), even though the hosts
report their usage only every few seconds, every server that fits is created and active,
and every one that does not is refused with "No valid host" and leaves nothing behind.
A sixth host that went silent (down) is never chosen."""
import json
import os
import subprocess
import time

import harness
from harness import check

SMALL = {"vcpus": 2, "memory_mb": 2048, "local_gb": 40}
TINY = {"vcpus": 1, "ram": 512, "disk": 1}
REQUESTS = 200


def swarm(c, prefix, hosts, duration=None):
    argv = [c.binary("bench/hvswarm"), "--endpoint", c.agent_ep, "--server-key", c.server_key,
            "--allow-dir", c.path("central", "agents"), "--hosts", str(hosts),
            "--prefix", prefix, "--vcpus", str(SMALL["vcpus"]),
            "--memory-mb", str(SMALL["memory_mb"]), "--local-gb", str(SMALL["local_gb"]),
            "--numa-cells", "1", "--report-interval", "2", "--heartbeat", "1"]
    if duration:
        argv += ["--duration", str(duration)]
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    c.procs["swarm-" + prefix] = p
    line = p.stdout.readline()
    check(line.strip() == "ready %d" % hosts, "the swarm %s is welcomed: %r" % (prefix, line))
    return p


def main():
    harness.need_binaries()
    zmq = harness.need_module("zmq", "python3-zmq")
    c = harness.Cluster(suspect_after=2, down_after=4)
    if not os.path.exists(c.binary("bench/hvswarm")):
        print("skipped: bench/hvswarm is not built in this tree")
        raise SystemExit(harness.SKIP)
    c.start_central()
    rc, _, err = c.hv("quota", "set", "--instances", "-1", "--cores", "-1", "--ram", "-1")
    check(rc == 0, "the admin project's quota is lifted: " + err)

    # A host that is gone: welcomed once, then silent until hvcentral calls it down.
    gone = swarm(c, "gone-", 1, duration=1)
    gone.wait(timeout=30)
    c.wait_host("gone-00000", "down", timeout=30)
    swarm(c, "small-", 5)
    for i in range(5):
        c.wait_host("small-%05d" % i, "up")

    # All requests are sent before the first answer is read: hvcentral decides each one
    # from the reports plus what it has itself placed since.
    ctx = zmq.Context()
    s = ctx.socket(zmq.DEALER)
    s.setsockopt(zmq.LINGER, 0)
    s.connect(c.api)
    for i in range(REQUESTS):
        s.send_json({"id": i, "op": "server.create", "wait": True, "timeout_ms": 120000,
                     "args": {"name": "burst-%d" % i, "image": "cirros", "flavor": TINY}})
    replies = {}
    deadline = time.time() + 180 * harness.slow()
    while len(replies) < REQUESTS and time.time() < deadline:
        if s.poll(1000):
            r = s.recv_json()
            replies[r["id"]] = r
    s.close()
    ctx.term()
    check(len(replies) == REQUESTS, "every request is answered (%d)" % len(replies))
    ok = [r for r in replies.values() if r["ok"]]
    refused = [r for r in replies.values() if not r["ok"]]
    for r in refused:
        check(r["error"]["code"] == "no_valid_host" and
              "No valid host" in r["error"]["message"],
              "a create that does not fit is refused with No valid host: %s" % r["error"])

    # RamFilter: 2048 MB x 1.5 = 3072 MB per host = 6 servers of 512 MB; 5 hosts hold 30.
    per_host = int(SMALL["memory_mb"] * 1.5) // TINY["ram"]
    check(len(ok) == 5 * per_host,
          "exactly what fits is created: %d of %d (%d refused)" % (len(ok), 5 * per_host,
                                                                    len(refused)))
    servers = c.hv_json("server", "list")
    check(len(servers) == len(ok), "the server list holds the %d created, nothing of the "
          "refused (%d listed)" % (len(ok), len(servers)))
    load = {}
    for srv in servers:
        check(srv["vm_state"] == "active" and not srv.get("task_state"),
              "%s is active (%s/%s)" % (srv["name"], srv["vm_state"], srv.get("task_state")))
        load.setdefault(srv["host"], []).append(srv)
    check("gone-00000" not in load, "the down host got nothing")
    for h, srvs in load.items():
        ram = sum(TINY["ram"] for _ in srvs)
        vcpus = sum(TINY["vcpus"] for _ in srvs)
        check(ram <= SMALL["memory_mb"] * 1.5, "%s holds %d MB <= %d" %
              (h, ram, SMALL["memory_mb"] * 1.5))
        check(vcpus <= SMALL["vcpus"] * 16, "%s holds %d vCPUs <= %d" %
              (h, vcpus, SMALL["vcpus"] * 16))
    check(sorted(load) == ["small-%05d" % i for i in range(5)],
          "every small host took its share: %s" % {h: len(v) for h, v in load.items()})
    print(json.dumps({"created": len(ok), "refused": len(refused),
                      "per_host": {h: len(v) for h, v in sorted(load.items())}}))
    return 0


if __name__ == "__main__":
    harness.run(main)
