#!/usr/bin/python3
"""Networks, security groups and floating IPs through hvcentral to a host's firewall: a
fake-driver agent with its netfilter module on, in a network namespace of its own (unshare
-rn, a veth pair for the external interface), so what hvcentral sends lands in real nf_tables and in the
agent's journaled firewall state, which this test reads. A server created with --network and
--security-group gets a port (fa:16:3e MAC, the lowest free address) in its spawn, and the
host holds the group's rules and the port before the guest exists; rule changes, group
membership and floating IPs reach the host; delete frees ports, the floating IP's
association and the address; a host that was down longer than any command's deadline gets
what it missed when it returns (firewall commands are resent until acknowledged); and
every bad input of the acceptance is refused naming its field, changing nothing."""
import json
import os
import sqlite3
import subprocess
import sys
import time

import harness
from harness import check, wait_for

NS_SCRIPT = ("ip link set lo up && ip link add ext0 type veth peer name ext1 && ip link set ext0 up && "
             "exec \"$@\"")
WRAP = ["unshare", "-rn", "sh", "-c", NS_SCRIPT, "sh"]
NF_CONF = "[netfilter]\nenabled = true\nexternal_interface = ext0\nresync_interval = 0\n"


def can_unshare():
    r = subprocess.run(["unshare", "-rn", "sh", "-c",
                        "ip link add ext0 type veth peer name ext1 && nft list ruleset"],
                       capture_output=True, text=True)
    return r.returncode == 0, (r.stderr or r.stdout).strip()


def nf_state(c, host):
    """The firewall state the host's agent journaled (docs/protocol-netfilter.md 1.4)."""
    path = c.path("agent-" + host, "journal.sqlite")
    try:
        db = sqlite3.connect("file:%s?mode=ro" % path, uri=True, timeout=5)
        row = db.execute("SELECT value FROM meta WHERE key = 'netfilter_state'").fetchone()
        db.close()
    except sqlite3.Error:
        return {}
    return json.loads(row[0]) if row else {}


def nf_group(c, host, gid):
    for g in nf_state(c, host).get("security_groups", []):
        if g["id"] == gid:
            return g
    return None


def refused(c, args, field, what):
    rc, _, err = c.hv(*args)
    check(rc != 0 and field in err, "%s is refused naming %s (%s)" % (what, field, err.strip()))


def bad_external_cidr():
    """hvcentral refuses to start (78) on an [network] external_cidr that does not parse."""
    c = harness.Cluster()
    subprocess.run([c.binary("central/hvcentral"), "--init", c.path("central")],
                   capture_output=True, check=True)
    conf = c.path("bad.conf")
    with open(conf, "w") as f:
        f.write("[DEFAULT]\nstate_dir = %s\n[agents]\nendpoint = %s\n[api]\nendpoint = %s\n"
                "[network]\nexternal_cidr = 203.0.113.9/24\n"
                % (c.path("central"), c.agent_ep, c.api))
    r = subprocess.run([c.binary("central/hvcentral"), "-c", conf], capture_output=True,
                       text=True, timeout=60)
    check(r.returncode == 78 and "external_cidr" in r.stderr and "host bits" in r.stderr,
          "hvcentral stops (78) on an external_cidr with host bits set (%s)" %
          r.stderr.strip().splitlines()[-1:])
    c.stop_all()


