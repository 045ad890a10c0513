#!/usr/bin/python3
"""The guide's section 2.2, "Manage Instance Security", procedure by procedure through hv
against hvcentral and two fake hosts (`test_security.py 2.2.3` runs one). What a real guest
does with the key, the password and the addresses is the workflows suite's (a TCG guest
reading its config drive, the injected key and password inside it)."""
import json
import subprocess
import sys

import guide
from guide import check


def key_pairs():
    """2.2.1: create a key pair (the private key handed over once), import one, delete."""
    c = guide.Cloud(image=None)
    key = c.path("k1")
    kp = c.hv_json("keypair", "create", "k1", "--private-key", key)
    derived = subprocess.run(["ssh-keygen", "-y", "-f", key], capture_output=True, text=True)
    check(derived.returncode == 0 and derived.stdout.split()[:2] == kp["public_key"].split()[:2],
          "the downloaded private key matches the stored public key")
    with open(key) as f:
        secret = f.read().splitlines()[2]
    check(not c.central_holds(secret), "hvcentral keeps no copy of the private key")
    check("private_key" not in c.hv_json("keypair", "show", "k1"), "show never returns it")
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", c.path("mine")],
                   check=True)
    imp = c.hv_json("keypair", "create", "laptop", "--public-key", c.path("mine.pub"))
    fp = subprocess.run(["ssh-keygen", "-l", "-f", c.path("mine.pub")], capture_output=True,
                        text=True).stdout
    check(imp["fingerprint"] in fp, "Import Key Pair: the fingerprint is the key's (%s)" %
          imp["fingerprint"])
    c.refused(["keypair", "create", "k1"], "name", "a second key pair k1")
    with open(c.path("junk.pub"), "w") as f:
        f.write("ssh-rsa not-base64 me@host\n")
    c.refused(["keypair", "create", "junk", "--public-key", c.path("junk.pub")], "public_key",
              "a public key that does not parse")
    c.ok("keypair", "delete", "k1")
    check([k["name"] for k in c.hv_json("keypair", "list")] == ["laptop"], "k1 deleted")


def security_group():
    """2.2.2: create a security group with rules (SSH, ICMP), apply it to an instance."""
    c = guide.Cloud()
    g = c.hv_json("security", "group", "create", "web-ssh", "--description", "web and SSH")
    rules = c.hv_json("security", "group", "show", "web-ssh")["security_group_rules"]
    check(all(r["direction"] == "egress" for r in rules) and rules,
          "a new group allows all egress and no ingress")
    c.ok("security", "group", "rule", "create", "web-ssh", "--protocol", "tcp",
         "--dst-port", "22", "--remote-ip", "0.0.0.0/0")
    c.ok("security", "group", "rule", "create", "web-ssh", "--protocol", "tcp",
         "--dst-port", "80:81")
    c.ok("security", "group", "rule", "create", "web-ssh", "--protocol", "icmp",
         "--icmp-type", "8")
    ingress = sorted((r["protocol"], r["port_range_min"], r["port_range_max"])
                     for r in c.hv_json("security", "group", "rule", "list", "web-ssh")
                     if r["direction"] == "ingress")
    check(ingress == [("icmp", 8, None), ("tcp", 22, 22), ("tcp", 80, 81)],
          "three ingress rules: %s" % ingress)
    c.refused(["security", "group", "rule", "create", "web-ssh", "--protocol", "tcp",
               "--dst-port", "90:80"], "port_range", "a port range the wrong way round")
    c.refused(["security", "group", "rule", "create", "web-ssh", "--remote-ip", "10.0.0/33"],
              "remote_ip_prefix", "a CIDR that does not parse")
    n = len(c.hv_json("security", "group", "rule", "list", "web-ssh"))
    check(n == len(rules) + 3, "and neither was added")
    c.ok("network", "create", "private", "--subnet-range", "10.0.0.0/24")
    c.server("vm", "--network", "private", "--security-group", "web-ssh", "--no-admin-pass")
    port = c.hv_json("port", "list")[0]
    check(port["security_groups"] == [g["id"]], "the instance's port is in web-ssh")
    c.refused(["security", "group", "delete", "web-ssh"], "group", "a group in use")


