#!/usr/bin/python3
"""HVA/1 interop: an independent pyzmq controller (hva.py) drives the real hvagent with the
fake driver. One case per run: test_interop.py HVAGENT DRIVER_DIR CASE.
Exit 0 pass, 1 fail, 77 skipped (the reason is printed)."""

import json
import os
import re
import subprocess
import sys
import time
import traceback
import uuid

try:
    import zmq  # Debian's python3-zmq: run with /usr/bin/python3
except ImportError:
    print("SKIP: pyzmq is not installed for %s (apt-get install python3-zmq)" % sys.executable)
    sys.exit(77)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hva  # noqa: E402

if not zmq.has("curve"):
    print("SKIP: this libzmq has no CURVE support")
    sys.exit(77)

BINARY, DRIVER_DIR, CASE = sys.argv[1], sys.argv[2], sys.argv[3]
HOST = "compute-a"
STARTED, CONTROLLERS, CLEANUPS = [], [], []


def spawn_body(uid, name="web-1"):
    return {"command": "spawn", "uuid": uid, "name": name,
            "flavor": {"name": "m1.small", "vcpus": 1, "ram_mb": 512, "root_gb": 1},
            "image": {"id": "cirros", "format": "qcow2"},
            "ports": [{"id": "p-1", "mac": "fa:16:3e:00:00:01", "fixed_ips": ["10.0.0.5"]}],
            "admin_pass": "never-logged-s3cret"}


def setup(wd, allow_as=HOST, fake=None, curve=True, server_key=None, host_id=HOST, extra=None,
          sections="", guest=""):
    agent = hva.Agent(BINARY, DRIVER_DIR, wd, host_id=host_id, fake=fake)
    allow = {}
    if curve:
        allow = {agent.public_key(): allow_as} if allow_as else {}
    ctl = hva.Controller(wd, allow=allow, curve=curve)
    key = server_key if server_key is not None else (ctl.public.decode() if curve else "")
    agent = hva.Agent(BINARY, DRIVER_DIR, wd, host_id=host_id, server_key=key, fake=fake,
                      extra=extra, sections=sections, guest=guest)
    STARTED.append(agent)
    CONTROLLERS.append(ctl)
    return agent, ctl


def rid(host=HOST):
    """The host, as Controller.send takes it: sent on the host's authenticated route."""
    return host.encode()


# ------------------------------------------------------------------------------- cases

def case_handshake(wd):
    """HELLO -> WELCOME -> SNAPSHOT, with nova's field names and a seq."""
    agent, ctl = setup(wd, fake={"vcpus": 8, "memory_mb": 16384, "numa_cells": 2})
    agent.start()
    hello, snap = ctl.handshake()
    assert hello.user_id == "compute-a" and hello.header["host_id"] == "compute-a"
    # §10.2: a fresh random routing id per socket, never the host id another key could claim
    uuid.UUID(hello.routing_id.decode())
    assert hello.body["protocols"] == [1] and 1 in hello.body["schemas"]
    assert "spawn" in hello.body["capabilities"], hello.body
    assert hello.body["driver"]["name"] == "fake"
    uuid.UUID(hello.header["boot_id"])
    assert snap.header["seq"] >= 1 and snap.header["boot_id"] == hello.header["boot_id"]
    host = snap.body["host"]
    assert host["vcpus"] == 8 and host["memory_mb"] == 16384, host
    assert len(host["numa_topology"]["cells"]) == 2
    assert snap.body["instances"] == []
    # liveness: a PING is answered with a PONG that names it
    ping = ctl.send(rid(), "PING")
    pong = ctl.expect("PONG")
    assert pong.header["corr_id"] == ping
    report = ctl.expect("REPORT", timeout=5, skip=("PING", "EVENT", "DELTA"))
    assert "vcpus_used" in report.body and "metrics" in report.body
    # RESYNC gives a fresh SNAPSHOT with a higher seq
    ctl.send(rid(), "RESYNC", {"reason": "test"})
    snap2 = ctl.expect("SNAPSHOT")
    assert snap2.header["seq"] > snap.header["seq"]
    return agent, ctl


def case_spawn_idempotent(wd):
    """spawn -> ACK -> RESULT; the same cmd_id again returns the same RESULT and the fake
    driver booted the guest exactly once (its console shows one kernel boot)."""
    agent, ctl = setup(wd)
    agent.start()
    ctl.handshake()
    uid = str(uuid.uuid4())
    msg_id = ctl.command(rid(), "c-spawn-1", spawn_body(uid))
    ack = ctl.expect("ACK", skip=("REPORT", "PING", "EVENT", "DELTA"))
    assert ack.header["corr_id"] == msg_id and ack.body == {"cmd_id": "c-spawn-1",
                                                             "state": "accepted"}, ack
    res = ctl.result("c-spawn-1")
    assert res.body["status"] == "ok", res.body
    inst = res.body["instance"]
    assert inst["vm_state"] == "active" and inst["power_state"] == "running", inst
    assert inst["task_state"] is None
    assert "never-logged" not in json.dumps(res.body)
    # the duplicate
    dup_id = ctl.command(rid(), "c-spawn-1", spawn_body(uid))
    dup = ctl.expect("RESULT", skip=("REPORT", "PING", "EVENT", "DELTA"))
    assert dup.header["corr_id"] == dup_id
    assert dup.body == res.body, (dup.body, res.body)
    # spawn is also keyed by uuid: a new cmd_id does not boot a second time
    ctl.command(rid(), "c-spawn-2", spawn_body(uid))
    again = ctl.result("c-spawn-2")
    assert again.body["status"] == "ok" and again.body["data"]["existing"] is True
    ctl.command(rid(), "c-log-1", {"command": "console_log", "uuid": uid})
    log = ctl.result("c-log-1")
    out = log.body["data"]["output"]
    assert out.count("Linux version") == 1, out
    # the fake numbers every spawn call on the host, refused ones included (drivers/fake/
    # README.md): a second guest's spawn is call #2 only if the duplicates never reached it
    uid2 = str(uuid.uuid4())
    body2 = spawn_body(uid2, name="web-2")
    body2["ports"] = [{"id": "p-2", "mac": "fa:16:3e:00:00:02", "fixed_ips": ["10.0.0.6"]}]
    ctl.command(rid(), "c-spawn-3", body2)
    assert ctl.result("c-spawn-3").body["status"] == "ok"
    ctl.command(rid(), "c-log-2", {"command": "console_log", "uuid": uid2})
    out2 = ctl.result("c-log-2").body["data"]["output"]
    assert "fake: op spawn #2" in out2, out2
    # the secret never reached the log or the journal
    assert "never-logged" not in agent.log_text()
    for name in os.listdir(os.path.join(wd, "state")):
        with open(os.path.join(wd, "state", name), "rb") as f:
            assert b"never-logged" not in f.read(), name
    return agent, ctl


def case_configured_timeouts(wd):
    """A soft reboot and a stop that names no wait use the host's [libvirt] reboot_timeout
    and shutdown_timeout: a guest that ignores the ACPI button is forced after them."""
    agent, ctl = setup(wd, fake={"acpi": "false"},
                       sections="[libvirt]\nreboot_timeout = 1\nshutdown_timeout = 1\n")
    agent.start()
    ctl.handshake()
    uid = str(uuid.uuid4())
    ctl.command(rid(), "t-spawn", spawn_body(uid))
    assert ctl.result("t-spawn").body["status"] == "ok"
    # 15 s is far below the 120 s / 60 s defaults: only the configured 1 s lets these finish
    ctl.command(rid(), "t-reboot", {"command": "reboot", "uuid": uid, "type": "soft"})
    rb = ctl.result("t-reboot", timeout=15.0)
    assert rb.body["status"] == "ok", rb.body
    assert rb.body["instance"]["power_state"] == "running", rb.body
    ctl.command(rid(), "t-stop", {"command": "stop", "uuid": uid})
    st = ctl.result("t-stop", timeout=15.0)
    assert st.body["status"] == "ok", st.body
    assert st.body["instance"]["power_state"] == "shutdown", st.body
    ctl.command(rid(), "t-log", {"command": "console_log", "uuid": uid})
    out = ctl.result("t-log").body["data"]["output"]
    assert "hard reset" in out and "forced off" in out, out
    return agent, ctl


def case_deadline(wd):
    """A command past its deadline is refused and never executed."""
    agent, ctl = setup(wd)
    agent.start()
    ctl.handshake()
    uid = str(uuid.uuid4())
    msg_id = ctl.command(rid(), "c-late", spawn_body(uid),
                         deadline_ms=int(time.time() * 1000) - 5000)
    err = ctl.expect("ERROR", skip=("REPORT", "PING", "EVENT"))
    assert err.header["corr_id"] == msg_id
    assert err.body["code"] == "expired", err.body
    assert err.body["field"] == "header.deadline_ms"
    ctl.send(rid(), "RESYNC")
    snap = ctl.expect("SNAPSHOT")
    assert snap.body["instances"] == [], snap.body
    return agent, ctl


