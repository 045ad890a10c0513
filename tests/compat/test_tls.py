#!/usr/bin/python3
"""The REST API over HTTPS ([openstack] tls_cert_file, tls_key_file): Debian's openstack
client trusting the certificate (--os-cacert) lists servers and flavors, the catalog's
URLs are https, a client that does not trust it is refused, nothing is served in clear,
and a certificate without its key, or a key that is not its own, stops hvcentral naming
the key at fault."""
import json
import os
import socket
import ssl
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
import harness  # noqa: E402
from harness import check  # noqa: E402


def make_cert(c, name):
    key, crt = c.path(name + ".key"), c.path(name + ".crt")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", key, "-out", crt], check=True, capture_output=True)
    os.chmod(key, 0o600)
    return crt, key


def refused_start(c, conf, field, what):
    r = subprocess.run([c.binary("central/hvcentral"), "-c", conf], capture_output=True,
                       text=True, timeout=30)
    check(r.returncode == 78 and field in r.stderr, "hvcentral stops (78) %s: %s" % (
        what, r.stderr.strip()[-200:]))


def main():
    if not os.path.exists("/usr/bin/openstack") or not os.path.exists("/usr/bin/openssl"):
        print("skipped: needs /usr/bin/openstack (python3-openstackclient) and openssl")
        raise SystemExit(harness.SKIP)
    c = harness.Cluster()
    crt, key = make_cert(c, "api")
    other_crt, other_key = make_cert(c, "other")
    port = harness.free_port()
    tls = "[openstack]\nlisten = 127.0.0.1:%d\ntls_cert_file = %s\ntls_key_file = %s\n"
    c.start_central(conf_extra=tls % (port, crt, key))
    c.allow("node-1")
    c.start_agent("node-1")
    c.wait_host("node-1", "up")
    c.user("alice", "admin", "admin", "tls-pass-123")
    rc, _, err = c.hv("server", "create", "web", "--host", "node-1", "--flavor", "m1.tiny",
                      "--image", "cirros", "--no-admin-pass", "--wait")
    check(rc == 0, "server web (%s)" % err.strip())

    url = "https://127.0.0.1:%d" % port
    env = dict(os.environ, OS_AUTH_URL=url + "/identity/v3", OS_USERNAME="alice",
               OS_PASSWORD="tls-pass-123", OS_PROJECT_NAME="admin",
               OS_USER_DOMAIN_NAME="Default", OS_PROJECT_DOMAIN_NAME="Default",
               OS_IDENTITY_API_VERSION="3")

    def osc(*args, cacert=crt):
        extra = ["--os-cacert", cacert] if cacert else []
        r = subprocess.run(["openstack"] + extra + list(args), env=env, capture_output=True,
                           text=True, timeout=120 * harness.slow())
        return r.returncode, r.stdout, r.stderr

    rc, out, err = osc("server", "list", "-f", "json")
    check(rc == 0 and [s["Name"] for s in json.loads(out)] == ["web"],
          "openstack --os-cacert server list over HTTPS (%s)" % err.strip()[-200:])
    rc, out, err = osc("catalog", "list", "-f", "json")
    urls = [e["url"] for svc in json.loads(out or "[]") for e in svc.get("Endpoints", [])
            if isinstance(e, dict)] if rc == 0 else []
    text = out if rc == 0 else ""
    check(rc == 0 and "https://127.0.0.1:%d" % port in text and "http://" not in text,
          "the catalog's endpoints are https (%s)" % (urls or text[:200] or err[-200:]))
    rc, out, err = osc("flavor", "list", "-f", "json", cacert=other_crt)
    check(rc != 0 and "CERTIFICATE_VERIFY_FAILED" in err,
          "a client trusting another certificate is refused (%s)" % err.strip()[-120:])

    ctx = ssl.create_default_context(cafile=crt)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        with ctx.wrap_socket(s, server_hostname="127.0.0.1") as t:
            check(t.version() in ("TLSv1.2", "TLSv1.3"), "TLS %s" % t.version())
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(b"GET /identity/v3 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        s.settimeout(10)
        try:
            got = s.recv(4096)
        except (ConnectionResetError, socket.timeout):
            got = b""
    check(b"HTTP/1.1 200" not in got and b"version" not in got,
          "a request in clear gets no answer (%r)" % got[:60])

    c.kill("agent-node-1")
    c.kill("hvcentral", harness.signal.SIGTERM)
    conf = c.path("central.conf")
    body = open(conf).read()
    for extra, field, what in (
            ("[openstack]\nlisten = 127.0.0.1:%d\ntls_cert_file = %s\n" % (
                harness.free_port(), crt), "tls_key_file", "on a certificate without its key"),
            (tls % (harness.free_port(), crt, other_key), "tls_cert_file",
             "on a key that is not the certificate's"),
            (tls % (harness.free_port(), crt, c.path("missing.key")), "tls_key_file",
             "on a key file that is not there")):
        bad = c.path("bad.conf")
        with open(bad, "w") as f:
            f.write(body.split("[openstack]")[0] + "\n" + extra)
        refused_start(c, bad, field, what)
    check(not c.central_holds(open(key).read().splitlines()[1]),
          "hvcentral's log and database never hold the private key")


if __name__ == "__main__":
    harness.run(main)