def floating_ips():
    """2.2.3: allocate a floating IP to the project, assign it to an instance, move it,
    release it."""
    c = guide.Cloud()
    c.ok("network", "create", "private", "--subnet-range", "10.0.0.0/24")
    c.server("a", "--network", "private", "--no-admin-pass")
    c.server("b", "--network", "private", "--no-admin-pass")
    f = c.hv_json("floating", "ip", "create", "public")
    ip = f["floating_ip_address"]
    check(ip.startswith("203.0.113.") and not f.get("port_id"),
          "Allocate IP To Project: %s from public, unassigned" % ip)
    c.ok("server", "add", "floating", "ip", "a", ip)
    a_fixed = c.show("a")["addresses"]["private"][0]["addr"]
    f = c.hv_json("floating", "ip", "show", ip)
    check(f["fixed_ip_address"] == a_fixed and f["port_id"],
          "Associate: %s -> %s" % (ip, a_fixed))
    second = c.hv_json("floating", "ip", "create")["floating_ip_address"]
    c.refused(["server", "add", "floating", "ip", "a", second], "", "a second floating IP on a")
    c.refused(["server", "add", "floating", "ip", "b", ip], "", "an IP associated elsewhere")
    c.ok("server", "remove", "floating", "ip", "a", ip)
    c.ok("server", "add", "floating", "ip", "b", ip)
    check(c.hv_json("floating", "ip", "show", ip)["fixed_ip_address"] ==
          c.show("b")["addresses"]["private"][0]["addr"], "moved to b")
    c.ok("server", "stop", "b", "--wait")
    c.ok("server", "remove", "floating", "ip", "b", ip)
    c.ok("server", "add", "floating", "ip", "b", ip)
    check(c.hv_json("floating", "ip", "show", ip)["port_id"],
          "associating works whatever the instance's state (stopped)")
    c.ok("floating", "ip", "delete", ip, second)
    check(c.hv_json("floating", "ip", "list") == [], "Release Floating IP: none left")
    check(all(a["OS-EXT-IPS:type"] == "fixed" for a in c.show("b")["addresses"]["private"]),
          "and b has only its fixed address")
    c.ok("quota", "set", "--floating-ips", "1")
    c.ok("floating", "ip", "create")
    c.refused(["floating", "ip", "create"], "floating", "one over the quota")
    check(len(c.hv_json("floating", "ip", "list")) == 1, "and nothing was allocated")


def log_in():
    """2.2.4: what logging in needs, as hvcentral hands it to the host: the key pair's public
    key on the config drive, a group allowing TCP 22 on the port, a floating IP NATed to the
    port's fixed address."""
    c = guide.Cloud()
    c.ok("keypair", "create", "k", "--private-key", c.path("k"))
    pub = c.hv_json("keypair", "show", "k")["public_key"]
    c.ok("security", "group", "create", "ssh")
    c.ok("security", "group", "rule", "create", "ssh", "--protocol", "tcp", "--dst-port", "22")
    c.ok("network", "create", "private", "--subnet-range", "10.0.0.0/24")
    c.server("vm", "--key-name", "k", "--security-group", "ssh", "--network", "private",
             "--config-drive", "--no-admin-pass")
    meta = c.meta("vm")
    check(meta.get("public_keys", {}).get("k", "").split()[:2] == pub.split()[:2],
          "meta_data.json public_keys carries k's key under its name")
    ip = c.hv_json("floating", "ip", "create")["floating_ip_address"]
    c.ok("server", "add", "floating", "ip", "vm", ip)
    port = c.hv_json("port", "list")[0]
    sg = c.hv_json("security", "group", "show", "ssh")
    check(port["security_groups"] == [sg["id"]] and any(
        r["port_range_min"] == 22 for r in sg["security_group_rules"]),
        "the port is in a group allowing TCP 22")
    f = c.hv_json("floating", "ip", "show", ip)
    check(f["port_id"] == port["id"] and
          f["fixed_ip_address"] == port["fixed_ips"][0]["ip_address"],
          "%s reaches the port's address %s" % (ip, f["fixed_ip_address"]))


def admin_password():
    """2.2.5: inject an admin password at launch (config drive), generate one when none is
    given (printed once), set a new one on a running instance through the guest agent."""
    c = guide.Cloud()
    c.image("with-agent", props=("hw_qemu_guest_agent=yes",))
    c.server("given", "--admin-pass", "Guide-Given-225", "--config-drive")
    check(c.meta("given").get("admin_pass") == "Guide-Given-225",
          "the password given is in meta_data.json admin_pass")
    out = c.hv_json("server", "create", "gen", "--flavor", "m1.tiny", "--image", "cirros",
                    "--config-drive", "--wait")
    gen = out.get("adminPass")
    check(gen and len(gen) >= 12, "without one, a generated password is printed once")
    check(c.meta("gen").get("admin_pass") == gen, "and it is the one injected")
    check("adminPass" not in json.dumps(c.show("gen")), "show never prints it again")
    c.server("live", "--no-admin-pass", image="with-agent")
    c.ok("server", "set-password", "live", "--password", "Guide-Live-225", "--wait")
    check(any(r["action"] == "set_admin_password" and r["state"] == "done"
              for r in c.show("live")["recent_commands"]),
          "set-password on the running instance was done by its host")
    rc, _, err = c.hv("server", "set-password", "given", "--password", "x-Guide-225",
                      "--wait")
    fails = [r for r in c.show("given")["recent_commands"]
             if r["action"] == "set_admin_password"]
    check(rc == 1 and fails and fails[0]["error"]["code"] == "not_supported" and
          "hw_qemu_guest_agent" in fails[0]["error"]["message"],
          "without the guest agent its host refuses it, saying why (%s)" % err.strip())
    c.expect("given", "active", "running", "and the server goes on")
    for p in ("Guide-Given-225", gen, "Guide-Live-225"):
        check(not c.central_holds(p), "hvcentral's log and database never hold a password")


SECTIONS = {"2.2.1": key_pairs, "2.2.2": security_group, "2.2.3": floating_ips,
            "2.2.4": log_in, "2.2.5": admin_password}

if __name__ == "__main__":
    guide.run(SECTIONS[sys.argv[1]])
