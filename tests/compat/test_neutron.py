#!/usr/bin/python3
"""hvcentral's Networking v2.0 front driven by Debian's openstackclient and openstacksdk
against hvcentral and a fake agent: a network and subnet, a security group with an SSH
rule, a server created on that network in that group (its fixed IP in `server show`), a
floating IP from the external network added to it and removed, extensions and quotas, the
NeutronError bodies of bad requests, and project isolation; each refusal changes nothing."""
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
import harness  # noqa: E402
from harness import check  # noqa: E402

import clouds  # noqa: E402
from test_openstack import Cloud  # noqa: E402

SDK_CREATE = """
import json, sys
import openstack
conn = openstack.connect()
s = conn.compute.create_server(name=sys.argv[1], image_id="cirros", flavor_id="1",
                               networks=[{"uuid": sys.argv[2]}],
                               security_groups=[{"name": "ssh"}])
s = conn.compute.wait_for_server(s, status="ACTIVE", interval=1, wait=90)
print(json.dumps({"id": s.id, "status": s.status}))
"""


def setup():
    c = harness.Cluster()
    port = harness.free_port()
    c.start_central(conf_extra="[openstack]\nlisten = 127.0.0.1:%d\n"
                    "[network]\nexternal_cidr = 203.0.113.0/24\n" % port)
    c.allow("node-1")
    c.start_agent("node-1")
    c.wait_host("node-1", "up")
    c.catalog_image()  # the API boots the catalog's images only
    for project in ("demo", "other"):
        rc, _, err = c.hv("project", "create", project)
        check(rc == 0, "project %s is created (%s)" % (project, err.strip()))
    url = "http://127.0.0.1:%d" % port
    config = clouds.setup(c, url, [("hv-admin", "alice", "admin", "admin", "alice-pass-1"),
                                   ("hv-demo", "bob", "demo", "member", "bob-pass-22"),
                                   ("hv-other", "carol", "other", "member", "carol-pass-333")])
    c.user("rita", "demo", "reader", "rita-pass-4444")  # a token only, no cloud
    return c, Cloud(c, url, config)


def discovery(cl, bob):
    status, _, body = cl.http("GET", "/network")
    check(status == 200 and body["versions"][0]["id"] == "v2.0",
          "GET /network is the version document (%s)" % body)
    status, _, body = cl.http("GET", "/network/v2.0/extensions", bob)
    aliases = sorted(e["alias"] for e in body["extensions"])
    check(status == 200 and aliases == ["external-net", "quotas", "security-group"],
          "the extensions served are listed (%s)" % aliases)
    status, _, body = cl.http("GET", "/network/v2.0/extensions/router", bob)
    check(status == 404 and "NeutronError" in body, "an extension not served is 404")
    status, _, _ = cl.http("GET", "/network/v2.0/networks")
    check(status == 401, "no token: 401")


