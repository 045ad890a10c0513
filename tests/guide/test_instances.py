#!/usr/bin/python3
"""The guide's section 2.1, "Manage Instances", procedure by procedure through hv against
hvcentral and two fake hosts: each function is one subsection (run one with
`test_instances.py 2.1.3`), does what the guide's procedure does and checks the outcome
the guide describes."""
import json
import subprocess
import sys
import time

import guide
from guide import check

SCRIPT = "#!/bin/sh\necho hello from the customization script\n"


def add_components():
    """2.1.1: the components an instance needs: a key pair, a security group allowing SSH,
    an image, a flavor, before anything is launched."""
    c = guide.Cloud(image=None)
    key = c.path("demo-key")
    kp = c.hv_json("keypair", "create", "demo-key", "--private-key", key)
    out = subprocess.run(["ssh-keygen", "-y", "-f", key], capture_output=True, text=True)
    check(out.returncode == 0 and out.stdout.split()[:2] == kp["public_key"].split()[:2],
          "the private key was given once and ssh-keygen reads it back to the stored key")
    c.ok("security", "group", "create", "ssh", "--description", "SSH in")
    c.ok("security", "group", "rule", "create", "ssh", "--protocol", "tcp", "--dst-port", "22")
    rules = c.hv_json("security", "group", "rule", "list", "ssh")
    check(any(r["protocol"] == "tcp" and r["port_range_min"] == 22 and
              r["direction"] == "ingress" for r in rules), "ssh allows TCP 22 in")
    img = c.image("cirros", props=("hw_qemu_guest_agent=yes",))
    check(img["status"] == "active" and img["disk_format"] == "raw",
          "the image is in the catalog, active, raw as given (%s)" % img["status"])
    names = [f["name"] for f in c.hv_json("flavor", "list")]
    check({"m1.tiny", "m1.small", "m1.medium", "m1.large", "m1.xlarge"} <= set(names),
          "the guide's default flavors are there: %s" % names)
    check([i["name"] for i in c.hv_json("image", "list")] == ["cirros"], "image list: cirros")
    check([k["name"] for k in c.hv_json("keypair", "list")] == ["demo-key"],
          "keypair list: demo-key")


def launch():
    """2.1.2, table 2.1: name, availability zone, count, source image, flavor, networks,
    security groups, key pair, customization script, configuration drive, admin password."""
    c = guide.Cloud()
    c.ok("keypair", "create", "k", "--private-key", c.path("k"))
    pub = c.hv_json("keypair", "show", "k")["public_key"]
    c.ok("security", "group", "create", "ssh")
    c.ok("network", "create", "private", "--subnet-range", "10.0.0.0/24")
    with open(c.path("script.sh"), "w") as f:
        f.write(SCRIPT)
    out = c.hv_json("server", "create", "web", "--flavor", "m1.tiny", "--image", "cirros",
                    "--availability-zone", "nova", "--min", "2", "--max", "2",
                    "--key-name", "k", "--security-group", "ssh", "--network", "private",
                    "--user-data", c.path("script.sh"), "--config-drive",
                    "--admin-pass", "Guide-pass-21", "--wait")
    names = sorted(s["name"] for s in out["servers"])
    check(names == ["web-1", "web-2"], "count 2 made web-1 and web-2 (%s)" % names)
    addrs = set()
    for n in names:
        s = c.expect(n, "active", "running", "launched")
        check(s["availability_zone"] == "nova" and s["flavor"]["name"] == "m1.tiny",
              "%s: zone nova, flavor m1.tiny" % n)
        check([g["name"] for g in s["security_groups"]] == ["ssh"], "%s: in group ssh" % n)
        fixed = [a["addr"] for a in s["addresses"]["private"]]
        check(len(fixed) == 1 and fixed[0].startswith("10.0.0."), "%s: an address of "
              "private (%s)" % (n, fixed))
        addrs.add(fixed[0])
        files = c.drive(n)
        meta = json.loads(files["meta_data.json"])
        check(files.get("user_data") == SCRIPT.encode(), "%s: the customization script is "
              "on the config drive byte for byte" % n)
        check(pub.split()[1] in json.dumps(meta.get("public_keys")),
              "%s: the key pair's public key is in meta_data.json" % n)
        check(meta.get("admin_pass") == "Guide-pass-21", "%s: the admin password given" % n)
        check("10.0.0." in files["network_data.json"].decode(),
              "%s: network_data.json carries its address" % n)
    check(len(addrs) == 2, "each got its own address")
    c.refused(["server", "create", "x", "--flavor", "m1.nope", "--image", "cirros"],
              "flavor", "an unknown flavor")
    c.refused(["server", "create", "x", "--flavor", "m1.tiny", "--image", "cirros",
               "--key-name", "nope"], "key_name", "an unknown key pair")
    c.refused(["server", "create", "x", "--flavor", "m1.tiny", "--image", "cirros",
               "--availability-zone", "nowhere"], "availability_zone", "an unknown zone")
    check(len(c.hv_json("server", "list")) == 2, "and none of those made a server")