def main():
    bad_external_cidr()
    ok, why = can_unshare()
    if not ok:
        print("skipped: cannot make a network namespace with nf_tables here: " + why)
        sys.exit(harness.SKIP)
    c = harness.Cluster()
    # [commands] timeout: a command not accepted in 2 s fails; firewall commands have no
    # deadline, which the resync below relies on
    c.start_central(conf_extra="timeout = 2\n[network]\nexternal_cidr = 203.0.113.0/26\n")
    c.allow("node-1")
    c.start_agent("node-1", conf_extra=NF_CONF, wrap=WRAP)
    c.wait_host("node-1", "up")

    net = c.hv_json("network", "create", "private")
    check(net["name"] == "private" and net["router:external"] is False and
          net["status"] == "ACTIVE", "network create answers Neutron's record")
    sub = c.hv_json("subnet", "create", "private-v4", "--network", "private",
                    "--subnet-range", "10.0.0.0/24", "--dns-nameserver", "192.0.2.53")
    check(sub["cidr"] == "10.0.0.0/24" and sub["gateway_ip"] == "10.0.0.1" and
          sub["allocation_pools"] == [{"start": "10.0.0.2", "end": "10.0.0.254"}],
          "the subnet's gateway is its first address, the pool the rest (%s)" %
          sub["allocation_pools"])
    pub = c.hv_json("network", "show", "public")
    check(pub["router:external"] is True and len(pub["subnets"]) == 1 and
          c.hv_json("subnet", "show", pub["subnets"][0])["cidr"] == "203.0.113.0/26",
          "[network] external_cidr made the external network 'public' at start")
    ext2 = c.hv_json("network", "create", "ext2", "--external", "--subnet-range",
                     "198.51.100.0/29")
    check(ext2["router:external"] is True and len(ext2["subnets"]) == 1,
          "hv network create --external --subnet-range makes one with its subnet")
    f = c.hv_json("floating", "ip", "create", "ext2")
    check(f["floating_ip_address"] == "198.51.100.2" and f["floating_network_id"] == ext2["id"],
          "a floating IP from the network named")
    rc, _, err = c.hv("floating", "ip", "delete", f["floating_ip_address"])
    check(rc == 0, "floating ip delete by address (%s)" % err.strip())
    rc, _, err = c.hv("network", "delete", "ext2")
    names = sorted(n["name"] for n in c.hv_json("network", "list"))
    check(rc == 0 and names == ["private", "public"], "network delete (%s %s)" % (names, err))

    # bad input: each names its field and changes nothing
    refused(c, ["network", "create", "private"], "args.name", "a second network 'private'")
    refused(c, ["subnet", "create", "s", "--network", "private", "--subnet-range",
                "10.0.0.300/24"], "args.cidr", "a CIDR that does not parse")
    refused(c, ["subnet", "create", "s", "--network", "private", "--subnet-range",
                "10.1.0.5/24"], "args.cidr", "a CIDR with host bits")
    refused(c, ["subnet", "create", "s", "--network", "nope", "--subnet-range",
                "10.1.0.0/24"], "args.network", "an unknown network")
    refused(c, ["subnet", "create", "s", "--network", "private", "--subnet-range",
                "10.0.0.128/25"], "args.cidr", "a subnet overlapping another of the network")
    refused(c, ["subnet", "create", "s", "--network", "private", "--subnet-range",
                "10.2.0.0/24", "--gateway", "10.3.0.1"], "args.gateway_ip",
            "a gateway outside the subnet")
    check(len(c.hv_json("subnet", "list")) == 2, "and no subnet was added")

    sg = c.hv_json("security", "group", "create", "ssh", "--description", "SSH in")
    refused(c, ["security", "group", "create", "ssh"], "args.name", "a second group 'ssh'")
    names = sorted(g["name"] for g in c.hv_json("security", "group", "list"))
    check(names == ["default", "ssh"], "the project has 'default' and 'ssh' (%s)" % names)
    rule = c.hv_json("security", "group", "rule", "create", "ssh", "--protocol", "tcp",
                     "--dst-port", "22", "--remote-ip", "0.0.0.0/0")
    check((rule["direction"], rule["protocol"], rule["port_range_min"],
           rule["port_range_max"]) == ("ingress", "tcp", 22, 22), "a rule for TCP 22 in")
    before = c.hv_json("security", "group", "rule", "list", "ssh")
    refused(c, ["security", "group", "rule", "create", "ssh", "--protocol", "tcp",
                "--dst-port", "90:80"], "args.port_range_min", "port_min > port_max")
    refused(c, ["security", "group", "rule", "create", "ssh", "--protocol", "tcp",
                "--dst-port", "80", "--remote-ip", "10.0.0.0/33"], "args.remote_ip_prefix",
            "a remote CIDR that does not parse")
    refused(c, ["security", "group", "rule", "create", "ssh", "--protocol", "tcp",
                "--dst-port", "22", "--remote-ip", "0.0.0.0/0"], "args", "the same rule twice")
    refused(c, ["security", "group", "rule", "create", "ssh", "--remote-group", "nope"],
            "args.remote_group", "an unknown remote group")
    check(c.hv_json("security", "group", "rule", "list", "ssh") == before,
          "and the group's rules are as they were")
    c.hv_json("quota", "set", "--security-groups", "2", "--security-group-rules", "7")
    refused(c, ["security", "group", "create", "third"], "security_groups",
            "a group over the security_groups quota")
    refused(c, ["security", "group", "rule", "create", "ssh", "--protocol", "udp",
                "--dst-port", "1"], "security_group_rules",
            "a rule over the security_group_rules quota (4 + 3 in use)")
    check(c.hv_json("security", "group", "rule", "list", "ssh") == before and
          len(c.hv_json("security", "group", "list")) == 2, "and nothing was added")
    c.hv_json("quota", "set", "--security-groups", "10", "--security-group-rules", "100")

    refused(c, ["server", "create", "x", "--host", "node-1", "--flavor", "m1.tiny", "--image",
                "cirros", "--network", "nope"], "args.networks[0]", "an unknown network")
    refused(c, ["server", "create", "x", "--host", "node-1", "--flavor", "m1.tiny", "--image",
                "cirros", "--network", "private", "--security-group", "nope"],
            "args.security_groups[0]", "an unknown security group")
    check(not [s for s in c.hv_json("server", "list") if s["name"] == "x"] and
          not c.hv_json("port", "list"), "and no server or port was made")

    # a server on the network, in the group
    rc, out, err = c.hv("server", "create", "web-1", "--host", "node-1", "--flavor", "m1.tiny",
                        "--image", "cirros", "--network", "private", "--security-group", "ssh",
                        "--wait", "-f", "json")
    check(rc == 0, "server create --network private --security-group ssh (%s)" % err.strip())
    web = json.loads(out)
    ports = c.hv_json("port", "list", "--network", "private")
    check(len(ports) == 1, "one port on the network")
    port = ports[0]
    check(port["mac_address"].startswith("fa:16:3e:") and
          port["fixed_ips"] == [{"subnet_id": sub["id"], "ip_address": "10.0.0.2"}] and
          port["device_id"] == web["uuid"] and port["security_groups"] == [sg["id"]] and
          port["binding:host_id"] == "node-1",
          "its port: a fa:16:3e MAC, 10.0.0.2, the server, group ssh, host node-1 (%s)" % port)
    spawned = [n for n in os.listdir(c.path("agent-node-1")) if os.path.isfile(
        c.path("agent-node-1", n)) and port["id"].encode() in open(
            c.path("agent-node-1", n), "rb").read()]
    check(spawned, "the host got the port with the spawn")
    st = wait_for("the host's firewall has the port",
                  lambda: [p for p in nf_state(c, "node-1").get("ports", [])
                           if p["id"] == port["id"]] and nf_state(c, "node-1"))
    nf_port = [p for p in st["ports"] if p["id"] == port["id"]][0]
    check(nf_port["mac_address"] == port["mac_address"] and
          nf_port["security_groups"] == [sg["id"]] and "10.0.0.2" in json.dumps(nf_port),
          "the host's port has the MAC, the address and the group (%s)" % nf_port)
    g = nf_group(c, "node-1", sg["id"])
    check(g and any(r.get("port_range_min") == 22 and r.get("protocol") in ("tcp", 6)
                    for r in g["rules"]), "the host has group ssh's TCP 22 rule")
    check(nf_group(c, "node-1", c.hv_json("security", "group", "show", "default")["id"])
          is None, "and not the default group, which no port of it uses")

    # a rule change reaches the host
    icmp = c.hv_json("security", "group", "rule", "create", "ssh", "--protocol", "icmp",
                     "--icmp-type", "8")
    wait_for("the host gets the ICMP rule", lambda: any(
        r.get("id") == icmp["id"] for r in (nf_group(c, "node-1", sg["id"]) or {}).get(
            "rules", [])))
    rc, _, err = c.hv("security", "group", "rule", "delete", icmp["id"])
    check(rc == 0, "rule delete (%s)" % err.strip())
    wait_for("the host loses the ICMP rule", lambda: not any(
        r.get("id") == icmp["id"] for r in (nf_group(c, "node-1", sg["id"]) or {}).get(
            "rules", [])))

    # membership
    web_sg = c.hv_json("security", "group", "create", "web")
    rc, _, err = c.hv("server", "add", "security", "group", "web-1", "web")
    check(rc == 0, "server add security group (%s)" % err.strip())
    wait_for("the host's port joins group web", lambda: [
        p for p in nf_state(c, "node-1").get("ports", [])
        if p["id"] == port["id"] and web_sg["id"] in p["security_groups"]])
    refused(c, ["server", "add", "security", "group", "web-1", "web"], "args.group",
            "joining a group twice")
    rc, _, err = c.hv("server", "remove", "security", "group", "web-1", "web")
    check(rc == 0, "server remove security group (%s)" % err.strip())
    wait_for("the host's port leaves group web", lambda: [
        p for p in nf_state(c, "node-1").get("ports", [])
        if p["id"] == port["id"] and p["security_groups"] == [sg["id"]]])
    wait_for("and the host drops group web, which none of its ports uses now",
             lambda: nf_group(c, "node-1", web_sg["id"]) is None)
    refused(c, ["security", "group", "delete", "ssh"], "args.group", "deleting a group in use")

    # floating IPs
    fip = c.hv_json("floating", "ip", "create", "public")
    check(fip["floating_ip_address"] == "203.0.113.2" and fip["port_id"] is None and
          fip["floating_network_id"] == pub["id"], "a floating IP from the public pool")
    rc, _, err = c.hv("server", "stop", "web-1", "--wait")
    check(rc == 0 and c.show("web-1")["vm_state"] == "stopped", "web-1 is stopped")
    rc, _, err = c.hv("server", "add", "floating", "ip", "web-1", fip["floating_ip_address"])
    check(rc == 0, "server add floating ip, the server stopped (%s)" % err.strip())
    shown = c.hv_json("floating", "ip", "show", fip["id"])
    check(shown["port_id"] == port["id"] and shown["fixed_ip_address"] == "10.0.0.2" and
          shown["status"] == "ACTIVE", "it is associated with the server's port")
    wait_for("the host NATs the floating IP", lambda: [
        f for f in nf_state(c, "node-1").get("floating_ips", [])
        if f["floating_ip_address"] == "203.0.113.2" and f["fixed_ip_address"] == "10.0.0.2"])
    addrs = c.show("web-1")
    check(addrs["addresses"] == {"private": [
        {"version": 4, "addr": "10.0.0.2", "OS-EXT-IPS:type": "fixed",
         "OS-EXT-IPS-MAC:mac_addr": port["mac_address"]},
        {"version": 4, "addr": "203.0.113.2", "OS-EXT-IPS:type": "floating",
         "OS-EXT-IPS-MAC:mac_addr": port["mac_address"]}]} and
          addrs["security_groups"] == [{"name": "ssh"}],
          "server show has nova's addresses and security groups (%s)" % addrs["addresses"])
    fip2 = c.hv_json("floating", "ip", "create")
    refused(c, ["server", "add", "floating", "ip", "web-1", fip2["id"]], "args.server",
            "a second floating IP on the same server")
    check(c.hv_json("floating", "ip", "show", fip2["id"])["port_id"] is None,
          "and the second one stays unassociated")
    rc, _, err = c.hv("server", "remove", "floating", "ip", "web-1", "203.0.113.2")
    check(rc == 0, "server remove floating ip (%s)" % err.strip())
    wait_for("the host drops the NAT", lambda: not nf_state(c, "node-1").get("floating_ips"))
    rc, _, err = c.hv("floating", "ip", "delete", fip2["id"])
    check(rc == 0, "floating ip delete (%s)" % err.strip())

    # the 51st floating IP is over the default quota of 50
    for _ in range(49):
        c.hv_json("floating", "ip", "create")
    count = len(c.hv_json("floating", "ip", "list"))
    check(count == 50, "50 floating IPs allocated (%d)" % count)
    rc, _, err = c.hv("floating", "ip", "create")
    check(rc == 1 and "over_quota" in err and "floating_ips" in err,
          "the 51st is over quota (%s)" % err.strip())
    check(len(c.hv_json("floating", "ip", "list")) == 50, "and is not allocated")
    quota = c.hv_json("quota", "show")
    check(quota["in_use"]["floating_ips"] == 50 and quota["in_use"]["security_groups"] == 3,
          "the quota counts them (%s)" % quota["in_use"])

    # resync: a host that was down gets what it missed when it returns
    c.hv("server", "add", "floating", "ip", "web-1", "203.0.113.2")
    wait_for("associated again", lambda: nf_state(c, "node-1").get("floating_ips"))
    c.kill("agent-node-1")
    late = c.hv_json("security", "group", "rule", "create", "ssh", "--protocol", "udp",
                     "--dst-port", "53:54")
    rc, _, err = c.hv("server", "remove", "floating", "ip", "web-1", "203.0.113.2")
    check(rc == 0, "a floating IP is disassociated while its host is down (%s)" % err.strip())
    time.sleep(3)  # past the 2 s any other command would have been given
    c.start_agent("node-1", conf_extra=NF_CONF, wrap=WRAP)
    wait_for("the returning host gets the rule it missed", lambda: any(
        r.get("id") == late["id"] for r in (nf_group(c, "node-1", sg["id"]) or {}).get(
            "rules", [])))
    wait_for("and the disassociation it missed",
             lambda: not nf_state(c, "node-1").get("floating_ips"))

    # delete frees the ports, the floating IP's association and the address
    c.hv("server", "add", "floating", "ip", "web-1", "203.0.113.2")
    wait_for("associated again", lambda: nf_state(c, "node-1").get("floating_ips"))
    rc, _, err = c.hv("server", "delete", "web-1", "--wait")
    check(rc == 0, "server delete (%s)" % err.strip())
    check(not c.hv_json("port", "list"), "its port is gone")
    check(c.hv_json("floating", "ip", "show", "203.0.113.2")["port_id"] is None,
          "its floating IP is allocated still, not associated")
    wait_for("the host unplugs the port and drops the NAT", lambda: not [
        p for p in nf_state(c, "node-1").get("ports", []) if p["id"] == port["id"]] and
        not nf_state(c, "node-1").get("floating_ips"))
    wait_for("and drops group ssh, which none of its ports uses now",
             lambda: nf_group(c, "node-1", sg["id"]) is None)
    rc, out, err = c.hv("server", "create", "web-2", "--host", "node-1", "--flavor", "m1.tiny",
                        "--image", "cirros", "--network", "private", "--wait", "-f", "json")
    check(rc == 0, "a new server on the network (%s)" % err.strip())
    p2 = c.hv_json("port", "list")[0]
    check(p2["fixed_ips"][0]["ip_address"] == "10.0.0.2",
          "gets the freed address back, the lowest free one (%s)" % p2["fixed_ips"])
    dflt = c.hv_json("security", "group", "show", "default")
    check(p2["security_groups"] == [dflt["id"]], "and the default group when none is named")
    refused(c, ["network", "delete", "private"], "args.network", "deleting a network in use")

    # a remote group across hosts: the default group admits its members on other hosts
    c.allow("node-2")
    c.start_agent("node-2", conf_extra=NF_CONF, wrap=WRAP)
    c.wait_host("node-2", "up")
    rc, out, err = c.hv("server", "create", "peer", "--host", "node-2", "--flavor", "m1.tiny",
                        "--image", "cirros", "--network", "private", "--wait", "-f", "json")
    check(rc == 0, "a server in the default group on node-2 (%s)" % err.strip())
    peer_ip = [p for p in c.hv_json("port", "list")
               if p["device_id"] == json.loads(out)["uuid"]][0]["fixed_ips"][0]["ip_address"]

    def prefixes(host):
        g = nf_group(c, host, dflt["id"]) or {"rules": []}
        # the host keeps a /32 as the bare address
        return sorted(r["remote_ip_prefix"].split("/")[0] for r in g["rules"]
                      if r.get("remote_ip_prefix"))
    wait_for("node-1's default group admits peer's address", lambda: prefixes("node-1") ==
             [peer_ip])
    wait_for("node-2's default group admits web-2's address", lambda: prefixes("node-2") ==
             ["10.0.0.2"])
    check(any(r.get("remote_group_id") == dflt["id"]
              for r in nf_group(c, "node-2", dflt["id"])["rules"]),
          "beside the remote-group rule for the host's own members")
    rc, _, err = c.hv("server", "delete", "peer", "--wait")
    check(rc == 0, "peer deleted (%s)" % err.strip())
    wait_for("node-1's default group no longer admits peer's address",
             lambda: prefixes("node-1") == [])
    wait_for("node-2 drops the default group, none of its ports uses it now",
             lambda: nf_group(c, "node-2", dflt["id"]) is None)
    rc, out, err = c.hv("server", "create", "db", "--host", "node-1", "--flavor", "m1.tiny",
                        "--image", "cirros", "--network", "private", "--min", "2", "--wait",
                        "-f", "json")
    check(rc == 0, "two servers on the network in one create (%s)" % err.strip())
    ips = sorted(p["fixed_ips"][0]["ip_address"] for p in c.hv_json("port", "list")
                 if p["device_id"] != p2["device_id"])
    check(ips == ["10.0.0.3", "10.0.0.4"], "each gets its own port and address (%s)" % ips)
    for name in ("db-1", "db-2"):
        rc, _, err = c.hv("server", "delete", name, "--wait")
        check(rc == 0, "%s deleted (%s)" % (name, err.strip()))
    check(c.hv_json("port", "list") == [p2], "and their delete frees both")

    c.kill("hvcentral")
    c.start_central()
    check(c.hv_json("port", "list") == [p2] and
          len(c.hv_json("security", "group", "rule", "list", "ssh")) == len(before) + 1,
          "ports and rules survive a restart of hvcentral")


harness.run(main)
