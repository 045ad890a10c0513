#!/usr/bin/python3
"""Fault points: hvagent is killed (HV_FAULT, as kill -9) at one named point of one command,
restarted, and the same cmd_id is sent again by an independent pyzmq controller (the interop
harness, tests/interop/hva.py). Then: the instance is consistent (the fake's state_file, the
agent's journal and the agent's SNAPSHOT agree), nothing is left behind (no guest, config
drive, half image, nft element or NAT entry the journal does not hold), and the command ran
as often as docs/hacking.md "Fault points" says (the fake's own call counters).
One point per run: test_faults.py HVAGENT DRIVER_DIR POINT. Exit 0 pass, 1 fail, 77 skip."""

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import traceback
import uuid

try:
    import zmq  # Debian's python3-zmq: run with /usr/bin/python3
except ImportError:
    print("SKIP: pyzmq is not installed for %s (apt-get install python3-zmq)" % sys.executable)
    sys.exit(77)

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "interop"))
import hva  # noqa: E402

if not zmq.has("curve"):
    print("SKIP: this libzmq has no CURVE support")
    sys.exit(77)

BINARY, DRIVER_DIR, POINT = sys.argv[1], sys.argv[2], sys.argv[3]
HOST = "compute-a"
SKIP_TYPES = ("REPORT", "PING", "EVENT", "DELTA", "PONG")
POWER = {0: "running", 1: "paused", 2: "shutdown", 3: "suspended", 4: "running", 5: "running",
         6: "shutdown"}


class Run:
    """One agent (fake driver with a state_file) and its controller under a private dir."""

    def __init__(self, wd, point, netns=None, sections=""):
        self.wd = wd
        self.state = os.path.join(wd, "fake.state")
        probe = hva.Agent(BINARY, DRIVER_DIR, wd, host_id=HOST)
        self.ctl = hva.Controller(wd, allow={probe.public_key(): HOST})
        self.agent = hva.Agent(BINARY, DRIVER_DIR, wd, host_id=HOST,
                               server_key=self.ctl.public.decode(),
                               fake={"state_file": self.state}, netns=netns, sections=sections)
        self.agent.env["HV_FAULT"] = point
        self.agent.start()
        self.hello, _ = self.ctl.handshake()

    def command(self, cmd_id, body):
        self.ctl.command(HOST.encode(), cmd_id, body)

    def result(self, cmd_id, timeout=20.0):
        return self.ctl.result(cmd_id, timeout)

    def expect_death(self):
        rc = self.agent.proc.wait(20)
        assert rc == -9, "hvagent did not die at %s (exit %r):\n%s" % (
            POINT, rc, self.agent.log_text()[-3000:])

    def restart(self):
        """Without the fault; returns the restarted agent's SNAPSHOT."""
        del self.agent.env["HV_FAULT"]
        self.agent.start()
        hello = self.ctl.expect("HELLO", timeout=30, skip=SKIP_TYPES + ("RESULT", "ACK"))
        assert hello.header["boot_id"] != self.hello.header["boot_id"]
        self.ctl.send(hello.routing_id, "WELCOME", {"schema": 1},
                      corr_id=hello.header["msg_id"])
        return self.ctl.expect("SNAPSHOT", timeout=30)

    def resend_same(self, cmd_id, body, first):
        """The same cmd_id again: answered with the one journaled RESULT."""
        self.command(cmd_id, body)
        dup = self.ctl.expect("RESULT", timeout=30, skip=SKIP_TYPES + ("ACK",))
        assert dup.body == first.body, (dup.body, first.body)

    def fake(self):
        """The fake hypervisor's saved state: (calls by op, instances by uuid)."""
        calls, insts = {}, {}
        if not os.path.exists(self.state):
            return calls, insts  # the hypervisor was never changed
        with open(self.state) as f:
            lines = f.read().splitlines()
        assert lines[0] == "HVFAKE-STATE 1", lines[:1]
        for line in lines[1:]:
            w = line.split(" ")
            if w[0] == "calls":
                calls[w[1]] = int(w[2])
            elif w[0] == "instance":
                insts[w[1]] = {"state": int(w[2]), "vcpus": int(w[13]), "drive": w[8] == "1"}
        return calls, insts

    def journal(self):
        db = sqlite3.connect("file:%s/state/journal.sqlite?mode=ro" % self.wd, uri=True)
        try:
            rows = db.execute("SELECT uuid, record FROM instances").fetchall()
            pending = db.execute("SELECT count(*) FROM commands WHERE state = 1").fetchone()[0]
        finally:
            db.close()
        return {u: json.loads(r) for u, r in rows}, pending

    def snapshot(self):
        self.ctl.send(HOST.encode(), "RESYNC", {"reason": "test"})
        snap = self.ctl.expect("SNAPSHOT", timeout=30, skip=SKIP_TYPES + ("RESULT", "ACK"))
        return {i["uuid"]: i for i in snap.body["instances"]}

    def check_consistent(self):
        """The hypervisor, the journal and what the agent reports tell one story, and no
        file is left that none of them accounts for."""
        calls, fake = self.fake()
        journal, pending = self.journal()
        reported = self.snapshot()
        assert pending == 0, "%d commands still accepted in the journal" % pending
        assert set(reported) == set(journal), (sorted(reported), sorted(journal))
        for u in fake:
            assert u in journal, "guest %s on the hypervisor, unknown to the journal" % u
        for u, rec in journal.items():
            inst = reported[u]
            assert inst["task_state"] is None, inst
            assert rec.get("task_state") is None, rec
            if u not in fake:
                assert inst["vm_state"] == "error", "%s: no guest, vm_state %s" % (
                    u, inst["vm_state"])
                continue
            assert inst["power_state"] == POWER[fake[u]["state"]], (inst, fake[u])
        drives = os.path.join(self.wd, "drives")
        for name in os.listdir(drives) if os.path.isdir(drives) else []:
            u = name.split(".")[0]
            assert u in fake and fake[u]["drive"], "orphan config drive " + name
        images = os.path.join(self.wd, "images")
        names = set(os.listdir(images)) if os.path.isdir(images) else set()
        for name in names:
            base = name.rsplit(".", 1)[0]
            assert base + ".json" in names, "image data without a record: " + name
        return calls, fake, reported


