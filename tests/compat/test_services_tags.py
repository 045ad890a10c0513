#!/usr/bin/python3
"""Operators' and users' words on the compute API through Debian's `openstack`: a compute
service disabled with a reason (`compute service set --disable`), seen by `compute service
list` and `hv host show`, takes no new server while its own keep running, and is enabled
again; forced down (2.11) and through 2.53's PUT /os-services/{id}; host_status (2.16) of
servers on it for admins only; a server's description (2.19) on create and by `server set`;
tags (2.26) by `server set --tag`, the tags API and the list filters, nova's limits
refused naming the field; evacuate at 2.14 answers no password. Members are refused the
service changes and nothing changes on a refused request."""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
import harness  # noqa: E402
from harness import check  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import clouds  # noqa: E402
from test_openstack import Cloud, wait_status  # noqa: E402

HOSTS = ("node-1", "node-2")


def services(cl):
    return {s["Host"]: s for s in cl.osc_json("hv-admin", "--os-compute-api-version", "2.11",
                                               "compute", "service", "list", "--long")}


def create(cl, name, *extra):
    return cl.osc_json("hv-admin", "--os-compute-api-version", "2.26", "server", "create",
                       "--flavor", "m1.tiny", "--image", "cirros", "--wait", *extra, name)


def mv(n):
    return {"OpenStack-API-Version": "compute 2.%d" % n}


def service_tests(c, cl, admin, member):
    """Answers the host of the server "before" and the other host."""
    before = create(cl, "before")
    one = before["OS-EXT-SRV-ATTR:host"]
    two = [h for h in HOSTS if h != one][0]
    check(one in HOSTS, "a server on %s first" % one)
    rc, _, err = cl.osc("hv-bob", "compute", "service", "set", "--disable", one,
                        "nova-compute")
    check(rc != 0 and "403" in err, "a member may not disable a service (%s)" %
          err.strip()[-160:])
    check(services(cl)[one]["Status"] == "enabled", "and the first host is still enabled")
    rc, _, err = cl.osc("hv-admin", "compute", "service", "set", "--disable",
                        "--disable-reason", "disk swap", one, "nova-compute")
    check(rc == 0, "compute service set --disable --disable-reason (%s)" % err.strip()[-200:])
    s = services(cl)[one]
    check(s["Status"] == "disabled" and s["Disabled Reason"] == "disk swap" and
          s["State"] == "up", "service list: the first host disabled, reason disk swap, up (%s)" % s)
    shown = c.hv_json("host", "show", one)
    check(shown.get("status") == "disabled" and shown.get("disabled_reason") == "disk swap",
          "hv host show the first host: disabled (disk swap) (%s)" %
          {k: shown.get(k) for k in ("status", "disabled_reason")})
    hyp = cl.osc_json("hv-admin", "hypervisor", "show", one)
    check(hyp.get("status") == "disabled", "hypervisor show the first host: disabled (%s)" %
          hyp.get("status"))
    for i in range(3):
        s = create(cl, "after-%d" % i)
        check(s["OS-EXT-SRV-ATTR:host"] == two,
              "a new server avoids the disabled host (%s)" % s.get("OS-EXT-SRV-ATTR:host"))
    shown = cl.osc_json("hv-admin", "server", "show", "before")
    check(shown["status"] == "ACTIVE" and shown["OS-EXT-SRV-ATTR:host"] == one,
          "the server already on the first host keeps running there (%s)" % shown["status"])

    # 2.16 host_status: admins see it, members do not, older versions do not
    st = cl.osc_json("hv-admin", "--os-compute-api-version", "2.16", "server", "show",
                     "before")
    check(st.get("host_status") == "MAINTENANCE", "host_status MAINTENANCE on the disabled "
          "host (%s)" % st.get("host_status"))
    st = cl.osc_json("hv-admin", "--os-compute-api-version", "2.16", "server", "show",
                     "after-0")
    check(st.get("host_status") == "UP", "host_status UP on the other host (%s)" %
          st.get("host_status"))
    check("host_status" not in cl.osc_json("hv-admin", "server", "show", "before"),
          "no host_status at 2.1")
    _, _, body = cl.http("GET", "/compute/v2.1/servers/detail", member, headers=mv(16))
    check(all("host_status" not in s for s in body["servers"]),
          "no host_status for a member at 2.16")

    rc, _, err = cl.osc("hv-admin", "compute", "service", "set", "--enable", one,
                        "nova-compute")
    s = services(cl)[one]
    check(rc == 0 and s["Status"] == "enabled" and s["Disabled Reason"] is None,
          "compute service set --enable clears the reason (%s %s)" % (s, err.strip()[-120:]))
    check(c.hv_json("host", "show", one).get("status") == "enabled",
          "hv host show the first host: enabled again")

    # forced down (2.11)
    rc, _, err = cl.osc("hv-admin", "--os-compute-api-version", "2.11", "compute", "service",
                        "set", "--down", one, "nova-compute")
    s = services(cl)[one]
    check(rc == 0 and s["State"] == "down" and s["Forced Down"] is True,
          "compute service set --down: the first host down, forced (%s %s)" % (s, err.strip()[-120:]))
    st = cl.osc_json("hv-admin", "--os-compute-api-version", "2.16", "server", "show",
                     "before")
    check(st.get("host_status") == "DOWN", "host_status DOWN (%s)" % st.get("host_status"))
    s = create(cl, "while-down")
    check(s["OS-EXT-SRV-ATTR:host"] == two, "a forced down host takes no server")
    rc, _, err = cl.osc("hv-admin", "--os-compute-api-version", "2.11", "compute", "service",
                        "set", "--up", one, "nova-compute")
    check(rc == 0 and services(cl)[one]["State"] == "up", "--up: the first host up again (%s)" %
          err.strip()[-120:])

    # 2.53: PUT /os-services/{id}, the id the host's
    st, _, body = cl.http("PUT", "/compute/v2.1/os-services/" + one, admin,
                          {"status": "disabled", "disabled_reason": "by id"}, headers=mv(53))
    check(st == 200 and body["service"]["status"] == "disabled" and
          body["service"]["disabled_reason"] == "by id" and body["service"]["id"] == one,
          "2.53 PUT /os-services/the first host disables it (%d %s)" % (st, body))
    st, _, body = cl.http("PUT", "/compute/v2.1/os-services/" + one, admin,
                          {"status": "off"}, headers=mv(53))
    check(st == 400 and "status" in json.dumps(body), "a bad status is 400 naming it (%s)" %
          body)
    st, _, body = cl.http("PUT", "/compute/v2.1/os-services/nowhere", admin,
                          {"status": "enabled"}, headers=mv(53))
    check(st == 404, "an unknown service is 404 (%d)" % st)
    st, _, _ = cl.http("PUT", "/compute/v2.1/os-services/" + one, member,
                       {"status": "enabled"}, headers=mv(53))
    check(st == 403 and services(cl)[one]["Status"] == "disabled",
          "a member's 2.53 PUT is 403 and changes nothing (%d)" % st)
    st, _, body = cl.http("PUT", "/compute/v2.1/os-services/" + one, admin,
                          {"status": "enabled"}, headers=mv(53))
    check(st == 200 and body["service"]["status"] == "enabled", "and enabled by id")
    return one, two