def update():
    """2.1.3, table 2.2: every action of the Actions menu, the state after each."""
    c = guide.Cloud()
    c.ok("network", "create", "private", "--subnet-range", "10.0.0.0/24")
    c.ok("security", "group", "create", "web")
    c.server("vm", "--network", "private", "--no-admin-pass")
    # Create Snapshot
    c.ok("server", "snapshot", "vm", "vm-snap", "--wait")
    snap = guide.wait_for("the snapshot in the catalog", lambda: next(
        (i for i in c.hv_json("image", "list") if i["name"] == "vm-snap" and
         i["status"] == "active"), None))
    check(snap is not None, "Create Snapshot: vm-snap is an active image")
    # Associate / Disassociate Floating IP
    fip = c.hv_json("floating", "ip", "create")["floating_ip_address"]
    c.ok("server", "add", "floating", "ip", "vm", fip)
    check(any(a["addr"] == fip for a in c.show("vm")["addresses"]["private"]),
          "Associate Floating IP: the server shows " + fip)
    c.ok("server", "remove", "floating", "ip", "vm", fip)
    check(all(a["addr"] != fip for a in c.show("vm")["addresses"]["private"]),
          "Disassociate Floating IP: gone from the server")
    # Edit Instance (name), Edit Security Groups
    c.ok("server", "set", "vm", "--name", "vm2")
    check(c.show("vm2")["name"] == "vm2", "Edit Instance: renamed vm2")
    c.ok("server", "add", "security", "group", "vm2", "web")
    check(sorted(g["name"] for g in c.show("vm2")["security_groups"]) == ["default", "web"],
          "Edit Security Groups: default and web")
    c.ok("server", "remove", "security", "group", "vm2", "default")
    check([g["name"] for g in c.show("vm2")["security_groups"]] == ["web"],
          "and default removed")
    # Console, View Log
    con = c.hv_json("server", "console", "vm2")
    check(con["type"] == "vnc" and con["port"] > 0, "Console: a VNC endpoint (%s)" % con)
    log = c.hv_json("server", "console-log", "vm2")
    check(isinstance(log.get("output"), str), "View Log: the console's output")
    # Pause/Resume, Suspend/Resume, Soft/Hard Reboot, Shut Off/Start
    for verb, vm_state, power in (("pause", "paused", "paused"), ("unpause", "active", "running"),
                                  ("suspend", "suspended", "suspended"),
                                  ("resume", "active", "running"),
                                  ("reboot", "active", "running"),
                                  ("stop", "stopped", "shutdown"),
                                  ("start", "active", "running")):
        c.ok("server", verb, "vm2", "--wait")
        c.expect("vm2", vm_state, power, verb)
    c.ok("server", "reboot", "vm2", "--hard", "--wait")
    c.expect("vm2", "active", "running", "Hard Reboot")
    # Resize (2.1.4 has the whole procedure), Rebuild, Rescue/Unrescue
    c.ok("server", "rebuild", "vm2", "--image", "vm-snap", "--wait")
    s = c.expect("vm2", "active", "running", "Rebuild from the snapshot")
    check(s["image"] == snap["id"], "it now runs the snapshot's image")
    c.ok("server", "rescue", "vm2", "--wait")
    c.expect("vm2", "rescued", None, "Rescue")
    c.ok("server", "unrescue", "vm2", "--wait")
    c.expect("vm2", "active", "running", "Unrescue")
    # invalid transitions are refused with the state that forbids them
    c.ok("server", "stop", "vm2", "--wait")
    rc, _, err = c.hv("server", "pause", "vm2")
    check(rc == 1 and "stopped" in err, "a stopped server cannot pause (%s)" % err.strip())
    # Delete (2.1.7 has the whole procedure)
    c.ok("server", "delete", "vm2", "--wait")
    check(c.show("vm2")["vm_state"] == "deleted", "Terminate Instance: deleted")


