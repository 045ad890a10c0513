#!/usr/bin/python3
"""A console lives as long as its server on its host, and hv prints the proxy's URL:
`hv server console vm-1` prints the same noVNC URL `openstack console url show --novnc`
gives (--type serial the ws:// one, -f json as JSON), and its token opens the console;
deleting a server closes its open console websocket and refuses its unused token (401);
evacuating a server to another host does the same for the consoles of its old host."""
import json
import os
import re
import signal
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import check  # noqa: E402
from test_console import GREETING, WebSocket, client, console_listener, token_of  # noqa: E402


def closed_within(ws, seconds):
    """The close code the proxy sent, or 0 for a bare end of stream, once the server stopped
    the stream; None when it is still open after seconds (data frames are read past)."""
    ws.s.settimeout(seconds)
    deadline = time.time() + seconds
    try:
        while time.time() < deadline:
            op, payload = ws.recv()
            if op == 0x8:
                return int.from_bytes(payload[:2], "big") if len(payload) >= 2 else 0
    except EOFError:
        return 0
    except OSError:  # the timeout: still open
        return None
    return None


def opened(port, url):
    """A websocket opened with url's token, its greeting read: the console is live."""
    ws = WebSocket(port, "/?token=" + token_of(url))
    check(ws.status == 101, "the token of %s opens the websocket: 101 (%d)" % (url, ws.status))
    got = ws.recv_data(len(GREETING))
    check(got == GREETING, "and the console greets through it (%r)" % got)
    return ws


def main():
    if not os.path.exists("/usr/bin/openstack"):
        print("skipped: /usr/bin/openstack is not installed (scripts/deps.sh)")
        raise SystemExit(harness.SKIP)
    cport = console_listener()
    c = harness.Cluster(suspect_after=2, down_after=4)
    port = harness.free_port()
    c.start_central(conf_extra="[openstack]\nlisten = 127.0.0.1:%d\n" % port)
    for h in ("node-1", "node-2"):
        c.allow(h)
        c.start_agent(h, fake="console_addr = 127.0.0.1:%d\n" % cport)
    for h in ("node-1", "node-2"):
        c.wait_host(h, "up")
    c.user("alice", "admin", "admin", "alice-pass-1")
    url = "http://127.0.0.1:%d" % port
    alice = (c, url, "alice", "alice-pass-1", "admin")
    for name in ("vm-1", "vm-2"):
        rc, _, err = c.hv("server", "create", name, "--host", "node-1", "--flavor", "m1.tiny",
                          "--image", "cirros", "--no-admin-pass", "--wait")
        check(rc == 0, "%s is created on node-1 (%s)" % (name, err.strip()))

    # hv server console: the proxy's URL, as openstack console url show prints it
    rc, osc, err = client(*alice, "openstack", "console", "url", "show", "--novnc", "vm-1",
                          "-f", "value", "-c", "url")
    check(rc == 0 and token_of(osc), "openstack console url show --novnc vm-1 (%s)" %
          (err.strip()[-200:] or osc.strip()))
    rc, out, err = c.hv("server", "console", "vm-1")
    m = re.search(r"(http://127\.0\.0\.1:%d/vnc_auto\.html\?path=%%3Ftoken%%3D[A-Za-z0-9_-]+)"
                  % port, out)
    check(rc == 0 and m and "novnc" in out,
          "hv server console vm-1 prints a noVNC URL of the proxy, type novnc (%s)" %
          (err.strip() or out.strip()))
    check(m.group(1).split("%3D")[0] == osc.strip().split("%3D")[0],
          "the same URL as openstack's but for its token (%s / %s)" % (m.group(1),
                                                                        osc.strip()))
    opened(port, m.group(1)).s.close()
    rc, out, err = c.hv("server", "console", "vm-1", "--type", "serial", "-f", "json")
    doc = json.loads(out) if rc == 0 else {}
    check(doc.get("type") == "serial" and
          re.match(r"ws://127\.0\.0\.1:%d/\?token=[A-Za-z0-9_-]+$" % port, doc.get("url", "")),
          "hv server console --type serial -f json gives {type: serial, url: ws://...} (%s)" %
          (err.strip() or out.strip()))
    check("host" not in doc and "port" not in doc,
          "and not the host's own endpoint, which only the proxy reaches (%s)" % sorted(doc))
    opened(port, doc["url"]).s.close()
    rc, out, err = c.hv("server", "console", "vm-1", "--type", "spice")
    check(rc == 2 and "--type" in err and "novnc or serial" in err,
          "--type spice is refused naming --type (%d %s)" % (rc, err.strip()))

    # a delete ends the server's consoles: the open one is closed, the unused token refused
    live = opened(port, c.hv_json("server", "console", "vm-1")["url"])
    unused = c.hv_json("server", "console", "vm-1")["url"]
    check(closed_within(live, 1.5) is None, "the console stays open while its server lives")
    rc, _, err = c.hv("server", "delete", "vm-1", "--wait")
    check(rc == 0, "vm-1 is deleted (%s)" % err.strip())
    code = closed_within(live, 5)
    check(code is not None, "the delete closed vm-1's open console websocket (code %s)" % code)
    live.s.close()
    late = WebSocket(port, "/?token=" + token_of(unused))
    check(late.status == 401, "vm-1's unused token is refused after the delete: 401 (%d)" %
          late.status)
    late.s.close()

    # an evacuation moves the server: the consoles of its old host end
    live = opened(port, c.hv_json("server", "console", "vm-2")["url"])
    unused = c.hv_json("server", "console", "vm-2")["url"]
    c.procs["agent-node-1"].send_signal(signal.SIGSTOP)
    try:
        c.wait_host("node-1", "down", timeout=30)
        rc, _, err = c.hv("server", "evacuate", "vm-2", "--host", "node-2", "--no-admin-pass")
        check(rc == 0, "vm-2 is evacuated to node-2 (%s)" % err.strip())
        code = closed_within(live, 5)
        check(code is not None, "the evacuation closed vm-2's console on node-1 (code %s)" %
              code)
        live.s.close()
        late = WebSocket(port, "/?token=" + token_of(unused))
        check(late.status == 401, "a token issued for node-1's console is refused: 401 (%d)"
              % late.status)
        late.s.close()
        harness.wait_for("vm-2 active on node-2", lambda: c.show("vm-2")["vm_state"] ==
                         "active" and c.show("vm-2")["host"] == "node-2", timeout=60)
        opened(port, c.hv_json("server", "console", "vm-2")["url"]).s.close()
    finally:
        c.procs["agent-node-1"].send_signal(signal.SIGCONT)


if __name__ == "__main__":
    harness.run(main)
