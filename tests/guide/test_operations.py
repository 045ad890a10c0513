#!/usr/bin/python3
"""The guide's sections on flavors (2.3), host aggregates (2.4), evacuation (2.6), instance
snapshots (2.7) and rescue mode (2.8), procedure by procedure through hv against hvcentral
and fake hosts (`test_operations.py 2.6` runs one)."""
import signal
import sys

import guide
from guide import check, wait_for


def flavors():
    """2.3: create a flavor, update its general attributes and metadata (extra specs), limit
    it to a project, launch with it, delete it."""
    c = guide.Cloud()
    c.ok("project", "create", "demo")
    c.ok("project", "create", "other")
    f = c.hv_json("flavor", "create", "m2.guide", "--vcpus", "2", "--ram", "1024", "--disk",
                  "5", "--ephemeral", "1", "--swap", "256", "--private", "--project", "demo",
                  "--property", "hw:numa_nodes=1", "--description", "for the guide")
    check((f["vcpus"], f["ram"], f["disk"], f["ephemeral"], f["swap"]) ==
          (2, 1024, 5, 1, 256), "Create Flavor: the sizes given (%s)" % f)
    check(f["is_public"] is False and len(f["access_project_ids"]) == 1,
          "a private flavor, for demo alone")
    c.ok("flavor", "set", "m2.guide", "--property", "hw:watchdog_action=reset",
         "--property", "quota:cpu_shares=2048")
    specs = c.hv_json("flavor", "show", "m2.guide")["extra_specs"]
    check(specs == {"hw:numa_nodes": "1", "hw:watchdog_action": "reset",
                    "quota:cpu_shares": "2048"}, "Update Metadata: %s" % specs)
    c.refused(["flavor", "set", "m2.guide", "--property", "hw:watchdog_action=explode"],
              "hw:watchdog_action", "an extra spec value the hosts would refuse")
    c.ok("flavor", "unset", "m2.guide", "--property", "quota:cpu_shares")
    check("quota:cpu_shares" not in c.hv_json("flavor", "show", "m2.guide")["extra_specs"],
          "and a key removed")
    s = c.server("big", "--project", "demo", "--no-admin-pass", flavor="m2.guide")
    check(s["flavor"]["vcpus"] == 2 and s["flavor"]["extra_specs"]["hw:watchdog_action"] ==
          "reset", "a server of demo launched with it carries its sizes and extra specs")
    c.refused(["server", "create", "x", "--flavor", "m2.guide", "--image", "cirros",
               "--project", "other"], "flavor", "another project cannot use a private flavor")
    c.refused(["flavor", "create", "m2.guide", "--vcpus", "1", "--ram", "64", "--disk", "1"],
              "name", "a second flavor of that name")
    c.refused(["flavor", "create", "m2.bad", "--vcpus", "0", "--ram", "64", "--disk", "1"],
              "vcpus", "zero vCPUs")
    c.ok("flavor", "delete", "m2.guide")
    check("m2.guide" not in [x["name"] for x in c.hv_json("flavor", "list", "--all")],
          "Delete Flavor: gone from the list")
    check(c.show("big")["flavor"]["vcpus"] == 2, "the server keeps the flavor it was built with")


