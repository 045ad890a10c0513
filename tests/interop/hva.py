"""hva.py - an independent HVA/1 controller written from docs/protocol.md alone (pyzmq),
used to drive the real C agent in the interop suite. It shares no code with the C side:
if the two disagree about the spec, these tests fail.

It also starts and stops hvagent processes in a private directory (ipc:// endpoints, no
network), so every test is hermetic."""

import json
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import uuid

import zmq
import zmq.auth

SIGNATURE = b"HVA1"
TYPES = {"HELLO", "WELCOME", "SNAPSHOT", "DELTA", "REPORT", "EVENT", "COMMAND", "ACK",
         "RESULT", "PING", "PONG", "RESYNC", "ERROR"}


class Msg:
    def __init__(self, routing_id, user_id, mtype, header, body):
        self.routing_id = routing_id
        self.user_id = user_id
        self.type = mtype
        self.header = header
        self.body = body

    def __repr__(self):
        return "%s %s %s" % (self.type, json.dumps(self.header), json.dumps(self.body)[:300])


class ZapHandler(threading.Thread):
    """RFC 27 handler: 200 + user_id=host for allowlisted CURVE keys, 400 otherwise."""

    def __init__(self, ctx, allow):
        super().__init__(daemon=True)
        self.allow = allow  # z85 public key (bytes) -> host id (str)
        self.sock = ctx.socket(zmq.REP)
        self.sock.linger = 0
        self.sock.bind("inproc://zeromq.zap.01")
        self.decisions = []  # (key, status)
        self.running = True

    def run(self):
        poller = zmq.Poller()
        poller.register(self.sock, zmq.POLLIN)
        while self.running:
            if not dict(poller.poll(100)):
                continue
            frames = self.sock.recv_multipart()
            version, request_id, domain, address, identity, mechanism = frames[:6]
            status, user = b"400", b""
            if mechanism == b"CURVE" and domain == b"hva":
                key = zmq.utils.z85.encode(frames[6])
                host = self.allow.get(key)
                if host is not None:
                    status, user = b"200", host.encode()
                self.decisions.append((key, status.decode()))
            self.sock.send_multipart([version, request_id, status,
                                      b"OK" if status == b"200" else b"unknown key", user, b""])

    def stop(self):
        self.running = False
        self.join(2)
        self.sock.close()


class Controller:
    def __init__(self, workdir, allow=None, curve=True, keys=None):
        self.ctx = zmq.Context()
        self.endpoint = "ipc://%s/controller.sock" % workdir
        self.curve = curve
        self.zap = None
        self.dropped = []
        self.sessions = set()  # routing ids that said HELLO to this controller
        # host id (bytes) -> routing id of the connection last authenticated as that host
        # (§10.2: a routing id is the peer's choice, never an identity)
        self.routes = {}
        if curve:
            pub, sec = keys or zmq.curve_keypair()
            self.public, self.secret = pub, sec
            self.zap = ZapHandler(self.ctx, allow or {})
            self.zap.start()  # bound before the CURVE socket, as the spec requires
        self.sock = self.ctx.socket(zmq.ROUTER)
        self.sock.linger = 0
        self.sock.setsockopt(zmq.ROUTER_MANDATORY, 1)
        self.sock.setsockopt(zmq.MAXMSGSIZE, 8 * 1024 * 1024)
        if curve:
            self.sock.curve_server = True
            self.sock.curve_secretkey = self.secret
            self.sock.zap_domain = b"hva"
            self.sock.setsockopt(zmq.ZAP_ENFORCE_DOMAIN, 1)
        self.sock.bind(self.endpoint)
        self.poller = zmq.Poller()
        self.poller.register(self.sock, zmq.POLLIN)

    def close(self):
        self.sock.close()
        if self.zap:
            self.zap.stop()
        self.ctx.term()

    # ---- receiving

    def recv(self, timeout=10.0):
        """Next message that passes the identity rule (§10.2), or None on timeout."""
        end = time.monotonic() + timeout
        while True:
            left = end - time.monotonic()
            if left <= 0:
                return None
            if not dict(self.poller.poll(int(left * 1000))):
                continue
            frames = self.sock.recv_multipart(copy=False)
            routing_id = frames[0].bytes
            try:
                user_id = frames[1].get("User-Id") if self.curve else None
            except zmq.ZMQError:
                user_id = None
            parts = [f.bytes for f in frames[1:]]
            assert len(parts) == 4, "agent sent %d frames" % len(parts)
            assert parts[0] == SIGNATURE
            mtype = parts[1].decode()
            assert mtype in TYPES, mtype
            header = json.loads(parts[2])
            body = json.loads(parts[3])
            assert isinstance(header, dict) and isinstance(body, dict)
            uuid.UUID(header["msg_id"])
            assert isinstance(header["schema"], int)
            host = header.get("host_id")
            if self.curve and not (user_id is not None and user_id == host):
                self.dropped.append((user_id, routing_id, host, mtype))
                continue
            if host:
                self.routes[host.encode()] = routing_id
            if mtype == "HELLO":
                self.sessions.add(routing_id)
            elif routing_id not in self.sessions and mtype != "ERROR":
                # §5.2: a controller without a session for the agent asks for a HELLO
                self.send(routing_id, "ERROR", {"code": "no_session",
                                                "message": "no session: say HELLO"},
                          corr_id=header["msg_id"])
                continue
            return Msg(routing_id, user_id, mtype, header, body)

    def expect(self, mtype, timeout=10.0, skip=("REPORT", "PING", "EVENT", "DELTA")):
        """Waits for a message of type mtype, answering PINGs and skipping the types in skip."""
        end = time.monotonic() + timeout
        while True:
            m = self.recv(max(0.0, end - time.monotonic()))
            if m is None:
                raise AssertionError("no %s within %.0f s" % (mtype, timeout))
            if m.type == mtype:
                return m
            if m.type == "PING":
                try:
                    self.send(m.routing_id, "PONG", corr_id=m.header["msg_id"])
                except zmq.ZMQError as e:  # a PING queued by a connection that has gone
                    if e.errno != zmq.EHOSTUNREACH:
                        raise
            if m.type not in skip:
                raise AssertionError("expected %s, got %r" % (mtype, m))

    def expect_any(self, types, timeout=10.0):
        """The next message of one of types, answering PINGs and skipping the rest."""
        end = time.monotonic() + timeout
        while True:
            m = self.recv(max(0.0, end - time.monotonic()))
            if m is None:
                raise AssertionError("none of %s within %.0f s" % (", ".join(types), timeout))
            if m.type in types:
                return m
            if m.type == "PING":
                self.send(m.routing_id, "PONG", corr_id=m.header["msg_id"])

    # ---- sending

    def header(self, **extra):
        h = {"msg_id": str(uuid.uuid4()), "ts_ms": int(time.time() * 1000), "schema": 1}
        h.update({k: v for k, v in extra.items() if v is not None})
        return h

    def send_raw(self, routing_id, frames):
        """routing_id: a connection's routing id, or a host id (bytes), sent on that host's
        route."""
        self.sock.send_multipart([self.routes.get(routing_id, routing_id)] + frames)

    def send(self, routing_id, mtype, body=None, **hdr):
        h = self.header(**hdr)
        self.send_raw(routing_id, [SIGNATURE, mtype.encode(), json.dumps(h).encode(),
                                   json.dumps(body or {}).encode()])
        return h["msg_id"]

    def command(self, routing_id, cmd_id, body, deadline_ms=None):
        if deadline_ms is None:
            deadline_ms = int(time.time() * 1000) + 60000
        return self.send(routing_id, "COMMAND", body, cmd_id=cmd_id, deadline_ms=deadline_ms)

    def handshake(self, timeout=15.0):
        hello = self.expect("HELLO", timeout)
        self.send(hello.routing_id, "WELCOME", {"schema": 1}, corr_id=hello.header["msg_id"])
        snap = self.expect("SNAPSHOT", timeout)
        return hello, snap

    def result(self, cmd_id, timeout=20.0):
        """RESULT for cmd_id (acknowledged), skipping state traffic."""
        end = time.monotonic() + timeout
        while True:
            m = self.expect("RESULT", max(0.1, end - time.monotonic()), skip=("REPORT", "PING",
                            "EVENT", "DELTA", "ACK"))
            if m.body.get("cmd_id") == cmd_id:
                self.send(m.routing_id, "ACK", {"cmd_id": cmd_id})
                return m