def networks(cl):
    net = cl.osc_json("hv-demo", "network", "create", "private")
    check(net["name"] == "private" and net["router:external"] is False and
          net["project_id"], "openstack network create private (%s)" % net)
    sub = cl.osc_json("hv-demo", "subnet", "create", "--network", "private", "--subnet-range",
                      "10.0.0.0/24", "private-sub")
    check(sub["cidr"] == "10.0.0.0/24" and sub["network_id"] == net["id"] and
          sub["gateway_ip"] == "10.0.0.1", "subnet create makes 10.0.0.0/24 (%s)" % sub)
    names = sorted(n["Name"] for n in cl.osc_json("hv-demo", "network", "list"))
    check(names == ["private", "public"],
          "network list: bob's network and the external one (%s)" % names)
    ext = cl.osc_json("hv-demo", "network", "list", "--external")
    check([n["Name"] for n in ext] == ["public"], "network list --external: public (%s)" % ext)
    shown = cl.osc_json("hv-demo", "network", "show", "private")
    check(shown["id"] == net["id"] and sub["id"] in shown["subnets"],
          "network show lists its subnet (%s)" % shown)
    subs = cl.osc_json("hv-demo", "subnet", "list", "--network", "private")
    check([s["Subnet"] for s in subs] == ["10.0.0.0/24"], "subnet list (%s)" % subs)
    check(cl.osc_json("hv-other", "network", "list", "--internal") == [],
          "another project sees no internal network")
    rc, _, err = cl.osc("hv-demo", "network", "set", "--name", "private2", "private")
    check(rc == 0 and cl.osc_json("hv-demo", "network", "show", net["id"])["name"] ==
          "private2", "network set --name renames it (%s)" % err.strip()[-300:])
    rc, _, err = cl.osc("hv-demo", "network", "set", "--name", "private", "private2")
    check(rc == 0, "... and back (%s)" % err.strip()[-300:])
    rc, _, err = cl.osc("hv-demo", "network", "set", "--name", "mine", "public")
    check(rc != 0 and "404" in err, "the external network cannot be renamed by a member (%s)"
          % err.strip()[-300:])
    rc, _, err = cl.osc("hv-demo", "network", "set", "--name", "", "private")
    check(rc != 0, "an empty name is refused (%s)" % err.strip()[-300:])
    names = sorted(n["Name"] for n in cl.osc_json("hv-demo", "network", "list"))
    check(names == ["private", "public"], "nothing was renamed by the refusals (%s)" % names)
    return net


def groups(cl):
    sg = cl.osc_json("hv-demo", "security", "group", "create", "ssh")
    check(sg["name"] == "ssh", "security group create ssh (%s)" % sg)
    rule = cl.osc_json("hv-demo", "security", "group", "rule", "create", "--protocol", "tcp",
                       "--dst-port", "22", "ssh")
    check(rule["port_range_min"] == 22 and rule["port_range_max"] == 22 and
          rule["protocol"] == "tcp" and rule["direction"] == "ingress" and
          rule["security_group_id"] == sg["id"], "rule create tcp/22 (%s)" % rule)
    rules = cl.osc_json("hv-demo", "security", "group", "rule", "list", "ssh")
    check(rule["id"] in [r["ID"] for r in rules], "rule list shows it (%s)" % rules)
    names = [g["Name"] for g in cl.osc_json("hv-demo", "security", "group", "list")]
    check("ssh" in names, "security group list shows ssh (%s)" % names)
    return sg


def server(cl, net):
    rc, out, err = cl.run("hv-demo", "/usr/bin/python3", "-c", SDK_CREATE, "web-1", net["id"])
    check(rc == 0, "openstacksdk creates a server on private in ssh (%s)" % err.strip()[-500:])
    sid = json.loads(out)["id"]
    shown = cl.osc_json("hv-demo", "server", "show", "web-1")
    addrs = json.dumps(shown["addresses"])
    check("private" in addrs and "10.0.0." in addrs,
          "server show addresses hold the fixed IP on private (%s)" % addrs)
    check("ssh" in json.dumps(shown["security_groups"]),
          "server show lists the ssh group (%s)" % shown["security_groups"])
    ports = cl.osc_json("hv-demo", "port", "list", "--device-id", sid)
    check(len(ports) == 1 and "10.0.0." in json.dumps(ports[0]["Fixed IP Addresses"]),
          "port list --device-id: the server's port (%s)" % ports)
    return sid


