#!/usr/bin/python3
"""Projects and quotas through hv: the admin project exists from the first start, projects
are created and listed, a quota is shown with what the project uses and set, a create over
quota is refused and creates nothing, bad input names its field and changes nothing, and
all of it survives a restart of hvcentral."""
import harness
from harness import check

FLAVOR = "vcpus=2,ram=512,disk=1"


def main():
    c = harness.Cluster()
    c.start_central()
    c.allow("node-1")
    c.start_agent("node-1")
    c.wait_host("node-1", "up")

    names = [p["name"] for p in c.hv_json("project", "list")]
    check(names == ["admin"], "a new hvcentral has the admin project (%s)" % names)
    demo = c.hv_json("project", "create", "demo", "--description", "the demo tenant")
    check(len(demo["id"]) == 32 and demo["enabled"] is True, "project create returns its id")
    rc, _, err = c.hv("project", "create", "demo")
    check(rc == 1 and "args.name" in err and "already exists" in err,
          "a second project named demo is refused, naming args.name")
    check(c.hv_json("project", "show", demo["id"])["name"] == "demo", "show finds it by id")
    rc, out, _ = c.hv("project", "list")
    check(rc == 0 and "demo" in out and "admin" in out, "project list prints a table")

    q = c.hv_json("quota", "show", "demo")
    check((q["instances"], q["cores"], q["ram"], q["floating_ips"], q["security_groups"],
           q["security_group_rules"], q["key_pairs"]) == (10, 20, 51200, 50, 10, 100, 100),
          "quotas start at nova's and neutron's defaults")
    q = c.hv_json("quota", "set", "demo", "--instances", "2", "--cores", "3")
    check(q["instances"] == 2 and q["cores"] == 3 and q["ram"] == 51200,
          "quota set changes only the limits given")
    rc, _, err = c.hv("quota", "set", "demo", "--instances", "x")
    check(rc == 2 and "--instances" in err, "a limit that is not a number is a usage error")

    rc, _, err = c.hv("server", "create", "a-1", "--host", "node-1", "--flavor-spec", FLAVOR,
                      "--image", "cirros", "--project", "demo", "--wait")
    check(rc == 0, "a server fits the quota (%s)" % err.strip())
    rc, _, err = c.hv("server", "create", "a-2", "--host", "node-1", "--flavor-spec", FLAVOR,
                      "--image", "cirros", "--project", "demo")
    check(rc == 1 and "over_quota" in err and "cores" in err,
          "a second 2-vCPU server passes cores=3: refused (%s)" % err.strip())
    servers = [s["name"] for s in c.hv_json("server", "list")]
    check(servers == ["a-1"], "and nothing was created (%s)" % servers)
    used = c.hv_json("quota", "show", "demo")["in_use"]
    check((used["instances"], used["cores"], used["ram"]) == (1, 2, 512),
          "quota show counts what the live servers hold")
    rc, _, err = c.hv("quota", "set", "demo", "--cores", "1")
    check(rc == 1 and "args.quotas.cores" in err, "a limit below the usage is refused")
    rc, _, err = c.hv("server", "create", "b-1", "--host", "node-1", "--flavor-spec", FLAVOR,
                      "--image", "cirros", "--project", "nope")
    check(rc == 1 and "args.project" in err, "an unknown project is refused, naming args.project")
    rc, _, err = c.hv("server", "create", "b-1", "--host", "node-1", "--flavor-spec", FLAVOR,
                      "--image", "cirros", "--wait")
    check(rc == 0 and c.show("b-1")["project_id"] == c.hv_json("project", "show", "admin")["id"],
          "without --project the server belongs to admin")

    off = c.hv_json("project", "create", "off", "--disable")
    check(off["enabled"] is False, "project create --disable makes a disabled project")
    rc, _, err = c.hv("server", "create", "c-1", "--host", "node-1", "--flavor-spec", FLAVOR,
                      "--image", "cirros", "--project", "off")
    check(rc == 1 and "args.project" in err and "disabled" in err,
          "a disabled project creates no server")

    c.kill("hvcentral")
    c.start_central()
    q = c.hv_json("quota", "show", "demo")
    check(q["instances"] == 2 and q["in_use"]["instances"] == 1,
          "projects and limits survive a restart of hvcentral")
    check(sorted(p["name"] for p in c.hv_json("project", "list")) == ["admin", "demo", "off"],
          "and the admin project is not created twice")


harness.run(main)