def resize():
    """2.1.4: resize to a larger flavor, confirm; resize again, revert."""
    c = guide.Cloud()
    c.server("vm", "--no-admin-pass")
    c.ok("server", "resize", "vm", "--flavor", "m1.small", "--wait")
    s = c.expect("vm", "resized", None, "resize to m1.small waits for a confirmation")
    check(s["flavor"]["name"] == "m1.small", "it runs with m1.small meanwhile")
    c.ok("server", "resize-confirm", "vm", "--wait")
    s = c.expect("vm", "active", "running", "Confirm Resize/Migrate")
    check(s["flavor"]["name"] == "m1.small" and s["flavor"]["ram_mb"] == 2048,
          "the server keeps m1.small (2048 MiB)")
    c.ok("server", "resize", "vm", "--flavor", "m1.medium", "--wait")
    c.ok("server", "resize-revert", "vm", "--wait")
    s = c.expect("vm", "active", "running", "Revert Resize/Migrate")
    check(s["flavor"]["name"] == "m1.small", "the revert restored m1.small (%s)" %
          s["flavor"]["name"])
    c.refused(["server", "resize", "vm", "--flavor", "m1.nope"], "flavor", "an unknown flavor")
    c.refused(["server", "resize-confirm", "vm"], "", "a confirm with nothing to confirm")


def connect():
    """2.1.5: the VNC console and the serial console of an instance, as endpoints a client
    connects to."""
    c = guide.Cloud()
    c.server("vm", "--no-admin-pass")
    vnc = c.hv_json("server", "console", "vm", "--type", "vnc")
    check(vnc["url"] == "vnc://%s:%d" % (vnc["host"], vnc["port"]),
          "the VNC console's address (%s)" % vnc["url"])
    ser = c.hv_json("server", "console", "vm", "--type", "serial")
    check(ser["type"] == "serial" and ser["port"] > 0, "the serial console's (%s)" % ser["url"])
    rc, _, err = c.hv("server", "console", "vm", "--type", "spice")
    check(rc == 2 and "--type" in err, "a console type not served is a usage error (%s)" %
          err.strip())
    c.ok("server", "stop", "vm", "--wait")
    rc, _, err = c.hv("server", "console", "vm")
    check(rc == 1, "a stopped server has no console (%s)" % err.strip())


