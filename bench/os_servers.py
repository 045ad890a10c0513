#!/usr/bin/python3
"""GET /compute/v2.1/servers/detail with 1 000 servers and POST /servers + DELETE: requests
per second and p50/p99 latency of hvcentral's Compute API (hvcentral + one fake agent
holding the servers), and nova-api's (bench/nova_peer.py) in the same run when it can run
here, else why not; prints figures and the ratio to the 20x target, never a verdict.
Usage (through meson): meson test -C build --benchmark os-servers-detail
Environment: BENCH_SERVERS (1000), BENCH_SECONDS (10), BENCH_CLIENTS (2)."""
import http.client
import json
import os
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests",
                                "e2e"))
import harness  # noqa: E402
from harness import check  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nova_peer  # noqa: E402

SERVERS = int(os.environ.get("BENCH_SERVERS", "1000"))
SECONDS = float(os.environ.get("BENCH_SECONDS", "10"))
CLIENTS = int(os.environ.get("BENCH_CLIENTS", "2"))
TARGET = 20.0


def call(conn, method, path, token, body=None, headers=None):
    h = {"X-Auth-Token": token, "Content-Type": "application/json"}
    h.update(headers or {})
    conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=h)
    r = conn.getresponse()
    data = r.read()
    return r.status, data


def token(port, user, password, project):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": user, "domain": {"name": "Default"}, "password": password}}},
        "scope": {"project": {"name": project, "domain": {"name": "Default"}}}}}
    conn.request("POST", "/identity/v3/auth/tokens", body=json.dumps(body),
                 headers={"Content-Type": "application/json"})
    r = conn.getresponse()
    r.read()
    check(r.status == 201, "a token (%d)" % r.status)
    tok, project_id = r.getheader("X-Subject-Token"), None
    conn.close()
    return tok


def populate(port, tok, project_id):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    status, data = call(conn, "PUT", "/compute/v2.1/os-quota-sets/" + project_id, tok,
                        {"quota_set": {"instances": -1, "cores": -1, "ram": -1}})
    check(status == 200, "quotas lifted (%s)" % data[:200])
    batch = 100
    for i in range(0, SERVERS, batch):
        n = min(batch, SERVERS - i)
        status, data = call(conn, "POST", "/compute/v2.1/servers", tok, {"server": {
            "name": "b%04d" % i, "imageRef": "cirros", "flavorRef": "m1.tiny",
            "min_count": n, "max_count": n}})
        check(status == 202, "a batch of %d servers (%s)" % (n, data[:200]))

    def active():
        status, data = call(conn, "GET", "/compute/v2.1/servers/detail?status=ACTIVE", tok)
        return status == 200 and len(json.loads(data)["servers"]) == SERVERS
    harness.wait_for("%d servers active" % SERVERS, active, timeout=600, step=2)
    conn.close()


def cpu_ms(pids):
    """The processes' user + system CPU time so far, in ms."""
    total = 0.0
    for pid in pids:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) * 1000.0 / os.sysconf("SC_CLK_TCK")
    return total


def get(path, tok):
    """One GET of path answered 200."""
    def one(conn):
        return call(conn, "GET", path, tok)[0] == 200
    return one


def creator(prefix, tok, made):
    """One POST /servers accepted (202); the new server's id appended to made."""
    count = [0]

    def one(conn):
        count[0] += 1
        status, data = call(conn, "POST", prefix + "/servers", tok, {"server": {
            "name": "cd-%d-%d" % (threading.get_ident() % 100000, count[0]),
            "imageRef": "cirros", "flavorRef": "1"}})
        if status == 202:
            made.append(json.loads(data)["server"]["id"])
        return status == 202
    return one


def deleter(prefix, tok, made):
    """One DELETE (204) of a server of made, while there are some (None after)."""
    def one(conn):
        try:
            sid = made.pop()
        except IndexError:
            return None
        return call(conn, "DELETE", prefix + "/servers/" + sid, tok)[0] == 204
    return one


def measure(port, one, pids, seconds=SECONDS):
    """CLIENTS keep-alive connections doing one() for seconds: (req/s, p50 ms, p99 ms, the
    server's CPU ms per request: what the machine's other load does not change)."""
    lat, errors, stop = [], [], time.monotonic() + seconds
    lock = threading.Lock()

    def client():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        mine = []
        while time.monotonic() < stop:
            t0 = time.perf_counter()
            ok = one(conn)
            if ok is None:  # nothing left to do
                break
            mine.append(time.perf_counter() - t0)
            if not ok:
                errors.append(1)
        conn.close()
        with lock:
            lat.extend(mine)
    threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
    t0, cpu0 = time.monotonic(), cpu_ms(pids)
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed, cpu = time.monotonic() - t0, cpu_ms(pids) - cpu0
    check(not errors, "every request answered as expected (%d failed)" % len(errors))
    lat.sort()
    pick = lambda p: lat[min(len(lat) - 1, int(p * len(lat)))] * 1000  # noqa: E731
    return len(lat) / elapsed, pick(0.50), pick(0.99), cpu / max(1, len(lat))