class Agent:
    """One hvagent process with its own config, state and keys under workdir."""

    def __init__(self, binary, driver_dir, workdir, host_id="compute-a", server_key="",
                 fake=None, extra=None, netns=None, sections="", guest=""):
        self.binary, self.workdir, self.host_id = binary, workdir, host_id
        self.conf = os.path.join(workdir, "hvagent.conf")
        self.log = os.path.join(workdir, "agent.log")
        self.env = dict(os.environ, HVAGENT_DRIVER_DIR=driver_dir)
        fake_lines = "".join("%s = %s\n" % kv for kv in (fake or {}).items())
        with open(self.conf, "w") as f:
            f.write("[DEFAULT]\nhost_id = %s\nstate_dir = %s/state\ninstances_path = %s/inst\n"
                    "image_store = %s/images\nlog_level = debug\nreport_interval = 1\n"
                    "sync_power_state_interval = 0\n%s"
                    "[controller]\nendpoint = ipc://%s/controller.sock\nkeys_dir = %s/keys\n"
                    "server_public_key = %s\nheartbeat_interval = 2\nreconnect_min_ms = 100\n"
                    "reconnect_max_ms = 1000\n[guest]\nconfig_drive_dir = %s/drives\n%s"
                    "[fake]\n%s"
                    % (host_id, workdir, workdir, workdir, extra or "", workdir, workdir,
                       server_key, workdir, guest, fake_lines))
        if sections:
            with open(self.conf, "a") as f:
                f.write(sections)
        self.netns = netns
        self.proc = None

    def public_key(self):
        out = subprocess.run([self.binary, "--show-public-key", "-c", self.conf], env=self.env,
                             check=True, capture_output=True, text=True)
        return out.stdout.strip().encode()

    def start(self):
        self.logf = open(self.log, "a")
        cmd = [self.binary, "-c", self.conf]
        if self.netns:
            cmd = ["ip", "netns", "exec", self.netns] + cmd
        self.proc = subprocess.Popen(cmd, env=self.env, stdout=self.logf, stderr=self.logf)

    def run(self, *args):
        """Runs this agent's binary with its config and args (e.g. --rebuild-journal) to
        the end; returns the CompletedProcess (stdout and stderr as text)."""
        cmd = [self.binary, "-c", self.conf] + list(args)
        if self.netns:
            cmd = ["ip", "netns", "exec", self.netns] + cmd
        return subprocess.run(cmd, env=self.env, capture_output=True, text=True, timeout=60)

    def wait_exit(self, timeout=30):
        """The exit status of a start that is expected to fail."""
        return self.proc.wait(timeout)

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                return self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                return "hung on SIGTERM"
        return None  # not running: nothing to judge

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def log_text(self):
        with open(self.log) as f:
            return f.read()


def workdir():
    # ipc:// paths are limited to ~107 bytes: keep the directory short
    return tempfile.mkdtemp(prefix="hva-", dir="/tmp")


def cleanup(path):
    shutil.rmtree(path, ignore_errors=True)
