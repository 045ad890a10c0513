#!/usr/bin/python3
"""hvcentral's OpenStack-compatible API driven by Debian's own clients (openstackclient,
novaclient, openstacksdk) against hvcentral and a fake agent: tokens, flavors (admin only,
extra specs), key pairs, a server created through the SDK then listed, shown, rebooted,
stopped, started, paused and deleted through `openstack`, `nova list/show`, project
isolation, and the errors a client expects (bad token 401, malformed JSON 400, unknown
microversion 406, oversize body 413, state conflict 409), each changing nothing."""
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
import harness  # noqa: E402
from harness import check  # noqa: E402

import clouds  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


class Cloud:
    def __init__(self, c, url, config):
        self.c, self.url, self.config = c, url, config

    def env(self, cloud):
        return dict(os.environ, OS_CLIENT_CONFIG_FILE=self.config, OS_CLOUD=cloud)

    def run(self, cloud, *argv, timeout=180):
        r = subprocess.run(list(argv), env=self.env(cloud), capture_output=True, text=True,
                           timeout=timeout)
        return r.returncode, r.stdout, r.stderr

    def osc(self, cloud, *args):
        return self.run(cloud, "openstack", *args)

    def osc_json(self, cloud, *args):
        rc, out, err = self.osc(cloud, *args, "-f", "json")
        check(rc == 0, "openstack %s succeeds (%s)" % (" ".join(args), err.strip()[-300:]))
        return json.loads(out)

    def token(self, user, password, project):
        body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
            "name": user, "domain": {"name": "Default"}, "password": password}}},
            "scope": {"project": {"name": project, "domain": {"name": "Default"}}}}}
        status, headers, _ = self.http("POST", "/identity/v3/auth/tokens", body=body)
        check(status == 201, "a password token is issued (%d)" % status)
        return headers["X-Subject-Token"]

    def http(self, method, path, token=None, body=None, raw=None, headers=None):
        data = raw if raw is not None else (json.dumps(body).encode() if body else None)
        req = urllib.request.Request(self.url + path, data=data, method=method)
        req.add_header("Content-Type", "application/json")
        if token:
            req.add_header("X-Auth-Token", token)
        for k, v in (headers or {}).items():
            req.add_header(k, v)
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                text = r.read()
                return r.status, r.headers, json.loads(text) if text else None
        except urllib.error.HTTPError as e:
            text = e.read()
            return e.code, e.headers, json.loads(text) if text else None


def wait_status(cl, cloud, server, status):
    def now():
        rc, out, _ = cl.osc(cloud, "server", "show", server, "-c", "status", "-f", "value")
        return rc == 0 and out.strip() == status
    harness.wait_for("server %s %s" % (server, status), now, timeout=60, step=0.5)


def setup():
    c = harness.Cluster()
    port = harness.free_port()
    c.start_central(conf_extra="[openstack]\nlisten = 127.0.0.1:%d\n" % port)
    c.allow("node-1")
    c.start_agent("node-1")
    c.wait_host("node-1", "up")
    c.catalog_image()  # the API boots the catalog's images only
    rc, _, err = c.hv("project", "create", "demo")
    check(rc == 0, "project demo is created (%s)" % err.strip())
    url = "http://127.0.0.1:%d" % port
    config = clouds.setup(c, url, [("hv-admin", "alice", "admin", "admin", "alice-pass-1"),
                                   ("hv-demo", "bob", "demo", "member", "bob-pass-22"),
                                   ("hv-dave", "dave", "admin", "member", "dave-pass-333"),
                                   ("hv-rita", "rita", "demo", "reader", "rita-pass-4444")])
    rc, out, _ = c.hv("user", "list", "-f", "json")
    check(rc == 0 and sorted(u["name"] for u in json.loads(out)) ==
          ["alice", "bob", "dave", "rita"], "hv user list lists the four users")
    return c, Cloud(c, url, config)


def identity(cl):
    tok = cl.osc_json("hv-demo", "token", "issue")
    check(len(tok["id"]) >= 40 and tok["user_id"] and tok["project_id"],
          "openstack token issue prints a token for bob's project")
    rc, _, err = cl.run("hv-demo", "openstack", "--os-password", "wrong-password",
                        "token", "issue")
    check(rc != 0 and "401" in err, "a wrong password is refused with 401 (%s)" % err.strip())
    check(not cl.c.central_holds("bob-pass-22"),
          "hvcentral's log and database never hold a password")
    check(not cl.c.central_holds(tok["id"]), "... nor a token")


