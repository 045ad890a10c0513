#!/usr/bin/python3
"""The guide's workflows exactly through Debian's `openstack` (and one openstacksdk script)
against hvcentral and a fake agent: the launch with a catalog image, key pair, security
group, network, user data and config drive; a snapshot and a server booted from it; a
private flavor shared with one project only; an aggregate's properties set and unset; a
resize reverted; the instances quota refusing one server more; the SDK's whole flow; a
project that cannot see or touch another's floating IP or key pair; malformed server
creates (400, nova's messages); and a token that expires (401). Every refusal is shown to
change nothing."""
import json
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
import harness  # noqa: E402
from harness import check  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import clouds  # noqa: E402
from test_openstack import Cloud, wait_status  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
TOKEN_TTL = 3 * harness.slow()  # seconds; long enough to use the token at once
NET_CONF = "[network]\nexternal_cidr = 203.0.113.0/24\n"


def setup():
    c = harness.Cluster()
    port = harness.free_port()
    c.start_central(conf_extra="[openstack]\nlisten = 127.0.0.1:%d\n%s" % (port, NET_CONF))
    c.allow("node-1")
    c.start_agent("node-1", fake="vcpus = 32\nmemory_mb = 32768\n")
    c.wait_host("node-1", "up")
    for project in ("demo", "other"):
        rc, _, err = c.hv("project", "create", project)
        check(rc == 0, "project %s (%s)" % (project, err.strip()))
    url = "http://127.0.0.1:%d" % port
    config = clouds.setup(c, url, [("hv-admin", "alice", "admin", "admin", "alice-pass-1"),
                                   ("hv-demo", "bob", "demo", "member", "bob-pass-22"),
                                   ("hv-other", "carol", "other", "member", "carol-pass-333")])
    cl = Cloud(c, url, config)
    raw = c.path("guide.raw")
    with open(raw, "wb") as f:
        f.write(b"\0" * 65536)
    img = cl.osc_json("hv-admin", "image", "create", "--file", raw, "--disk-format", "raw",
                      "--container-format", "bare", "--public", "guide-img")
    check(cl.osc_json("hv-admin", "image", "show", img["id"])["status"] == "active",
          "a public catalog image guide-img")
    return c, cl


def names(cl, cloud, *what):
    return sorted(x.get("Name", x.get("name")) for x in cl.osc_json(cloud, *what, "list"))


def launch(c, cl):
    """The guide's launch, as one `openstack server create` command."""
    key = c.path("guide-key")
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key], check=True)
    kp = cl.osc_json("hv-demo", "keypair", "create", "--public-key", key + ".pub", "guide-kp")
    check(kp["name"] == "guide-kp", "keypair create --public-key guide-kp (%s)" % kp)
    sg = cl.osc_json("hv-demo", "security", "group", "create", "web")
    rule = cl.osc_json("hv-demo", "security", "group", "rule", "create", "--protocol", "tcp",
                       "--dst-port", "22", "web")
    check(rule["security_group_id"] == sg["id"] and rule["port_range_min"] == 22,
          "security group web with tcp/22 (%s)" % rule)
    net = cl.osc_json("hv-demo", "network", "create", "guide-net")
    sub = cl.osc_json("hv-demo", "subnet", "create", "--network", "guide-net",
                      "--subnet-range", "10.20.0.0/24", "guide-sub")
    check(sub["network_id"] == net["id"], "network guide-net with 10.20.0.0/24 (%s)" % sub)
    user_data = c.path("user-data")
    marker = "#cloud-config\n# guide-user-data-4d1f\n"
    with open(user_data, "w") as f:
        f.write(marker)
    made = cl.osc_json("hv-demo", "server", "create", "--flavor", "m1.tiny", "--image",
                       "guide-img", "--key-name", "guide-kp", "--security-group", "web",
                       "--network", "guide-net", "--user-data", user_data, "--config-drive",
                       "True", "--wait", "guide-1")
    check(made["status"] == "ACTIVE" and made["name"] == "guide-1",
          "openstack server create ... --wait guide-1: ACTIVE (%s)" % made["status"])
    shown = cl.osc_json("hv-demo", "server", "show", "guide-1")
    addrs = shown["addresses"]
    ips = addrs.get("guide-net") if isinstance(addrs, dict) else None
    check(shown["status"] == "ACTIVE" and shown["key_name"] == "guide-kp" and
          [g["name"] for g in shown["security_groups"]] == ["web"] and
          ips and ips[0].startswith("10.20.0.") and shown["config_drive"] == "True" and
          shown["image"].startswith("guide-img"),
          "server show: ACTIVE, key guide-kp, group web, an address on guide-net, config "
          "drive (%s)" % {k: shown.get(k) for k in ("status", "key_name", "security_groups",
                                                     "addresses", "config_drive", "image")})
    ports = cl.osc_json("hv-demo", "port", "list", "--device-id", shown["id"])
    check(len(ports) == 1 and ips[0] in json.dumps(ports[0]["Fixed IP Addresses"]),
          "its one port on guide-net holds that address (%s)" % ports)
    drive = c.config_drive("node-1", shown["id"])
    with open(drive, "rb") as f:
        data = f.read()
    with open(key + ".pub") as f:
        pub = f.read().split()[1]
    check(marker.encode() in data and pub.encode() in data,
          "the host's config drive carries the user data and the key pair's key")
    return shown["id"]