def case_state_guards(wd):
    """pause only from active; a second pause is refused with invalid_state; unknown
    instances are not_found; a refusal is remembered under its cmd_id."""
    agent, ctl = setup(wd)
    agent.start()
    ctl.handshake()
    uid = str(uuid.uuid4())
    ctl.command(rid(), "g-1", spawn_body(uid))
    assert ctl.result("g-1").body["status"] == "ok"
    ctl.command(rid(), "g-2", {"command": "pause", "uuid": uid})
    r = ctl.result("g-2")
    assert r.body["instance"]["vm_state"] == "paused", r.body
    assert r.body["instance"]["power_state"] == "paused"
    ctl.command(rid(), "g-3", {"command": "pause", "uuid": uid})
    e = ctl.expect("ERROR", skip=("REPORT", "PING", "EVENT", "DELTA"))
    assert e.body["code"] == "invalid_state", e.body
    assert "paused" in e.body["message"]
    ctl.command(rid(), "g-3", {"command": "pause", "uuid": uid})
    e2 = ctl.expect("ERROR", skip=("REPORT", "PING", "EVENT", "DELTA"))
    assert e2.body == e.body
    ctl.command(rid(), "g-4", {"command": "unpause", "uuid": str(uuid.uuid4())})
    e3 = ctl.expect("ERROR", skip=("REPORT", "PING", "EVENT", "DELTA"))
    assert e3.body["code"] == "not_found", e3.body
    ctl.command(rid(), "g-5", {"command": "destroy", "uuid": uid})
    r = ctl.result("g-5")
    assert r.body["status"] == "ok" and r.body["instance"] is None
    ctl.send(rid(), "RESYNC")
    assert ctl.expect("SNAPSHOT").body["instances"] == []
    return agent, ctl


def case_malformed(wd):
    """Every malformed message gets an ERROR naming the problem; the agent keeps serving and
    nothing changes."""
    agent, ctl = setup(wd)
    agent.start()
    ctl.handshake()
    ok_hdr = json.dumps(ctl.header()).encode()
    cmd_hdr = json.dumps(ctl.header(deadline_ms=0)).encode()  # no cmd_id
    good_spawn = spawn_body(str(uuid.uuid4()))
    bad_vcpus = spawn_body(str(uuid.uuid4()))
    bad_vcpus["flavor"]["vcpus"] = "two"
    cases = [
        ([hva.SIGNATURE, b"PING", ok_hdr], "bad_frame", "expected 4 frames"),
        ([b"HVA9", b"PING", ok_hdr, b"{}"], "bad_frame", "frame 0 (signature)"),
        ([hva.SIGNATURE, b"FROB", ok_hdr, b"{}"], "unsupported", "unknown message type"),
        ([hva.SIGNATURE, b"PING", b"{not json", b"{}"], "bad_json", "frame 2 (header)"),
        ([hva.SIGNATURE, b"PING", ok_hdr, b"[1,2"], "bad_json", "frame 3 (body)"),
        ([hva.SIGNATURE, b"COMMAND", cmd_hdr, json.dumps(good_spawn).encode()], "invalid",
         "header.cmd_id"),
        ([hva.SIGNATURE, b"COMMAND",
          json.dumps(ctl.header(cmd_id="m-1", deadline_ms=0)).encode(),
          json.dumps(bad_vcpus).encode()], "invalid", "body.flavor.vcpus: expected integer"),
        ([hva.SIGNATURE, b"COMMAND",
          json.dumps(ctl.header(cmd_id="m-2", deadline_ms=0)).encode(),
          json.dumps({"command": "frobnicate", "uuid": str(uuid.uuid4())}).encode()],
         "unsupported", "unknown command"),
        ([hva.SIGNATURE, b"PING", ok_hdr, b"{" + b" " * (1024 * 1024) + b"}"], "too_large",
         "frame 3 (body)"),
        ([hva.SIGNATURE, b"SNAPSHOT", ok_hdr, b"{}"], "unsupported", "not sent to an agent"),
    ]
    for frames, code, text in cases:
        ctl.send_raw(rid(), frames)
        e = ctl.expect("ERROR", skip=("REPORT", "PING", "EVENT", "DELTA"))
        assert e.body["code"] == code, (frames[:2], e.body)
        assert text in e.body["message"], (text, e.body)
        assert agent.alive()
    ping = ctl.send(rid(), "PING")
    assert ctl.expect("PONG").header["corr_id"] == ping
    ctl.send(rid(), "RESYNC")
    assert ctl.expect("SNAPSHOT").body["instances"] == []
    return agent, ctl


def no_message(ctl, seconds):
    m = ctl.recv(seconds)
    assert m is None, "a message was delivered: %r" % m


def case_wrong_server_key(wd):
    """An agent pinning another server key never gets a session."""
    other_pub, _ = zmq.curve_keypair()
    agent, ctl = setup(wd, server_key=other_pub.decode())
    agent.start()
    no_message(ctl, 4)
    assert not ctl.zap.decisions or all(s != "200" for _, s in ctl.zap.decisions)
    assert agent.alive()
    return agent, ctl


def case_unknown_agent_key(wd):
    """A key missing from the allowlist is refused by ZAP and delivers no message."""
    agent, ctl = setup(wd, allow_as=None)
    agent.start()
    no_message(ctl, 4)
    key = agent.public_key()
    assert (key, "400") in ctl.zap.decisions, ctl.zap.decisions
    return agent, ctl


def case_key_host_mismatch(wd):
    """Agent key A allowlisted as host B: every message it sends as A is dropped."""
    agent, ctl = setup(wd, allow_as="compute-b")
    agent.start()
    no_message(ctl, 4)
    assert ctl.dropped, "the agent's HELLO should have reached the identity check"
    user_id, routing_id, host, mtype = ctl.dropped[0]
    assert user_id == "compute-b" and host == "compute-a"
    assert routing_id != b"compute-a"  # the agent's routing id is random, not its host id
    return agent, ctl


def case_kill9_recovery(wd):
    """kill -9 in the middle of a spawn; after the restart the journal answers: the spawn is
    reported interrupted (vm_state error), the duplicate gets the same RESULT and the driver
    never saw a second spawn."""
    agent, ctl = setup(wd, fake={"latency_ms": 3000})
    agent.start()
    hello1, _ = ctl.handshake()
    uid = str(uuid.uuid4())
    ctl.command(rid(), "k-1", spawn_body(uid))
    ctl.expect("ACK", skip=("REPORT", "PING", "EVENT", "DELTA"))
    time.sleep(0.5)
    agent.kill9()
    agent.start()
    hello2 = ctl.expect("HELLO", timeout=30, skip=("REPORT", "PING", "EVENT", "DELTA", "PONG",
                                                    "RESULT"))
    assert hello2.header["boot_id"] != hello1.header["boot_id"]
    ctl.send(rid(), "WELCOME", {"schema": 1}, corr_id=hello2.header["msg_id"])
    snap = ctl.expect("SNAPSHOT", timeout=30)
    inst = [i for i in snap.body["instances"] if i["uuid"] == uid]
    assert inst and inst[0]["vm_state"] == "error" and inst[0]["task_state"] is None, snap.body
    assert inst[0]["fault"]["code"] == "interrupted"
    res = ctl.result("k-1", timeout=30)  # re-sent after WELCOME: never acknowledged
    assert res.body["status"] == "error" and res.body["error"]["code"] == "interrupted"
    ctl.command(rid(), "k-1", spawn_body(uid))
    dup = ctl.expect("RESULT", timeout=30, skip=("REPORT", "PING", "EVENT", "DELTA"))
    assert dup.body == res.body
    # the fake driver restarted empty: had the duplicate spawned again, the guest would exist
    ctl.command(rid(), "k-2", {"command": "console_log", "uuid": uid})
    log = ctl.result("k-2", timeout=30)
    assert log.body["status"] == "error" and log.body["error"]["code"] == "not_found", log.body
    return agent, ctl


def case_sigterm(wd):
    """SIGTERM: a clean exit (status 0); the journal keeps the instance."""
    agent, ctl = setup(wd)
    agent.start()
    ctl.handshake()
    uid = str(uuid.uuid4())
    ctl.command(rid(), "t-1", spawn_body(uid))
    assert ctl.result("t-1").body["status"] == "ok"
    assert agent.stop() == 0
    assert "guests keep running" in agent.log_text()
    agent.start()
    ctl.expect("HELLO", timeout=30, skip=("REPORT", "PING", "EVENT", "DELTA", "PONG"))
    return agent, ctl