def flavors(cl):
    listed = cl.osc_json("hv-demo", "flavor", "list")
    check({"m1.tiny", "m1.small"} <= {f["Name"] for f in listed},
          "openstack flavor list shows the default flavors")
    made = cl.osc_json("hv-admin", "flavor", "create", "--ram", "256", "--disk", "1",
                       "--vcpus", "1", "tiny2")
    check(made["name"] == "tiny2" and made["ram"] == 256, "an admin creates a flavor")
    rc, _, err = cl.osc("hv-admin", "flavor", "set", "--property",
                        "quota:disk_read_bytes_sec=10240000", "tiny2")
    check(rc == 0, "flavor set --property succeeds (%s)" % err.strip())
    shown = cl.osc_json("hv-demo", "flavor", "show", "tiny2")
    check(shown["properties"] == {"quota:disk_read_bytes_sec": "10240000"},
          "flavor show has the extra spec (%s)" % shown["properties"])
    rc, _, err = cl.osc("hv-demo", "flavor", "create", "--ram", "256", "--disk", "1",
                        "--vcpus", "1", "sneaky")
    check(rc != 0 and "403" in err, "a member cannot create a flavor: 403 (%s)" % err.strip())
    check("sneaky" not in [f["Name"] for f in cl.osc_json("hv-admin", "flavor", "list",
                                                           "--all")],
          "the refused flavor does not exist")
    rc, _, err = cl.osc("hv-admin", "flavor", "delete", "tiny2")
    check(rc == 0, "an admin deletes the flavor (%s)" % err.strip())
    rc, _, _ = cl.osc("hv-admin", "flavor", "show", "tiny2")
    check(rc != 0, "the deleted flavor is gone")


def keypairs(cl):
    rc, out, err = cl.osc("hv-demo", "keypair", "create", "k1")
    check(rc == 0 and out.startswith("-----BEGIN OPENSSH PRIVATE KEY-----"),
          "openstack keypair create prints the generated private key (%s)" % err.strip())
    listed = cl.osc_json("hv-demo", "keypair", "list")
    check([k["Name"] for k in listed] == ["k1"], "keypair list shows it")
    check(cl.osc_json("hv-admin", "keypair", "list") == [],
          "another project's user does not see it")
    rc, _, err = cl.osc("hv-demo", "keypair", "delete", "k1")
    check(rc == 0 and cl.osc_json("hv-demo", "keypair", "list") == [],
          "keypair delete removes it (%s)" % err.strip())
    key = cl.c.path("laptop")
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key], check=True)
    made = cl.osc_json("hv-demo", "keypair", "create", "--public-key", key + ".pub", "laptop")
    fp = subprocess.run(["ssh-keygen", "-l", "-f", key + ".pub"], capture_output=True,
                        text=True).stdout
    check(made["name"] == "laptop" and made["fingerprint"] in fp,
          "keypair create --public-key imports the key with ssh-keygen's fingerprint")
    rc, _, err = cl.osc("hv-demo", "keypair", "delete", "laptop")
    check(rc == 0, "the imported key pair is deleted (%s)" % err.strip())


def limits(cl):
    quota = cl.osc_json("hv-demo", "quota", "show", "demo")
    check(quota["instances"] == 10 and quota["cores"] == 20 and quota["key-pairs"] == 100,
          "quota show prints the project's limits (%s)" % quota)
    absolute = {r["Name"]: r["Value"] for r in cl.osc_json("hv-demo", "limits", "show",
                                                           "--absolute")}
    check(absolute["maxTotalInstances"] == 10 and absolute["totalInstancesUsed"] == 1 and
          absolute["totalCoresUsed"] == 1, "limits show counts the server (%s)" % absolute)
    zones = cl.osc_json("hv-demo", "availability", "zone", "list", "--compute")
    check([z["Zone Name"] for z in zones] == ["nova"], "the one zone is nova (%s)" % zones)
    rc, _, err = cl.osc("hv-demo", "quota", "set", "--instances", "50", "demo")
    check(rc != 0 and "403" in err, "a member cannot raise its quota (%s)" % err.strip())
    rc, _, err = cl.osc("hv-admin", "quota", "set", "--instances", "12", "demo")
    check(rc == 0 and cl.osc_json("hv-demo", "quota", "show", "demo")["instances"] == 12,
          "an admin sets a project's quota (%s)" % err.strip())