def description_tags(c, cl, admin, member):
    s = cl.osc_json("hv-demo", "--os-compute-api-version", "2.19", "server", "create",
                    "--flavor", "m1.tiny", "--image", "cirros", "--description", "web tier",
                    "--wait", "web")
    sid = s["id"]
    shown = cl.osc_json("hv-demo", "--os-compute-api-version", "2.19", "server", "show", "web")
    check(shown.get("description") == "web tier", "server create --description: shown "
          "(%s)" % shown.get("description"))
    rc, _, err = cl.osc("hv-demo", "--os-compute-api-version", "2.19", "server", "set",
                        "--description", "front tier", "web")
    shown = cl.osc_json("hv-demo", "--os-compute-api-version", "2.19", "server", "show", "web")
    check(rc == 0 and shown.get("description") == "front tier",
          "server set --description (%s %s)" % (shown.get("description"), err.strip()[-120:]))
    st, _, body = cl.http("PUT", "/compute/v2.1/servers/" + sid, member,
                          {"server": {"description": "x" * 256}}, headers=mv(19))
    check(st == 400 and "description" in json.dumps(body),
          "a 256-character description is 400 naming it (%d %s)" % (st, body))
    st, _, body = cl.http("PUT", "/compute/v2.1/servers/" + sid, member,
                          {"server": {"description": "y"}})
    check(st == 400, "a description at 2.1 is 400 (%d)" % st)
    check(cl.osc_json("hv-demo", "--os-compute-api-version", "2.19", "server", "show",
                      "web").get("description") == "front tier", "and neither changed it")

    # tags
    rc, _, err = cl.osc("hv-demo", "--os-compute-api-version", "2.26", "server", "set",
                        "--tag", "blue", "--tag", "prod", "web")
    shown = cl.osc_json("hv-demo", "--os-compute-api-version", "2.26", "server", "show", "web")
    check(rc == 0 and sorted(shown.get("tags") or []) == ["blue", "prod"],
          "server set --tag blue --tag prod (%s %s)" % (shown.get("tags"), err.strip()[-120:]))
    other = cl.osc_json("hv-demo", "--os-compute-api-version", "2.52", "server", "create",
                        "--flavor", "m1.tiny", "--image", "cirros", "--tag", "blue", "--wait",
                        "db")
    listed = lambda *a: sorted(x["Name"] for x in cl.osc_json(
        "hv-demo", "--os-compute-api-version", "2.26", "server", "list", *a))
    check(listed("--tags", "blue") == ["db", "web"], "server list --tags blue: both (%s)" %
          listed("--tags", "blue"))
    check(listed("--tags", "blue,prod") == ["web"], "--tags blue,prod: web")
    check(listed("--not-tags", "prod") == ["db"], "--not-tags prod: db (%s)" %
          listed("--not-tags", "prod"))
    path = "/compute/v2.1/servers/%s/tags" % sid
    st, _, body = cl.http("GET", path, member, headers=mv(26))
    check(st == 200 and sorted(body["tags"]) == ["blue", "prod"], "GET tags (%s)" % body)
    st, _, _ = cl.http("PUT", path + "/green", member, headers=mv(26))
    check(st == 201, "PUT tags/green is 201 (%d)" % st)
    st, _, _ = cl.http("PUT", path + "/green", member, headers=mv(26))
    check(st == 204, "again 204 (%d)" % st)
    st, _, _ = cl.http("GET", path + "/green", member, headers=mv(26))
    check(st == 204, "GET tags/green 204 (%d)" % st)
    st, _, _ = cl.http("DELETE", path + "/blue", member, headers=mv(26))
    st2, _, _ = cl.http("GET", path + "/blue", member, headers=mv(26))
    check(st == 204 and st2 == 404, "DELETE tags/blue then 404 (%d %d)" % (st, st2))
    for bad, why in ((["a/b"], "'/'"), (["a,b"], "','"), (["x" * 61], "61 characters"),
                     (["t%d" % i for i in range(51)], "51 tags"), ("blue", "not a list")):
        st, _, body = cl.http("PUT", path, member, {"tags": bad}, headers=mv(26))
        check(st == 400 and "tags" in json.dumps(body), "tags with %s: 400 naming the field "
              "(%d %s)" % (why, st, body))
    st, _, body = cl.http("GET", path, member, headers=mv(26))
    check(sorted(body["tags"]) == ["green", "prod"], "and the refusals changed nothing (%s)" %
          body)
    st, _, body = cl.http("PUT", path, member, {"tags": ["one", "two"]}, headers=mv(26))
    check(st == 200 and body["tags"] == ["one", "two"], "PUT tags replaces them (%s)" % body)
    st, _, _ = cl.http("GET", path, member, headers=mv(25))
    check(st == 404, "tags before 2.26: 404 (%d)" % st)
    st, _, _ = cl.http("DELETE", path, member, headers=mv(26))
    st2, _, body = cl.http("GET", path, member, headers=mv(26))
    check(st == 204 and body["tags"] == [], "DELETE tags clears them (%d %s)" % (st, body))
    st, _, _ = cl.http("GET", "/compute/v2.1/servers/%s/tags" % other["id"], admin,
                       headers=mv(26))
    check(st == 200, "an admin reads another project's server tags")