def snapshot(cl, sid):
    """`openstack server image create --wait`, then a server booted from it."""
    snap = cl.osc_json("hv-demo", "server", "image", "create", "--name", "guide-snap",
                       "--wait", sid)
    shown = cl.osc_json("hv-demo", "image", "show", "guide-snap")
    check(shown["id"] == snap["id"] and shown["status"] == "active",
          "server image create --wait: the snapshot is active (%s)" % shown["status"])
    made = cl.osc_json("hv-demo", "server", "create", "--flavor", "m1.tiny", "--image",
                       "guide-snap", "--network", "guide-net", "--wait", "from-snap")
    shown = cl.osc_json("hv-demo", "server", "show", "from-snap")
    check(made["status"] == "ACTIVE" and shown["status"] == "ACTIVE" and
          shown["image"].startswith("guide-snap"),
          "a server booted from the snapshot is ACTIVE (%s %s)" % (shown["status"],
                                                                   shown["image"]))
    rc, _, err = cl.osc("hv-demo", "server", "delete", "--wait", "from-snap")
    check(rc == 0, "and deleted (%s)" % err.strip()[-200:])


def flavor_access(cl):
    """A private flavor shared with one project."""
    fl = cl.osc_json("hv-admin", "flavor", "create", "--private", "--ram", "256", "--disk",
                     "1", "--vcpus", "1", "priv-1")
    check(fl["os-flavor-access:is_public"] is False, "flavor create --private (%s)" % fl)
    demo = cl.osc_json("hv-admin", "project", "show", "demo")["id"]
    rc, _, err = cl.osc("hv-demo", "flavor", "show", fl["id"])
    check(rc != 0, "before it is shared, a member of demo cannot see it (%s)" %
          err.strip()[-200:])
    rc, _, err = cl.osc("hv-admin", "flavor", "set", "--project", "demo", "priv-1")
    check(rc == 0, "flavor set --project demo priv-1 (%s)" % err.strip()[-200:])
    shown = cl.osc_json("hv-admin", "flavor", "show", "priv-1")
    check(shown["access_project_ids"] in ([demo], demo),
          "flavor show: demo has access (%s)" % shown["access_project_ids"])
    mine = cl.osc_json("hv-demo", "flavor", "show", fl["id"])
    check(mine["name"] == "priv-1", "a member of demo sees it (%s)" % mine)
    check("priv-1" in names(cl, "hv-demo", "flavor") and
          "priv-1" not in names(cl, "hv-other", "flavor"),
          "demo's flavor list has it, other's does not")
    rc, _, err = cl.osc("hv-other", "flavor", "show", fl["id"])
    check(rc != 0 and "No Flavor found" in err, "a member of other cannot show it (%s)" %
          err.strip()[-200:])
    carol = cl.token("carol", "carol-pass-333", "other")
    status, _, body = cl.http("POST", "/compute/v2.1/servers", carol, body={"server": {
        "name": "sneak", "imageRef": "guide-img", "flavorRef": fl["id"]}})
    check(status == 400 and body["badRequest"]["message"] ==
          "Flavor %s could not be found." % fl["id"],
          "... nor boot it: 400 as nova (%s)" % body)
    check(cl.osc_json("hv-other", "server", "list") == [], "no server was made")
    made = cl.osc_json("hv-demo", "server", "create", "--flavor", "priv-1", "--image",
                       "guide-img", "--wait", "priv-vm")
    check(made["status"] == "ACTIVE", "a member of demo boots it (%s)" % made["status"])
    rc, _, err = cl.osc("hv-demo", "server", "delete", "--wait", "priv-vm")
    check(rc == 0, "and deletes the server (%s)" % err.strip()[-200:])
    rc, _, err = cl.osc("hv-admin", "flavor", "unset", "--project", "demo", "priv-1")
    check(rc == 0, "flavor unset --project demo priv-1 (%s)" % err.strip()[-200:])
    rc, _, err = cl.osc("hv-demo", "flavor", "show", fl["id"])
    check(rc != 0 and "priv-1" not in names(cl, "hv-demo", "flavor"),
          "demo no longer sees it (%s)" % err.strip()[-200:])
    rc, _, err = cl.osc("hv-demo", "flavor", "set", "--project", "demo", "priv-1")
    check(rc != 0, "a member cannot share it with itself (%s)" % err.strip()[-200:])
    check(cl.osc_json("hv-admin", "flavor", "show", "priv-1")["access_project_ids"] in
          ([], None, ""), "and nothing was shared by the refusal")


