#!/usr/bin/python3
"""Key pairs and the catalog in `hv server create` against hvcentral and a fake agent: a
generated private key is printed once, ssh-keygen reads it back to the stored public key,
and hvcentral's files never hold it; an imported key is checked by the agent's rules; a
server takes a flavor by name and a key pair by name (the host gets the flavor's fields and
extra specs and the public key, as an inline spec gives them); --min/--max names servers
NAME-1..N and a count over quota creates nothing."""
import json
import os
import subprocess

import harness
from harness import check


def main():
    c = harness.Cluster()
    c.start_central()
    c.allow("node-1")
    c.start_agent("node-1")
    c.wait_host("node-1", "up")

    key = c.path("k1")
    rc, out, err = c.hv("keypair", "create", "k1", "--private-key", key, "-f", "json")
    check(rc == 0, "keypair create --private-key succeeds (%s)" % err.strip())
    kp = json.loads(out)
    check("private_key" not in kp and oct(os.stat(key).st_mode & 0o777) == "0o600",
          "the private key is written mode 0600, not printed")
    derived = subprocess.run(["ssh-keygen", "-y", "-f", key], capture_output=True, text=True)
    check(derived.returncode == 0 and
          derived.stdout.split()[:2] == kp["public_key"].split()[:2],
          "ssh-keygen -y reads the private key back to the stored public key")
    fp = subprocess.run(["ssh-keygen", "-l", "-f", key], capture_output=True, text=True)
    check(fp.returncode == 0 and kp["fingerprint"] in fp.stdout,
          "the fingerprint is ssh-keygen's SHA256 one (%s)" % kp["fingerprint"])
    with open(key) as f:
        secret = f.read().splitlines()[2]
    check(not c.central_holds(secret), "hvcentral's log and database never hold the private key")

    rc, out, _ = c.hv("keypair", "create", "k2")
    check(rc == 0 and out.startswith("-----BEGIN OPENSSH PRIVATE KEY-----"),
          "without --private-key the private key is printed (once)")
    rc, out, _ = c.hv("keypair", "show", "k2", "-f", "json")
    check(rc == 0 and json.loads(out)["name"] == "k2" and "PRIVATE" not in out,
          "show never has it")
    rc, out, _ = c.hv("keypair", "show", "k2")
    check(rc == 0 and "fingerprint" in out and "PRIVATE" not in out,
          "show prints a table for people")

    pub = c.path("k1.pub")
    with open(pub, "w") as f:
        f.write(kp["public_key"] + "\n")
    imported = c.hv_json("keypair", "create", "laptop", "--public-key", pub)
    check(imported["fingerprint"] == kp["fingerprint"], "an imported key keeps its fingerprint")
    bad = c.path("bad.pub")
    with open(bad, "w") as f:
        f.write("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBAD comment\n")
    rc, _, err = c.hv("keypair", "create", "bad", "--public-key", bad)
    check(rc == 1 and "args.public_key" in err, "a key the agent would refuse is refused")
    rc, _, err = c.hv("keypair", "create", "k1")
    check(rc == 1 and "args.name" in err and "conflict" in err, "a second k1 is a conflict")
    names = [k["name"] for k in c.hv_json("keypair", "list")]
    check(names == ["k1", "k2", "laptop"], "list has the three key pairs (%s)" % names)

    c.hv_json("flavor", "set", "m1.tiny", "--property", "quota:cpu_shares=512")
    rc, out, err = c.hv("server", "create", "web", "--host", "node-1", "--flavor", "m1.tiny",
                        "--image", "cirros", "--key-name", "k1", "--wait", "-f", "json")
    check(rc == 0, "server create --flavor m1.tiny --key-name k1 boots (%s)" % err.strip())
    s = json.loads(out)
    fl = s["flavor"]
    check((fl["name"], fl["vcpus"], fl["ram_mb"], fl["root_gb"]) == ("m1.tiny", 1, 512, 1) and
          fl["extra_specs"] == {"quota:cpu_shares": "512"},
          "the server carries the flavor's fields and extra specs")
    state = c.path("agent-node-1")
    spawned = [n for n in os.listdir(state) if os.path.isfile(os.path.join(state, n)) and
               kp["public_key"].split()[1].encode() in open(os.path.join(state, n), "rb").read()]
    check(spawned, "the host got the key pair's public key with the spawn")

    rc, _, err = c.hv("server", "create", "x", "--host", "node-1", "--flavor", "m9.none",
                      "--image", "cirros")
    check(rc == 1 and "args.flavor" in err, "an unknown flavor is refused naming args.flavor")
    rc, _, err = c.hv("server", "create", "x", "--host", "node-1", "--flavor", "m1.tiny",
                      "--image", "cirros", "--key-name", "nope")
    check(rc == 1 and "args.key_name" in err, "an unknown key pair is refused naming it")

    rc, out, err = c.hv("server", "create", "db", "--host", "node-1", "--flavor", "1",
                        "--image", "cirros", "--min", "2", "--max", "3", "--wait", "-f", "json")
    check(rc == 0, "--min 2 --max 3 creates (%s)" % err.strip())
    got = sorted(x["name"] for x in json.loads(out)["servers"])
    check(got == ["db-1", "db-2", "db-3"], "named db-1..db-3 as nova names them (%s)" % got)
    check(all(c.show(n)["vm_state"] == "active" for n in got), "and all three are active")

    c.hv_json("quota", "set", "--instances", "6")
    before = [x["name"] for x in c.hv_json("server", "list")]
    rc, _, err = c.hv("server", "create", "many", "--host", "node-1", "--flavor", "m1.tiny",
                      "--image", "cirros", "--min", "3")
    check(rc == 1 and "over_quota" in err and "instances" in err,
          "a count of 3 over a quota with 2 left is refused (%s)" % err.strip())
    check([x["name"] for x in c.hv_json("server", "list")] == before, "and creates nothing")
    rc, out, err = c.hv("server", "create", "many", "--host", "node-1", "--flavor", "m1.tiny",
                        "--image", "cirros", "--max", "5", "-f", "json")
    check(rc == 0 and len(json.loads(out)["servers"]) == 2,
          "--max 5 with 2 left creates the 2 the quota allows")

    rc, _, _ = c.hv("keypair", "delete", "k2", "laptop")
    check(rc == 0 and [k["name"] for k in c.hv_json("keypair", "list")] == ["k1"],
          "keypair delete removes each one named")

    c.kill("hvcentral")
    c.start_central()
    k = c.hv_json("keypair", "show", "k1")
    check(k["public_key"] == kp["public_key"] and k["fingerprint"] == kp["fingerprint"],
          "a key pair survives a restart of hvcentral")
    check(not c.central_holds(secret), "and its private key is still nowhere in hvcentral")


harness.run(main)