def aggregates():
    """2.4: create a host aggregate with an availability zone and metadata, add a host,
    launch into the zone, update, remove the host, delete."""
    c = guide.Cloud()
    a = c.hv_json("aggregate", "create", "fast", "--zone", "az-fast", "--property", "ssd=true")
    check(a["availability_zone"] == "az-fast" and a["metadata"].get("ssd") == "true",
          "Create Host Aggregate: zone az-fast, ssd=true")
    c.ok("aggregate", "add", "host", "fast", "node-2")
    zones = {z["zone_name"]: z for z in c.hv_json("availability", "zone", "list")}
    check(set(zones) == {"az-fast", "nova"} and zones["az-fast"]["hosts"] == ["node-2"],
          "the zones users see: %s" % sorted(zones))
    for i in range(3):
        s = c.server("f%d" % i, "--availability-zone", "az-fast", "--no-admin-pass",
                     *(["--config-drive"] if i == 0 else []))
        check(s["host"] == "node-2" and s["availability_zone"] == "az-fast",
              "f%d was placed in az-fast, on node-2" % i)
    check(c.meta("f0").get("availability_zone") == "az-fast",
          "the instance reads its zone from its config drive")
    c.ok("aggregate", "set", "fast", "--property", "tier=gold", "--name", "faster")
    a = c.hv_json("aggregate", "show", "faster")
    check(a["metadata"] == {"ssd": "true", "tier": "gold", "availability_zone": "az-fast"} or
          {k: v for k, v in a["metadata"].items() if k != "availability_zone"} ==
          {"ssd": "true", "tier": "gold"}, "Update Metadata and rename: %s" % a["metadata"])
    c.ok("aggregate", "create", "other", "--zone", "az-other")
    c.refused(["aggregate", "add", "host", "other", "node-2"], "", "a host in two zones")
    c.refused(["aggregate", "delete", "faster"], "", "an aggregate that still has hosts")
    c.ok("aggregate", "remove", "host", "faster", "node-2")
    c.ok("aggregate", "delete", "faster", "other")
    check(c.hv_json("aggregate", "list") == [], "Delete Host Aggregate: none left")
    check(c.show("f0")["availability_zone"] == "nova", "node-2's servers are in nova again")


def evacuate():
    """2.6: a host fails; evacuate one instance to a named host, then every instance of the
    host with the scheduler choosing; the failed host, back, never runs them again."""
    c = guide.Cloud(suspect_after=2, down_after=4)
    c.ok("network", "create", "private", "--subnet-range", "10.0.0.0/24")
    c.ok("security", "group", "create", "ssh")
    c.ok("security", "group", "rule", "create", "ssh", "--protocol", "tcp", "--dst-port", "22")
    for n in ("e1", "e2", "e3"):
        c.ok("server", "create", n, "--flavor", "m1.tiny", "--image", "cirros", "--host",
             "node-1", "--no-admin-pass", "--network", "private", "--security-group", "ssh",
             "--wait")
    c.ok("server", "stop", "e3", "--wait")
    fip = c.hv_json("floating", "ip", "create")["floating_ip_address"]
    c.ok("server", "add", "floating", "ip", "e1", fip)
    before = {p["device_id"]: p for p in c.hv_json("port", "list")}
    rc, _, err = c.hv("server", "evacuate", "e1", "--host", "node-2")
    check(rc == 1 and "not down" in err, "refused while node-1 is up (%s)" % err.strip())
    c.procs["agent-node-1"].send_signal(signal.SIGSTOP)
    c.wait_host("node-1", "down", timeout=30)
    out = c.hv_json("server", "evacuate", "e1", "--host", "node-2", "--wait")
    check(out["host"] == "node-2" and out["vm_state"] == "active" and out.get("adminPass"),
          "Evacuate One Instance: e1 runs on node-2, with a new admin password")
    ports = {p["device_id"]: p for p in c.hv_json("port", "list")}
    e1 = out["uuid"]
    check(ports[e1]["binding:host_id"] == "node-2" and
          ports[e1]["fixed_ips"] == before[e1]["fixed_ips"] and
          ports[e1]["mac_address"] == before[e1]["mac_address"],
          "its port moved to node-2 with its address and MAC")
    f = c.hv_json("floating", "ip", "show", fip)
    check(f["port_id"] == ports[e1]["id"], "its floating IP stays with it")
    # these agents run without [netfilter] and answer the firewall commands 'unsupported';
    # what matters here is that hvcentral sent them to node-2, in order, before the spawn
    log = open(c.path("agent-node-2.log")).read()
    seen = [log.find(w) for w in ('"sg_update"', '"port_plug"', '"fip_associate"',
                                  "spawn accepted instance=" + e1)]
    check(-1 not in seen and seen == sorted(seen),
          "node-2 got the group, the port and the floating IP, then the spawn (%s)" % seen)
    c.ok("host", "evacuate", "node-1", "--wait")
    for n, state in (("e2", "active"), ("e3", "stopped")):
        s = c.show(n)
        check(s["host"] == "node-2" and s["vm_state"] == state,
              "Evacuate All Instances: %s is %s on node-2 (%s/%s)" % (n, state, s["host"],
                                                                   s["vm_state"]))
    c.procs["agent-node-1"].send_signal(signal.SIGCONT)
    c.wait_host("node-1", "up", timeout=60)
    uuids = [c.show(n)["uuid"] for n in ("e1", "e2", "e3")]

    def destroyed():
        log = open(c.path("agent-node-1.log")).read()
        return all(any(u in line and "destroy" in line for line in log.splitlines())
                   for u in uuids)
    wait_for("node-1 to destroy its three leftovers", destroyed, timeout=60)
    check(all(c.show(n)["host"] == "node-2" for n in ("e1", "e2", "e3")),
          "they live on on node-2")