def spawn_body(uid):
    return {"command": "spawn", "uuid": uid, "name": "web-1", "config_drive": True,
            "flavor": {"name": "m1.small", "vcpus": 1, "ram_mb": 512, "root_gb": 1},
            "image": {"id": "cirros", "format": "qcow2"},
            "ports": [{"id": "p-1", "mac": "fa:16:3e:00:00:01", "fixed_ips": ["10.0.0.5"]}],
            "admin_pass": "never-logged-s3cret"}


# What each interrupted instance command must end as, by moment: (RESULT status, calls of
# the driver op the command makes, vm_state or None when the instance is gone).
# reboot_after_driver: the redriven hard reboot is the second (docs/hacking.md).
EXPECT = {
    "spawn": {"accepted": ("error", 0, "error"), "after_driver": ("ok", 1, "active"),
              "journaled": ("ok", 1, "active")},
    "reboot": {"accepted": ("ok", 1, "active"), "after_driver": ("ok", 2, "active"),
               "journaled": ("ok", 1, "active")},
    "resize": {"accepted": ("error", 0, "active"), "after_driver": ("ok", 1, "resized"),
               "journaled": ("ok", 1, "resized")},
    "destroy": {"accepted": ("ok", 1, None), "after_driver": ("ok", 1, None),
                "journaled": ("ok", 1, None)},
    "snapshot": {"accepted": ("error", 0, "active"), "data_written": ("error", 1, "active"),
                 "after_driver": ("ok", 1, "active"), "journaled": ("ok", 1, "active")},
}


def target_body(cmd, uid):
    return {
        "spawn": spawn_body(uid),
        "reboot": {"command": "reboot", "uuid": uid, "type": "soft"},
        "resize": {"command": "resize", "uuid": uid,
                   "flavor": {"name": "m1.medium", "vcpus": 2, "ram_mb": 1024, "root_gb": 1}},
        "destroy": {"command": "destroy", "uuid": uid},
        "snapshot": {"command": "snapshot", "uuid": uid, "image_id": "snap-1"},
    }[cmd]


def instance_point(wd, cmd, moment):
    run = Run(wd, POINT)
    uid = str(uuid.uuid4())
    if cmd != "spawn":
        run.command("prep-1", spawn_body(uid))
        assert run.result("prep-1").body["status"] == "ok"
    body = target_body(cmd, uid)
    run.command("t-1", body)
    run.expect_death()
    run.restart()
    first = run.result("t-1", timeout=30)
    status, n_calls, vm = EXPECT[cmd][moment]
    assert first.body["status"] == status, first.body
    if status == "error":
        assert first.body["error"]["code"] == "interrupted", first.body
    run.resend_same("t-1", body, first)
    calls, fake, reported = run.check_consistent()
    op = "reboot" if cmd == "reboot" else cmd
    assert calls.get(op, 0) == n_calls, "%s called %d times, expected %d (%s)" % (
        op, calls.get(op, 0), n_calls, calls)
    assert calls.get("spawn", 0) <= 1, calls
    if vm is None:
        assert uid not in reported and uid not in fake, (reported.get(uid), fake.get(uid))
        return run
    assert reported[uid]["vm_state"] == vm, reported[uid]
    if cmd == "resize":
        assert fake[uid]["vcpus"] == (2 if vm == "resized" else 1), fake[uid]
        assert reported[uid]["flavor"]["vcpus"] == fake[uid]["vcpus"], reported[uid]
    if cmd == "snapshot":
        have = os.path.exists(os.path.join(wd, "images", "snap-1.json"))
        assert have == (status == "ok"), "snapshot recorded: %s" % have
        if status == "ok":
            assert first.body["data"]["image"]["id"] == "snap-1", first.body
    if cmd == "spawn" and vm == "error":
        assert uid not in fake, "a half spawn left its guest"
    return run


