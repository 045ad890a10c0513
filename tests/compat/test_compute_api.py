#!/usr/bin/python3
"""Compute API depth as Horizon and the clients use it, against hvcentral and a fake agent:
microversion negotiation (both headers, "latest", 400/406), the version document's range,
GET /servers/detail paged by limit + marker with Horizon's sort keys (and the link to the
next page, followed by openstacksdk), filters, the fields of each listed server, 2.47's
embedded flavor, os-simple-tenant-usage paged by marker at 2.40 until an empty page,
os-volume_attachments, limits?reserved=1, os-services and os-instance-actions; through
`nova`, `openstack` and openstacksdk, and raw HTTP for the error bodies."""
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
import harness  # noqa: E402
from harness import check  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import clouds  # noqa: E402
from test_openstack import Cloud  # noqa: E402

N = 7


def mv(version):
    return {"OpenStack-API-Version": "compute %s" % version,
            "X-OpenStack-Nova-API-Version": version}


def setup():
    c = harness.Cluster()
    port = harness.free_port()
    c.start_central(conf_extra="[openstack]\nlisten = 127.0.0.1:%d\n" % port)
    c.allow("node-1")
    c.start_agent("node-1", fake="vcpus = 64\nmemory_mb = 65536\n")
    c.wait_host("node-1", "up")
    c.catalog_image()  # the API boots the catalog's images only
    rc, _, err = c.hv("project", "create", "demo")
    check(rc == 0, "project demo (%s)" % err.strip())
    url = "http://127.0.0.1:%d" % port
    config = clouds.setup(c, url, [("hv-admin", "alice", "admin", "admin", "alice-pass-1"),
                                   ("hv-demo", "bob", "demo", "member", "bob-pass-22")])
    return c, Cloud(c, url, config)


def versions(cl, tok):
    status, _, body = cl.http("GET", "/compute/v2.1")
    check(status == 200 and body["version"]["version"] == "2.60" and
          body["version"]["min_version"] == "2.1",
          "the version document advertises 2.1 to 2.60 (%s)" % body)
    for asked, want in (({}, "2.1"), (mv("2.42"), "2.42"),
                        ({"X-OpenStack-Nova-API-Version": "2.47"}, "2.47"),
                        ({"OpenStack-API-Version": "image 2.5, compute 2.40"}, "2.40"),
                        (mv("latest"), "2.60")):
        status, headers, _ = cl.http("GET", "/compute/v2.1/flavors", token=tok, headers=asked)
        check(status == 200 and headers["OpenStack-API-Version"] == "compute " + want and
              headers["X-OpenStack-Nova-API-Version"] == want and
              "OpenStack-API-Version" in headers["Vary"],
              "asked %s, answered at %s (%s)" % (asked, want,
                                                 headers.get("OpenStack-API-Version")))
    for asked, code in (("2.61", 406), ("3.0", 406), ("2.0", 406), ("2.x", 400), ("two", 400)):
        status, _, body = cl.http("GET", "/compute/v2.1/flavors", token=tok, headers=mv(asked))
        check(status == code and str(code) in json.dumps(body),
              "microversion %s is refused with %d (%s)" % (asked, code, body))
    rc, _, err = cl.osc("hv-demo", "--os-compute-api-version", "2.61", "server", "list")
    check(rc != 0 and "406" in err, "openstack at 2.61: the server's 406 (%s)" % err[-200:])


def make_servers(cl, tok):
    status, _, body = cl.http("POST", "/compute/v2.1/os-keypairs", token=tok,
                              body={"keypair": {"name": "k1"}})
    check(status == 200, "a key pair k1 (%s)" % status)
    status, _, body = cl.http("POST", "/compute/v2.1/servers", token=tok, body={"server": {
        "name": "pg", "imageRef": "cirros", "flavorRef": "m1.tiny", "min_count": N,
        "max_count": N, "networks": "none", "key_name": "k1", "metadata": {"role": "pg"}}},
        headers=mv("2.60"))
    check(status == 202, "%d servers are created at 2.60 with networks none (%s)" % (N, body))
    harness.wait_for("the servers are active", lambda: all(
        s["status"] == "ACTIVE" for s in cl.http("GET", "/compute/v2.1/servers/detail",
                                                 token=tok)[2]["servers"]) and len(
        cl.http("GET", "/compute/v2.1/servers", token=tok)[2]["servers"]) == N, timeout=60)