def case_state_stream(wd):
    """DELTAs chain by prev_seq from the SNAPSHOT; a lifecycle EVENT is re-sent with the same
    seq until the controller acknowledges it, and not after."""
    agent, ctl = setup(wd)
    agent.start()
    _, snap = ctl.handshake()
    last = snap.header["seq"]
    uid = str(uuid.uuid4())
    ctl.command(rid(), "s-1", spawn_body(uid))
    states, result = [], None
    while result is None:
        m = ctl.recv(15)
        assert m is not None, "no RESULT"
        if m.type == "DELTA":
            assert m.body["prev_seq"] == last, (m.body["prev_seq"], last)
            assert m.header["seq"] > last
            last = m.header["seq"]
            states += [(i["vm_state"], i["task_state"]) for i in m.body["instances"]]
        elif m.type == "RESULT":
            result = m
        elif m.type == "PING":
            ctl.send(rid(), "PONG", corr_id=m.header["msg_id"])
    ctl.send(rid(), "ACK", {"cmd_id": "s-1"})
    assert ("building", "spawning") in states, states
    ctl.command(rid(), "s-2", {"command": "pause", "uuid": uid})
    first = None
    end = time.monotonic() + 20
    resent = None
    while time.monotonic() < end and resent is None:
        m = ctl.recv(1)
        if m is None:
            continue
        if m.type == "PING":
            ctl.send(rid(), "PONG", corr_id=m.header["msg_id"])
        if m.type == "EVENT" and m.body.get("event") == "lifecycle" and \
                m.body.get("transition") == "paused":
            if first is None:
                first = m
            else:
                resent = m
    assert first is not None, "no lifecycle EVENT for the pause"
    assert resent is not None, "an unacknowledged EVENT was not re-sent"
    assert resent.header["seq"] == first.header["seq"] and resent.body == first.body
    ctl.send(rid(), "ACK", {"seq": first.header["seq"]})
    end = time.monotonic() + 6  # three heartbeat intervals
    while time.monotonic() < end:
        m = ctl.recv(0.5)
        if m is not None and m.type == "EVENT":
            assert m.header["seq"] != first.header["seq"], "re-sent after its ACK"
        elif m is not None and m.type == "PING":
            ctl.send(rid(), "PONG", corr_id=m.header["msg_id"])
    return agent, ctl


def case_config_drive(wd):
    """A spawn with config_drive gets a config-2 ISO (mode 0600) holding the uuid, the key,
    the user data as given and the admin password in meta_data.json (as nova writes it); the
    guest sees it attached; destroy removes it."""
    import base64
    import stat
    agent, ctl = setup(wd)
    agent.start()
    hello, _ = ctl.handshake()
    if "config_drive" not in hello.body["capabilities"]:
        print("SKIP: this hvagent was built without config drive support (libisofs)")
        sys.exit(77)
    uid = str(uuid.uuid4())
    body = spawn_body(uid)
    body["config_drive"] = True
    body["key_data"] = ("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9o"
                        "kWi0dh2l9GKJl interop@test")
    user_data = b"#cloud-config\nruncmd: [echo interop-marker]\n"
    body["user_data"] = base64.b64encode(user_data).decode()
    ctl.command(rid(), "d-1", body)
    res = ctl.result("d-1")
    assert res.body["status"] == "ok", res.body
    path = os.path.join(wd, "drives", uid + ".config")
    st = os.stat(path)
    assert stat.S_IMODE(st.st_mode) == 0o600, oct(st.st_mode)
    iso = open(path, "rb").read()
    assert b"config-2" in iso
    assert uid.encode() in iso
    assert b"interop@test" in iso
    # the user data as given, byte for byte; the password where nova puts it
    # (meta_data.json admin_pass), never rewritten into the user's data
    assert user_data in iso
    assert b"Content-Type: multipart" not in iso and b"chpasswd" not in iso
    assert b'"admin_pass":"never-logged-s3cret"' in iso
    ctl.command(rid(), "d-2", {"command": "console_log", "uuid": uid})
    assert "config drive attached" in ctl.result("d-2").body["data"]["output"]
    ctl.command(rid(), "d-3", {"command": "destroy", "uuid": uid})
    assert ctl.result("d-3").body["status"] == "ok"
    assert not os.path.exists(path)
    return agent, ctl


def case_busy(wd):
    """With one build slot and a slow hypervisor: an action on an instance whose task is in
    flight is refused with task_in_flight; a command whose deadline passes while it waits
    for a worker is never started (expired) and leaves nothing behind."""
    agent, ctl = setup(wd, fake={"latency_ms": 1500}, extra="max_concurrent_builds = 1\n")
    agent.start()
    ctl.handshake()
    a, b = str(uuid.uuid4()), str(uuid.uuid4())
    ctl.command(rid(), "b-1", spawn_body(a, "first"))
    ctl.expect("ACK", skip=("REPORT", "PING", "EVENT", "DELTA"))
    ctl.command(rid(), "b-2", {"command": "pause", "uuid": a})
    e = ctl.expect("ERROR", skip=("REPORT", "PING", "EVENT", "DELTA"))
    assert e.body["code"] == "task_in_flight", e.body
    assert "spawning" in e.body["message"], e.body
    ctl.command(rid(), "b-3", spawn_body(b, "second"),
                deadline_ms=int(time.time() * 1000) + 500)
    ack = ctl.expect("ACK", skip=("REPORT", "PING", "EVENT", "DELTA"))
    assert ack.body["cmd_id"] == "b-3"
    assert ctl.result("b-1").body["status"] == "ok"
    late = ctl.result("b-3")
    assert late.body["status"] == "error" and late.body["error"]["code"] == "expired", late.body
    assert late.body["instance"] is None
    ctl.send(rid(), "RESYNC")
    uuids = [i["uuid"] for i in ctl.expect("SNAPSHOT").body["instances"]]
    assert uuids == [a], uuids
    # had the driver ever created the expired one, defining it now would fail (-EEXIST)
    ctl.command(rid(), "b-4", spawn_body(b, "second"))
    again = ctl.result("b-4")
    assert again.body["status"] == "ok" and "data" not in again.body, again.body
    return agent, ctl


UNKNOWN_GUEST = "8f2c6a1e-3b1d-4c5e-9a7b-1d2e3f4a5b6c"


def case_libvirt_unknown_guest(wd):
    """With the libvirt driver on libvirt's test hypervisor, a running instance-* guest the
    journal does not know is reported as instance_unknown and left alone."""
    libvirt_dir = os.path.join(os.path.dirname(os.path.abspath(DRIVER_DIR)), "libvirt")
    if not os.path.exists(os.path.join(libvirt_dir, "hvagent-driver-libvirt.so")):
        print("SKIP: the libvirt driver was not built")
        sys.exit(77)
    extra = "driver = libvirt\n"
    # libvirt's test driver reads a whole host from a file: one guest the journal never saw
    node = os.path.join(wd, "node.xml")
    with open(node, "w") as f:
        f.write("<node><cpu><mhz>2400</mhz><model>i686</model><active>4</active><nodes>1</nodes>"
                "<sockets>1</sockets><cores>4</cores><threads>1</threads></cpu>"
                "<memory>8388608</memory><domain type='test'><name>instance-0000002a</name>"
                "<uuid>%s</uuid><memory>65536</memory><vcpu>1</vcpu>"
                "<os><type>hvm</type></os></domain></node>" % UNKNOWN_GUEST)
    sections = "[libvirt]\nuri = test://%s\nvirt_type = qemu\n" % node
    probe = hva.Agent(BINARY, libvirt_dir, wd, extra=extra)
    ctl = hva.Controller(wd, allow={probe.public_key(): HOST})
    CONTROLLERS.append(ctl)
    # the journal exists (the agent ran on this host before the guest appeared): a missing
    # one would be refused while the hypervisor has guests (case journal_missing)
    empty = os.path.join(wd, "empty.xml")
    with open(empty, "w") as f:
        f.write(re.sub(r"<domain.*</domain>", "", open(node).read()))
    first = hva.Agent(BINARY, libvirt_dir, wd, server_key=ctl.public.decode(), extra=extra,
                      sections="[libvirt]\nuri = test://%s\nvirt_type = qemu\n" % empty)
    STARTED.append(first)
    first.start()
    ctl.handshake()
    assert first.stop() == 0
    # the fake section is harmless for libvirt; only the driver named in DEFAULT is loaded
    agent = hva.Agent(BINARY, libvirt_dir, wd, server_key=ctl.public.decode(), extra=extra,
                      sections=sections)
    STARTED.append(agent)
    agent.start()
    hello, snap = ctl.handshake()
    assert hello.body["driver"]["name"] == "libvirt", hello.body
    assert snap.body["host"]["vcpus"] > 0
    end = time.monotonic() + 15
    seen = None
    while seen is None and time.monotonic() < end:
        m = ctl.recv(1)
        if m is None:
            continue
        if m.type == "PING":
            ctl.send(rid(), "PONG", corr_id=m.header["msg_id"])
        if m.type == "EVENT" and m.body.get("event") == "instance_unknown":
            seen = m
    assert seen is not None, "no instance_unknown event"
    assert seen.body["uuid"] == UNKNOWN_GUEST, seen.body
    assert seen.body["power_state"] == "running"
    ctl.send(rid(), "ACK", {"seq": seen.header["seq"]})
    ctl.send(rid(), "RESYNC")
    assert ctl.expect("SNAPSHOT").body["instances"] == []
    return agent, ctl