def servers(cl):
    rc, out, err = cl.run("hv-demo", "/usr/bin/python3", os.path.join(HERE, "sdk_server.py"),
                          "vm1", "cirros", "1")
    check(rc == 0, "openstacksdk creates a server and waits for it (%s)" % err.strip()[-500:])
    made = json.loads(out)
    sid = made["id"]
    check(made["status"] == "ACTIVE" and len(made["admin_password"]) >= 8,
          "the SDK's server is ACTIVE with an admin password")
    listed = cl.osc_json("hv-demo", "server", "list")
    check([(s["Name"], s["Status"], s["Flavor"]) for s in listed] ==
          [("vm1", "ACTIVE", "m1.tiny")],
          "openstack server list shows it ACTIVE, with its flavor's name (%s)" % listed)
    shown = cl.osc_json("hv-demo", "server", "show", "vm1")
    check(shown["id"] == sid and shown["OS-EXT-STS:power_state"] == 1 and
          shown["flavor"] == "m1.tiny (1)" and "OS-EXT-SRV-ATTR:host" not in shown,
          "server show: running, no host for a member (%s)" % shown)
    shown = cl.osc_json("hv-admin", "server", "show", sid)
    check(shown["OS-EXT-SRV-ATTR:host"] == "node-1", "an admin sees the host")

    # edit instance: openstack server set --name (PUT /servers/{id})
    rc, _, err = cl.osc("hv-demo", "server", "set", "--name", "vm1-renamed", sid)
    check(rc == 0, "openstack server set --name renames it (%s)" % err.strip())
    check(cl.osc_json("hv-demo", "server", "show", sid)["name"] == "vm1-renamed",
          "server show gives the new name")
    rc, _, err = cl.osc("hv-demo", "server", "set", "--name", "vm1", sid)
    check(rc == 0 and cl.osc_json("hv-demo", "server", "show", sid)["name"] == "vm1",
          "and back (%s)" % err.strip())
    other = cl.token("dave", "dave-pass-333", "admin")
    status, _, body = cl.http("PUT", "/compute/v2.1/servers/" + sid, other,
                              {"server": {"name": "stolen"}})
    check(status == 404, "a member of another project cannot rename it (%d)" % status)
    status, _, body = cl.http("PUT", "/compute/v2.1/servers/" + sid,
                              cl.token("bob", "bob-pass-22", "demo"),
                              {"server": {"accessIPv4": "10.0.0.1"}})
    check(status == 400 and cl.osc_json("hv-demo", "server", "show", sid)["name"] == "vm1",
          "a field that is not served is 400 and changes nothing (%d)" % status)

    rc, _, err = cl.osc("hv-dave", "server", "show", sid)
    check(rc != 0 and "No server" in err,
          "a member of another project cannot see it (%s)" % err.strip())
    dave = cl.token("dave", "dave-pass-333", "admin")
    status, _, body = cl.http("GET", "/compute/v2.1/servers/" + sid, dave)
    check(status == 404 and "itemNotFound" in body, "... the API says 404 itemNotFound")
    status, _, _ = cl.http("DELETE", "/compute/v2.1/servers/" + sid, dave)
    check(status == 404, "... and cannot delete it")
    rc, _, err = cl.osc("hv-rita", "server", "reboot", sid)
    check(rc != 0 and "403" in err, "a reader cannot reboot it: 403 (%s)" % err.strip())

    rc, _, err = cl.osc("hv-demo", "server", "reboot", "--wait", "vm1")
    check(rc == 0, "server reboot --wait succeeds (%s)" % err.strip())
    rc, _, err = cl.osc("hv-demo", "server", "reboot", "--hard", "--wait", "vm1")
    check(rc == 0, "server reboot --hard --wait succeeds (%s)" % err.strip())
    rc, _, err = cl.osc("hv-demo", "server", "stop", "vm1")
    check(rc == 0, "server stop succeeds (%s)" % err.strip())
    wait_status(cl, "hv-demo", "vm1", "SHUTOFF")
    bob = cl.token("bob", "bob-pass-22", "demo")
    status, _, body = cl.http("POST", "/compute/v2.1/servers/%s/action" % sid, bob,
                              body={"pause": None})
    check(status == 409 and body["conflictingRequest"]["message"] ==
          "Cannot 'pause' instance %s while it is in vm_state stopped" % sid,
          "pausing a stopped server is a 409 in nova's words (%s)" % body)
    rc, _, err = cl.osc("hv-demo", "server", "start", "vm1")
    check(rc == 0, "server start succeeds (%s)" % err.strip())
    wait_status(cl, "hv-demo", "vm1", "ACTIVE")
    rc, _, err = cl.osc("hv-demo", "server", "pause", "vm1")
    check(rc == 0, "server pause succeeds (%s)" % err.strip())
    wait_status(cl, "hv-demo", "vm1", "PAUSED")
    rc, _, err = cl.osc("hv-demo", "server", "unpause", "vm1")
    check(rc == 0, "server unpause succeeds (%s)" % err.strip())
    wait_status(cl, "hv-demo", "vm1", "ACTIVE")
    rc, _, err = cl.osc("hv-demo", "server", "suspend", "vm1")
    check(rc == 0, "server suspend succeeds (%s)" % err.strip())
    wait_status(cl, "hv-demo", "vm1", "SUSPENDED")
    rc, _, err = cl.osc("hv-demo", "server", "resume", "vm1")
    check(rc == 0, "server resume succeeds (%s)" % err.strip())
    wait_status(cl, "hv-demo", "vm1", "ACTIVE")
    rc, _, err = cl.osc("hv-demo", "server", "resize", "--flavor", "m1.small", "--wait", "vm1")
    check(rc == 0, "server resize --wait succeeds (%s)" % err.strip())
    wait_status(cl, "hv-demo", "vm1", "VERIFY_RESIZE")
    rc, _, err = cl.osc("hv-demo", "server", "resize", "confirm", "vm1")
    check(rc == 0, "server resize confirm succeeds (%s)" % err.strip())
    wait_status(cl, "hv-demo", "vm1", "ACTIVE")
    shown = cl.osc_json("hv-demo", "server", "show", "vm1")
    check(shown["flavor"] == "m1.small (2)", "the server now has m1.small (%s)" % shown["flavor"])
    # rebuild and snapshot through the API: cirros is in the host's own image store, not in
    # the catalog, so openstackclient could not resolve it by name
    action = "/compute/v2.1/servers/%s/action" % sid
    status, _, body = cl.http("POST", action, bob, body={"rebuild": {"imageRef": "cirros"}})
    check(status == 202 and body["server"]["id"] == sid and len(body["server"]["adminPass"]) >= 8,
          "rebuild answers 202 with the server and its new password (%s)" % status)
    wait_status(cl, "hv-demo", "vm1", "ACTIVE")
    status, headers, _ = cl.http("POST", action, bob, body={"createImage": {"name": "snap1"}})
    loc = headers.get("Location", "")
    check(status == 202 and re.search(r"/images/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-"
                                      r"[0-9a-f]{4}-[0-9a-f]{12}$", loc),
          "createImage answers 202 with the new image's Location, a UUID (%s)" % loc)
    wait_status(cl, "hv-demo", "vm1", "ACTIVE")
    status, _, _ = cl.http("POST", action, bob, body={"changePassword": {"adminPass": "n3w-pass"}})
    check(status == 202, "changePassword answers 202 (%s)" % status)
    wait_status(cl, "hv-demo", "vm1", "ACTIVE")
    rc, _, err = cl.osc("hv-demo", "server", "rescue", "vm1")
    check(rc == 0, "server rescue succeeds (%s)" % err.strip())
    wait_status(cl, "hv-demo", "vm1", "RESCUE")
    rc, _, err = cl.osc("hv-demo", "server", "unrescue", "vm1")
    check(rc == 0, "server unrescue succeeds (%s)" % err.strip())
    wait_status(cl, "hv-demo", "vm1", "ACTIVE")
    rc, out, err = cl.osc("hv-demo", "console", "log", "show", "vm1")
    rc2, hv_out, _ = cl.c.hv("server", "console-log", sid)
    # the fake guest's log grows by a line a second: the beginnings match
    check(rc == 0 and rc2 == 0 and "vm1 login:" in out and
          out.splitlines()[:9] == hv_out.splitlines()[:9],
          "console log show prints the host's console log, as hv does (%s)" % err.strip())
    rc, out, err = cl.osc("hv-demo", "console", "log", "show", "--lines", "1", "vm1")
    check(rc == 0 and len(out.strip().splitlines()) == 1 and "uptime:" in out,
          "--lines 1 prints only its last line (%r)" % out)
    return sid