def paging(cl, tok):
    everything = cl.http("GET", "/compute/v2.1/servers/detail", token=tok)[2]["servers"]
    created = [s["created"] for s in everything]
    check(created == sorted(created, reverse=True),
          "the list is newest first by default (%s)" % created)
    s = everything[0]
    check(s["OS-EXT-AZ:availability_zone"] == "nova" and s["addresses"] == {} and
          s["OS-EXT-STS:power_state"] == 1 and s["OS-EXT-STS:vm_state"] == "active" and
          s["OS-EXT-STS:task_state"] is None and s["key_name"] == "k1" and
          s["flavor"]["id"] and s["metadata"] == {"role": "pg"},
          "each listed server has zone, addresses, states and flavor (%s)" % s)
    # Horizon's project instances page: limit+1 at 2.42, its three sort keys
    horizon = ("?limit=%d&sort_key=created_at&sort_key=display_name&sort_key=uuid"
               "&sort_dir=desc&sort_dir=desc&sort_dir=desc")
    seen, marker, pages = [], None, 0
    while True:
        q = horizon % 3 + ("&marker=%s" % marker if marker else "")
        status, _, body = cl.http("GET", "/compute/v2.1/servers/detail" + q, token=tok,
                                  headers=mv("2.42"))
        check(status == 200, "a page (%s)" % body)
        page = body["servers"]
        pages += 1
        check(len(page) <= 3 and pages < 10, "pages hold at most limit servers")
        seen += [x["id"] for x in page]
        if len(page) < 3:
            check("servers_links" not in body, "the last page links to no next one")
            break
        marker = page[-1]["id"]
        if len(seen) < N:
            check(body["servers_links"][0]["rel"] == "next" and
                  ("marker=" + marker) in body["servers_links"][0]["href"],
                  "a full page links to the next (%s)" % body.get("servers_links"))
    whole = cl.http("GET", "/compute/v2.1/servers" + (horizon % 1000), token=tok)[2]
    check(seen == [x["id"] for x in whole["servers"]] and len(seen) == N,
          "paging by marker visits every server once, in order (%d pages)" % pages)
    asc = cl.http("GET", "/compute/v2.1/servers?sort_key=display_name&sort_dir=asc",
                  token=tok)[2]["servers"]
    check([x["name"] for x in asc] == sorted(x["name"] for x in asc),
          "sort_key=display_name&sort_dir=asc sorts by name")
    for q, what in (("?marker=00000000-0000-4000-8000-000000000000", "marker"),
                    ("?limit=-1", "limit"), ("?sort_key=password", "sort_key"),
                    ("?sort_dir=sideways", "sort_dir"), ("?status=SLEEPING", "status")):
        status, _, body = cl.http("GET", "/compute/v2.1/servers/detail" + q, token=tok)
        check(status == 400 and "badRequest" in body and what in json.dumps(body),
              "%s is refused with 400 naming %s (%s)" % (q, what, body))
    named = cl.http("GET", "/compute/v2.1/servers?name=pg-3&status=ACTIVE", token=tok)[2]
    check([x["name"] for x in named["servers"]] == ["pg-3"], "name and status filters")
    env = dict(os.environ, OS_AUTH_URL=cl.url + "/identity/v3", OS_USERNAME="bob",
               OS_PASSWORD="bob-pass-22", OS_PROJECT_NAME="demo",
               OS_USER_DOMAIN_NAME="Default", OS_PROJECT_DOMAIN_NAME="Default")
    r = subprocess.run(["nova", "list", "--limit", "2", "--minimal"], env=env,
                       capture_output=True, text=True, timeout=120)
    rows = [ln for ln in r.stdout.splitlines() if " pg-" in ln]
    check(r.returncode == 0 and len(rows) == 2, "nova list --limit 2 shows two (%s)" %
          (r.stderr.strip()[-200:] or r.stdout))
    listed = cl.osc_json("hv-demo", "server", "list", "--limit", "4")
    check(len(listed) == 4, "openstack server list --limit 4 shows four (%d)" % len(listed))
    sdk = subprocess.run([sys.executable, "-c", (
        "import openstack, json; c = openstack.connect(cloud='hv-demo');"
        "print(json.dumps([s.id for s in c.compute.servers(details=True, limit=2)]))")],
        env=cl.env("hv-demo"), capture_output=True, text=True, timeout=120)
    ids = json.loads(sdk.stdout) if sdk.returncode == 0 else None
    check(ids == [x["id"] for x in everything],
          "openstacksdk follows the next links 2 by 2 to every server (%s)" %
          (sdk.stderr.strip()[-300:] or ids))
    return everything