def aggregate_properties(cl):
    """`openstack aggregate set/unset --property`."""
    cl.osc_json("hv-admin", "aggregate", "create", "guide-agg")
    rc, _, err = cl.osc("hv-admin", "aggregate", "set", "--property", "ssd=true",
                        "--property", "rack=r1", "guide-agg")
    check(rc == 0, "aggregate set --property (%s)" % err.strip()[-200:])
    props = cl.osc_json("hv-admin", "aggregate", "show", "guide-agg")["properties"]
    check(props in ({"ssd": "true", "rack": "r1"}, "rack='r1', ssd='true'"),
          "aggregate show has both properties (%s)" % props)
    rc, _, err = cl.osc("hv-admin", "aggregate", "unset", "--property", "ssd", "guide-agg")
    check(rc == 0, "aggregate unset --property ssd (%s)" % err.strip()[-200:])
    props = cl.osc_json("hv-admin", "aggregate", "show", "guide-agg")["properties"]
    check(props in ({"rack": "r1"}, "rack='r1'"), "only rack is left (%s)" % props)
    rc, _, err = cl.osc("hv-demo", "aggregate", "set", "--property", "x=y", "guide-agg")
    check(rc != 0 and "403" in err, "a member cannot set one: 403 (%s)" % err.strip()[-200:])
    props = cl.osc_json("hv-admin", "aggregate", "show", "guide-agg")["properties"]
    check(props in ({"rack": "r1"}, "rack='r1'"), "and nothing changed (%s)" % props)


def resize_revert(cl, sid):
    """`openstack server resize --wait`, then `server resize revert`."""
    rc, _, err = cl.osc("hv-demo", "server", "resize", "--flavor", "m1.small", "--wait", sid)
    check(rc == 0, "server resize --flavor m1.small --wait (%s)" % err.strip()[-200:])
    wait_status(cl, "hv-demo", sid, "VERIFY_RESIZE")
    check(cl.osc_json("hv-demo", "server", "show", sid)["flavor"].startswith("m1.small"),
          "while it waits to be confirmed, it has m1.small")
    rc, _, err = cl.osc("hv-demo", "server", "resize", "revert", sid)
    check(rc == 0, "server resize revert (%s)" % err.strip()[-200:])
    wait_status(cl, "hv-demo", sid, "ACTIVE")
    shown = cl.osc_json("hv-demo", "server", "show", sid)
    check(shown["flavor"].startswith("m1.tiny") and shown["status"] == "ACTIVE",
          "reverted: ACTIVE with m1.tiny again (%s)" % shown["flavor"])