def case_libvirt_inject(wd):
    """With the libvirt driver (libvirt's test hypervisor, real qcow2 overlays): an image not
    in the store is refused naming body.image.id; a spawn from a stored raw ext4 image with
    [guest] inject_key/inject_password writes the key line and a root hash that verifies
    against the password into the overlay before the guest starts (one real appliance)."""
    import crypt  # noqa: deprecated in 3.11 but present; verifies the $6$ hash
    libvirt_dir = os.path.join(os.path.dirname(os.path.abspath(DRIVER_DIR)), "libvirt")
    if not os.path.exists(os.path.join(libvirt_dir, "hvagent-driver-libvirt.so")):
        print("SKIP: the libvirt driver was not built")
        sys.exit(77)
    for tool in ("/usr/sbin/mkfs.ext4", "/usr/sbin/debugfs", "/usr/bin/qemu-img",
                 "/usr/bin/guestfish"):
        if not os.path.exists(tool):
            print("SKIP: %s is not installed" % tool)
            sys.exit(77)
    root = os.path.join(wd, "rootfs")
    os.makedirs(os.path.join(root, "etc"))
    os.makedirs(os.path.join(root, "root"), mode=0o700)
    with open(os.path.join(root, "etc", "passwd"), "w") as f:
        f.write("root:x:0:0:root:/root:/bin/sh\n")
    with open(os.path.join(root, "etc", "shadow"), "w") as f:
        f.write("root:*:19000:0:99999:7:::\n")
    os.chmod(os.path.join(root, "etc", "shadow"), 0o640)
    disk = os.path.join(wd, "root.ext4")
    subprocess.run(["/usr/sbin/mkfs.ext4", "-q", "-F", "-d", root, disk, "16M"], check=True)
    extra = "driver = libvirt\n"
    node = os.path.join(wd, "node.xml")
    with open(node, "w") as f:
        f.write("<node><cpu><mhz>2400</mhz><model>i686</model><active>4</active><nodes>1</nodes>"
                "<sockets>1</sockets><cores>4</cores><threads>1</threads></cpu>"
                "<memory>8388608</memory></node>")
    sections = ("[libvirt]\nuri = test://%s\nvirt_type = qemu\n[guest]\ninject_key = true\n"
                "inject_password = true\ninjection_timeout = 600\n" % node)
    probe = hva.Agent(BINARY, libvirt_dir, wd, extra=extra)
    ctl = hva.Controller(wd, allow={probe.public_key(): HOST})
    CONTROLLERS.append(ctl)
    agent = hva.Agent(BINARY, libvirt_dir, wd, server_key=ctl.public.decode(), extra=extra,
                      sections=sections)
    agent.env["LIBGUESTFS_BACKEND_SETTINGS"] = "force_tcg"
    import_image(agent, disk, "tiny-root", "raw")
    STARTED.append(agent)
    agent.start()
    ctl.handshake()
    uid = str(uuid.uuid4())
    body = spawn_body(uid)
    body["image"] = {"id": "cirros", "format": "qcow2"}
    ctl.command(rid(), "l-1", body)
    e = ctl.expect("ERROR", skip=("REPORT", "PING", "EVENT", "DELTA"))
    assert e.body["field"] == "body.image.id", e.body
    assert e.body["message"] == "body.image.id: no image 'cirros' in the image store", e.body
    key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGq1kS6bqvbPz5QeRJ0F0Vt3f1Xo3mqkzX1zM8tJH2fA t@h"
    body["image"] = {"id": "tiny-root", "format": "raw"}
    body["key_data"] = key
    body["project_id"] = "proj-1"
    ctl.command(rid(), "l-2", body)
    r = ctl.result("l-2", timeout=600)
    assert r.body["status"] == "ok", r.body
    assert r.body["data"]["injected"] == {"key": True, "password": True}, r.body
    assert r.body["instance"]["power_state"] == "running", r.body
    overlay = os.path.join(wd, "inst", uid, "disk")
    flat = os.path.join(wd, "flat.raw")
    subprocess.run(["/usr/bin/qemu-img", "convert", "-U", "-O", "raw", overlay, flat], check=True)

    def cat(path):
        return subprocess.run(["/usr/sbin/debugfs", "-R", "cat " + path, flat], check=True,
                              capture_output=True, text=True).stdout
    assert key in cat("/root/.ssh/authorized_keys").splitlines()
    hashed = cat("/etc/shadow").split("\n")[0].split(":")[1]
    assert hashed.startswith("$6$") and crypt.crypt("never-logged-s3cret", hashed) == hashed
    # the base image in the store is untouched
    assert "never" not in open(os.path.join(wd, "images", "tiny-root.img"), "rb").read().decode(
        "latin-1")
    assert "never-logged" not in agent.log_text()
    return agent, ctl


def case_big_host(wd):
    """A host with more instances than one SNAPSHOT body holds: the SNAPSHOT says "more" and
    DELTAs chained to it deliver every record, each message within the 1 MiB limit."""
    agent, ctl = setup(wd, fake={"vcpus": 4096, "memory_mb": 16777216, "local_gb": 1048576},
                       extra="max_concurrent_builds = 8\n")
    agent.start()
    ctl.handshake()
    n = 2200
    want = set()
    for i in range(n):
        uid = str(uuid.uuid4())
        want.add(uid)
        body = spawn_body(uid, "big-host-instance-%04d" % i)
        body["metadata"] = {"role": "a-fairly-long-metadata-value-to-make-records-bigger"}
        ctl.command(rid(), "h-%d" % i, body)
    done = 0
    while done < n:
        m = ctl.expect("RESULT", timeout=60, skip=("REPORT", "PING", "EVENT", "DELTA", "ACK"))
        assert m.body["status"] == "ok", m.body
        ctl.send(rid(), "ACK", {"cmd_id": m.body["cmd_id"]})
        done += 1
    ctl.send(rid(), "RESYNC")
    snap = ctl.expect("SNAPSHOT", timeout=30)
    assert snap.body["more"] is True, "2200 records should not fit one body"
    seen = {i["uuid"] for i in snap.body["instances"]}
    last, more = snap.header["seq"], True
    while more:
        d = ctl.expect("DELTA", timeout=30, skip=("REPORT", "PING", "EVENT"))
        assert d.body["prev_seq"] == last
        last, more = d.header["seq"], d.body["more"]
        seen |= {i["uuid"] for i in d.body["instances"]}
    assert seen == want, (len(seen), len(want))
    return agent, ctl


def firewall_agent(wd, sections):
    """Starts an agent with the netfilter module in a network namespace of its own; returns
    (agent, controller, ruleset) where ruleset() lists that namespace's nftables ruleset."""
    import shutil
    import subprocess
    if os.geteuid() != 0:
        print("SKIP: needs root for a network namespace")
        sys.exit(77)
    for tool in ("ip", "nft"):
        if not shutil.which(tool):
            print("SKIP: needs %s" % tool)
            sys.exit(77)
    ns = "hva-fw-%d" % os.getpid()
    subprocess.run(["ip", "netns", "add", ns], check=True)
    CLEANUPS.append(lambda: subprocess.run(["ip", "netns", "del", ns]))

    def ruleset():
        out = subprocess.run(["ip", "netns", "exec", ns, "nft", "list", "ruleset"],
                             capture_output=True, text=True)
        return out.stdout

    probe = hva.Agent(BINARY, DRIVER_DIR, wd)
    ctl = hva.Controller(wd, allow={probe.public_key(): HOST})
    CONTROLLERS.append(ctl)
    agent = hva.Agent(BINARY, DRIVER_DIR, wd, server_key=ctl.public.decode(), netns=ns,
                      sections=sections)
    STARTED.append(agent)
    agent.start()
    for _ in range(20):
        if not agent.alive():
            break
        time.sleep(0.1)
    if not agent.alive() and "without the netfilter module" in agent.log_text():
        print("SKIP: this hvagent was built without the netfilter module")
        sys.exit(77)
    hello, _ = ctl.handshake()
    if "port_plug" not in hello.body["capabilities"]:
        print("SKIP: this hvagent was built without the netfilter module")
        sys.exit(77)
    return agent, ctl, ruleset


FW_GROUP = {"id": "web", "rules": [{"direction": "ingress", "protocol": "tcp",
                                    "port_range_min": 22, "port_range_max": 22}]}
FW_PORT = {"id": "p1", "ifname": "tapA", "mac_address": "fa:16:3e:00:00:01",
           "fixed_ips": ["10.0.0.5"], "security_groups": ["web"]}