def nova(cl, sid):
    env = {"OS_AUTH_URL": cl.url + "/identity/v3", "OS_USERNAME": "bob",
           "OS_PASSWORD": "bob-pass-22", "OS_PROJECT_NAME": "demo",
           "OS_USER_DOMAIN_NAME": "Default", "OS_PROJECT_DOMAIN_NAME": "Default"}
    r = subprocess.run(["nova", "list"], env=dict(os.environ, **env), capture_output=True,
                       text=True, timeout=120)
    check(r.returncode == 0 and sid in r.stdout and "ACTIVE" in r.stdout,
          "nova list shows the server (%s)" % r.stderr.strip()[-300:])
    r = subprocess.run(["nova", "show", sid], env=dict(os.environ, **env),
                       capture_output=True, text=True, timeout=120)
    check(r.returncode == 0 and "vm1" in r.stdout and "OS-EXT-STS:vm_state" in r.stdout,
          "nova show shows it (%s)" % r.stderr.strip()[-300:])


def bad_requests(cl, sid):
    bob = cl.token("bob", "bob-pass-22", "demo")
    before = cl.http("GET", "/compute/v2.1/servers", bob)[2]
    status, _, body = cl.http("GET", "/compute/v2.1/servers", "not-a-token")
    check(status == 401 and body["error"]["code"] == 401, "a bad token gets 401 (%s)" % body)
    status, headers, body = cl.http("POST", "/compute/v2.1/servers", bob, raw=b"{not json")
    check(status == 400 and "badRequest" in body and
          headers["x-openstack-request-id"].startswith("req-"),
          "malformed JSON gets 400 badRequest with a request id (%s)" % body)
    status, _, body = cl.http("GET", "/compute/v2.1/servers", bob,
                              headers={"OpenStack-API-Version": "compute 2.99"})
    check(status == 406, "an unknown microversion gets 406 (%s)" % body)
    big = json.dumps({"server": {"name": "x" * (2 * 1024 * 1024)}}).encode()
    status, _, body = cl.http("POST", "/compute/v2.1/servers", bob, raw=big)
    check(status == 413, "an oversize body gets 413 (%s)" % status)
    status, _, body = cl.http("POST", "/compute/v2.1/servers", bob, body={"server": {
        "name": "vm2", "imageRef": "cirros", "flavorRef": "no-such-flavor"}})
    check(status == 400 and body["badRequest"]["message"] ==
          "Flavor no-such-flavor could not be found.",
          "an unknown flavorRef is 400 in nova's words (%d %s)" % (status, body))
    check(cl.http("GET", "/compute/v2.1/servers", bob)[2] == before,
          "none of the refused requests changed the servers")