FW_GROUP = {"id": "web", "rules": [{"direction": "ingress", "protocol": "tcp",
                                    "port_range_min": 22, "port_range_max": 22}]}
FW_PORT = {"id": "p1", "ifname": "tapA", "mac_address": "fa:16:3e:00:00:01",
           "fixed_ips": ["10.0.0.5"], "security_groups": []}
FW_FIP = {"id": "f1", "port_id": "p1", "floating_ip_address": "203.0.113.10",
          "fixed_ip_address": "10.0.0.5"}
NETNS = []


def netns():
    if os.geteuid() != 0:
        print("SKIP: needs root for a network namespace")
        sys.exit(77)
    for tool in ("ip", "nft"):
        if not shutil.which(tool):
            print("SKIP: needs %s" % tool)
            sys.exit(77)
    ns = "hvr-%d" % os.getpid()
    subprocess.run(["ip", "netns", "add", ns], check=True)
    NETNS.append(ns)
    return ns


def ruleset(ns):
    """The namespace's nftables ruleset and the external interface's addresses (a floating
    IP is both a NAT entry and an address)."""
    out = subprocess.run(["ip", "netns", "exec", ns, "nft", "list", "ruleset"],
                         capture_output=True, text=True, check=True)
    addrs = subprocess.run(["ip", "-n", ns, "-4", "addr", "show", "dev", "ext0"],
                           capture_output=True, text=True)
    return out.stdout + addrs.stdout


def firewall_point(wd, cmd, moment):
    """sg_update (the group's rule) and fip_associate (the NAT entry): interrupted before its
    result is journaled, the start's resync from the journaled state undoes it and the
    command answers interrupted; journaled, it stays and answers ok."""
    ns = netns()
    for args in (["link", "add", "ext0", "type", "veth", "peer", "name", "ext1"], ["link", "set", "ext0", "up"]):
        subprocess.run(["ip", "-n", ns] + args, check=True)
    run = Run(wd, POINT, netns=ns, sections="[netfilter]\nenabled = true\nresync_interval = 0\n"
              "external_interface = ext0\n")
    if "port_plug" not in run.hello.body["capabilities"]:
        print("SKIP: this hvagent was built without the netfilter module")
        sys.exit(77)
    if cmd == "fip_associate":
        run.command("prep-1", {"command": "port_plug", "port": FW_PORT})
        assert run.result("prep-1").body["status"] == "ok"
        body, mark = {"command": "fip_associate", "fip": FW_FIP}, "203.0.113.10"
    else:
        body, mark = {"command": "sg_update", "group": FW_GROUP}, "dport 22"
    before = ruleset(ns)
    assert mark not in before, before
    run.command("t-1", body)
    run.expect_death()
    applied = mark in ruleset(ns)
    assert applied == (moment != "accepted"), "after the crash at %s: applied=%s" % (
        POINT, applied)
    run.restart()
    first = run.result("t-1", timeout=30)
    run.resend_same("t-1", body, first)
    rules = ruleset(ns)
    if moment == "journaled":
        assert first.body["status"] == "ok", first.body
        assert mark in rules, "a journaled %s was lost:\n%s" % (cmd, rules)
    else:
        assert first.body["status"] == "error", first.body
        assert first.body["error"]["code"] == "interrupted", first.body
        assert mark not in rules, "orphan nft element of %s:\n%s" % (cmd, rules)
        # the controller's retry under a new cmd_id applies it, once
        run.command("t-2", body)
        assert run.result("t-2").body["status"] == "ok"
        assert mark in ruleset(ns)
    _, pending = run.journal()
    assert pending == 0, "%d commands still accepted in the journal" % pending
    return run


def main():
    cmd, moment = None, None
    for m in ("after_driver", "data_written", "accepted", "applied", "journaled"):
        if POINT.endswith("_" + m):
            cmd, moment = POINT[:-len(m) - 1], m
    wd = hva.workdir()
    run = None
    try:
        if cmd in EXPECT and moment in EXPECT[cmd]:
            run = instance_point(wd, cmd, moment)
        elif cmd in ("sg_update", "fip_associate") and moment in (
                "accepted", "applied", "journaled"):
            run = firewall_point(wd, cmd, moment)
        else:
            print("unknown point %s" % POINT)
            return 1
        rc = run.agent.stop()
        assert rc in (0, None), "hvagent exited with %r on SIGTERM" % rc
        print("PASS %s" % POINT)
        return 0
    except Exception:
        traceback.print_exc()
        log = os.path.join(wd, "agent.log")
        if os.path.exists(log):
            print("---- agent log ----")
            print(open(log).read()[-6000:])
        return 1
    finally:
        if run:
            run.agent.stop()
            run.ctl.close()
        for ns in NETNS:
            subprocess.run(["ip", "netns", "del", ns])
        hva.cleanup(wd)


if __name__ == "__main__":
    sys.exit(main())