def shapes(cl, tok, sid):
    old = cl.http("GET", "/compute/v2.1/servers/" + sid, token=tok)[2]["server"]
    check(set(old["flavor"]) == {"id", "links"} and "locked" not in old,
          "at 2.1 the flavor is a reference and nothing later shows")
    new = cl.http("GET", "/compute/v2.1/servers/" + sid, token=tok,
                  headers=mv("2.60"))[2]["server"]
    check(new["flavor"]["original_name"] == "m1.tiny" and new["flavor"]["vcpus"] == 1 and
          "id" not in new["flavor"] and new["locked"] is False and
          new["description"] is None and new["tags"] == [],
          "at 2.60: embedded flavor (2.47), locked (2.9), description (2.19), tags (2.26) "
          "(%s)" % {k: new.get(k) for k in ("flavor", "locked", "description", "tags")})
    shown = cl.osc_json("hv-demo", "--os-compute-api-version", "2.60", "server", "show", sid)
    check(shown["locked"] is False and "m1.tiny" in json.dumps(shown["flavor"]),
          "openstack --os-compute-api-version 2.60 server show (%s)" % shown.get("flavor"))
    name = new["name"]
    status, _, body = cl.http("PUT", "/compute/v2.1/servers/" + sid, token=tok,
                              headers=mv("2.19"),
                              body={"server": {"name": "edited", "description": ""}})
    check(status == 200 and body["server"]["name"] == "edited",
          "Horizon's Edit Instance at 2.19: name with an empty description (%s)" % body)
    status, _, body = cl.http("PUT", "/compute/v2.1/servers/" + sid, token=tok,
                              headers=mv("2.19"),
                              body={"server": {"name": name, "description": "kept?"}})
    check(status == 200 and body["server"]["description"] == "kept?",
          "a description at 2.19 is stored and answered (%s)" % body)
    cl.http("PUT", "/compute/v2.1/servers/" + sid, token=tok, body={"server": {"name": name}})
    status, _, body = cl.http("GET", "/compute/v2.1/servers/%s/os-volume_attachments" % sid,
                              token=tok, headers=mv("2.60"))
    check(status == 200 and body == {"volumeAttachments": []},
          "os-volume_attachments is an empty list (%s)" % body)
    status, _, body = cl.http("GET", "/compute/v2.1/limits?reserved=1", token=tok,
                              headers=mv("2.60"))
    absolute = body["limits"]["absolute"]
    check(status == 200 and absolute["totalInstancesUsed"] == N and
          "maxImageMeta" not in absolute and "maxSecurityGroups" not in absolute,
          "limits?reserved=1 at 2.60: instances used, no image meta (2.39) nor network "
          "limits (2.36) (%s)" % absolute)
    old_fl = cl.http("GET", "/compute/v2.1/flavors/1", token=tok)[2]["flavor"]
    new_fl = cl.http("GET", "/compute/v2.1/flavors/1", token=tok, headers=mv("2.55"))[2]
    check("description" not in old_fl and "description" in new_fl["flavor"],
          "a flavor's description from 2.55 only")
    admin = cl.token("alice", "alice-pass-1", "admin")
    hyp = [cl.http("GET", "/compute/v2.1/os-hypervisors/detail", token=admin,
                   headers=mv(v))[2]["hypervisors"][0]["cpu_info"] for v in ("2.27", "2.28")]
    check(isinstance(hyp[0], str) and isinstance(hyp[1], dict),
          "a hypervisor's cpu_info: text before 2.28, an object from 2.28 (%s)" % hyp)
    status, _, body = cl.http("GET", "/image/v2/metadefs/namespaces", token=tok)
    check(status == 200 and body["namespaces"] == [],
          "Horizon's metadata forms: no metadefs namespaces, not a 404 (%s)" % body)
    status, _, body = cl.http("GET", "/image/v2/schemas/metadefs/namespace", token=tok)
    check(status == 200 and body["name"] == "namespace", "and their schema (%s)" % body)
    kp = cl.http("POST", "/compute/v2.1/os-keypairs", token=tok, headers=mv("2.9"),
                 body={"keypair": {"name": "k3", "type": "x509"}})
    check(kp[0] == 400 and "keypair.type" in json.dumps(kp[2]), "an x509 key pair is 400")
    kp = cl.http("POST", "/compute/v2.1/os-keypairs", token=tok, headers=mv("2.2"),
                 body={"keypair": {"name": "k2", "type": "ssh"}})
    check(kp[0] == 201 and kp[2]["keypair"]["type"] == "ssh",
          "a key pair at 2.2: 201 with its type (%d)" % kp[0])
    check(cl.http("DELETE", "/compute/v2.1/os-keypairs/k2", token=tok,
                  headers=mv("2.2"))[0] == 204, "and deleted with 204")