def tokens(cl):
    """Tokens live in the database: they survive a restart; revoked or of a deleted user,
    they stop working at once."""
    bob = cl.token("bob", "bob-pass-22", "demo")
    rita = cl.token("rita", "rita-pass-4444", "demo")
    cl.c.kill("hvcentral", signal.SIGTERM)
    cl.c.start_central(conf_extra="[openstack]\nlisten = %s\n" % cl.url[len("http://"):])
    status, _, _ = cl.http("GET", "/compute/v2.1/servers", bob)
    check(status == 200, "a token still works after hvcentral restarts (%d)" % status)
    status, _, _ = cl.http("DELETE", "/identity/v3/auth/tokens", bob,
                           headers={"X-Subject-Token": bob})
    check(status == 204, "a token is revoked (%d)" % status)
    status, _, _ = cl.http("GET", "/compute/v2.1/servers", bob)
    check(status == 401, "a revoked token gets 401 (%d)" % status)
    rc, _, err = cl.c.hv("user", "delete", "rita")
    check(rc == 0, "hv user delete succeeds (%s)" % err.strip())
    status, _, _ = cl.http("GET", "/compute/v2.1/servers", rita)
    check(status == 401, "a deleted user's token gets 401 (%d)" % status)


def delete(cl, sid):
    rc, _, err = cl.osc("hv-demo", "server", "delete", "--wait", "vm1")
    check(rc == 0, "server delete --wait succeeds (%s)" % err.strip())
    check(cl.osc_json("hv-demo", "server", "list") == [], "server list is empty again")


def main():
    c, cl = setup()
    identity(cl)
    flavors(cl)
    keypairs(cl)
    sid = servers(cl)
    nova(cl, sid)
    limits(cl)
    bad_requests(cl, sid)
    tokens(cl)
    delete(cl, sid)


if __name__ == "__main__":
    harness.run(main)
