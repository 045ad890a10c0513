#!/usr/bin/python3
"""A nova-style policy file ([openstack] policy_file) through Debian's `openstack`: by
default a member may not create a flavor; with the guide's `"compute_extension:flavormanage":
""` (YAML) it may, re-read on SIGHUP; a JSON file giving aggregates to members; a rule
hvcentral does not enforce is logged and ignored; a file that does not parse stops
hvcentral at start (78) naming its line or rule, and at reload leaves the policy in force."""
import os
import signal
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
import harness  # noqa: E402
from harness import check  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import clouds  # noqa: E402
from test_openstack import Cloud  # noqa: E402


def hup(c, needle):
    log = c.path("hvcentral.log")
    mark = os.path.getsize(log)
    c.procs["hvcentral"].send_signal(signal.SIGHUP)
    harness.wait_for(needle, lambda: needle in open(log).read()[mark:], timeout=10)
    return open(log).read()[mark:]


def flavors(cl):
    return sorted(f["Name"] for f in cl.osc_json("hv-admin", "flavor", "list", "--all"))


def refused_start(c, conf, needle, what):
    r = subprocess.run([c.binary("central/hvcentral"), "-c", conf], capture_output=True,
                       text=True, timeout=30)
    check(r.returncode == 78 and needle in r.stderr, "hvcentral stops (78) %s: %s" % (
        what, r.stderr.strip()[-240:]))


def main():
    c = harness.Cluster()
    port = harness.free_port()
    policy = c.path("policy.yaml")
    with open(policy, "w") as f:
        f.write("# nova's defaults\n")
    c.start_central(conf_extra="[openstack]\nlisten = 127.0.0.1:%d\npolicy_file = %s\n" %
                    (port, policy))
    url = "http://127.0.0.1:%d" % port
    config = clouds.setup(c, url, [("hv-admin", "alice", "admin", "admin", "alice-pass-1"),
                                   ("hv-bob", "bob", "admin", "member", "bob-pass-22"),
                                   ("hv-rita", "rita", "admin", "reader", "rita-pass-333")])
    cl = Cloud(c, url, config)
    users = sorted(u["Name"] for u in cl.osc_json("hv-admin", "user", "list"))
    check(users == ["alice", "bob", "rita"], "openstack user list (%s)" % users)
    projects = [p["Name"] for p in cl.osc_json("hv-admin", "project", "list")]
    check("admin" in projects, "openstack project list (%s)" % projects)
    before = flavors(cl)

    rc, _, err = cl.osc("hv-bob", "flavor", "create", "--vcpus", "1", "--ram", "64", "--disk",
                        "1", "bob.1")
    check(rc != 0 and "403" in err, "by default a member may not create a flavor (%s)" %
          err.strip()[-160:])
    check(flavors(cl) == before, "and nothing was made")

    with open(policy, "w") as f:
        f.write('# the guide\'s example\n"compute_extension:flavormanage": ""\n'
                '"os_compute_api:servers:create": "rule:admin_api"   # not enforced here\n')
    out = hup(c, "reload: done")
    check("os_compute_api:servers:create" in out and "ignored" in out,
          "a rule hvcentral does not enforce is logged and ignored (%s)" % out.strip()[-300:])
    made = cl.osc_json("hv-bob", "flavor", "create", "--vcpus", "1", "--ram", "64", "--disk",
                       "1", "bob.1")
    check(made["name"] == "bob.1", "with flavormanage \"\" a member creates a flavor (%s)" %
          made)
    made = cl.osc_json("hv-rita", "flavor", "create", "--vcpus", "1", "--ram", "64", "--disk",
                       "1", "rita.1")
    check(made["name"] == "rita.1", "\"\" is every user, as in nova: a reader too (%s)" %
          made.get("name"))
    rc, _, err = cl.osc("hv-bob", "aggregate", "create", "agg-b")
    check(rc != 0 and "403" in err, "aggregates stay admins' (%s)" % err.strip()[-120:])

    with open(policy, "w") as f:
        f.write('{"os_compute_api:os-flavor-manage:create": "rule:admin_api",\n'
                ' "os_compute_api:os-aggregates:create": "role:admin or role:member",\n'
                ' "os_compute_api:os-aggregates:index": "role:member"}\n')
    hup(c, "reload: done")
    rc, _, err = cl.osc("hv-bob", "flavor", "create", "--vcpus", "1", "--ram", "64", "--disk",
                        "1", "bob.2")
    check(rc != 0 and "403" in err, "a JSON file taking flavors back from members (%s)" %
          err.strip()[-120:])
    agg = cl.osc_json("hv-bob", "aggregate", "create", "agg-b")
    check(agg["name"] == "agg-b", "and giving them aggregates (%s)" % agg)
    check([a["Name"] for a in cl.osc_json("hv-bob", "aggregate", "list")] == ["agg-b"],
          "os-aggregates:index for members")

    with open(policy, "w") as f:
        f.write('"compute_extension:flavormanage": ""\n"os_compute_api:os-evacuate": "rule:\n')
    out = hup(c, "reload")
    check("policy_file" in out and "line 2" in out,
          "a file that does not parse is refused at reload naming its line (%s)" %
          out.strip()[-300:])
    rc, _, err = cl.osc("hv-bob", "flavor", "create", "--vcpus", "1", "--ram", "64", "--disk",
                        "1", "bob.3")
    check(rc != 0 and "403" in err, "and the policy in force stays")

    conf = c.path("central.conf")
    c.kill("hvcentral", signal.SIGTERM)
    refused_start(c, conf, "line 2", "on a policy file that does not parse, naming its line")
    with open(policy, "w") as f:
        f.write('{"os_compute_api:os-evacuate": "role:admin and role:member"}\n')
    refused_start(c, conf, "os_compute_api:os-evacuate",
                  "on a check it cannot read, naming the rule")
    with open(policy, "w") as f:
        f.write('{"os_compute_api:os-evacuate": "",}\n')
    refused_start(c, conf, "line 1", "on bad JSON, naming the line")


if __name__ == "__main__":
    harness.run(main)