def usage(cl, admin, project, ids):
    base = "/compute/v2.1/os-simple-tenant-usage/%s?start=2000-01-01T00:00:00&limit=3" % project
    seen, marker = [], None
    for _ in range(10):
        status, _, body = cl.http("GET", base + ("&marker=" + marker if marker else ""),
                                  token=admin, headers=mv("2.40"))
        check(status == 200, "a usage page (%s)" % body)
        rows = body["tenant_usage"].get("server_usages") or []
        if not rows:
            break
        check(len(rows) <= 3, "a usage page holds at most limit servers")
        seen += [r["instance_id"] for r in rows]
        marker = rows[-1]["instance_id"]
    check(sorted(seen) == sorted(ids), "usage paged by marker ends, each server once (%d of %d)"
          % (len(seen), len(ids)))
    status, _, body = cl.http("GET", base + "&marker=nope", token=admin, headers=mv("2.40"))
    check(status == 400 and "marker" in json.dumps(body), "an unknown marker is 400 (%s)" % body)
    listed = cl.http("GET", "/compute/v2.1/os-simple-tenant-usage?start=2000-01-01T00:00:00"
                     "&detailed=1&limit=2", token=admin, headers=mv("2.40"))[2]
    check(sum(len(t["server_usages"]) for t in listed["tenant_usages"]) == 2,
          "the detailed list's page holds limit servers (%s)" % listed)
    env = dict(os.environ, OS_AUTH_URL=cl.url + "/identity/v3", OS_USERNAME="alice",
               OS_PASSWORD="alice-pass-1", OS_PROJECT_NAME="admin",
               OS_USER_DOMAIN_NAME="Default", OS_PROJECT_DOMAIN_NAME="Default")
    r = subprocess.run(["nova", "usage", "--tenant", project, "--start", "2000-01-01"],
                       env=env, capture_output=True, text=True, timeout=120)
    check(r.returncode == 0 and "| %d " % len(ids) in r.stdout,
          "nova usage (negotiating 2.60, paging to the end) counts %d servers (%s)" %
          (len(ids), r.stderr.strip()[-200:] or r.stdout))