def quota(cl):
    """The instances quota refuses the N+1th server, creating nothing."""
    rc, _, err = cl.osc("hv-admin", "quota", "set", "--instances", "2", "other")
    check(rc == 0 and cl.osc_json("hv-other", "quota", "show", "other")["instances"] == 2,
          "quota set --instances 2 other (%s)" % err.strip()[-200:])
    for i in (1, 2):
        made = cl.osc_json("hv-other", "server", "create", "--flavor", "m1.tiny", "--image",
                           "guide-img", "--wait", "q-%d" % i)
        check(made["status"] == "ACTIVE", "server q-%d within the quota" % i)
    rc, _, err = cl.osc("hv-other", "server", "create", "--flavor", "m1.tiny", "--image",
                        "guide-img", "q-3")
    check(rc != 0 and "Quota exceeded for instances" in err and "HTTP 403" in err,
          "the third is refused with nova's quota message, 403 (%s)" % err.strip()[-300:])
    check(names(cl, "hv-other", "server") == ["q-1", "q-2"], "and was not created")
    for i in (1, 2):
        rc, _, err = cl.osc("hv-other", "server", "delete", "--wait", "q-%d" % i)
        check(rc == 0, "q-%d deleted (%s)" % (i, err.strip()[-200:]))


def sdk(cl):
    """openstacksdk runs the same flow once (sdk_flow.py)."""
    rc, out, err = cl.run("hv-demo", "/usr/bin/python3", os.path.join(HERE, "sdk_flow.py"),
                          "guide-img", "1", timeout=600)
    check(rc == 0, "openstacksdk runs the whole flow (%s)" % err.strip()[-600:])
    r = json.loads(out)
    check(r["keypair"]["name"] == "sdk-kp" and r["keypair"]["private_key"] and
          r["keypair"]["fingerprint"], "SDK: the key pair, its private key once (%s)" %
          r["keypair"])
    check(r["rule"] == {"security_group_id": r["group"]["id"], "protocol": "tcp",
                        "port_range_min": 22, "port_range_max": 22, "direction": "ingress"},
          "SDK: the group's ingress tcp/22 rule (%s)" % r["rule"])
    check(r["subnet"] == {"cidr": "10.42.0.0/24", "network_id": r["network"]["id"],
                          "gateway_ip": "10.42.0.1"}, "SDK: network and subnet (%s)" %
          r["subnet"])
    s = r["server"]
    check(s["status"] == "ACTIVE" and s["key_name"] == "sdk-kp" and
          s["security_groups"] == ["sdk-sg"] and
          s["addresses"]["sdk-net"][0]["addr"].startswith("10.42.0."),
          "SDK: the server ACTIVE with its key, group and address (%s)" % s)
    check(r["snapshot"]["name"] == "sdk-snap" and r["snapshot"]["status"] == "active",
          "SDK: create_server_image waited until the snapshot is active (%s)" % r["snapshot"])
    f = r["floating_ip"]
    check(f["address"].startswith("203.0.113.") and f["port_id"] == f["server_port"] and
          f["fixed_ip_address"].startswith("10.42.0.") and f["on_server"],
          "SDK: a floating IP attached to the server's port (%s)" % f)
    check(r["reboot"]["status"] == "ACTIVE" and r["stop"] == {"status": "SHUTOFF",
                                                               "power_state": 4} and
          r["start"] == {"status": "ACTIVE", "power_state": 1},
          "SDK: reboot, stop (SHUTOFF, shutdown) and start (ACTIVE, running)")
    check(r["left"] == {"servers": [], "images": [], "floating_ips": [], "networks": [],
                        "security_groups": [], "keypairs": []},
          "SDK: everything it made is deleted (%s)" % r["left"])
    check(names(cl, "hv-demo", "server") == ["guide-1"], "the guide's server is untouched")