def server_groups(cl, bob, carol, sid, net):
    def names():
        _, _, body = cl.http("GET", "/compute/v2.1/servers/" + sid, bob)
        return sorted(g["name"] for g in body["server"]["security_groups"])
    action = "/compute/v2.1/servers/%s/action" % sid
    status, _, _ = cl.http("POST", action, bob, body={"addSecurityGroup": {"name": "default"}})
    check(status == 202 and names() == ["default", "ssh"],
          "addSecurityGroup default: 202, the server is in both (%s)" % names())
    status, _, _ = cl.http("POST", action, bob, body={"removeSecurityGroup": {"name": "ssh"}})
    check(status == 202 and names() == ["default"], "removeSecurityGroup ssh: 202 (%s)" % names())
    status, _, _ = cl.http("POST", action, bob, body={"addSecurityGroup": {"name": "ssh"}})
    check(status == 202 and names() == ["default", "ssh"], "ssh is added back")
    rc, _, err = cl.osc("hv-demo", "server", "remove", "security", "group", "web-1", "ssh")
    check(rc == 0 and names() == ["default"],
          "openstack server remove security group (%s)" % err.strip()[-300:])
    rc, _, err = cl.osc("hv-demo", "server", "add", "security", "group", "web-1", "ssh")
    check(rc == 0 and names() == ["default", "ssh"],
          "openstack server add security group (%s)" % err.strip()[-300:])
    status, _, body = cl.http("GET", "/compute/v2.1/os-security-groups", bob)
    ssh = [g for g in body["security_groups"] if g["name"] == "ssh"]
    check(status == 200 and len(ssh) == 1 and
          [(r["ip_protocol"], r["from_port"], r["to_port"]) for r in ssh[0]["rules"]] ==
          [("tcp", 22, 22)], "os-security-groups: ssh with its ingress rule (%s)" % body)
    status, _, _ = cl.http("GET", "/compute/v2.1/os-security-groups/" + ssh[0]["id"], carol)
    check(status == 404, "another project's group is not in its os-security-groups")
    _, _, body = cl.http("GET", "/network/v2.0/security-groups?name=default", carol)
    theirs = body["security_groups"][0]["id"]
    status, _, _ = cl.http("POST", action, bob, body={"addSecurityGroup": {"name": theirs}})
    check(status == 404 and names() == ["default", "ssh"],
          "another project's group cannot be added: 404, nothing changes (%d)" % status)
    status, _, body = cl.http("POST", action, bob, body={"addSecurityGroup": {}})
    check(status == 400 and "addSecurityGroup.name" in json.dumps(body),
          "addSecurityGroup without a name: 400 naming it (%s)" % body)
    servers = lambda: len(cl.http("GET", "/compute/v2.1/servers", bob)[2]["servers"])  # noqa
    for nets, field in (([{"port": "p-1"}], "networks[0].port"), ([{}], "networks[0]"),
                        ("some", "networks")):
        status, _, body = cl.http("POST", "/compute/v2.1/servers", bob, body={"server": {
            "name": "bad", "imageRef": "cirros", "flavorRef": "1", "networks": nets}})
        check(status == 400 and field in json.dumps(body),
              "networks %s: 400 naming %s (%s)" % (nets, field, body))
    status, _, body = cl.http("POST", "/compute/v2.1/servers", bob, body={"server": {
        "name": "bad", "imageRef": "cirros", "flavorRef": "1",
        "networks": [{"uuid": net["id"]}], "security_groups": [{"name": theirs}]}})
    check(status == 404, "a server in another project's group: 404 (%s)" % body)
    check(servers() == 1, "no server was made by the refused creates")


