#!/usr/bin/python3
"""A host is trusted only for what its key owns. A second allowlisted key (node-2, a hand-made
pyzmq agent) that connects with node-1's routing id receives none of node-1's commands (the
admin password included) and does not keep node-1 off the controller; and node-2's SNAPSHOT,
DELTA, EVENT and RESULT naming node-1's server change nothing on it. Every check runs
hvcentral's own C code: the pyzmq peer only sends what an attacker would."""
import json
import time
import uuid

import harness
from harness import check

zmq = harness.need_module("zmq", "python3-zmq")

FLAVOR = "vcpus=1,ram=64,disk=1"
SECRET = "s3cret-admin-pass-%s" % uuid.uuid4().hex[:8]


class Peer:
    """A raw HVA/1 agent with its own CURVE key and a routing id of its choosing."""

    def __init__(self, c, public, secret, routing_id, host_id):
        self.host_id = host_id
        self.boot_id = str(uuid.uuid4())
        self.seq = 0
        self.sock = zmq.Context.instance().socket(zmq.DEALER)
        self.sock.curve_serverkey = c.server_key.encode()
        self.sock.curve_publickey = public
        self.sock.curve_secretkey = secret
        self.sock.setsockopt(zmq.ROUTING_ID, routing_id.encode())
        self.sock.linger = 0
        self.sock.connect(c.agent_ep)
        self.got = []  # every message received: (type, header, body)

    def send(self, mtype, body, seq=False, **hdr):
        h = {"msg_id": str(uuid.uuid4()), "host_id": self.host_id, "boot_id": self.boot_id,
             "ts_ms": int(time.time() * 1000), "schema": 1}
        if seq:
            self.seq += 1
            h["seq"] = self.seq
        h.update(hdr)
        self.sock.send_multipart([b"HVA1", mtype.encode(), json.dumps(h).encode(),
                                  json.dumps(body).encode()])
        return h["msg_id"]

    def drain(self, seconds):
        end = time.monotonic() + seconds
        while True:
            left = end - time.monotonic()
            if left <= 0 or not self.sock.poll(int(left * 1000)):
                return self.got
            f = self.sock.recv_multipart()
            self.got.append((f[1].decode(), json.loads(f[2]), f[3]))

    def hello(self):
        self.send("HELLO", {"agent_version": "test", "protocols": [1], "schemas": [1],
                            "capabilities": ["spawn", "destroy", "stop"], "started_ms": 0})
        self.drain(2)
        return any(t == "WELCOME" for t, _, _ in self.got)

    def close(self):
        self.sock.close()


def main():
    c = harness.Cluster(transport="tcp")
    c.start_central()
    c.allow("node-1")
    pub2, sec2 = zmq.curve_keypair()
    with open(c.path("central", "agents", "node-2.pub"), "w") as f:
        f.write(pub2.decode() + "\n")
    c.start_agent("node-1")
    c.wait_host("node-1", "up")

    # -- 1. node-2's key, node-1's routing id and host id: nothing taken, nothing received ----
    thief = Peer(c, pub2, sec2, "node-1", "node-1")
    check(not thief.hello(), "a connection with node-2's key that says HELLO as node-1 is not welcomed")
    thief.hello()  # twice: logged once
    rc, out, err = c.hv("server", "create", "vm-1", "--host", "node-1", "--flavor-spec", FLAVOR,
                        "--image", "cirros", "--admin-pass", SECRET, "--wait", "-f", "json")
    check(rc == 0 and json.loads(out)["vm_state"] == "active",
          "node-1 still gets its spawn while another key connects with its routing id")
    vm = c.show("vm-1")
    check(vm["host"] == "node-1", "the server is on node-1")
    thief.drain(2)
    commands = [(t, h) for t, h, _ in thief.got if t == "COMMAND"]
    check(not commands, "the connection with node-2's key receives none of node-1's commands")
    check(not any(SECRET.encode() in b for _, _, b in thief.got),
          "and never sees node-1's admin password")
    rc, _, _ = c.hv("server", "stop", "vm-1", "--wait")
    check(rc == 0 and c.show("vm-1")["vm_state"] == "stopped",
          "a later command still reaches node-1 (not kept off the controller)")
    check(not [1 for t, _, _ in thief.drain(1) if t == "COMMAND"], "and still none reach node-2")
    log = open(c.path("hvcentral.log")).read()
    claims = [l for l in log.splitlines() if "host=node-2 claims host_id=node-1" in l]
    check(len(claims) == 1, "hvcentral logs the connection that claims node-1 with node-2's key, "
          "once (%d lines)" % len(claims))
    thief.close()

    # -- 2. node-2, properly connected, reports node-1's server: nothing changes --------------
    peer = Peer(c, pub2, sec2, "node-2", "node-2")
    check(peer.hello(), "node-2 says HELLO with its own identity and is welcomed")
    c.wait_host("node-2", "up", reported=False)
    before = c.show("vm-1")
    record = {"uuid": before["uuid"], "name": "vm-1", "hostname": "vm-1", "vm_state": "error",
              "task_state": None, "power_state": "crashed",
              "flavor": {"name": "x", "vcpus": 1, "ram_mb": 64, "root_gb": 1, "ephemeral_gb": 0,
                         "swap_mb": 0, "extra_specs": {}},
              "old_flavor": None, "image": {"id": "cirros", "format": "qcow2", "properties": {}},
              "ports": [], "metadata": {}, "config_drive": False, "launched_at_ms": 0,
              "updated_ms": int(time.time() * 1000), "fault": {"code": "x", "message": "x"}}
    host = {"hypervisor_hostname": "node-2", "hypervisor_type": "fake", "vcpus": 1,
            "vcpus_used": 0, "memory_mb": 64, "memory_mb_used": 0, "local_gb": 1,
            "local_gb_used": 0, "running_vms": 0}
    snap_seq = peer.seq + 1
    peer.send("SNAPSHOT", {"generation": 1, "host": host, "instances": [record], "more": False},
              seq=True)
    peer.send("DELTA", {"prev_seq": snap_seq, "generation": 2, "instances": [record],
                        "removed": [before["uuid"]]}, seq=True)
    peer.send("EVENT", {"event": "lifecycle", "uuid": before["uuid"], "transition": "stopped"},
              seq=True)
    peer.send("RESULT", {"cmd_id": str(uuid.uuid4()), "ok": True, "instance": record})
    peer.drain(2)
    after = c.show("vm-1")
    for k in ("host", "vm_state", "task_state", "power_state"):
        check(after.get(k) == before.get(k),
              "node-2's SNAPSHOT/DELTA/EVENT/RESULT leave node-1's server's %s as it was (%s)"
              % (k, before.get(k)))
    check("vm-1" in [s["name"] for s in c.hv_json("server", "list")],
          "node-1's server is still listed (its name is not freed)")
    log = open(c.path("hvcentral.log")).read()
    check(any("node-2" in l and before["uuid"] in l for l in log.splitlines()),
          "hvcentral logs the refused foreign record with the host and the uuid")
    peer.close()
    rc, _, _ = c.hv("server", "start", "vm-1", "--wait")
    check(rc == 0 and c.show("vm-1")["vm_state"] == "active", "node-1 still drives its server")


if __name__ == "__main__":
    harness.run(main)