def isolation(cl, sid):
    """Project other cannot see or touch demo's floating IP or key pair."""
    fip = cl.osc_json("hv-demo", "floating", "ip", "create", "--description", "demo's",
                      "public")
    ip, fid = fip["floating_ip_address"], fip["id"]
    rc, _, err = cl.osc("hv-demo", "server", "add", "floating", "ip", sid, ip)
    check(rc == 0, "demo attaches %s to guide-1 (%s)" % (ip, err.strip()[-200:]))
    before = cl.osc_json("hv-demo", "floating", "ip", "show", fid)
    check(before["port_id"], "it is associated (%s)" % before)
    check(cl.osc_json("hv-other", "floating", "ip", "list") == [],
          "other's floating ip list does not have it")
    for argv in (("show", fid), ("show", ip), ("delete", fid), ("unset", "--port", fid)):
        rc, _, err = cl.osc("hv-other", "floating", "ip", *argv)
        check(rc != 0, "openstack floating ip %s as other fails (%s)" %
              (" ".join(argv), err.strip()[-200:]))
    carol = cl.token("carol", "carol-pass-333", "other")
    base = "/network/v2.0/floatingips/" + fid
    status, _, _ = cl.http("GET", base, carol)
    check(status == 404, "GET another project's floating IP: 404 (%d)" % status)
    status, _, _ = cl.http("PUT", base, carol, body={"floatingip": {"description": "mine"}})
    check(status == 404, "updating it: 404 (%d)" % status)
    status, _, _ = cl.http("PUT", base, carol, body={"floatingip": {"port_id": None}})
    check(status == 404, "dissociating it: 404 (%d)" % status)
    status, _, _ = cl.http("DELETE", base, carol)
    check(status == 404, "deleting it: 404 (%d)" % status)
    after = cl.osc_json("hv-demo", "floating", "ip", "show", fid)
    check(after == before, "demo's floating IP is unchanged (%s)" % after)

    net = cl.osc_json("hv-other", "network", "create", "other-net")
    cl.osc_json("hv-other", "subnet", "create", "--network", "other-net", "--subnet-range",
                "10.30.0.0/24", "other-sub")
    vm = cl.osc_json("hv-other", "server", "create", "--flavor", "m1.tiny", "--image",
                     "guide-img", "--network", "other-net", "--wait", "other-vm")
    port = cl.osc_json("hv-other", "port", "list", "--device-id", vm["id"])[0]
    port["id"] = port["ID"]
    status, _, _ = cl.http("PUT", base, carol, body={"floatingip": {"port_id": port["id"]}})
    check(status == 404, "associating it to its own port: 404 (%d)" % status)
    rc, _, err = cl.osc("hv-other", "floating", "ip", "set", "--port", port["id"], fid)
    check(rc != 0, "openstack floating ip set --port as other fails (%s)" % err.strip()[-200:])
    bob = cl.token("bob", "bob-pass-22", "demo")
    status, _, body = cl.http("PUT", base, bob, body={"floatingip": {"port_id": port["id"]}})
    check(status == 404, "demo cannot associate it to other's port either: 404 (%s)" % body)
    check(cl.osc_json("hv-demo", "floating", "ip", "show", fid) == before,
          "and it is still demo's, on guide-1's port")
    for argv in (("server", "delete", "--wait", "other-vm"), ("subnet", "delete", "other-sub"),
                 ("network", "delete", net["id"])):
        rc, _, err = cl.osc("hv-other", *argv)
        check(rc == 0, "openstack %s (%s)" % (" ".join(argv), err.strip()[-200:]))

    rc, _, err = cl.osc("hv-other", "keypair", "delete", "guide-kp")
    check(rc != 0, "openstack keypair delete guide-kp as carol fails (%s)" % err.strip()[-200:])
    rc, _, err = cl.osc("hv-other", "keypair", "show", "guide-kp")
    check(rc != 0, "... keypair show too (%s)" % err.strip()[-200:])
    status, _, _ = cl.http("DELETE", "/compute/v2.1/os-keypairs/guide-kp", carol)
    check(status == 404, "DELETE /os-keypairs/guide-kp as carol: 404 (%d)" % status)
    check(names(cl, "hv-demo", "keypair") == ["guide-kp"], "bob's key pair still exists")
    rc, _, err = cl.osc("hv-demo", "floating", "ip", "delete", fid)
    check(rc == 0, "demo deletes its floating IP (%s)" % err.strip()[-200:])