def case_firewall(wd):
    """Security-group commands through HVA/1 program nftables in the agent's network
    namespace; a refused change changes nothing; the rules survive kill -9 (fail closed) and
    the restarted agent answers duplicates from its journal; unplug removes them."""
    agent, ctl, ruleset = firewall_agent(wd, "[netfilter]\nenabled = true\nresync_interval = 0\n")
    group, port = FW_GROUP, FW_PORT
    ctl.command(rid(), "f-1", {"command": "sg_update", "group": group})
    assert ctl.result("f-1").body["status"] == "ok"
    ctl.command(rid(), "f-2", {"command": "port_plug", "port": port})
    plugged = ctl.result("f-2")
    assert plugged.body["status"] == "ok", plugged.body
    rules = ruleset()
    assert "tapA" in rules and "10.0.0.5" in rules, rules
    bad = dict(port, id="p2", ifname="tapB", security_groups=["no-such-group"])
    ctl.command(rid(), "f-3", {"command": "port_plug", "port": bad})
    refused = ctl.result("f-3")
    assert refused.body["status"] == "error", refused.body
    assert ruleset() == rules, "a refused change altered the ruleset"
    ctl.command(rid(), "f-4", {"command": "port_plug"})
    e = ctl.expect("ERROR", skip=("REPORT", "PING", "EVENT", "DELTA"))
    assert e.body["code"] == "invalid" and e.body["field"] == "body.port", e.body
    agent.kill9()
    assert "tapA" in ruleset(), "the rules must stay in place while the agent is down"
    agent.start()
    hello2 = ctl.expect("HELLO", timeout=30, skip=("REPORT", "PING", "EVENT", "DELTA", "PONG",
                                                    "RESULT"))
    ctl.send(rid(), "WELCOME", {"schema": 1}, corr_id=hello2.header["msg_id"])
    ctl.expect("SNAPSHOT")
    assert "tapA" in ruleset()
    ctl.command(rid(), "f-2", {"command": "port_plug", "port": port})
    dup = ctl.expect("RESULT", skip=("REPORT", "PING", "EVENT", "DELTA"))
    assert dup.body == plugged.body, (dup.body, plugged.body)
    ctl.command(rid(), "f-5", {"command": "port_unplug", "port_id": "p1"})
    assert ctl.result("f-5").body["status"] == "ok"
    assert "tapA" not in ruleset()
    return agent, ctl


def case_firewall_tamper(wd):
    """Someone running `nft flush table inet hvagent` on the host is repaired by the agent's
    own periodic resync, within a resync period, with no command from the controller."""
    agent, ctl, ruleset = firewall_agent(wd, "[netfilter]\nenabled = true\nresync_interval = 1\n")
    ctl.command(rid(), "t-1", {"command": "sg_update", "group": FW_GROUP})
    assert ctl.result("t-1").body["status"] == "ok"
    ctl.command(rid(), "t-2", {"command": "port_plug", "port": FW_PORT})
    assert ctl.result("t-2").body["status"] == "ok"
    import re

    def rules():  # the ruleset without its counters, which traffic may change
        return re.sub(r"counter packets \d+ bytes \d+", "counter", ruleset())
    programmed = rules()
    assert "tapA" in programmed and "10.0.0.5" in programmed, programmed
    subprocess.run(["ip", "netns", "exec", agent.netns, "nft", "flush", "table", "inet",
                    "hvagent"], check=True)
    assert rules() != programmed, "the flush did not take effect"
    # Bounded wait: a few resync periods at most; the assertion is on the outcome.
    for _ in range(50):
        if rules() == programmed:
            break
        time.sleep(0.1)
    repaired = rules()
    assert repaired == programmed, "not repaired:\n" + repaired
    return agent, ctl