def floating(cl, bob, sid):
    fip = cl.osc_json("hv-demo", "floating", "ip", "create", "public")
    ip = fip["floating_ip_address"]
    check(ip.startswith("203.0.113.") and not fip["port_id"],
          "floating ip create public allocates %s" % ip)
    rc, _, err = cl.osc("hv-demo", "server", "add", "floating", "ip", "web-1", ip)
    check(rc == 0, "server add floating ip (%s)" % err.strip()[-300:])
    shown = cl.osc_json("hv-demo", "server", "show", sid)
    check(ip in json.dumps(shown["addresses"]), "addresses show the floating IP (%s)"
          % shown["addresses"])
    listed = cl.osc_json("hv-demo", "floating", "ip", "show", ip)
    check(listed["port_id"] and listed["fixed_ip_address"].startswith("10.0.0."),
          "floating ip show: associated to the port (%s)" % listed)
    rc, _, err = cl.osc("hv-demo", "server", "remove", "floating", "ip", "web-1", ip)
    check(rc == 0, "server remove floating ip (%s)" % err.strip()[-300:])
    shown = cl.osc_json("hv-demo", "server", "show", sid)
    check(ip not in json.dumps(shown["addresses"]), "addresses no longer show it")
    rc, _, err = cl.c.hv("quota", "set", "demo", "--floating-ips", "1")
    check(rc == 0, "hv quota set demo --floating-ips 1 (%s)" % err.strip())
    status, _, body = cl.http("POST", "/network/v2.0/floatingips", bob, body={
        "floatingip": {"floating_network_id": fip["floating_network_id"]}})
    check(neutron_error(status, body, 403), "a second floating IP is over quota: 403 (%s)"
          % body)
    check(len(cl.osc_json("hv-demo", "floating", "ip", "list")) == 1,
          "the refused floating IP was not made")
    rc, _, err = cl.osc("hv-demo", "floating", "ip", "delete", ip)
    check(rc == 0, "floating ip delete (%s)" % err.strip()[-300:])
    check(cl.osc_json("hv-demo", "floating", "ip", "list") == [], "floating ip list is empty")


def quotas(cl, bob):
    status, _, body = cl.http("GET", "/network/v2.0/quotas/demo", bob)
    check(status == 200 and body["quota"]["security_group"] > 0 and
          body["quota"]["floatingip"] > 0, "quotas of the project (%s)" % body)
    status, _, body = cl.http("GET", "/network/v2.0/quotas/other", bob)
    check(status == 404, "another project's quotas: 404")


def neutron_error(status, body, want):
    return status == want and set(body.get("NeutronError", {})) == {"type", "message",
                                                                      "detail"}