def bad_creates(cl):
    """Creates with fields of the wrong type are 400 naming the field; an unknown image,
    network, flavor or key pair 400 in nova's words; none changes anything."""
    bob = cl.token("bob", "bob-pass-22", "demo")
    servers = lambda: sorted(s["id"] for s in cl.http(  # noqa: E731
        "GET", "/compute/v2.1/servers", bob)[2]["servers"])
    ports = lambda: len(cl.http("GET", "/network/v2.0/ports", bob)[2]["ports"])  # noqa: E731
    before, nports = servers(), ports()
    good = {"name": "bad", "imageRef": "guide-img", "flavorRef": "1"}
    for change, what in (({"name": 42}, "name"), ({"flavorRef": {"id": "1"}}, "flavorRef"),
                         ({"min_count": "two"}, "min_count"),
                         ({"max_count": []}, "max_count")):
        status, _, body = cl.http("POST", "/compute/v2.1/servers", bob,
                                  body={"server": dict(good, **change)})
        check(status == 400 and "badRequest" in body and what in json.dumps(body),
              "%s: 400 naming %s (%s)" % (change, what, body))
    unknown = "00000000-0000-4000-8000-00000000abcd"
    status, _, body = cl.http("POST", "/compute/v2.1/servers", bob,
                              body={"server": dict(good, imageRef=unknown)})
    check(status == 400 and body["badRequest"]["message"] == "Can not find requested image",
          "an unknown imageRef: 400, nova's ImageNotFound (%s)" % body)
    status, _, body = cl.http("POST", "/compute/v2.1/servers", bob,
                              body={"server": dict(good, imageRef="cirros")})
    check(status == 400 and body["badRequest"]["message"] == "Can not find requested image",
          "an image only in a host's own store is not the API's to boot: 400 (%s)" % body)
    status, _, body = cl.http("POST", "/compute/v2.1/servers", bob, body={"server": dict(
        good, networks=[{"uuid": unknown}])})
    check(status == 400 and body["badRequest"]["message"] ==
          "Network %s could not be found." % unknown,
          "an unknown network: 400, nova's NetworkNotFound (%s)" % body)
    status, _, body = cl.http("POST", "/compute/v2.1/servers", bob,
                              body={"server": dict(good, flavorRef="no-such-flavor")})
    check(status == 400 and body["badRequest"]["message"] ==
          "Flavor no-such-flavor could not be found.",
          "an unknown flavorRef: 400, nova's FlavorNotFound (%s)" % body)
    status, _, body = cl.http("POST", "/compute/v2.1/servers", bob,
                              body={"server": dict(good, key_name="no-such-key")})
    check(status == 400 and body["badRequest"]["message"] == "Invalid key_name provided.",
          "an unknown key_name: 400, nova's message (%s)" % body)
    check(servers() == before and ports() == nports,
          "none of the refused creates made a server or a port")


def expiry(c, cl):
    """With [openstack] token_ttl, a token gets 401 once it has expired."""
    c.kill("hvcentral", signal.SIGTERM)
    c.start_central(conf_extra="[openstack]\nlisten = %s\ntoken_ttl = %d\n%s" %
                    (cl.url[len("http://"):], TOKEN_TTL, NET_CONF))
    body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": "bob", "domain": {"name": "Default"}, "password": "bob-pass-22"}}},
        "scope": {"project": {"name": "demo", "domain": {"name": "Default"}}}}}
    status, headers, issued = cl.http("POST", "/identity/v3/auth/tokens", body=body)
    check(status == 201, "a token (%d)" % status)
    tok = headers["X-Subject-Token"]
    life = [time.mktime(time.strptime(issued["token"][k][:19], "%Y-%m-%dT%H:%M:%S"))
            for k in ("issued_at", "expires_at")]
    check(life[1] - life[0] in (TOKEN_TTL, TOKEN_TTL + 1),
          "it expires token_ttl seconds after it is issued (%s)" % issued["token"])
    status, _, listed = cl.http("GET", "/compute/v2.1/servers", tok)
    check(status == 200, "it works at once (%d)" % status)
    time.sleep(TOKEN_TTL + 1)
    status, _, body = cl.http("GET", "/compute/v2.1/servers", tok)
    check(status == 401 and body["error"]["code"] == 401,
          "%d s later GET /servers with it is 401 (%s)" % (TOKEN_TTL, body))
    status, _, _ = cl.http("GET", "/identity/v3/auth/tokens", tok,
                           headers={"X-Subject-Token": tok})
    check(status in (401, 404), "and keystone's validation refuses it (%d)" % status)
    fresh = cl.token("bob", "bob-pass-22", "demo")
    status, _, again = cl.http("GET", "/compute/v2.1/servers", fresh)
    check(status == 200 and again == listed, "a new token sees the same servers")


def main():
    if not os.path.exists("/usr/bin/openstack"):
        print("skipped: /usr/bin/openstack is not installed (scripts/deps.sh)")
        sys.exit(harness.SKIP)
    c, cl = setup()
    sid = launch(c, cl)
    snapshot(cl, sid)
    flavor_access(cl)
    aggregate_properties(cl)
    resize_revert(cl, sid)
    quota(cl)
    sdk(cl)
    isolation(cl, sid)
    bad_creates(cl)
    expiry(c, cl)


if __name__ == "__main__":
    harness.run(main)
