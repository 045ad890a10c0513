#!/usr/bin/python3
"""Images as the host's image store has them, through hv: the format the store recorded must
be the one given (--image-format), a snapshot becomes a stored image a new server boots
from, and --project reaches the host."""
import json
import os

import harness
from harness import check

FLAVOR = "vcpus=1,ram=64,disk=1"


def main():
    c = harness.Cluster()
    c.start_central()
    c.allow("node-1")
    c.import_raw_image("node-1", "tiny")
    c.start_agent("node-1")
    c.wait_host("node-1", "up")

    rc, _, err = c.hv("server", "create", "wrong", "--host", "node-1", "--flavor-spec", FLAVOR,
                      "--image", "tiny", "--wait")
    s = c.show("wrong")
    check(rc == 1 and s["vm_state"] == "error" and "recorded as 'raw'" in (s["fault"] or ""),
          "a stored raw image asked for as qcow2 (the default) is refused, the server in error")
    proj = c.hv_json("project", "create", "proj-1")["id"]
    rc, _, err = c.hv("server", "create", "web-1", "--host", "node-1", "--flavor-spec", FLAVOR,
                      "--image", "tiny", "--image-format", "raw", "--project", "proj-1", "--wait")
    check(rc == 0 and c.show("web-1")["vm_state"] == "active",
          "with --image-format raw (and --project) it boots (%s)" % err.strip())
    state = c.path("agent-node-1")
    journaled = [n for n in os.listdir(state) if os.path.isfile(os.path.join(state, n)) and
                 b'"project_id":"%s"' % proj.encode() in open(os.path.join(state, n), "rb").read()]
    check(journaled, "the host journaled the spawn with project_id from --project")

    rc, out, err = c.hv("server", "snapshot", "web-1", "snap", "--wait", "-f", "json")
    check(rc == 0, "snapshot --wait succeeds (%s)" % err.strip())
    img = json.loads(out)
    with open(c.path("images", img["id"] + ".json")) as f:
        side = json.load(f)
    check(side["format"] == "qcow2" and side["properties"].get("base_image_ref") == "tiny" and
          side["properties"].get("image_type") == "snapshot",
          "the snapshot is a qcow2 image in the host's store, recording its base image")
    rc, _, err = c.hv("server", "create", "web-2", "--host", "node-1", "--flavor-spec", FLAVOR,
                      "--image", img["id"], "--wait")
    check(rc == 0 and c.show("web-2")["vm_state"] == "active",
          "a new server boots from the snapshot (%s)" % err.strip())


harness.run(main)
