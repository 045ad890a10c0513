#!/usr/bin/python3
"""The guest agent through hvcentral + hvagent + hv, on the distribution's libvirtd as shipped:
a guest running Debian's qemu-ga (tests/libvirt/qgaguest.sh) from an image with
hw_qemu_guest_agent=yes and os_require_quiesce=yes.
  - `hv server set-password`: the guest's /etc/shadow gets a hash that verifies against the
    password; the password is in no log, journal, database or console of the run.
  - `hv server snapshot`: the guest froze (FREEZE, THAW) around the cut, live (never paused),
    and a server booted from the snapshot reads the file written just before it.
  - an image without the agent: set-password fails not_supported.
Run by run_guest.sh."""
import crypt
import json
import os
import secrets
import subprocess
import sys

import wf
from wf import check, hv_ok, states

HERE = os.path.dirname(os.path.abspath(__file__))
QGAGUEST = os.path.join(HERE, "..", "libvirt", "qgaguest.sh")
FLAVOR = "vcpus=1,ram=256,disk=1"
CMDLINE = "console=ttyS0 quiet panic=-1 printk.devkmsg=on hvqga=1"
PASSWORD = "Qga-" + secrets.token_hex(8)


def build_guest():
    d = os.path.join(wf.ENV["DIR"], "qga")
    os.makedirs(d)
    os.chmod(d, 0o711)
    r = subprocess.run([QGAGUEST, "initramfs", d], capture_output=True, text=True)
    if r.returncode == 77:
        print("SKIP: " + r.stderr.strip())
        sys.exit(77)
    check(r.returncode == 0, "qgaguest.sh initramfs (%s)" % r.stderr.strip()[-300:])
    subprocess.run(["rm", "-rf", os.path.join(d, "initramfs")], check=True)
    subprocess.run([QGAGUEST, "datadisk", os.path.join(d, "data.raw"), "64"], check=True)
    return r.stdout.strip().splitlines()[-1], os.path.join(d, "initrd.img"), os.path.join(d, "data.raw")


def image_args(image_id, props, fmt):
    args = ["--image", image_id, "--image-format", fmt]
    for k, v in props.items():
        args += ["--image-property", "%s=%s" % (k, v)]
    return args


def agent_cmd(c, uuid, cmd):
    r = subprocess.run(["virsh", "-q", "-c", wf.ENV["URI"], "qemu-agent-command", "--timeout", "10",
                        "instance-" + uuid, json.dumps(cmd)], capture_output=True, text=True)
    return r.returncode == 0


def files_holding(text, roots):
    r = subprocess.run(["grep", "-rlF", "--", text] + [p for p in roots if os.path.exists(p)],
                       capture_output=True, text=True)
    return r.stdout.split()


def main():
    kernel, initrd, data = build_guest()
    props = {"kernel": kernel, "initrd": initrd, "os_command_line": CMDLINE,
             "hw_qemu_guest_agent": "yes", "os_require_quiesce": "yes"}
    c = wf.LibvirtCluster()
    c.start_central()
    c.allow("node-1")
    c.start_agent("node-1")
    c.wait_host("node-1", "up", timeout=60)
    c.import_image("qga", data, props, fmt="raw")
    fmt = (c.store_record("qga") or {}).get("format", "qcow2")

    out = hv_ok(c, "server", "create", "qga-1", "--host", "node-1", "--flavor-spec", FLAVOR,
                *image_args("qga", props, fmt), "--wait", "-f", "json")
    uuid = json.loads(out)["uuid"]
    c.wait_lines("qga-1", "HVGUEST-QGA port=", 1)
    c.wait_lines("qga-1", "HVGUEST-TICK", 1)
    wf.wait_for("qemu-ga answers", lambda: agent_cmd(c, uuid, {"execute": "guest-ping"}), 60)

    # set-password
    before = len(c.lines("qga-1", "HVGUEST-SHADOW root:"))
    hv_ok(c, "server", "set-password", "qga-1", "--password", PASSWORD, "--wait")
    check(states(c, "qga-1") == ("active", None, "running"), "qga-1 is active/running")
    shadow = c.wait_lines("qga-1", "HVGUEST-SHADOW root:", before + 1, 60)[-1].split(":", 1)[1]
    print("# the guest's /etc/shadow: root:%s" % shadow)
    check(shadow.startswith("$6$"), "a SHA-512 crypt hash")
    check(crypt.crypt(PASSWORD, shadow) == shadow, "it verifies against the password given")
    check(crypt.crypt(PASSWORD + "x", shadow) != shadow, "and not against another")
    leaks = files_holding(PASSWORD, [c.dir, wf.ENV["DIR"], "/var/log/libvirt"])
    check(leaks == [], "no log, journal, database or console holds the password: %s" % leaks)

    # a quiesced live snapshot; the file written just before it (never synced) is in it
    nonce = "wf-" + secrets.token_hex(6)
    check(agent_cmd(c, uuid, {"execute": "guest-exec", "arguments": {
        "path": "/bin/sh", "arg": ["-c", "echo %s >/data/marker && echo '<2>HVGUEST-WROTE %s' "
                                   ">/dev/kmsg" % (nonce, nonce)]}}), "guest-exec")
    c.wait_lines("qga-1", "HVGUEST-WROTE " + nonce, 1, 30)
    out = hv_ok(c, "server", "snapshot", "qga-1", "qga snap", "--wait", "-f", "json")
    snap = json.loads(out)["id"]
    check(states(c, "qga-1") == ("active", None, "running"), "the snapshot leaves qga-1 running")
    with open(os.path.join(c.instances, uuid, "snapshot.log")) as f:
        log = f.read()
    print("# snapshot.log:\n" + log.strip())
    check("method=live result=ok" in log and " paused\n" not in log,
          "a live snapshot: the guest was never paused")
    check(c.lines("qga-1", "HVGUEST-FREEZE") and c.lines("qga-1", "HVGUEST-THAW"),
          "the guest froze and thawed")
    # the catalog takes the snapshot's data from the host after the command is done
    wf.wait_for("the snapshot image is active",
                lambda: c.hv_json("image", "show", snap).get("status") == "active", 120, 1.0)
    snap_fmt = (c.store_record(snap) or {}).get("format", "qcow2")
    hv_ok(c, "server", "create", "qga-2", "--host", "node-1", "--flavor-spec", FLAVOR,
          *image_args(snap, {k: v for k, v in props.items() if not k.startswith(("hw_", "os_r"))},
                      snap_fmt), "--wait")
    c.wait_lines("qga-2", "HVGUEST-DATA " + nonce, 1)
    print("# qga-2 booted from the snapshot and read %s" % nonce)
    rc, out, err = c.hv("server", "set-password", "qga-2", "--password", PASSWORD + "2", "--wait")
    print("# set-password on a server without the agent: %d %s" % (rc, (out + err).strip()))
    check(rc != 0 and "not_supported" in out + err, "not_supported without a guest agent")
    check(states(c, "qga-2") == ("active", None, "running"), "qga-2 is still active/running")
    for name in ("qga-1", "qga-2"):
        hv_ok(c, "server", "delete", name, "--wait")


wf.harness.run(main)
