#!/usr/bin/python3
"""Soak: random server actions through hvcentral's API across 3 agents (fake driver, 5 %
injected driver failures, guests kept in a state_file), with two agent kill -9 + restarts
in the middle of the traffic and one hvcentral kill -9 + restart. Afterwards every invariant
holds: each instance is in exactly one place (one host's journal, that host's hypervisor or
in error there, hvcentral on that host), the agents' journals and hvcentral agree on every
state, and the resources each host accounts equal the sum of its servers' flavors.
soak.py [ACTIONS [SEED]]; prints counts and duration. Exit 0 pass, 1 fail, 77 skip."""
import json
import os
import random
import sqlite3
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
import harness  # noqa: E402
from harness import Failure, check  # noqa: E402

HOSTS = ("node-1", "node-2", "node-3")
IN_FLIGHT = 12
MAX_SERVERS = 12
FLAVORS = ({"vcpus": 1, "ram": 64, "disk": 1}, {"vcpus": 2, "ram": 128, "disk": 1})
# drivers/fake/fake_model.h enum fake_state -> the power state it reports
FAKE_POWER = ("running", "paused", "shutdown", "suspended", "running", "running", "shutdown")
ACTIONS = {  # what to try from each vm_state (a refusal is counted, not a failure)
    "active": ("reboot", "reboot_hard", "stop", "pause", "suspend", "resize", "rescue",
               "snapshot", "delete"),
    "stopped": ("start", "resize", "snapshot", "delete"),
    "rescued": ("unrescue",),
    "paused": ("unpause", "delete"),
    "suspended": ("resume", "delete"),
    "resized": ("confirm_resize", "revert_resize"),
    "error": ("delete",),
}


class Api:
    def __init__(self, zmq, endpoint):
        self.zmq, self.endpoint = zmq, endpoint
        self.ctx = zmq.Context()
        self.connect()
        self.next_id = 0
        self.stash = []  # replies to other requests that arrived during call()

    def connect(self):
        self.sock = self.ctx.socket(self.zmq.DEALER)
        self.sock.linger = 0
        self.sock.connect(self.endpoint)

    def reconnect(self):
        self.sock.close()
        self.connect()

    def send(self, op, args, wait=False):
        self.next_id += 1
        req = {"id": self.next_id, "op": op, "args": args}
        if wait:
            req.update(wait=True, timeout_ms=120000)
        self.sock.send_multipart([b"", json.dumps(req).encode()])
        return self.next_id

    def recv(self, timeout_ms):
        if self.stash:
            return self.stash.pop(0)
        if not self.sock.poll(timeout_ms):
            return None
        return json.loads(self.sock.recv_multipart()[-1])

    def call(self, op, args=None, timeout=60):
        rid = self.send(op, args or {})
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if not self.sock.poll(1000):
                continue
            r = json.loads(self.sock.recv_multipart()[-1])
            if r["id"] != rid:
                self.stash.append(r)
                continue
            if not r["ok"]:
                raise Failure("%s: %s" % (op, r["error"]))
            return r["result"]
        raise Failure("no reply to " + op)