def snapshots():
    """2.7: create a snapshot (table 2.10's properties), launch an instance from it on
    another host, rebuild an instance to the snapshot's state, delete the snapshot."""
    c = guide.Cloud()
    base = c.hv_json("image", "show", "cirros")
    s = c.server("db", "--host", "node-1", "--no-admin-pass")
    c.ok("server", "snapshot", "db", "db-snap", "--wait")
    img = wait_for("the snapshot taken into the catalog", lambda: next(
        (i for i in c.hv_json("image", "list") if i["name"] == "db-snap" and
         i["status"] == "active"), None))
    p = c.hv_json("image", "show", "db-snap")
    props = p.get("properties", {})
    check(props.get("image_type") == "snapshot" and props.get("instance_uuid") == s["uuid"]
          and props.get("base_image_ref") == base["id"],
          "table 2.10: image_type snapshot, instance_uuid, base_image_ref (%s)" % props)
    check(p["disk_format"] in ("raw", "qcow2") and p["size"] > 0, "with its data")
    s2 = c.server("db-copy", "--host", "node-2", "--no-admin-pass", image="db-snap")
    check(s2["image"] == img["id"] and s2["vm_state"] == "active",
          "Launch from the snapshot on node-2 (which fetched it)")
    c.ok("server", "rebuild", "db", "--image", "db-snap", "--wait")
    check(c.show("db")["image"] == img["id"], "Rebuild db to the snapshot's state")
    c.ok("image", "delete", "db-snap")
    check("db-snap" not in [i["name"] for i in c.hv_json("image", "list")],
          "Delete the snapshot")
    check(c.show("db-copy")["vm_state"] == "active", "its instances go on")


def rescue():
    """2.8: prepare a rescue image, rescue an instance with it, unrescue."""
    c = guide.Cloud()
    c.image("rescue-img", props=("hw_rescue_device=disk",))
    c.server("vm", "--no-admin-pass")
    c.ok("server", "rescue", "vm", "--image", "rescue-img", "--wait")
    s = c.expect("vm", "rescued", None, "Rescue Instance with rescue-img")
    check(any(r["action"] == "rescue" and r["state"] == "done" for r in s["recent_commands"]),
          "its host did the rescue")
    rc, _, err = c.hv("server", "reboot", "vm")
    check(rc == 1, "a rescued instance is not rebooted (%s)" % err.strip())
    c.ok("server", "unrescue", "vm", "--wait")
    c.expect("vm", "active", "running", "Unrescue Instance")
    c.ok("server", "stop", "vm", "--wait")
    c.ok("server", "rescue", "vm", "--wait")
    c.expect("vm", "rescued", None, "a stopped instance is rescued with its own image")
    c.ok("server", "unrescue", "vm", "--wait")
    c.expect("vm", "active", "running", "and unrescued it runs, as nova's unrescue leaves it")


SECTIONS = {"2.3": flavors, "2.4": aggregates, "2.6": evacuate, "2.7": snapshots,
            "2.8": rescue}

if __name__ == "__main__":
    guide.run(SECTIONS[sys.argv[1]])
