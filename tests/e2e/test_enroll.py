#!/usr/bin/python3
"""Enrollment and identity: an agent whose key is not allowed is refused and listed as
pending; `hv host accept` lets it in. Messages only count when the key's host and the header
host_id agree, whatever routing id the peer chose (checked with a hand-made pyzmq agent)."""
import json
import os
import time
import uuid

import harness
from harness import check

zmq = harness.need_module("zmq", "python3-zmq")  # the identity checks are a raw pyzmq agent


def pending(c):
    return [h for h in c.hv_json("host", "list") if h["state"] == "pending"]


def hello(c, public, secret, routing_id, host_id):
    """Sends HELLO as a raw HVA/1 client; returns the reply frames or None."""
    ctx = zmq.Context.instance()
    s = ctx.socket(zmq.DEALER)
    s.curve_serverkey = c.server_key.encode()
    s.curve_publickey = public
    s.curve_secretkey = secret
    s.setsockopt(zmq.ROUTING_ID, routing_id.encode())
    s.linger = 0
    s.connect(c.agent_ep)
    hdr = {"msg_id": str(uuid.uuid4()), "host_id": host_id, "boot_id": str(uuid.uuid4()),
           "ts_ms": int(time.time() * 1000), "schema": 1}
    s.send_multipart([b"HVA1", b"HELLO", json.dumps(hdr).encode(),
                      json.dumps({"agent_version": "test", "schemas": [1]}).encode()])
    got = s.recv_multipart() if s.poll(3000) else None
    s.close()
    return got


def main():
    c = harness.Cluster(transport="tcp")
    c.start_central()

    key1 = c.agent_key("node-1")
    c.start_agent("node-1")
    harness.wait_for("a pending key", lambda: any(p["public_key"] == key1 for p in pending(c)))
    p = [p for p in pending(c) if p["public_key"] == key1][0]
    check(p["address"] == "127.0.0.1", "an unknown agent key shows as pending with its address")
    check(c.host_state("node-1") is None, "and its host is not listed as a host")
    rc, _, err = c.hv("server", "create", "vm", "--host", "node-1", "--flavor-spec",
                      "vcpus=1,ram=64,disk=1", "--image", "cirros")
    check(rc == 1, "a refused agent's host takes no server")

    rc, _, err = c.hv("host", "accept", "127.0.0.1", "--name", "../etc")
    check(rc == 1 and "name" in err, "a host name with a path in it is refused naming the name")
    rc, out, err = c.hv("host", "accept", "127.0.0.1", "--name", "node-1", "-f", "json")
    check(rc == 0 and json.loads(out)["public_key"] == key1, "hv host accept ADDRESS allows the pending key")
    check(open(c.path("central", "agents", "node-1.pub")).read().strip() == key1,
          "the key is written to the allowlist as node-1.pub")
    c.wait_host("node-1", "up")
    check(True, "the accepted agent comes up")
    check(not any(p["public_key"] == key1 for p in pending(c)), "and is no longer pending")

    key2 = c.agent_key("node-2")
    c.start_agent("node-2")
    harness.wait_for("node-2 pending", lambda: any(p["public_key"] == key2 for p in pending(c)))
    rc, _, err = c.hv("host", "accept", "--name", "node-2", "--", key2[:12])
    check(rc == 0, "a key prefix is enough to accept (%s)" % err.strip())
    c.wait_host("node-2", "up")
    rc, _, err = c.hv("host", "accept", "--name", "node-3", "--", key2)
    check(rc == 1 and "node-2" in err, "one key cannot be allowed as two hosts")

    pub, sec = zmq.curve_keypair()
    with open(c.path("central", "agents", "spy.pub"), "w") as f:
        f.write(pub.decode() + "\n")
    got = hello(c, pub, sec, "spy", "spy")
    check(got is not None and got[1] == b"WELCOME", "an allowed key speaking as its own host is welcomed")
    check(hello(c, pub, sec, "spy", "node-1") is None,
          "the same key claiming host_id node-1 in the header is dropped")
    check(hello(c, pub, sec, "node-1", "node-1") is None,
          "the same key using node-1's routing id (and host id) is dropped")
    upub, usec = zmq.curve_keypair()
    check(hello(c, upub, usec, "node-9", "node-9") is None, "an unknown key delivers nothing")
    check(any(p["public_key"] == upub.decode() for p in pending(c)), "and is recorded as pending")
    check(c.host_state("node-1") == "up", "node-1 is unaffected")
    log = open(c.path("hvcentral.log")).read()
    check("the key of host=spy claims host_id=node-1" in log,
          "hvcentral logs the dropped impersonation, naming the key's host and the claimed one")


harness.run(main)
