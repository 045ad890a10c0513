#!/usr/bin/python3
"""Flavors through hv against hvcentral: the guide's defaults from the first start, create
with a given or generated id, extra specs set and unset, a private flavor's access list,
delete, and bad input named by its field with nothing changed; all of it survives a
restart of hvcentral."""
import re

import harness
from harness import check


def main():
    c = harness.Cluster()
    c.start_central()

    flavors = {f["name"]: f for f in c.hv_json("flavor", "list")}
    check(sorted(flavors) == ["m1.large", "m1.medium", "m1.small", "m1.tiny", "m1.xlarge"],
          "a new hvcentral lists the guide's five flavors")
    t = flavors["m1.tiny"]
    check((t["id"], t["vcpus"], t["ram"], t["disk"]) == ("1", 1, 512, 1),
          "m1.tiny is id 1: 1 vCPU, 512 MB, 1 GB")
    x = flavors["m1.xlarge"]
    check((x["vcpus"], x["ram"], x["disk"]) == (8, 16384, 160), "m1.xlarge is 8/16384/160")
    rc, out, _ = c.hv("flavor", "list")
    check(rc == 0 and "m1.medium" in out and "Is Public" in out, "flavor list prints a table")

    f = c.hv_json("flavor", "create", "m1.nano", "--vcpus", "1", "--ram", "128", "--disk",
                  "1", "--swap", "256", "--ephemeral", "2", "--property",
                  "hw:watchdog_action=reset")
    check(re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}",
                       f["id"]) is not None, "a flavor created without --id gets a UUID4")
    check(f["swap"] == 256 and f["ephemeral"] == 2 and
          f["extra_specs"] == {"hw:watchdog_action": "reset"},
          "swap, ephemeral and extra specs are kept")
    f = c.hv_json("flavor", "create", "m1.micro", "--id", "42", "--vcpus", "1", "--ram",
                  "256", "--disk", "1")
    check(f["id"] == "42" and c.hv_json("flavor", "show", "42")["name"] == "m1.micro",
          "--id gives the id, and show finds the flavor by it")

    f = c.hv_json("flavor", "set", "m1.nano", "--property", "hw:numa_nodes=1")
    check(f["extra_specs"] == {"hw:watchdog_action": "reset", "hw:numa_nodes": "1"},
          "flavor set adds an extra spec")
    f = c.hv_json("flavor", "unset", "m1.nano", "--property", "hw:watchdog_action")
    check(f["extra_specs"] == {"hw:numa_nodes": "1"}, "flavor unset removes one")

    c.hv_json("project", "create", "demo")
    f = c.hv_json("flavor", "create", "secret", "--vcpus", "1", "--ram", "64", "--disk", "1",
                  "--private", "--project", "demo")
    check(f["is_public"] is False and len(f["access_project_ids"]) == 1,
          "a private flavor is created with the project allowed")
    check("secret" not in [x["name"] for x in c.hv_json("flavor", "list")] and
          "secret" in [x["name"] for x in c.hv_json("flavor", "list", "--all")],
          "list hides it unless --all")
    f = c.hv_json("flavor", "unset", "secret", "--project", "demo")
    check(f["access_project_ids"] == [], "unset --project removes the project")

    before = c.hv_json("flavor", "list", "--all")
    bad = [
        (["flavor", "create", "m1.tiny", "--vcpus", "1", "--ram", "1", "--disk", "1"],
         1, "args.name", "a name taken"),
        (["flavor", "create", "z", "--id", "1", "--vcpus", "1", "--ram", "1", "--disk", "1"],
         1, "args.id", "an id taken"),
        (["flavor", "create", "z", "--vcpus", "0", "--ram", "1", "--disk", "1"],
         1, "args.vcpus", "0 vCPUs"),
        (["flavor", "create", "z", "--vcpus", "1", "--ram", "1"], 2, "--disk",
         "no --disk"),
        (["flavor", "create", "z", "--vcpus", "1", "--ram", "1", "--disk", "1", "--min", "2"],
         2, "--min", "an option flavor create does not take"),
        (["flavor", "set", "m1.tiny", "--property", "hw:numa_nodes"], 2,
         "--property KEY (without =VALUE)", "a key without a value on set"),
        (["flavor", "create", "z", "--vcpus", "1", "--ram", "1", "--disk", "1", "--project",
          "demo"], 1, "args.project", "an access list on a public flavor"),
        (["flavor", "set", "m1.tiny", "--project", "demo"], 1, "args.project",
         "access to a public flavor"),
        (["flavor", "set", "nope", "--property", "a=b"], 1, "args.flavor",
         "an unknown flavor"),
        (["flavor", "create", "z", "--vcpus", "1", "--ram", "64", "--disk", "1",
          "--property", "hw:watchdog_action=explode"], 1,
         "args.extra_specs.hw:watchdog_action", "an extra spec every host would refuse"),
        (["flavor", "set", "m1.tiny", "--property", "quota:cpu_period=5"], 1,
         "args.extra_specs.quota:cpu_period", "a set out of the hosts' range"),
        (["flavor", "unset", "m1.nano", "--property", "nope"], 1, "args.extra_specs",
         "unsetting an extra spec it does not have"),
    ]
    for argv, want_rc, field, what in bad:
        rc, _, err = c.hv(*argv)
        check(rc == want_rc and field in err and "args.args" not in err,
              "%s is refused naming %s (%s)"
              % (what, field, err.strip()))
    check(c.hv_json("flavor", "list", "--all") == before, "and nothing changed")

    rc, _, _ = c.hv("flavor", "delete", "m1.micro", "m1.nano")
    names = [x["name"] for x in c.hv_json("flavor", "list", "--all")]
    check(rc == 0 and "m1.micro" not in names and "m1.nano" not in names,
          "flavor delete removes each flavor named")
    rc, _, err = c.hv("flavor", "show", "m1.micro")
    check(rc == 1 and "not_found" in err, "a deleted flavor is not found")

    c.kill("hvcentral")
    c.start_central()
    names = sorted(x["name"] for x in c.hv_json("flavor", "list", "--all"))
    check(names == ["m1.large", "m1.medium", "m1.small", "m1.tiny", "m1.xlarge", "secret"],
          "after a restart: the same flavors, the deleted ones not recreated (%s)" % names)


harness.run(main)