def services_and_events(cl, tok_admin, sid):
    svc = cl.osc_json("hv-admin", "compute", "service", "list")
    check(len(svc) == 1 and svc[0]["Binary"] == "nova-compute" and
          svc[0]["Host"] == "node-1" and svc[0]["Zone"] == "nova" and
          svc[0]["Status"] == "enabled" and svc[0]["State"] == "up" and svc[0]["Updated At"],
          "openstack compute service list: node-1's nova-compute, enabled and up (%s)" % svc)
    rc, _, err = cl.osc("hv-demo", "compute", "service", "list")
    check(rc != 0 and "403" in err, "a member may not list services (%s)" % err[-160:])
    rc, _, err = cl.osc("hv-demo", "server", "stop", sid)
    check(rc == 0, "openstack server stop (%s)" % err[-160:])
    harness.wait_for("the server is stopped", lambda: cl.osc_json(
        "hv-demo", "server", "show", sid)["status"] == "SHUTOFF", timeout=60)
    events = cl.osc_json("hv-demo", "server", "event", "list", sid)
    actions = [e["Action"] for e in events]
    check(actions == ["stop", "create"], "openstack server event list: stop then create, "
          "newest first (%s)" % events)
    one = cl.osc_json("hv-demo", "server", "event", "show", sid, events[0]["Request ID"])
    check(one["action"] == "stop" and one["request_id"] == events[0]["Request ID"],
          "openstack server event show (%s)" % one)
    status, _, body = cl.http("GET", "/compute/v2.1/servers/%s/os-instance-actions/req-none" %
                              sid, token=tok_admin)
    check(status == 404 and "itemNotFound" in body, "an unknown request id is 404")


def addresses(cl, tok):
    status, _, net = cl.http("POST", "/network/v2.0/networks", token=tok,
                             body={"network": {"name": "net1"}})
    check(status == 201, "a network net1 (%s)" % net)
    status, _, sub = cl.http("POST", "/network/v2.0/subnets", token=tok, body={"subnet": {
        "network_id": net["network"]["id"], "cidr": "10.9.0.0/24", "ip_version": 4}})
    check(status == 201, "a subnet (%s)" % sub)
    status, _, sg = cl.http("POST", "/network/v2.0/security-groups", token=tok,
                            body={"security_group": {"name": "ssh"}})
    check(status == 201, "a security group ssh (%s)" % sg)
    status, _, body = cl.http("POST", "/compute/v2.1/servers", token=tok, body={"server": {
        "name": "wired", "imageRef": "cirros", "flavorRef": "m1.tiny", "min_count": 2,
        "max_count": 2, "networks": [{"uuid": net["network"]["id"]}],
        "security_groups": [{"name": "default"}, {"name": "ssh"}], "config_drive": True}})
    check(status == 202, "two servers on net1 (%s)" % body)
    listed = cl.http("GET", "/compute/v2.1/servers/detail", token=tok)[2]["servers"]
    wired = [x for x in listed if x["name"].startswith("wired")]
    ips = sorted(x["addresses"]["net1"][0]["addr"] for x in wired)
    check(len(ips) == 2 and ips[0] != ips[1] and all(i.startswith("10.9.0.") for i in ips) and
          all(x["addresses"]["net1"][0]["OS-EXT-IPS:type"] == "fixed" for x in wired) and
          all(x["addresses"] == {} for x in listed if not x["name"].startswith("wired")),
          "the list shows each server's own address on net1, the others none (%s)" % ips)
    groups = [sorted(g["name"] for g in x["security_groups"]) for x in wired]
    shown = cl.http("GET", "/compute/v2.1/servers/" + wired[0]["id"], token=tok)[2]["server"]
    check(shown["config_drive"] == "True" and
          all(x["config_drive"] == "" for x in listed if not x["name"].startswith("wired")),
          "config_drive is True for a server made with one, empty for the others")
    check(groups == [["default", "ssh"]] * 2 and
          sorted(g["name"] for g in shown["security_groups"]) == ["default", "ssh"],
          "list and show name both of the servers' groups (%s, %s)" %
          (groups, shown["security_groups"]))


