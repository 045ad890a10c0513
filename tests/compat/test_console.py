#!/usr/bin/python3
"""Remote consoles as the guide prints them: `nova get-vnc-console SERVER novnc`, `nova
get-serial-console SERVER` and `openstack console url show --novnc/--serial SERVER` print a
URL of hvcentral's proxy; its noVNC page loads; a websocket client opening the URL's token
reaches the guest's console (the fake host points it at a TCP listener this test runs, which
greets like a VNC server and echoes); a token is single-use and expires; another project's
member gets no console (404); a stopped server none (409); a type not served 400."""
import base64
import hashlib
import json
import os
import re
import socket
import struct
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
import harness  # noqa: E402
from harness import check  # noqa: E402

GREETING = b"RFB 003.008\n"
TTL = 6


def console_listener():
    """A TCP console on 127.0.0.1: greets each connection, then echoes what it gets."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)

    def serve(conn):
        with conn:
            conn.sendall(GREETING)
            while True:
                data = conn.recv(65536)
                if not data:
                    return
                conn.sendall(data)

    def accept():
        while True:
            conn, _ = srv.accept()
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    return srv.getsockname()[1]


def client(c, url, user, password, project, prog, *args):
    env = {"OS_AUTH_URL": url + "/identity/v3", "OS_USERNAME": user, "OS_PASSWORD": password,
           "OS_PROJECT_NAME": project, "OS_USER_DOMAIN_NAME": "Default",
           "OS_PROJECT_DOMAIN_NAME": "Default"}
    r = subprocess.run([prog] + list(args), env=dict(os.environ, **env), capture_output=True,
                       text=True, timeout=120 * harness.slow())
    return r.returncode, r.stdout, r.stderr


class WebSocket:
    """A websocket client written from RFC 6455: handshake, masked frames out."""

    def __init__(self, port, path, protocol="binary"):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=10)
        key = base64.b64encode(os.urandom(16)).decode()
        req = ("GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
               "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n"
               % (path, port, key))
        if protocol:
            req += "Sec-WebSocket-Protocol: %s\r\n" % protocol
        self.s.sendall((req + "\r\n").encode())
        head = b""
        while b"\r\n\r\n" not in head:
            b = self.s.recv(1)
            if not b:
                break
            head += b
        lines = head.decode().split("\r\n")
        self.status = int(lines[0].split()[1]) if lines[0] else 0
        self.headers = {k.strip().lower(): v.strip() for k, v in
                        (ln.split(":", 1) for ln in lines[1:] if ":" in ln)}
        want = base64.b64encode(hashlib.sha1(
            (key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest()).decode()
        self.accept_ok = self.headers.get("sec-websocket-accept") == want
        self.buf = b""

    def send(self, opcode, payload, fin=True):
        mask = os.urandom(4)
        n = len(payload)
        head = bytes([(0x80 if fin else 0) | opcode])
        if n < 126:
            head += bytes([0x80 | n])
        elif n < 65536:
            head += bytes([0x80 | 126]) + struct.pack(">H", n)
        else:
            head += bytes([0x80 | 127]) + struct.pack(">Q", n)
        self.s.sendall(head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))

    def _need(self, n):
        while len(self.buf) < n:
            b = self.s.recv(65536)
            if not b:
                raise EOFError("connection closed")
            self.buf += b
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def recv(self):
        """(opcode, payload) of the next frame from the server (never masked)."""
        b0, b1 = self._need(2)
        check(not b1 & 0x80, "the server's frames are not masked")
        n = b1 & 0x7f
        if n == 126:
            n = struct.unpack(">H", self._need(2))[0]
        elif n == 127:
            n = struct.unpack(">Q", self._need(8))[0]
        return b0 & 0x0f, self._need(n)

    def recv_data(self, n):
        data = b""
        while len(data) < n:
            op, p = self.recv()
            check(op == 2, "data arrives in binary frames (opcode %d)" % op)
            data += p
        return data


def post(url, who, path, body):
    """The status of an authenticated POST of body (JSON) at 2.6."""
    user, password, project = who
    auth = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": user, "domain": {"name": "Default"}, "password": password}}},
        "scope": {"project": {"name": project, "domain": {"name": "Default"}}}}}
    req = urllib.request.Request(url + "/identity/v3/auth/tokens", json.dumps(auth).encode(),
                                 {"Content-Type": "application/json"})
    token = urllib.request.urlopen(req, timeout=10).headers["X-Subject-Token"]
    req = urllib.request.Request(url + path, json.dumps(body).encode(), {
        "Content-Type": "application/json", "X-Auth-Token": token,
        "OpenStack-API-Version": "compute 2.6"})
    try:
        return urllib.request.urlopen(req, timeout=10).status
    except urllib.error.HTTPError as e:
        return e.code


def token_of(url):
    m = re.search(r"token(?:%3D|=)([A-Za-z0-9_-]+)", url)
    return m.group(1) if m else None


def main():
    for prog in ("/usr/bin/nova", "/usr/bin/openstack"):
        if not os.path.exists(prog):
            print("skipped: %s is not installed (scripts/deps.sh)" % prog)
            raise SystemExit(harness.SKIP)
    cport = console_listener()
    c = harness.Cluster()
    port = harness.free_port()
    pages = "/usr/share/novnc"
    conf = "[openstack]\nlisten = 127.0.0.1:%d\nconsole_token_ttl = %d\n" % (port, TTL)
    if not os.path.exists(os.path.join(pages, "vnc_auto.html")):  # Debian's novnc absent
        pages = c.path("novnc")
        os.makedirs(pages)
        with open(os.path.join(pages, "vnc_auto.html"), "w") as f:
            f.write("<html><title>noVNC</title></html>\n")
        conf += "novnc_dir = %s\n" % pages
    c.start_central(conf_extra=conf)
    c.allow("node-1")
    c.start_agent("node-1", fake="console_addr = 127.0.0.1:%d\n" % cport)
    c.wait_host("node-1", "up")
    rc, _, err = c.hv("project", "create", "demo")
    check(rc == 0, "project demo (%s)" % err.strip())
    c.user("alice", "admin", "admin", "alice-pass-1")
    c.user("carol", "demo", "member", "carol-pass-3")
    url = "http://127.0.0.1:%d" % port
    alice = (c, url, "alice", "alice-pass-1", "admin")
    carol = (c, url, "carol", "carol-pass-3", "demo")
    rc, _, err = c.hv("server", "create", "vm-1", "--host", "node-1", "--flavor", "m1.tiny",
                      "--image", "cirros", "--no-admin-pass", "--wait")
    check(rc == 0, "vm-1 is created (%s)" % err.strip())

    # nova get-vnc-console: the noVNC page's URL, whose page loads
    rc, out, err = client(*alice, "nova", "get-vnc-console", "vm-1", "novnc")
    m = re.search(r"(http://\S+/vnc_auto\.html\?path=%3Ftoken%3D[A-Za-z0-9_-]+)", out)
    check(rc == 0 and m, "nova get-vnc-console vm-1 novnc prints a noVNC URL (%s)" %
          (err.strip()[-200:] or out.strip()))
    page = urllib.request.urlopen(m.group(1), timeout=10)
    body = page.read()
    check(page.status == 200 and b"noVNC" in body and
          page.headers["Content-Type"].startswith("text/html"),
          "the URL's page is noVNC's (%d bytes from %s)" % (len(body), pages))
    tok = token_of(m.group(1))

    # the websocket the page opens (path ?token=...): the console's bytes, both ways
    ws = WebSocket(port, "/?token=" + tok)
    check(ws.status == 101 and ws.accept_ok and ws.headers.get("sec-websocket-protocol") ==
          "binary", "the token opens the websocket: 101, the RFC's accept key, subprotocol "
          "binary (%d %s)" % (ws.status, ws.headers))
    got = ws.recv_data(len(GREETING))
    check(got == GREETING, "the first 12 bytes are the console's greeting (%r)" % got)
    ws.send(0x2, b"hello ", fin=False)
    ws.send(0x9, b"are you there")
    frames = [ws.recv()]
    if frames[0][0] != 0xA:  # the first fragment's echo may come first
        frames.append(ws.recv())
    check((0xA, b"are you there") in frames, "a ping between fragments gets its pong")
    ws.send(0x0, b"console")
    big = os.urandom(70000)
    ws.send(0x2, big[:60000])
    got = b"".join(p for op, p in frames if op == 0x2)
    got += ws.recv_data(len(b"hello console") + 60000 - len(got))
    check(got == b"hello console" + big[:60000],
          "fragments and a 60000-byte frame reach the console and come back")
    ws.send(0x8, struct.pack(">H", 1000))
    op, p = ws.recv()
    check(op == 0x8, "a close is answered with a close")
    ws.s.close()

    again = WebSocket(port, "/?token=" + tok)
    check(again.status == 401, "a second use of the token is refused: 401 (%d)" % again.status)
    again.s.close()
    bad = WebSocket(port, "/?token=" + "A" * 43)
    check(bad.status == 401, "a made-up token is refused: 401 (%d)" % bad.status)
    bad.s.close()

    # an oversize frame ends the stream with 1009
    rc, out, err = client(*alice, "nova", "get-vnc-console", "vm-1", "novnc")
    ws = WebSocket(port, "/?token=" + token_of(out))
    ws.recv_data(len(GREETING))
    ws.send(0x2, big)
    op, p = ws.recv()
    check(op == 0x8 and p[:2] == struct.pack(">H", 1009),
          "a frame over 64 KiB closes the stream with 1009 (%d %r)" % (op, p[:2]))
    ws.s.close()

    # nova get-serial-console: a ws:// URL whose token opens the console
    rc, out, err = client(*alice, "nova", "get-serial-console", "vm-1")
    m = re.search(r"(ws://127\.0\.0\.1:%d/\?token=[A-Za-z0-9_-]+)" % port, out)
    check(rc == 0 and m, "nova get-serial-console vm-1 prints a ws:// URL (%s)" %
          (err.strip()[-200:] or out.strip()))
    ws = WebSocket(port, "/?token=" + token_of(m.group(1)), protocol=None)
    check(ws.status == 101 and "sec-websocket-protocol" not in ws.headers,
          "the serial URL opens without a subprotocol asked (%d)" % ws.status)
    check(ws.recv_data(len(GREETING)) == GREETING, "and the console's bytes arrive")
    ws.s.close()

    # openstack console url show, through the 2.1 actions and 2.6's remote-consoles
    for args in (("--novnc",), ("--serial",), ("--os-compute-api-version", "2.6", "--novnc")):
        pre = tuple(a for a in args if a.startswith("--os") or a == "2.6")
        kind = [a for a in args if a in ("--novnc", "--serial")][0]
        rc, out, err = client(*alice, "openstack", *pre, "console", "url", "show", kind,
                              "vm-1", "-f", "value", "-c", "url")
        want = "vnc_auto.html?path=%3Ftoken%3D" if kind == "--novnc" else "ws://"
        check(rc == 0 and want in out and token_of(out),
              "openstack %s console url show %s vm-1 prints a URL (%s)" %
              (" ".join(pre), kind, err.strip()[-200:] or out.strip()))

    # the token's time passes
    rc, out, err = client(*alice, "nova", "get-vnc-console", "vm-1", "novnc")
    tok = token_of(out)
    time.sleep(TTL + 1)
    late = WebSocket(port, "/?token=" + tok)
    check(late.status == 401, "a token used after %d s is refused: 401 (%d)" %
          (TTL, late.status))
    late.s.close()

    # another project's member, a type not served, a stopped server
    uuid = c.show("vm-1")["uuid"]
    rc, out, err = client(*carol, "nova", "get-vnc-console", uuid, "novnc")
    check(rc != 0 and "No server" in err, "nova tells another project's member the server "
          "does not exist (%s)" % err.strip()[-200:])
    status = post(url, ("carol", "carol-pass-3", "demo"), "/compute/v2.1/servers/%s/action" %
                  uuid, {"os-getVNCConsole": {"type": "novnc"}})
    check(status == 404, "and so does os-getVNCConsole: 404 (%d)" % status)
    status = post(url, ("carol", "carol-pass-3", "demo"), "/compute/v2.1/servers/%s/"
                  "remote-consoles" % uuid, {"remote_console": {"protocol": "vnc",
                                                                 "type": "novnc"}})
    check(status == 404, "and remote-consoles: 404 (%d)" % status)
    rc, out, err = client(*alice, "nova", "get-spice-console", "vm-1", "spice-html5")
    check(rc != 0 and "400" in err, "a spice console is unavailable: 400 (%s)" %
          err.strip()[-200:])
    rc, _, err = c.hv("server", "stop", "vm-1", "--wait")
    check(rc == 0, "vm-1 stops (%s)" % err.strip())
    rc, out, err = client(*alice, "nova", "get-vnc-console", "vm-1", "novnc")
    check(rc != 0 and "409" in err, "a stopped server has no console: 409 (%s)" %
          err.strip()[-200:])


if __name__ == "__main__":
    harness.run(main)