def evacuate_214(c, cl, admin, one, two):
    rc, _, err = cl.osc("hv-admin", "--os-compute-api-version", "2.11", "compute", "service",
                        "set", "--down", one, "nova-compute")
    check(rc == 0, "the first host forced down for an evacuation (%s)" % err.strip()[-120:])
    sid = cl.osc_json("hv-admin", "server", "show", "before")["id"]
    st, _, body = cl.http("POST", "/compute/v2.1/servers/%s/action" % sid, admin,
                          {"evacuate": {"adminPass": "S3cret-pass"}}, headers=mv(14))
    check(st == 200 and body is None, "evacuate at 2.14 from a forced down host: 200, no body "
          "(%d %s)" % (st, body))
    wait_status(cl, "hv-admin", "before", "ACTIVE")
    shown = cl.osc_json("hv-admin", "server", "show", "before")
    check(shown["OS-EXT-SRV-ATTR:host"] == two, "rebuilt on the other host (%s)" %
          shown["OS-EXT-SRV-ATTR:host"])


def main():
    c = harness.Cluster()
    port = harness.free_port()
    c.start_central(conf_extra="[openstack]\nlisten = 127.0.0.1:%d\n" % port)
    for h in HOSTS:
        c.allow(h)
        c.start_agent(h)
    for h in HOSTS:
        c.wait_host(h, "up")
    rc, _, err = c.hv("project", "create", "demo")
    check(rc == 0, "project demo (%s)" % err.strip())
    url = "http://127.0.0.1:%d" % port
    config = clouds.setup(c, url, [("hv-admin", "alice", "admin", "admin", "alice-pass-1"),
                                   ("hv-bob", "bob", "admin", "member", "bob-pass-22"),
                                   ("hv-demo", "dora", "demo", "member", "dora-pass-333")])
    cl = Cloud(c, url, config)
    raw = c.path("tiny.raw")
    with open(raw, "wb") as f:
        f.write(b"\0" * 65536)
    cl.osc_json("hv-admin", "image", "create", "--file", raw, "--disk-format", "raw",
                "--container-format", "bare", "--public", "cirros")
    admin = cl.token("alice", "alice-pass-1", "admin")
    member = cl.token("dora", "dora-pass-333", "demo")
    one, two = service_tests(c, cl, admin, member)
    description_tags(c, cl, admin, member)
    evacuate_214(c, cl, admin, one, two)


if __name__ == "__main__":
    harness.run(main)
