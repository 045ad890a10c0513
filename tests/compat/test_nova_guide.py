#!/usr/bin/python3
"""The guide's own nova commands, as it prints them, with Debian's novaclient against
hvcentral: `nova image-create SERVER NAME` (a snapshot that joins the catalog), `nova rescue
--rescue_image_ref IMAGE SERVER` and `nova unrescue SERVER` (section 2.8), and `nova
host-evacuate --target HOST HOST` (2.6: every server of a host that is down, onto the
target). Each is checked by the client's exit code and output and by hvcentral's records."""
import os
import signal
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
import harness  # noqa: E402
from harness import check  # noqa: E402


def nova(url, *args):
    env = {"OS_AUTH_URL": url + "/identity/v3", "OS_USERNAME": "alice",
           "OS_PASSWORD": "alice-pass-1", "OS_PROJECT_NAME": "admin",
           "OS_USER_DOMAIN_NAME": "Default", "OS_PROJECT_DOMAIN_NAME": "Default"}
    r = subprocess.run(["nova"] + list(args), env=dict(os.environ, **env), capture_output=True,
                       text=True, timeout=120 * harness.slow())
    return r.returncode, r.stdout, r.stderr


def main():
    if not os.path.exists("/usr/bin/nova"):
        print("skipped: /usr/bin/nova is not installed (Debian package python3-novaclient)")
        raise SystemExit(harness.SKIP)
    c = harness.Cluster(suspect_after=2, down_after=4)
    port = harness.free_port()
    c.start_central(conf_extra="[openstack]\nlisten = 127.0.0.1:%d\n" % port)
    for h in ("node-1", "node-2", "node-3"):
        c.allow(h)
        c.start_agent(h)
    for h in ("node-1", "node-2", "node-3"):
        c.wait_host(h, "up")
    c.user("alice", "admin", "admin", "alice-pass-1")
    url = "http://127.0.0.1:%d" % port
    raw = c.path("rescue.raw")
    with open(raw, "wb") as f:
        f.write(b"\0" * 65536)
    rc, _, err = c.hv("image", "create", "rescue-img", "--file", raw, "--disk-format", "raw",
                      "--public")
    check(rc == 0, "a catalog image to rescue with (%s)" % err.strip())
    for name, host in (("vm-r", "node-2"), ("vm-h1", "node-1"), ("vm-h2", "node-1")):
        rc, _, err = c.hv("server", "create", name, "--host", host, "--flavor", "m1.tiny",
                          "--image", "cirros", "--no-admin-pass", "--wait")
        check(rc == 0, "%s is created on %s (%s)" % (name, host, err.strip()))

    # 2.7: nova image-create SERVER NAME
    rc, out, err = nova(url, "image-create", "--poll", "vm-r", "vm-r-snap")
    check(rc == 0, "nova image-create --poll vm-r vm-r-snap succeeds (%s)" %
          err.strip()[-200:])
    snap = [i for i in c.hv_json("image", "list") if i["name"] == "vm-r-snap"]
    props = snap[0].get("properties", {}) if snap else {}
    check(len(snap) == 1 and snap[0]["status"] == "active" and
          snap[0].get("image_type", props.get("image_type")) == "snapshot",
          "the snapshot is active in the catalog, of image_type snapshot (%s)" % snap)

    # 2.8: nova rescue --rescue_image_ref IMAGE SERVER, then nova unrescue SERVER
    rc, out, err = nova(url, "rescue", "--image", "rescue-img", "vm-r")
    check(rc == 0, "nova rescue --image rescue-img vm-r succeeds (%s)" % err.strip()[-200:])
    harness.wait_for("vm-r rescued", lambda: c.show("vm-r")["vm_state"] == "rescued",
                     timeout=30)
    rc, out, err = nova(url, "show", "vm-r")
    check(rc == 0 and "RESCUE" in out, "nova show vm-r says RESCUE")
    rc, out, err = nova(url, "unrescue", "vm-r")
    check(rc == 0, "nova unrescue vm-r succeeds (%s)" % err.strip()[-200:])
    harness.wait_for("vm-r active again", lambda: c.show("vm-r")["vm_state"] == "active",
                     timeout=30)
    check(True, "vm-r is active again")

    # 2.6: nova host-evacuate --target node-3 node-1, once node-1 is down
    rc, out, err = nova(url, "host-evacuate", "--target_host", "node-3", "node-1")
    check(rc == 0 and "False" in out and "not down" in out,
          "while node-1 is up each of its servers is refused, said per server (%s)" %
          (out.strip()[-300:] or err.strip()[-200:]))
    c.procs["agent-node-1"].send_signal(signal.SIGSTOP)
    try:
        c.wait_host("node-1", "down", timeout=30)
        rc, out, err = nova(url, "host-evacuate", "--target_host", "node-3", "node-1")
        check(rc == 0 and out.count("True") == 2,
              "nova host-evacuate --target_host node-3 node-1 accepts both servers (%s)" %
              (out.strip()[-400:] or err.strip()[-200:]))
        harness.wait_for("both servers active on node-3", lambda: all(
            c.show(n)["vm_state"] == "active" and c.show(n)["host"] == "node-3"
            for n in ("vm-h1", "vm-h2")), timeout=60)
        check(True, "vm-h1 and vm-h2 are active on node-3")
    finally:
        c.procs["agent-node-1"].send_signal(signal.SIGCONT)


if __name__ == "__main__":
    harness.run(main)