def bad_requests(cl, bob, carol, net, sg):
    def rule_ids():
        _, _, body = cl.http("GET", "/network/v2.0/security-group-rules", bob)
        return sorted(r["id"] for r in body["security_group_rules"])
    before = rule_ids()
    status, _, body = cl.http("POST", "/network/v2.0/security-group-rules", bob, body={
        "security_group_rule": {"security_group_id": sg["id"], "direction": "ingress",
                                "protocol": "tcp", "port_range_min": 30,
                                "port_range_max": 20}})
    check(neutron_error(status, body, 400) and body["NeutronError"]["message"].startswith(
          "port_range_min: "), "port min > max: 400 naming the field (%s)" % body)
    rc, _, err = cl.osc("hv-demo", "security", "group", "rule", "create", "--protocol",
                        "tcp", "--dst-port", "70000", "ssh")
    check(rc != 0, "openstack refuses port 70000 (%s)" % err.strip()[-200:])
    check(rule_ids() == before, "no rule was added")

    status, _, body = cl.http("POST", "/network/v2.0/subnets", bob, body={
        "subnet": {"network_id": net["id"], "cidr": "10.1.0.1/33", "ip_version": 4}})
    check(neutron_error(status, body, 400) and body["NeutronError"]["message"].startswith(
          "cidr: "), "a bad CIDR: 400 naming cidr (%s)" % body)
    _, _, body = cl.http("GET", "/network/v2.0/subnets", bob)
    check(len(body["subnets"]) == 1, "no subnet was added")

    status, _, body = cl.http("GET", "/network/v2.0/networks/no-such-net", bob)
    check(neutron_error(status, body, 404), "an unknown network: 404 (%s)" % body)
    status, _, body = cl.http("POST", "/network/v2.0/subnets", bob, body={
        "subnet": {"network_id": "no-such-net", "cidr": "10.2.0.0/24"}})
    check(neutron_error(status, body, 404) and body["NeutronError"]["message"].startswith(
          "network_id: "), "a subnet on an unknown network: 404 naming network_id (%s)" % body)

    status, _, body = cl.http("GET", "/network/v2.0/security-groups/" + sg["id"], carol)
    check(neutron_error(status, body, 404), "another project's group: 404 (%s)" % body)
    status, _, body = cl.http("DELETE", "/network/v2.0/security-groups/" + sg["id"], carol)
    check(neutron_error(status, body, 404), "... and cannot be deleted: 404")
    status, _, body = cl.http("DELETE", "/network/v2.0/networks/" + net["id"], carol)
    check(neutron_error(status, body, 404), "another project's network cannot be deleted")
    _, _, body = cl.http("GET", "/network/v2.0/security-groups/" + sg["id"], bob)
    rules = body["security_group"]["security_group_rules"]
    rule = [r for r in rules if r["direction"] == "egress"][0]
    status, _, body = cl.http("DELETE", "/network/v2.0/security-group-rules/" + rule["id"],
                              carol)
    check(neutron_error(status, body, 404), "another project's rule cannot be deleted")
    status, _, body = cl.http("GET", "/network/v2.0/security-groups/" + sg["id"], bob)
    check(status == 200 and body["security_group"]["security_group_rules"] == rules,
          "the group and its rules are still there")
    rita = cl.token("rita", "rita-pass-4444", "demo")
    status, _, body = cl.http("GET", "/network/v2.0/security-groups/" + sg["id"], rita)
    check(status == 200, "a reader of the project sees its group")
    status, _, body = cl.http("DELETE", "/network/v2.0/security-groups/" + sg["id"], rita)
    check(neutron_error(status, body, 403), "... but cannot delete it: 403 (%s)" % body)
    status, _, body = cl.http("POST", "/network/v2.0/networks", rita,
                              body={"network": {"name": "readers-net"}})
    check(neutron_error(status, body, 403), "... nor create a network: 403")
    _, _, body = cl.http("GET", "/network/v2.0/networks?name=readers-net", bob)
    check(body["networks"] == [], "no network was made by the reader")
    status, _, body = cl.http("POST", "/network/v2.0/networks", bob, raw=b"{nope")
    check(neutron_error(status, body, 400), "malformed JSON: 400 (%s)" % body)
    status, _, body = cl.http("DELETE", "/network/v2.0/networks/" + net["id"], bob)
    check(neutron_error(status, body, 409), "a network with ports cannot go: 409 (%s)" % body)


def cleanup(cl):
    rc, _, err = cl.osc("hv-demo", "server", "delete", "--wait", "web-1")
    check(rc == 0, "server delete --wait (%s)" % err.strip()[-300:])
    for argv in (("security", "group", "delete", "ssh"), ("subnet", "delete", "private-sub"),
                 ("network", "delete", "private")):
        rc, _, err = cl.osc("hv-demo", *argv)
        check(rc == 0, "openstack %s (%s)" % (" ".join(argv), err.strip()[-300:]))
    names = [n["Name"] for n in cl.osc_json("hv-demo", "network", "list")]
    check(names == ["public"], "only the external network is left (%s)" % names)


def main():
    if not os.path.exists("/usr/bin/openstack"):
        print("SKIP: Debian's openstackclient is not installed (scripts/deps.sh)")
        sys.exit(77)
    c, cl = setup()
    bob = cl.token("bob", "bob-pass-22", "demo")
    carol = cl.token("carol", "carol-pass-333", "other")
    discovery(cl, bob)
    net = networks(cl)
    sg = groups(cl)
    sid = server(cl, net)
    server_groups(cl, bob, carol, sid, net)
    floating(cl, bob, sid)
    quotas(cl, bob)
    bad_requests(cl, bob, carol, net, sg)
    cleanup(cl)


if __name__ == "__main__":
    harness.run(main)
