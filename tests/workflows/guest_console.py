"""A real guest's VNC console through hvcentral's proxy. Run by run_guest.sh --private.

The tiny guest boots under QEMU with VNC graphics (the libvirt driver's vnc_listen);
os-getVNCConsole answers a noVNC URL whose token opens a websocket to QEMU's VNC server:
its first 12 bytes are the RFB greeting "RFB 003.008\\n", and the token works once.
QEMU listens inside the private daemon's network namespace, so hvcentral runs there too
(nsenter), and so does the client part of this test (guest_console.py client ...)."""
import json
import os
import re
import subprocess
import sys
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "compat"))

FLAVOR = "vcpus=1,ram=256,disk=1"


def client(port, server):
    """In the daemon's namespace: a console URL, then the websocket's first bytes."""
    import test_console  # noqa: E402 the websocket client written from the RFC
    url = "http://127.0.0.1:%d" % port
    auth = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": "alice", "domain": {"name": "Default"}, "password": "alice-pass-1"}}},
        "scope": {"project": {"name": "admin", "domain": {"name": "Default"}}}}}
    req = urllib.request.Request(url + "/identity/v3/auth/tokens", json.dumps(auth).encode(),
                                 {"Content-Type": "application/json"})
    token = urllib.request.urlopen(req, timeout=10).headers["X-Subject-Token"]
    req = urllib.request.Request(url + "/compute/v2.1/servers/%s/action" % server,
                                 json.dumps({"os-getVNCConsole": {"type": "novnc"}}).encode(),
                                 {"Content-Type": "application/json", "X-Auth-Token": token})
    console = json.load(urllib.request.urlopen(req, timeout=120))["console"]
    tok = test_console.token_of(console["url"])
    ws = test_console.WebSocket(port, "/?token=" + tok)
    first = ws.recv_data(12) if ws.status == 101 else b""
    ws.s.close()
    again = test_console.WebSocket(port, "/?token=" + tok)
    print(json.dumps({"url": console["url"], "status": ws.status, "first": first.decode(
        "latin-1"), "again": again.status}))


def main():
    import wf
    from wf import check, hv_ok, states
    c = wf.LibvirtCluster()
    port = wf.harness.free_port()
    ns = "--net=/proc/%s/ns/net" % open(os.path.join(wf.ENV["DIR"], "ns.pid")).read().strip()
    saved = wf.harness.WRAPPER
    wf.harness.WRAPPER = ["nsenter", ns] + saved
    try:
        c.start_central(conf_extra="[openstack]\nlisten = 127.0.0.1:%d\n" % port)
    finally:
        wf.harness.WRAPPER = saved
    c.allow("node-1")
    c.start_agent("node-1")
    c.wait_host("node-1", "up", timeout=60)
    c.user("alice", "admin", "admin", "alice-pass-1")
    c.import_image("tiny", os.path.join(wf.ENV["DIR"], "data.qcow2"), wf.guest_properties())
    out = hv_ok(c, "server", "create", "vnc-1", "--host", "node-1", "--flavor-spec", FLAVOR,
                *c.image_args("tiny"), "--wait", "-f", "json")
    uuid = json.loads(out)["uuid"]
    check(states(c, "vnc-1") == ("active", None, "running"), "vnc-1 is active/running")
    xml = c.virsh("dumpxml", "instance-" + uuid) or c.virsh("dumpxml", uuid)
    check(re.search(r"<graphics type=.vnc.", xml), "the domain has VNC graphics")
    r = subprocess.run(["nsenter", ns, "/usr/bin/python3", os.path.abspath(__file__), "client",
                        str(port), uuid], capture_output=True, text=True, timeout=300)
    check(r.returncode == 0, "the client ran in the daemon's namespace (%s)" %
          r.stderr.strip()[-300:])
    got = json.loads(r.stdout.strip().splitlines()[-1])
    print("# %s" % got)
    check("vnc_auto.html?path=%3Ftoken%3D" in got["url"], "os-getVNCConsole answers a noVNC URL")
    check(got["status"] == 101 and got["first"] == "RFB 003.008\n",
          "through the proxy, QEMU's VNC server greets with RFB 003.008 (%r)" % got["first"])
    check(got["again"] == 401, "the token does not open a second connection (%d)" %
          got["again"])
    hv_ok(c, "server", "delete", "vnc-1", "--wait")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "client":
        client(int(sys.argv[2]), sys.argv[3])
    else:
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        import wf
        wf.harness.run(main)