def nova_figures(c):
    """nova-api's GET /servers/detail figures with as many servers, or why it did not run."""
    d = c.path("nova")
    os.makedirs(d, exist_ok=True)
    peer = nova_peer.Nova(d, SERVERS)
    try:
        if not peer.start(harness.free_port()):
            return None, peer.why
        print("nova-api: %d servers written through nova's objects in %.1f s; gunicorn, "
              "2 sync workers" % (SERVERS, peer.populate_s))
        conn = http.client.HTTPConnection("127.0.0.1", peer.port, timeout=120)
        status, data = call(conn, "GET", "/v2.1/servers/detail", "admin:admin")
        conn.close()
        if status != 200 or len(json.loads(data)["servers"]) != SERVERS:
            return None, "nova-api's /servers/detail answered %d with %s" % (
                status, data[:200])
        print("one nova-api /servers/detail reply: %d servers, %d bytes" %
              (SERVERS, len(data)))
        # seconds a request: four times as long, for more than a couple of them
        return measure(peer.port, get("/v2.1/servers/detail", "admin:admin"), peer.pids,
                       4 * SECONDS), None
    finally:
        peer.stop()


def main():
    c = harness.Cluster()
    port = harness.free_port()
    c.start_central(conf_extra="[openstack]\nlisten = 127.0.0.1:%d\n" % port)
    c.allow("node-1")
    c.start_agent("node-1", fake="vcpus = 4096\nmemory_mb = 4194304\n")
    c.wait_host("node-1", "up")
    c.catalog_image()  # the API boots the catalog's images only
    c.user("alice", "admin", "admin", "alice-pass-1")
    rc, out, _ = c.hv("project", "show", "admin", "-f", "json")
    project_id = json.loads(out)["id"]
    tok = token(port, "alice", "alice-pass-1", "admin")
    t0 = time.monotonic()
    populate(port, tok, project_id)
    print("created %d servers in %.1f s" % (SERVERS, time.monotonic() - t0))
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    status, data = call(conn, "GET", "/compute/v2.1/servers/detail", tok)
    conn.close()
    print("one /servers/detail reply: %d servers, %d bytes" %
          (len(json.loads(data)["servers"]), len(data)))
    pid = [c.procs["hvcentral"].pid]
    print("load average before measuring: %.2f (the machine's other work slows every figure "
          "but the CPU per request)" % os.getloadavg()[0])
    ours = measure(port, get("/compute/v2.1/servers/detail", tok), pid)
    print("hvcentral  GET /servers/detail (%d servers, %d clients, %.0f s): %.1f req/s, "
          "p50 %.1f ms, p99 %.1f ms, %.1f ms of hvcentral CPU per request" %
          ((SERVERS, CLIENTS, SECONDS) + ours))
    page = measure(port, get("/compute/v2.1/servers/detail?limit=21&sort_key=created_at"
                             "&sort_key=display_name&sort_key=uuid&sort_dir=desc&sort_dir=desc"
                             "&sort_dir=desc", tok), pid)
    print("hvcentral  GET /servers/detail?limit=21 (Horizon's page): %.1f req/s, p50 %.1f ms, "
          "p99 %.1f ms, %.1f ms of hvcentral CPU per request" % page)
    made = []
    cd = measure(port, creator("/compute/v2.1", tok, made), pid)
    print("hvcentral  POST /servers: %.1f req/s, p50 %.1f ms, p99 %.1f ms, %.1f ms of "
          "hvcentral CPU per request (%d made)" % (cd + (len(made),)))
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def settled():
        status, data = call(conn, "GET", "/compute/v2.1/servers/detail?status=BUILD", tok)
        return status == 200 and not json.loads(data)["servers"]
    harness.wait_for("the new servers built", settled, timeout=600, step=1)
    conn.close()
    cd = measure(port, deleter("/compute/v2.1", tok, made), pid)
    print("hvcentral  DELETE /servers/{id} of those: %.1f req/s, p50 %.1f ms, p99 %.1f ms, "
          "%.1f ms of hvcentral CPU per request" % cd)
    peer, why = nova_figures(c)
    if peer:
        print("nova-api   GET /servers/detail (%d servers, %d clients, %.0f s): %.2f req/s, "
              "p50 %.1f ms, p99 %.1f ms, %.1f ms of nova-api CPU per request" %
              ((SERVERS, CLIENTS, 4 * SECONDS) + peer))
        print("ratio GET /servers/detail: %.1fx nova-api's req/s, %.1fx less CPU per request "
              "(target %.0fx)" % (ours[0] / peer[0], peer[3] / max(ours[3], 0.01), TARGET))
    else:
        print("nova-api   not run: %s; target %.0fx its req/s" % (why, TARGET))
    print("nova-api   POST /servers + DELETE not measured: nova-api's create needs the image "
          "service (glance), the network service (neutron) and nova-conductor and "
          "nova-scheduler over a message bus, which this bench does not run")


if __name__ == "__main__":
    harness.run(main)