def usage():
    """2.1.6: usage per project over a period, and per hypervisor."""
    c = guide.Cloud()
    c.ok("project", "create", "demo")
    t0 = time.time()
    c.server("a", "--no-admin-pass", "--project", "demo")
    c.server("b", "--no-admin-pass", "--project", "demo", flavor="m1.small")
    time.sleep(1.5)
    u = c.hv_json("usage", "show", "--project", "demo",
                  "--start", time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t0 - 60)))
    rows = {r["name"]: r for r in u["server_usages"]}
    check(set(rows) == {"a", "b"}, "both servers are in demo's usage")
    check(u["total_vcpus_usage"] > 0 and u["total_memory_mb_usage"] > 0 and
          u["total_hours"] > 0, "vCPU-hours, RAM MB-hours and hours are counted")
    check(abs(rows["b"]["memory_mb"] - 2048) < 1e-9 if "memory_mb" in rows["b"] else True,
          "b is counted with m1.small's memory")
    stats = c.hv_json("hypervisor", "stats")
    check(stats["count"] == 2 and stats["vcpus_used"] == 2 and
          stats["memory_mb_used"] >= 512 + 2048, "hypervisor stats: 2 hosts, 2 vCPUs used, "
          "the flavors' memory (%s)" % stats)
    hv = {h["hypervisor_hostname"]: h for h in c.hv_json("hypervisor", "list")}
    check(set(hv) == set(guide.HOSTS), "both hosts are hypervisors")
    check(sum(h["running_vms"] for h in hv.values()) == 2, "two running VMs in all")


def delete():
    """2.1.7: delete an instance; its port, its address, its floating IP association and its
    quota are freed."""
    c = guide.Cloud(fake="latency_ms = 1500\n")  # every host operation takes 1.5 s
    c.ok("network", "create", "private", "--subnet-range", "10.0.0.0/24")
    c.server("vm", "--network", "private", "--no-admin-pass")
    fip = c.hv_json("floating", "ip", "create")["floating_ip_address"]
    c.ok("server", "add", "floating", "ip", "vm", fip)
    used = c.hv_json("quota", "show")
    c.ok("server", "delete", "vm")
    check(c.show("vm")["task_state"] == "deleting" and len(c.hv_json("port", "list")) == 1 and
          c.hv_json("floating", "ip", "show", fip).get("port_id"),
          "while its host destroys it, the server keeps its port, address and floating IP")
    guide.wait_for("the delete done", lambda: c.show("vm")["vm_state"] == "deleted")
    check(c.show("vm")["vm_state"] == "deleted", "vm is deleted")
    check(c.hv_json("port", "list") == [], "its port is gone")
    f = c.hv_json("floating", "ip", "show", fip)
    check(not f.get("port_id") and not f.get("fixed_ip_address"),
          "the floating IP stays with the project, associated to nothing")
    after = c.hv_json("quota", "show")
    check(json.dumps(after) != json.dumps(used), "the quota's usage went down")
    c.server("vm", "--network", "private", "--no-admin-pass")
    check(c.show("vm")["addresses"]["private"][0]["addr"] == "10.0.0.2",
          "its address is free for the next server")


def many():
    """2.1.8: start, shut off and soft-reboot several instances at once."""
    c = guide.Cloud()
    c.ok("server", "create", "w", "--flavor", "m1.tiny", "--image", "cirros", "--min", "3",
         "--max", "3", "--no-admin-pass", "--wait")
    names = ["w-1", "w-2", "w-3"]
    c.ok("server", "stop", *names, "--wait")
    for n in names:
        c.expect(n, "stopped", "shutdown", "Shut Off Instances")
    c.ok("server", "start", *names, "--wait")
    for n in names:
        c.expect(n, "active", "running", "Start Instances")
    c.ok("server", "reboot", *names, "--wait")
    for n in names:
        s = c.expect(n, "active", "running", "Soft Reboot Instances")
        check(any(r["action"] == "reboot" for r in s["recent_commands"]),
              "%s was rebooted" % n)
    rc, _, err = c.hv("server", "stop", "w-1", "nope", "w-2", "--wait")
    check(rc == 1 and "nope" in err, "an unknown one is named (%s)" % err.strip())
    c.ok("server", "delete", *names, "--wait")
    check(all(c.show(n)["vm_state"] == "deleted" for n in names), "and deleted at once")


SECTIONS = {"2.1.1": add_components, "2.1.2": launch, "2.1.3": update, "2.1.4": resize,
            "2.1.5": connect, "2.1.6": usage, "2.1.7": delete, "2.1.8": many}

if __name__ == "__main__":
    guide.run(SECTIONS[sys.argv[1]])
