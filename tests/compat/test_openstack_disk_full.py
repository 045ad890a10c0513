#!/usr/bin/python3
"""The OpenStack-compatible API on a full disk: a reply leaves only once the change it
reports is stored. With hvcentral's database unable to grow, a server create is answered
503 serviceUnavailable (the database named, nothing changed) and leaves no trace; reads go
on; with room again creates work without a restart, and after kill -9 every server a 202
acknowledged is there. The state directory is a small tmpfs the test fills (needs root)."""
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
import harness  # noqa: E402
from harness import check  # noqa: E402

import test_openstack  # noqa: E402


def fill(path):
    with open(path, "wb", buffering=0) as f:
        chunk = b"\0" * 65536
        while True:
            try:
                f.write(chunk)
            except OSError:
                if len(chunk) == 1:
                    return
                chunk = chunk[: len(chunk) // 2]


def main():
    if os.geteuid() != 0:
        print("SKIP: needs root to mount a tmpfs under hvcentral's state directory")
        sys.exit(77)
    c = harness.Cluster()
    state = c.path("central")
    os.makedirs(state)
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m,mode=0700", "tmpfs",
                       state]).returncode:
        print("SKIP: cannot mount a tmpfs here")
        sys.exit(77)
    try:
        run(c, state)
    finally:
        c.stop_all(keep_logs=True)
        subprocess.run(["umount", "-l", state])


def create(cl, token, name):
    return cl.http("POST", "/compute/v2.1/servers", token, body={"server": {
        "name": name, "imageRef": "cirros", "flavorRef": "1"}})


def names(cl, token):
    status, _, body = cl.http("GET", "/compute/v2.1/servers", token)
    check(status == 200, "servers are listed (%d)" % status)
    return {s["name"] for s in body["servers"]}


def run(c, state):
    port = harness.free_port()
    conf = "[openstack]\nlisten = 127.0.0.1:%d\n" % port
    c.start_central(conf_extra=conf)
    c.allow("node-1")
    c.start_agent("node-1")
    c.wait_host("node-1", "up")
    c.catalog_image()  # the API boots the catalog's images only
    c.user("alice", "admin", "admin", "alice-pass-1")
    cl = test_openstack.Cloud(c, "http://127.0.0.1:%d" % port, None)
    token = cl.token("alice", "alice-pass-1", "admin")
    status, _, _ = create(cl, token, "before")
    check(status == 202, "a server is created while the disk has room (%d)" % status)

    filler = os.path.join(state, "filler")
    fill(filler)
    acked, refused = [], []
    for i in range(40):
        status, headers, body = create(cl, token, "full-%d" % i)
        if status == 202:
            acked.append("full-%d" % i)
        else:
            refused.append((status, headers, body))
        if len(refused) >= 3:
            break
    check(refused, "with the disk full a create is refused (%d acknowledged first)" % len(acked))
    status, headers, body = refused[0]
    message = json.dumps(body)
    check(status == 503 and "serviceUnavailable" in body and "nothing was changed" in message
          and os.path.join(state, "hvcentral.db") in message and
          headers["x-openstack-request-id"].startswith("req-"),
          "the refusal is 503 serviceUnavailable naming the database (%s)" % message[:300])
    listed = names(cl, token)
    check("before" in listed and not any(n.startswith("full-") and n not in acked
                                         for n in listed),
          "reads go on, and no refused server is listed")

    os.unlink(filler)
    status, _, _ = create(cl, token, "after")
    check(status == 202, "with room again, a create works without a restart (%d)" % status)

    c.kill("hvcentral")
    c.start_central(conf_extra=conf)
    listed = names(cl, token)
    for n in ["before", "after"] + acked:
        check(n in listed, "after kill -9, the acknowledged %s is there" % n)


harness.run(main)