class Soak:
    def __init__(self, n_actions, seed):
        zmq = harness.need_module("zmq", "python3-zmq")
        self.rng = random.Random(seed)
        self.n, self.seed = n_actions, seed
        self.c = harness.Cluster(suspect_after=5, down_after=120)
        self.c.start_central()
        for i, h in enumerate(HOSTS):
            self.c.allow(h)
            self.start_agent(h)
        for h in HOSTS:
            self.c.wait_host(h, "up")
        self.api = Api(zmq, self.c.api)
        self.servers = {}   # name -> cached vm_state ("" while unknown)
        self.pending = {}   # request id -> (name, action)
        self.counts = {"sent": 0, "ok": 0, "refused": 0, "failed": 0, "agent_restarts": 0,
                       "controller_restarts": 0}
        self.serial = 0
        self.codes = {}     # error code -> count
        self.actions = {}   # action -> how many were sent

    def agent_dir(self, h):
        return self.c.path("agent-" + h)

    def start_agent(self, h):
        fake = ("fail_probability = 0.05\nseed = %d\nstate_file = %s/fake.state\n"
                % (self.seed * 10 + HOSTS.index(h), self.agent_dir(h)))
        self.c.start_agent(h, fake=fake)

    # ---- traffic
    def busy(self):
        return {name for name, _ in self.pending.values()}

    def pick(self):
        idle = [s for s in self.servers if s not in self.busy()]
        if len(self.servers) < MAX_SERVERS and (not idle or self.rng.random() < 0.25):
            self.serial += 1
            name = "s-%d" % self.serial
            flavor = self.rng.choice(FLAVORS)
            self.servers[name] = ""
            return name, "create", {"name": name, "host": self.rng.choice(HOSTS),
                                    "image": "cirros", "flavor": flavor}
        if not idle:
            return None
        name = self.rng.choice(idle)
        action = self.rng.choice(ACTIONS.get(self.servers[name], ("delete",)))
        args = {"server": name, "action": action}
        if action == "reboot_hard":
            args.update(action="reboot", hard=True)
        if action == "resize":
            args["flavor"] = self.rng.choice(FLAVORS)
        if action == "snapshot":
            args["name"] = "snap-" + name
        return name, action, args

    def send_one(self):
        p = self.pick()
        if not p:
            return False
        name, action, args = p
        op = "server.create" if action == "create" else "server.action"
        self.pending[self.api.send(op, args, wait=True)] = (name, action)
        self.counts["sent"] += 1
        self.actions[action] = self.actions.get(action, 0) + 1
        return True

    def handle(self, r):
        name, action = self.pending.pop(r["id"], (None, None))
        if name is None:
            return
        if r["ok"]:
            self.counts["ok"] += 1
            rec = r["result"]
            if action == "delete" and rec.get("vm_state") == "deleted":
                self.servers.pop(name, None)
            else:
                self.servers[name] = rec.get("vm_state", "")
            return
        code = r["error"]["code"]
        self.codes[code] = self.codes.get(code, 0) + 1
        self.counts["refused" if code in ("invalid_state", "task_in_flight", "conflict",
                                          "host_down", "host_disabled") else "failed"] += 1
        self.refresh(name)

    def refresh(self, name):
        try:
            s = self.api.call("server.show", {"server": name})
        except Failure:
            if name in self.servers and self.servers[name] == "":
                self.servers.pop(name)  # a create that never made a server
            return
        if s["vm_state"] == "deleted":
            self.servers.pop(name, None)
        else:
            self.servers[name] = s["vm_state"]

    def pump(self, timeout_ms=200):
        r = self.api.recv(timeout_ms)
        while r is not None:
            self.handle(r)
            r = self.api.recv(0)

    def drain(self, timeout=180):
        end = time.monotonic() + timeout * harness.slow()
        while self.pending and time.monotonic() < end:
            self.pump(1000)
        if self.pending:
            raise Failure("%d requests never answered" % len(self.pending))

    def run(self):
        t0 = time.monotonic()
        events = {self.n // 3: "agent", self.n // 2: "controller", 2 * self.n // 3: "agent"}
        killed = iter(HOSTS)
        while self.counts["sent"] < self.n:
            while len(self.pending) < IN_FLIGHT and self.counts["sent"] < self.n:
                ev = events.pop(self.counts["sent"], None)
                if ev == "agent":  # kill -9 with commands in flight
                    h = next(killed)
                    self.c.kill("agent-" + h)
                    self.start_agent(h)
                    self.counts["agent_restarts"] += 1
                elif ev == "controller":
                    self.drain()
                    self.c.kill("hvcentral")
                    self.c.start_central()
                    self.api.reconnect()
                    for h in HOSTS:
                        self.c.wait_host(h, "up")
                    self.counts["controller_restarts"] += 1
                if not self.send_one():
                    break
            self.pump()
        self.drain()
        self.duration = time.monotonic() - t0

    # ---- invariants
    def agent_view(self, h):
        db = sqlite3.connect("file:%s/journal.sqlite?mode=ro" % self.agent_dir(h), uri=True)
        try:
            journal = {u: json.loads(r) for u, r in
                       db.execute("SELECT uuid, record FROM instances").fetchall()}
        finally:
            db.close()
        fake = {}  # uuid -> power state the hypervisor holds
        path = os.path.join(self.agent_dir(h), "fake.state")
        if os.path.exists(path):
            with open(path) as f:
                for line in f:
                    w = line.split(" ")
                    if w[0] == "instance":
                        fake[w[1]] = FAKE_POWER[int(w[2])]
        return journal, fake

    def disagreements(self):
        live = {s["uuid"]: s for s in self.api.call("server.list")}
        hosts = {x["host_id"]: x for x in self.api.call("host.list") if x.get("host_id")}
        problems, where = [], {}
        for h in HOSTS:
            journal, fake = self.agent_view(h)
            for u in set(fake) - set(journal):
                problems.append("%s: guest %s unknown to the journal" % (h, u))
            for u, rec in journal.items():
                if u in where:
                    problems.append("%s on %s and %s" % (u, where[u], h))
                where[u] = h
                s = live.get(u)
                if not s:
                    problems.append("%s: %s in the journal, not in hvcentral" % (h, u))
                    continue
                if s["host"] != h:
                    problems.append("%s: hvcentral places it on %s" % (u, s["host"]))
                if u not in fake and rec["vm_state"] != "error":
                    problems.append("%s: %s is %s with no guest" % (h, u, rec["vm_state"]))
                if u in fake and fake[u] != rec.get("power_state"):
                    problems.append("%s: %s is %s on the hypervisor, %s in the journal" % (
                        h, u, fake[u], rec.get("power_state")))
                for k in ("vm_state", "task_state", "power_state"):
                    if s[k] != rec.get(k):
                        problems.append("%s %s: hvcentral %s, journal %s" % (u, k, s[k],
                                                                              rec.get(k)))
            mine = [s for s in live.values() if s["host"] == h]
            res = hosts[h].get("resources") or {}
            for key, fk in (("vcpus_used", "vcpus"), ("memory_mb_used", "ram_mb")):
                want = sum(s["flavor"][fk] for s in mine)
                if res.get(key) != want:
                    problems.append("%s: %s %s, servers' flavors sum to %d" % (
                        h, key, res.get(key), want))
        images = set(os.listdir(self.c.path("images")))
        for name in images:
            if not name.endswith(".json") and name.rsplit(".", 1)[0] + ".json" not in images:
                problems.append("image data without its record: " + name)
        for u, s in live.items():
            if u not in where:
                problems.append("%s (%s) is in no host's journal" % (u, s["name"]))
        return problems, len(live)

    def verify(self):
        end = time.monotonic() + 60 * harness.slow()
        while True:  # states travel by DELTA and REPORT: give them a few report periods
            problems, n_live = self.disagreements()
            if not problems or time.monotonic() > end:
                break
            time.sleep(1)
        for p in problems[:20]:
            print("not ok: " + p)
        check(not problems, "%d servers: each in exactly one place, journals and hvcentral "
              "agree, accounted resources equal the flavors" % n_live)


def main():
    harness.need_binaries()
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    seed = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    soak = Soak(n, seed)
    try:
        soak.run()
        soak.verify()
        print("soak: %d actions (%d ok, %d refused by state, %d failed), %d agent restarts, "
              "%d controller restart, %.1f s (%.0f actions/s)" % (
                  soak.counts["sent"], soak.counts["ok"], soak.counts["refused"],
                  soak.counts["failed"], soak.counts["agent_restarts"],
                  soak.counts["controller_restarts"], soak.duration,
                  soak.counts["sent"] / soak.duration))
        print("soak: actions: %s" % json.dumps(soak.actions, sort_keys=True))
        print("soak: errors by code: %s" % json.dumps(soak.codes, sort_keys=True))
    except Failure as e:
        print("not ok - " + str(e))
        print("kept " + soak.c.dir)
        soak.c.keep = True
        return 1
    finally:
        soak.c.stop_all()
    return 0


if __name__ == "__main__":
    sys.exit(main())