def case_firewall_agent_restart(wd):
    """Restarting hvagent itself (SIGTERM, and kill -9) while a stream crosses a port it
    programmed loses no packet: the kernel keeps the ruleset while the agent is away, and
    the restarted agent's start-up resync replaces it without a gap. 1000 echo requests
    10 ms apart from an 'external' namespace to the port, five restarts during them. The
    host side of the tap (forwarding, proxy ARP, the /32 route) is the agent's too, and a
    restart removes a stale route of its own (protocol 199) but not a foreign one."""
    import subprocess
    agent, ctl, ruleset = firewall_agent(wd, "[netfilter]\nenabled = true\nresync_interval = 0\n")
    ns = agent.netns
    vm, ext = ns + "-vm", ns + "-ext"

    def ip(*a):
        subprocess.run(["ip"] + list(a), check=True)
    for n in (vm, ext):
        ip("netns", "add", n)
        CLEANUPS.append(lambda n=n: subprocess.run(["ip", "netns", "del", n]))
    # the port is a veth "tap"; its /32 route, proxy ARP and forwarding are port_plug's
    ip("-n", ns, "link", "add", "tapA", "type", "veth", "peer", "name", "eth0", "netns", vm)
    ip("-n", ns, "link", "add", "eth0", "type", "veth", "peer", "name", "eth0", "netns", ext)
    ip("-n", vm, "link", "set", "eth0", "address", "fa:16:3e:00:00:01")
    for n in (ns, vm, ext):
        ip("-n", n, "link", "set", "lo", "up")
        ip("-n", n, "link", "set", "eth0", "up")
    ip("-n", ns, "link", "set", "tapA", "up")
    ip("-n", ns, "addr", "add", "198.51.100.2/24", "dev", "eth0")
    ip("-n", ns, "route", "add", "default", "via", "198.51.100.1")  # proxy ARP answers 10.0.0.1
    ip("-n", vm, "addr", "add", "10.0.0.5/24", "dev", "eth0")
    ip("-n", vm, "route", "add", "default", "via", "10.0.0.1")
    ip("-n", ext, "addr", "add", "198.51.100.1/24", "dev", "eth0")
    ip("-n", ext, "route", "add", "10.0.0.0/24", "via", "198.51.100.2")

    group = {"id": "web", "rules": [{"direction": "ingress", "protocol": "icmp"},
                                    {"direction": "egress"}]}
    ctl.command(rid(), "r-1", {"command": "sg_update", "group": group})
    assert ctl.result("r-1").body["status"] == "ok"
    ctl.command(rid(), "r-2", {"command": "port_plug", "port": FW_PORT})
    assert ctl.result("r-2").body["status"] == "ok"
    probe = subprocess.run(["ip", "netns", "exec", ext, "ping", "-q", "-n", "-c", "3", "-W", "1",
                            "10.0.0.5"], capture_output=True, text=True)
    assert " 0% packet loss" in probe.stdout, "the port does not answer before the restarts:\n" + \
        probe.stdout + ruleset()
    # /proc/sys/net/ipv4/conf/all is every interface: the rules go in, the host side refuses
    ctl.command(rid(), "r-3", {"command": "port_plug", "port": dict(
        FW_PORT, id="p9", ifname="all", mac_address="fa:16:3e:00:00:09", fixed_ips=["10.0.0.9"])})
    res = ctl.result("r-3").body
    assert res["status"] == "ok" and "'all' is not a tap name" in res.get("warning", ""), res
    proxy = subprocess.run(["ip", "netns", "exec", ns, "sysctl", "-n",
                            "net.ipv4.conf.all.proxy_arp"], capture_output=True, text=True)
    assert proxy.stdout.strip() == "0", "proxy ARP turned on for every interface"
    print("ok - a port named 'all': status ok, the result's warning says why its host side "
          "was not made")
    ip("-n", ns, "route", "add", "10.0.0.77/32", "dev", "tapA", "proto", "199")  # stale, ours
    ip("-n", ns, "route", "add", "10.0.0.99/32", "dev", "tapA")  # an operator's

    ping = subprocess.Popen(["ip", "netns", "exec", ext, "ping", "-q", "-n", "-i", "0.01",
                             "-c", "1000", "-W", "1", "10.0.0.5"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    for i in range(5):
        time.sleep(0.8)
        if i % 2:
            agent.kill9()
        else:
            assert agent.stop() == 0, "SIGTERM did not end the agent cleanly"
        agent.start()
        hello = ctl.expect("HELLO", timeout=30, skip=("REPORT", "PING", "EVENT", "DELTA",
                                                       "PONG", "RESULT"))
        ctl.send(hello.routing_id, "WELCOME", {"schema": 1}, corr_id=hello.header["msg_id"])
        ctl.expect("SNAPSHOT", timeout=30)
    out, _ = ping.communicate(timeout=60)
    assert agent.alive()
    assert " 1000 received" in out, "packets lost across five agent restarts:\n" + out
    print("ok - five hvagent restarts (3 SIGTERM, 2 kill -9) during 1000 echo requests: "
          + out.strip().splitlines()[-2])
    routes = subprocess.run(["ip", "-n", ns, "route", "show", "dev", "tapA"],
                            capture_output=True, text=True, check=True).stdout
    assert "10.0.0.5 proto 199 " in routes and "10.0.0.77" not in routes and \
        "10.0.0.99 " in routes, "after the restarts, the routes on the tap:\n" + routes
    print("ok - the restarted agent kept its route, removed its stale one, left a foreign one")
    return agent, ctl


def case_controller_restart(wd):
    """The controller goes away and comes back: the agent says HELLO again with the same
    boot_id, and its new SNAPSHOT continues the seq."""
    agent, ctl = setup(wd)
    agent.start()
    hello1, snap1 = ctl.handshake()
    keys, allow = (ctl.public, ctl.secret), dict(ctl.zap.allow)
    ctl.close()
    CONTROLLERS.remove(ctl)
    time.sleep(1)
    ctl2 = hva.Controller(wd, allow=allow, keys=keys)
    CONTROLLERS.append(ctl2)
    hello2 = ctl2.expect("HELLO", timeout=30, skip=("REPORT", "PING", "EVENT", "DELTA", "PONG"))
    assert hello2.header["boot_id"] == hello1.header["boot_id"]
    ctl2.send(rid(), "WELCOME", {"schema": 1}, corr_id=hello2.header["msg_id"])
    snap2 = ctl2.expect("SNAPSHOT")
    assert snap2.header["seq"] > snap1.header["seq"]
    assert agent.alive()
    return agent, ctl2


def import_image(agent, path, image_id, fmt, *props):
    args = [agent.binary, "-c", agent.conf, "image-import", path, "--id", image_id,
            "--format", fmt]
    for p in props:
        args += ["--property", p]
    subprocess.run(args, env=agent.env, check=True, capture_output=True)


def case_images(wd):
    """Images come from the image store: the recorded format wins over the request's (a
    disagreement is refused before anything exists), a snapshot becomes a stored qcow2 image
    recording image_type, instance_uuid and base_image_ref, and can be spawned from."""
    agent, ctl = setup(wd)
    disk = os.path.join(wd, "tiny.raw")
    with open(disk, "wb") as f:
        f.write(b"\0" * 65536)
    import_image(agent, disk, "tiny", "raw", "os_command_line=console=ttyS0")
    agent.start()
    ctl.handshake()
    uid = str(uuid.uuid4())
    body = spawn_body(uid)
    body["image"] = {"id": "tiny", "format": "qcow2"}
    ctl.command(rid(), "i-1", body)
    e = ctl.expect("ERROR", skip=("REPORT", "PING", "EVENT", "DELTA"))
    assert e.body["code"] == "invalid" and e.body["field"] == "body.image.format", e.body
    assert "recorded as 'raw'" in e.body["message"], e.body
    ctl.send(rid(), "RESYNC")
    assert ctl.expect("SNAPSHOT").body["instances"] == []
    body["image"]["format"] = "raw"
    ctl.command(rid(), "i-2", body)
    r = ctl.result("i-2")
    assert r.body["status"] == "ok", r.body
    # snapshot into the store
    ctl.command(rid(), "i-3", {"command": "snapshot", "uuid": uid, "image_id": "snap-1"})
    r = ctl.result("i-3")
    assert r.body["status"] == "ok", r.body
    assert r.body["data"]["image"]["format"] == "qcow2", r.body
    with open(os.path.join(wd, "images", "snap-1.json")) as f:
        side = json.load(f)
    assert side["format"] == "qcow2", side
    assert side["properties"] == {"image_type": "snapshot", "instance_uuid": uid,
                                  "base_image_ref": "tiny"}, side
    assert os.path.getsize(os.path.join(wd, "images", "snap-1.img")) == side["size"] > 0
    # the same id again is refused before the driver runs
    ctl.command(rid(), "i-4", {"command": "snapshot", "uuid": uid, "image_id": "snap-1"})
    e = ctl.expect("ERROR", skip=("REPORT", "PING", "EVENT", "DELTA"))
    assert e.body["field"] == "body.image_id" and "already exists" in e.body["message"], e.body
    # a new instance from the snapshot
    uid2 = str(uuid.uuid4())
    body2 = spawn_body(uid2, name="from-snap")
    body2["image"] = {"id": "snap-1", "format": "qcow2"}
    ctl.command(rid(), "i-5", body2)
    r = ctl.result("i-5")
    assert r.body["status"] == "ok" and r.body["instance"]["vm_state"] == "active", r.body
    return agent, ctl


def wait_for(ctl, pred, seconds, what):
    """Reads messages (answering PINGs) until pred(msg) holds; returns that message."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        m = ctl.recv(0.5)
        if m is None:
            continue
        if m.type == "PING":
            ctl.send(rid(), "PONG", corr_id=m.header["msg_id"])
        elif pred(m):
            return m
    raise AssertionError("no %s within %d s" % (what, seconds))


def case_host_events(wd):
    """HOST_DOWN: the host reports itself disabled (automatic reason) and refuses commands
    that need the driver, without remembering the refusal; HOST_UP: enabled again, a full
    power-state resync runs and the same command then succeeds."""
    agent, ctl = setup(wd)
    # the fake driver loses its "hypervisor" 2.5 s after open, for 3 s
    agent.env["HVAGENT_FAKE_HOST_FLAP"] = "2500:3000"
    agent.start()
    _, snap = ctl.handshake()
    assert snap.body["host"]["status"] == "enabled", snap.body["host"]
    assert "disabled_reason" not in snap.body["host"]
    uid = str(uuid.uuid4())
    ctl.command(rid(), "h-1", spawn_body(uid))
    assert ctl.result("h-1").body["status"] == "ok"
    wait_for(ctl, lambda m: m.type == "EVENT" and m.body.get("event") == "hypervisor_down",
             10, "hypervisor_down EVENT")
    rep = wait_for(ctl, lambda m: m.type == "REPORT", 5, "REPORT")
    assert rep.body["status"] == "disabled", rep.body
    assert rep.body["disabled_reason"].startswith("AUTO: "), rep.body
    ctl.send(rid(), "RESYNC")
    snap = wait_for(ctl, lambda m: m.type == "SNAPSHOT", 5, "SNAPSHOT")
    assert snap.body["host"]["status"] == "disabled", snap.body["host"]
    msg_id = ctl.command(rid(), "h-2", {"command": "pause", "uuid": uid})
    e = wait_for(ctl, lambda m: m.type == "ERROR", 5, "ERROR")
    assert e.header["corr_id"] == msg_id
    assert e.body["code"] == "busy" and e.body["field"] == "host", e.body
    assert "hypervisor connection lost" in e.body["message"], e.body
    log_before = len(agent.log_text())
    wait_for(ctl, lambda m: m.type == "EVENT" and m.body.get("event") == "hypervisor_up",
             10, "hypervisor_up EVENT")
    rep = wait_for(ctl, lambda m: m.type == "REPORT", 5, "REPORT")
    assert rep.body["status"] == "enabled" and "disabled_reason" not in rep.body, rep.body
    end = time.monotonic() + 5
    while "power state sync: 1 guests listed" not in agent.log_text()[log_before:]:
        assert time.monotonic() < end, "no power-state resync after hypervisor_up"
        time.sleep(0.1)
    # the refused cmd_id was not remembered: it runs now
    ctl.command(rid(), "h-2", {"command": "pause", "uuid": uid})
    r = ctl.result("h-2")
    assert r.body["status"] == "ok" and r.body["instance"]["vm_state"] == "paused", r.body
    return agent, ctl


def case_inject_failure(wd):
    """[guest] inject_key/inject_password: the guest is defined stopped, its root disk is
    edited, then started; a failed injection leaves the instance in error with the message
    (the fake's root disk is no disk image), never starts it, and never logs the secret."""
    agent, ctl = setup(wd, sections="[guest]\ninject_key = true\ninject_password = true\n"
                                    "injection_timeout = 60\n")
    agent.start()
    ctl.handshake()
    uid = str(uuid.uuid4())
    body = spawn_body(uid)
    body["key_data"] = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGq1kS6bqvbPz5QeRJ0F0Vt3f1Xo3mqkzX1zM8tJH2fA t@h"
    body["project_id"] = "proj-1"
    ctl.command(rid(), "j-1", body)
    r = ctl.result("j-1", timeout=90)
    assert r.body["status"] == "error", r.body
    err = r.body["error"]
    assert err["field"] == "injection", err
    assert "injection failed" in err["message"] and "not a qcow2 image" in err["message"], err
    inst = r.body["instance"]
    assert inst["vm_state"] == "error" and inst["fault"]["message"] == err["message"], inst
    assert inst["power_state"] == "shutdown", inst  # never started
    assert "never-logged" not in json.dumps(r.body)
    # without a key or a password there is nothing to inject: an ordinary spawn
    uid2 = str(uuid.uuid4())
    b2 = spawn_body(uid2, name="plain")
    del b2["admin_pass"]
    ctl.command(rid(), "j-2", b2)
    r2 = ctl.result("j-2")
    assert r2.body["status"] == "ok" and r2.body["instance"]["power_state"] == "running", r2.body
    # the failed instance can be deleted (its root disk goes with it)
    ctl.command(rid(), "j-3", {"command": "destroy", "uuid": uid})
    assert ctl.result("j-3").body["status"] == "ok"
    assert not os.path.exists(os.path.join(wd, "inst", uid + ".fake-root"))
    assert "never-logged" not in agent.log_text()
    for name in os.listdir(os.path.join(wd, "state")):
        with open(os.path.join(wd, "state", name), "rb") as f:
            assert b"never-logged" not in f.read(), name
    return agent, ctl


def console(ctl, uid, cmd_id):
    ctl.command(rid(), cmd_id, {"command": "console_log", "uuid": uid})
    return ctl.result(cmd_id).body["data"]["output"]


def case_rescue_disk_order(wd):
    """Rescue: the guest's first disk is the rescue image, its second the original root disk;
    unrescue boots the root disk alone again."""

# ------------------------------------------------------------------------------- journal

def refused_start(agent, code, *needles):
    """Starts agent, which must exit with code and log every needle."""
    agent.start()
    rc = agent.wait_exit(60)
    log = agent.log_text()
    assert rc == code, "exit %r, not %r:\n%s" % (rc, code, log[-3000:])
    for n in needles:
        assert n in log, "%r not in the log:\n%s" % (n, log[-3000:])


def case_disk_full(wd):
    """The state_dir on a 2 MiB tmpfs the test fills: a new command is refused busy naming
    the journal (never acknowledged), duplicates are still answered from the journal, PING
    and REPORT go on, the state change is logged once; a command that finished meanwhile
    is answered once there is room; freed space is noticed without a restart (the same
    cmd_id then runs); a restart on the full disk serves and refuses instead of exiting."""
    import subprocess
    if os.geteuid() != 0:
        print("SKIP: needs root to mount a tmpfs")
        sys.exit(77)
    state = os.path.join(wd, "state")
    os.mkdir(state)
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m,mode=0700", "tmpfs", state]).returncode:
        print("SKIP: cannot mount a tmpfs here")
        sys.exit(77)
    CLEANUPS.append(lambda: subprocess.run(["umount", "-l", state]))
    filler = os.path.join(state, "filler")

    def fill():
        with open(filler, "wb", buffering=0) as f:
            for chunk in (65536, 4096, 512, 1):
                try:
                    while True:
                        f.write(b"\0" * chunk)
                except OSError:
                    pass

    def free():
        if os.path.exists(filler):
            os.unlink(filler)

    def busy(cmd_id, body):
        ctl.command(rid(), cmd_id, body)
        e = ctl.expect("ERROR", skip=("REPORT", "PING", "EVENT", "DELTA", "RESULT"))
        assert e.body["code"] == "busy", e.body
        assert "journal.sqlite" in e.body["message"], e.body
        return e

    def until_accepted(cmd_id, body):
        """Sends the command until it is acknowledged (busy answers while the agent has not
        yet noticed the room): at most 60 tries, one a second."""
        for _ in range(60):
            msg_id = ctl.command(rid(), cmd_id, body)
            while True:
                m = ctl.expect_any(("ACK", "ERROR"))
                if m.header.get("corr_id") == msg_id:
                    break
            if m.type == "ACK":
                return m
            assert m.body["code"] == "busy", m.body
            time.sleep(1)
        raise AssertionError("never accepted")

    agent, ctl = setup(wd, fake={"latency_ms": 1500})
    agent.start()
    ctl.handshake()
    first = str(uuid.uuid4())
    ctl.command(rid(), "f-0", spawn_body(first))
    assert ctl.result("f-0").body["status"] == "ok"
    slow = str(uuid.uuid4())
    ctl.command(rid(), "f-slow", spawn_body(slow, "slow"))
    ctl.expect("ACK", skip=("REPORT", "PING", "EVENT", "DELTA"))
    fill()
    # no ACK: the refusal comes instead of it
    e = busy("f-1", spawn_body(str(uuid.uuid4()), "full-1"))
    busy("f-2", {"command": "pause", "uuid": first})
    ping = ctl.send(rid(), "PING")
    assert ctl.expect("PONG", skip=("REPORT", "PING", "EVENT", "DELTA", "RESULT",
                                    "ERROR")).header["corr_id"] == ping
    ctl.expect("REPORT", skip=("PING", "EVENT", "DELTA", "RESULT", "ERROR"))
    dup = ctl.command(rid(), "f-0", spawn_body(first))  # a read: answered from the journal
    m = ctl.expect("RESULT", skip=("REPORT", "PING", "EVENT", "DELTA", "ERROR"))
    while m.header.get("corr_id") != dup:
        m = ctl.expect("RESULT", skip=("REPORT", "PING", "EVENT", "DELTA", "ERROR"))
    assert m.body["status"] == "ok"
    assert agent.alive()
    log = agent.log_text()
    assert log.count("refusing new commands (busy)") == 1, log[-3000:]
    assert "cmd_id=f-1" not in log or "f-1 accepted" not in log
    free()
    # resumes by itself: the refused cmd_id was not journaled, so it is welcome again
    body = spawn_body(str(uuid.uuid4()), "after")
    until_accepted("f-1", body)
    seen = {}
    for _ in range(2):
        r = ctl.expect("RESULT", timeout=30, skip=("REPORT", "PING", "EVENT", "DELTA", "ERROR",
                                                   "ACK"))
        ctl.send(rid(), "ACK", {"cmd_id": r.body["cmd_id"]})
        seen[r.body["cmd_id"]] = r.body
        if "f-1" in seen and "f-slow" in seen:
            break
    for c in ("f-1", "f-slow"):
        if c not in seen:
            seen[c] = ctl.result(c, timeout=30).body
        assert seen[c]["status"] == "ok", seen[c]
    log = agent.log_text()
    assert log.count("written again: accepting commands") == 1, log[-3000:]

    # a restart on a full disk: the agent comes up, serves, refuses, and resumes
    assert agent.stop() == 0
    fill()
    agent.start()
    ctl.handshake(timeout=30)
    # (the fake hypervisor restarted empty: a new guest, not the old ones)
    after = spawn_body(str(uuid.uuid4()), "after-restart")
    for _ in range(3):
        ctl.command(rid(), "f-3", after)
        m = ctl.expect("ERROR", skip=("REPORT", "PING", "EVENT", "DELTA", "RESULT", "ACK"))
        assert m.body["code"] == "busy", m.body
    ping = ctl.send(rid(), "PING")
    ctl.expect("PONG", skip=("REPORT", "PING", "EVENT", "DELTA", "RESULT", "ERROR"))
    assert agent.alive()
    free()
    until_accepted("f-3", after)
    res = ctl.result("f-3", timeout=30).body
    assert res["status"] == "ok", res
    return agent, ctl


def case_journal_damaged(wd):
    """A garbage index page in the agent's own journal: the start is refused at once (exit
    65) naming the file, not at the first command; --rebuild-journal keeps the damaged file
    aside and builds a new one from the hypervisor's list; a healthy journal is never
    replaced."""
    import sqlite3
    agent, ctl = setup(wd, fake={"vcpus": 64})
    agent.start()
    ctl.handshake()
    for i in range(40):
        ctl.command(rid(), "j-%d" % i, spawn_body(str(uuid.uuid4()), "vm-%d" % i))
        assert ctl.result("j-%d" % i).body["status"] == "ok"
    assert agent.stop() == 0
    path = os.path.join(wd, "state", "journal.sqlite")
    db = sqlite3.connect(path)
    root = db.execute("SELECT rootpage FROM sqlite_master WHERE name='commands_state'").fetchone()[0]
    psize = db.execute("PRAGMA page_size").fetchone()[0]
    db.close()
    with open(path, "r+b") as f:
        f.seek((root - 1) * psize)
        f.write(bytes((0x5a ^ (i * 131)) & 0xff for i in range(64)))
    refused_start(agent, 65, path + " is damaged")
    refused_start(agent, 65, path + " is damaged")  # every time: no silent fresh start
    out = agent.run("--rebuild-journal")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "kept the damaged" in out.stdout and "with 0 instance(s)" in out.stdout, out.stdout
    assert any(n.startswith("journal.sqlite.damaged-") for n in os.listdir(os.path.join(wd, "state")))
    out = agent.run("--rebuild-journal")
    assert out.returncode != 0 and "opens cleanly: not replaced" in out.stderr, out.stderr
    agent.start()
    ctl.handshake(timeout=30)
    return agent, ctl


def wal_frames(path):
    """(offset, page bytes) of every frame of a WAL file (SQLite's file format)."""
    data = open(path, "rb").read()
    psize = int.from_bytes(data[8:12], "big")
    frames, off = [], 32
    while off + 24 + psize <= len(data):
        frames.append((off, data[off + 24:off + 24 + psize]))
        off += 24 + psize
    return frames


def case_wal_damaged(wd):
    """kill -9 after a spawn's RESULT was acknowledged, then a damaged WAL frame holding
    that RESULT: the agent refuses to start (exit 65) naming the file, instead of reading
    the journal back to "accepted" and recovering the completed spawn to error."""
    agent, ctl = setup(wd)
    agent.start()
    ctl.handshake()
    uid = str(uuid.uuid4())
    ctl.command(rid(), "r-1", spawn_body(uid))
    assert ctl.result("r-1").body["status"] == "ok"
    ctl.command(rid(), "r-2", {"command": "rescue", "uuid": uid,
                               "image": {"id": "rescue-img", "format": "raw"}})
    res = ctl.result("r-2")
    assert res.body["status"] == "ok", res.body
    out = console(ctl, uid, "r-3")
    boot = out[out.rindex("Linux version"):]
    vda = boot.index("disk vda: rescue image rescue-img")
    vdb = boot.index("disk vdb: root disk, image cirros")
    assert vda < vdb, boot
    ctl.command(rid(), "r-4", {"command": "unrescue", "uuid": uid})
    assert ctl.result("r-4").body["status"] == "ok"
    boot = console(ctl, uid, "r-5")
    boot = boot[boot.rindex("Linux version"):]
    assert "disk vda: root disk, image cirros" in boot, boot
    assert "disk vdb" not in boot, boot
    return agent, ctl


def case_rebuild_config_drive(wd):
    """Rebuild with a new key and password builds the config drive again as spawn does: the
    new key and admin_pass are on it, the old ones are gone, and the user data the server
    was created with is kept byte for byte."""
    import base64
    agent, ctl = setup(wd)
    agent.start()
    hello, _ = ctl.handshake()
    if "config_drive" not in hello.body["capabilities"]:
        print("SKIP: this hvagent was built without config drive support (libisofs)")
        sys.exit(77)
    old_key = ("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9o"
               "kWi0dh2l9GKJl old@key")
    new_key = ("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGsN9NMU3DY54Je2XYHctrFOcK3N43SGr"
               "/eXzpYy6G1j new@key")
    user_data = b"\x1f\x8b\x08\x00 not really gzip, but bytes all the same\n"
    uid = str(uuid.uuid4())
    body = spawn_body(uid)
    body.update(config_drive=True, key_data=old_key, admin_pass="old-pass-1",
                user_data=base64.b64encode(user_data).decode())
    ctl.command(rid(), "rb-1", body)
    assert ctl.result("rb-1").body["status"] == "ok"
    path = os.path.join(wd, "drives", uid + ".config")
    iso = open(path, "rb").read()
    assert b"old@key" in iso and b'"admin_pass":"old-pass-1"' in iso
    ctl.command(rid(), "rb-2", {"command": "rebuild", "uuid": uid,
                                "image": {"id": "cirros-2", "format": "qcow2"},
                                "key_data": new_key, "admin_pass": "new-pass-2"})
    res = ctl.result("rb-2")
    assert res.body["status"] == "ok", res.body
    iso = open(path, "rb").read()
    assert b"new@key" in iso and b'"admin_pass":"new-pass-2"' in iso, "not rebuilt"
    assert b"old@key" not in iso and b"old-pass-1" not in iso, "the old secrets stayed"
    assert user_data in iso, "the user data was lost"
    assert b"new-pass-2" not in agent.log_text().encode()

    ctl.command(rid(), "w-1", spawn_body(uid))
    assert ctl.result("w-1").body["status"] == "ok"  # acknowledged
    ping = ctl.send(rid(), "PING")  # answered after the turn that journaled the ACK
    assert ctl.expect("PONG").header["corr_id"] == ping
    agent.kill9()
    wal = os.path.join(wd, "state", "journal.sqlite-wal")
    hit = [off for off, page in wal_frames(wal) if b"w-1" in page and b'"status"' in page]
    assert hit, "no WAL frame holds the RESULT"
    with open(wal, "r+b") as f:
        f.seek(hit[0] + 24 + 512)
        f.write(b"\xde\xad\xbe\xef" * 8)
    refused_start(agent, 65, os.path.join(wd, "state", "journal.sqlite") + " is damaged",
                  "WAL frame")
    return agent, ctl


def case_journal_missing(wd):
    """The libvirt driver (libvirt's test hypervisor) lists a guest but the journal is
    missing, then emptied: the agent refuses to start (exit 66) saying what to do and
    leaves no journal behind; hvagent --rebuild-journal recovers the guest from the
    hypervisor's list and the agent then reports it."""
    libvirt_dir = os.path.join(os.path.dirname(os.path.abspath(DRIVER_DIR)), "libvirt")
    if not os.path.exists(os.path.join(libvirt_dir, "hvagent-driver-libvirt.so")):
        print("SKIP: the libvirt driver was not built")
        sys.exit(77)
    extra = "driver = libvirt\n"
    node = os.path.join(wd, "node.xml")
    with open(node, "w") as f:
        f.write("<node><cpu><mhz>2400</mhz><model>i686</model><active>4</active><nodes>1</nodes>"
                "<sockets>1</sockets><cores>4</cores><threads>1</threads></cpu>"
                "<memory>8388608</memory><domain type='test'><name>instance-0000002a</name>"
                "<uuid>%s</uuid><memory>65536</memory><vcpu>1</vcpu>"
                "<os><type>hvm</type></os></domain></node>" % UNKNOWN_GUEST)
    sections = "[libvirt]\nuri = test://%s\nvirt_type = qemu\n" % node
    probe = hva.Agent(BINARY, libvirt_dir, wd, extra=extra)
    ctl = hva.Controller(wd, allow={probe.public_key(): HOST})
    CONTROLLERS.append(ctl)
    agent = hva.Agent(BINARY, libvirt_dir, wd, server_key=ctl.public.decode(), extra=extra,
                      sections=sections)
    STARTED.append(agent)
    journal = os.path.join(wd, "state", "journal.sqlite")
    refused_start(agent, 66, journal + " is missing or empty", UNKNOWN_GUEST,
                  "--rebuild-journal")
    assert not os.path.exists(journal), "a refused start left a journal behind"
    refused_start(agent, 66, "--rebuild-journal")  # and again: never a fresh start
    out = agent.run("--rebuild-journal")
    assert out.returncode == 0 and "with 1 instance(s)" in out.stdout, out.stdout + out.stderr
    agent.start()
    _, snap = ctl.handshake(timeout=30)
    inst = [i for i in snap.body["instances"] if i["uuid"] == UNKNOWN_GUEST]
    assert inst and inst[0]["power_state"] == "running", snap.body
    assert inst[0]["vm_state"] == "active", inst
    assert agent.stop() == 0
    open(journal, "w").close()  # emptied (truncated)
    for p in (journal + "-wal", journal + "-shm"):
        if os.path.exists(p):
            os.unlink(p)
    refused_start(agent, 66, journal + " is missing or empty")
    return agent, ctl


def case_tcp_loose(wd):
    """With [netfilter] enabled, an agent in a network namespace whose
    net.netfilter.nf_conntrack_tcp_loose is 0 refuses to start (exit 78) naming the sysctl
    and how to set it; with 1 it starts."""
    import shutil
    import subprocess
    if os.geteuid() != 0 or not shutil.which("ip"):
        print("SKIP: needs root and ip for a network namespace")
        sys.exit(77)
    ns = "hva-tl-%d" % os.getpid()
    subprocess.run(["ip", "netns", "add", ns], check=True)
    CLEANUPS.append(lambda: subprocess.run(["ip", "netns", "del", ns]))
    subprocess.run(["modprobe", "nf_conntrack"], capture_output=True)
    knob = "net.netfilter.nf_conntrack_tcp_loose"

    def sysctl(v):
        return subprocess.run(["ip", "netns", "exec", ns, "sysctl", "-qw", "%s=%d" % (knob, v)],
                              capture_output=True).returncode == 0
    if not sysctl(0):
        print("SKIP: %s cannot be set in a network namespace here (nf_conntrack?)" % knob)
        sys.exit(77)
    probe = hva.Agent(BINARY, DRIVER_DIR, wd)
    ctl = hva.Controller(wd, allow={probe.public_key(): HOST})
    CONTROLLERS.append(ctl)
    agent = hva.Agent(BINARY, DRIVER_DIR, wd, server_key=ctl.public.decode(), netns=ns,
                      sections="[netfilter]\nenabled = true\nresync_interval = 0\n")
    STARTED.append(agent)
    agent.start()
    rc = agent.wait_exit(60)
    log = agent.log_text()
    if "without the netfilter module" in log:
        print("SKIP: this hvagent was built without the netfilter module")
        sys.exit(77)
    assert rc == 78, "exit %r:\n%s" % (rc, log[-2000:])
    assert knob + " is 0" in log and "sysctl -w %s=1" % knob in log, log[-2000:]
    assert sysctl(1)
    agent.start()
    hello, _ = ctl.handshake(timeout=30)
    assert "port_plug" in hello.body["capabilities"]
    return agent, ctl


def case_config_drive_dir(wd):
    """A config_drive_dir that cannot be a directory is found at start: config_drive is
    not advertised (and a warning names the key); with force_config_drive the start is
    refused (exit 78)."""
    open(os.path.join(wd, "drives"), "w").close()  # a file where the directory should be
    agent, ctl = setup(wd)
    agent.start()
    hello, _ = ctl.handshake()
    assert "config_drive" not in hello.body["capabilities"], hello.body["capabilities"]
    assert "[guest] config_drive_dir %s/drives: not a directory" % wd in agent.log_text()
    assert agent.stop() == 0
    forced = hva.Agent(BINARY, DRIVER_DIR, wd, server_key=ctl.public.decode(),
                       guest="force_config_drive = true\n")
    STARTED.append(forced)
    refused_start(forced, 78, "force_config_drive needs it")
    return agent, ctl


CASES = {name[5:]: fn for name, fn in globals().items() if name.startswith("case_")}


def main():
    if CASE not in CASES:
        print("unknown case %s (known: %s)" % (CASE, ", ".join(sorted(CASES))))
        return 1
    wd = hva.workdir()
    try:
        CASES[CASE](wd)
        # a clean SIGTERM exit is part of every case (and, under ASan, no leak)
        for a in STARTED:
            rc = a.stop()
            assert rc in (0, None), "hvagent exited with %r on SIGTERM:\n%s" % (
                rc, a.log_text()[-3000:])
        print("PASS %s: %s" % (CASE, CASES[CASE].__doc__.split("\n")[0]))
        return 0
    except Exception:
        traceback.print_exc()
        log = os.path.join(wd, "agent.log")
        if os.path.exists(log):
            print("---- agent log ----")
            print(open(log).read()[-6000:])
        return 1
    finally:
        for a in STARTED:
            a.stop()
        for c in CONTROLLERS:
            c.close()
        for fn in CLEANUPS:
            fn()
        hva.cleanup(wd)


if __name__ == "__main__":
    sys.exit(main())