def metadata(cl, tok, sid):
    rc, _, err = cl.osc("hv-demo", "server", "set", "--property", "a=1", "--property", "b=2",
                        sid)
    check(rc == 0, "openstack server set --property (%s)" % err[-200:])
    rc, _, err = cl.osc("hv-demo", "server", "unset", "--property", "a", sid)
    check(rc == 0, "openstack server unset --property (%s)" % err[-200:])
    shown = cl.osc_json("hv-demo", "server", "show", sid)
    check(shown["properties"] in ({"role": "pg", "b": "2"}, "b='2', role='pg'"),
          "server show: the properties set, unset and given at create (%s)" %
          shown["properties"])
    base = "/compute/v2.1/servers/%s/metadata" % sid
    status, _, body = cl.http("PUT", base, token=tok, body={"metadata": {"x": "y"}})
    check(status == 200 and body == {"metadata": {"x": "y"}}, "PUT replaces (%s)" % body)
    status, _, body = cl.http("GET", base + "/x", token=tok)
    check(status == 200 and body == {"meta": {"x": "y"}}, "GET one item (%s)" % body)
    status, _, body = cl.http("PUT", base + "/z", token=tok, body={"meta": {"w": "1"}})
    check(status == 400, "a key that is not the URI's is 400 (%s)" % body)
    status, _, body = cl.http("DELETE", base + "/nope", token=tok)
    check(status == 404, "deleting an item it lacks is 404 (%s)" % body)
    status, _, body = cl.http("POST", base, token=tok, body={"metadata": {"v": "x" * 256}})
    check(status == 400 and "args.set" in json.dumps(body), "a 256-byte value is 400 (%s)" %
          body)
    many = {"k%d" % i: "v" for i in range(128)}
    status, _, body = cl.http("POST", base, token=tok, body={"metadata": many})
    check(status == 403 and "metadata_items" in json.dumps(body),
          "more than 128 items is over quota, 403 (%s)" % body)
    status, _, body = cl.http("GET", base, token=tok)
    check(body == {"metadata": {"x": "y"}}, "and the refusals changed nothing (%s)" % body)
    other = cl.token("alice", "alice-pass-1", "admin")
    status, _, body = cl.http("POST", base, token=tok, body={"metadata": {}})
    check(status == 200, "an empty merge changes nothing")
    status, _, _ = cl.http("GET", "/compute/v2.1/servers/%s/metadata" % sid, token=other)
    check(status == 200, "an admin reads another project's server's metadata")


def deleted_marker(cl, tok, everything):
    """Horizon lists from the row it has just deleted: nova still finds a deleted server as
    a marker, and the page starts where it would sort."""
    ids = [x["id"] for x in everything]
    gone = ids[2]
    status, _, _ = cl.http("DELETE", "/compute/v2.1/servers/" + gone, token=tok)
    check(status == 204, "a server in the middle of the list is deleted (%s)" % status)
    harness.wait_for("it leaves the list", lambda: gone not in [
        x["id"] for x in cl.http("GET", "/compute/v2.1/servers", token=tok)[2]["servers"]],
        timeout=60)
    status, _, body = cl.http("GET", "/compute/v2.1/servers?limit=2&marker=" + gone, token=tok)
    check(status == 200 and [x["id"] for x in body["servers"]] == ids[3:5],
          "a deleted server as marker pages on after its place (%s)" % body)


def main():
    if not os.path.exists("/usr/bin/nova"):
        print("skipped: /usr/bin/nova is not installed (Debian package python3-novaclient)")
        raise SystemExit(harness.SKIP)
    c, cl = setup()
    tok = cl.token("bob", "bob-pass-22", "demo")
    admin = cl.token("alice", "alice-pass-1", "admin")
    versions(cl, tok)
    make_servers(cl, tok)
    everything = paging(cl, tok)
    shapes(cl, tok, everything[0]["id"])
    project = cl.osc_json("hv-admin", "project", "show", "demo")["id"]
    usage(cl, admin, project, [s["id"] for s in everything])
    services_and_events(cl, admin, everything[0]["id"])
    addresses(cl, tok)
    metadata(cl, tok, everything[1]["id"])
    deleted_marker(cl, tok, everything)


if __name__ == "__main__":
    harness.run(main)
