#!/usr/bin/python3
"""Server groups through hv against hvcentral and three fake hosts: anti-affinity spreads
three servers over the three hosts and refuses a fourth with no_valid_host naming
ServerGroupAntiAffinityFilter (nothing created); affinity keeps servers on the first one's
host, whether joined by --server-group or nova's --hint group=ID, one by one or with --max;
bad input names the field and changes nothing."""
import harness
from harness import check

HOSTS = ("node-1", "node-2", "node-3")


def create(c, name, *extra):
    return c.hv("server", "create", name, "--flavor", "m1.tiny", "--image", "cirros",
                "--no-admin-pass", *extra)


def main():
    c = harness.Cluster()
    # the soft group weighers outweigh free RAM, vCPUs and disk (each 1.0), as nova
    # operators set them when the group matters most
    c.start_central(conf_extra="[scheduler]\nsoft_affinity_weight_multiplier = 100\n"
                    "soft_anti_affinity_weight_multiplier = 100\n")
    rc, _, err = c.hv("quota", "set", "--instances", "-1", "--cores", "-1", "--ram", "-1")
    check(rc == 0, "quota lifted: " + err)
    for h in HOSTS:
        c.allow(h)
        c.start_agent(h, fake="memory_mb = 16384\nvcpus = 16\n")
    for h in HOSTS:
        c.wait_host(h, "up")
        harness.wait_for(h + " reports", lambda h=h: c.hv_json("host", "show", h).get(
            "resources"))

    anti = c.hv_json("server", "group", "create", "spread", "--policy", "anti-affinity")
    check(anti["policy"] == "anti-affinity" and anti["members"] == [],
          "anti-affinity group created: %s" % anti)
    hosts = set()
    for i in range(3):
        rc, _, err = create(c, "s-%d" % i, "--server-group", "spread")
        check(rc == 0, "s-%d created: %s" % (i, err))
        hosts.add(c.show("s-%d" % i)["host"])
    check(hosts == set(HOSTS), "three members on three hosts: %s" % hosts)
    rc, _, err = create(c, "s-3", "--hint", "group=" + anti["id"])
    check(rc != 0 and "no_valid_host" in err and "ServerGroupAntiAffinityFilter removed 3" in err,
          "a fourth member finds no host, naming the filter: " + err)
    rc, _, _ = c.hv("server", "show", "s-3")
    check(rc != 0, "and nothing was created")
    g = c.hv_json("server", "group", "show", "spread")
    uuids = {c.show("s-%d" % i)["uuid"] for i in range(3)}
    check(set(g["members"]) == uuids, "the group lists its three members: %s" % g["members"])

    aff = c.hv_json("server", "group", "create", "together", "--policy", "affinity")
    rc, _, err = create(c, "t", "--server-group", aff["id"], "--min", "3", "--max", "3")
    check(rc == 0, "three affinity servers in one create: " + err)
    where = {c.show("t-%d" % i)["host"] for i in (1, 2, 3)}
    check(len(where) == 1, "an affinity group's servers share one host: %s" % where)
    rc, _, err = create(c, "t-4", "--hint", "group=" + aff["id"])
    check(rc == 0 and c.show("t-4")["host"] in where, "--hint group= joins it too: " + err)

    # soft policies: weighed (members on a host count for or against it), never filtered
    c.hv_json("server", "group", "create", "loose", "--policy", "soft-anti-affinity")
    rc, _, err = create(c, "l", "--server-group", "loose", "--min", "4", "--max", "4")
    check(rc == 0, "four soft-anti-affinity servers on three hosts are all created: " + err)
    spread = [c.show("l-%d" % i)["host"] for i in (1, 2, 3, 4)]
    check(set(spread[:3]) == set(HOSTS), "the first three on three hosts: %s" % spread)
    c.hv_json("server", "group", "create", "near", "--policy", "soft-affinity")
    rc, _, err = create(c, "n", "--server-group", "near", "--min", "2", "--max", "2",
                      "--wait")
    check(rc == 0 and c.show("n-1")["host"] == c.show("n-2")["host"],
          "soft-affinity keeps two servers together: " + err)

    rc, _, err = c.hv("server", "delete", "n-2", "--wait")
    check(rc == 0, "n-2 deleted: " + err)
    near = c.hv_json("server", "group", "show", "near")
    check(near["members"] == [c.show("n-1")["uuid"]], "a deleted member leaves its group: %s"
          % near["members"])

    # bad input
    groups = c.hv_json("server", "group", "list")
    rc, _, err = c.hv("server", "group", "create", "x", "--policy", "sideways")
    check(rc != 0 and "args.policy" in err, "a bad policy names args.policy: " + err)
    rc, _, err = create(c, "orphan", "--server-group", "nope")
    check(rc != 0 and "args.server_group" in err, "an unknown group names the field: " + err)
    rc, _, err = create(c, "orphan", "--hint", "group=nope")
    check(rc != 0 and "args.hints.group" in err, "an unknown group hint names it: " + err)
    rc, _, _ = c.hv("server", "show", "orphan")
    check(rc != 0, "no server was created by the refused requests")
    check(c.hv_json("server", "group", "list") == groups, "and no group changed")
    rc, _, err = c.hv("server", "group", "delete", "spread")
    check(rc == 0, "a group is deleted: " + err)
    rc, _, err = c.hv("server", "group", "show", "spread")
    check(rc != 0 and "args.group" in err, "and is gone: " + err)
    check(c.show("s-0")["vm_state"] != "deleted", "its servers stay")


harness.run(main)
