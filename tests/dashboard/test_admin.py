#!/usr/bin/python3
"""The guide's admin tasks by clicks in Debian's Horizon against hvcentral and two fake
agents, as the admin alice: Admin > Compute > Flavors > Create Flavor (name, vCPUs, RAM,
disk), its Update Metadata (an extra spec), Modify Access of a private flavor (a project
added), Admin > Compute > Host Aggregates > Create Host Aggregate with an availability zone,
its Manage Hosts (a host added) and Update Metadata, each seen in its table and checked
against the API; the Hypervisors page shows the vCPU use of the two hosts (x of y); and
guide 2.6's evacuation where Horizon offers it: a host whose agent stopped shows Down under
Hypervisors > Compute Host, and its Evacuate Host form moves its server to the other host.
Screenshots under meson-logs/dashboard/admin/. A banner of a known gap of hvcentral's API
(KNOWN_GAPS, also in the gap list handed to the API's owners) is printed as such; any other
fails the test."""
import re
import signal

import dash
import harness
from harness import check
from test_actions import membership
from test_launch import Walk

# (step, the banner it shows while the gap is open): the hosts of the aggregate form come
# from os-services, which Compute does not serve yet
KNOWN_GAPS = []  # none open: a banner or a 404/501 on these steps fails the test


def flavor(w, b, s):
    b.visit("/admin/flavors/", "flavors")
    w.button("Create Flavor").click()
    m = w.modal("#id_name")
    for field, value in (("id_name", "m1.guide"), ("id_vcpus", "2"),
                         ("id_memory_mb", "256"), ("id_disk_gb", "1")):
        e = m.find_element(w.By.ID, field)
        e.clear()
        e.send_keys(value)
    b.shot("flavor-form")
    w.button("Create Flavor", m).click()
    b.wait("m1.guide is listed", lambda: [r for r in b.rows() if "m1.guide" in r], 60)
    b.settle()
    b.shot("flavor-created")
    w.no_errors("flavor-create")
    got = [f for f in s.api.must("GET", "/compute/v2.1/flavors/detail", "alice")["flavors"]
           if f["name"] == "m1.guide"]
    check(len(got) == 1 and (got[0]["vcpus"], got[0]["ram"], got[0]["disk"]) == (2, 256, 1),
          "the API has m1.guide with 2 vCPUs, 256 MB, 1 GB (%s)" % got)


def metadata(w, b, row, key, value):
    """Update Metadata of the table row naming row: a custom key set to value, saved."""
    w.row_action(row, "Update Metadata", confirm=False)
    m = w.modal("input[name=customItem]")
    custom = m.find_element(w.By.NAME, "customItem")
    custom.send_keys(key)
    custom.find_element(w.By.XPATH, "following-sibling::span/button").click()
    leaf = ("//div[contains(@class, 'input-group')][.//span[normalize-space()='%s']]"
            "//input[@ng-model='ctrl.item.leaf.value']" % key)
    box = b.wait("the %s item is listed" % key, lambda: [
        e for e in m.find_elements(w.By.XPATH, leaf) if e.is_displayed()])
    box[0].send_keys(value)
    b.shot("metadata-" + row)
    w.button("Save", m).click()
    b.wait("the metadata dialog closes", lambda: not b.visible(".modal-dialog"))
    b.settle()
    b.shot("metadata-saved-" + row)
    w.no_errors("metadata-" + row)


def workflow(w, b, row, label, tab, name):
    """A membership workflow of the row's menu: name added on tab, saved."""
    w.row_action(row, label, confirm=False)
    m = w.modal(".membership")
    membership(b, m, tab, name, True)
    w.button("Save", m).click()
    b.wait("the %s dialog closes" % label, lambda: not b.visible(".modal-dialog"))
    b.settle()
    b.shot("saved-" + label)
    w.no_errors(label)


def flavor_more(w, b, s):
    """Update Metadata of m1.guide; Modify Access of a private flavor."""
    fid = [f["id"] for f in s.api.must("GET", "/compute/v2.1/flavors", "alice")["flavors"]
           if f["name"] == "m1.guide"][0]
    metadata(w, b, "m1.guide", "hw:cpu_sockets", "2")
    specs = s.api.must("GET", "/compute/v2.1/flavors/%s/os-extra_specs" % fid,
                       "alice")["extra_specs"]
    check(specs == {"hw:cpu_sockets": "2"}, "the API has m1.guide's extra spec (%s)"
          % specs)
    private = s.api.must("POST", "/compute/v2.1/flavors", "alice", {"flavor": {
        "name": "m1.private", "vcpus": 1, "ram": 128, "disk": 1,
        "os-flavor-access:is_public": False}})["flavor"]["id"]
    b.visit("/admin/flavors/", "flavors-private")
    workflow(w, b, "m1.private", "Modify Access", "Flavor Access", "demo")
    demo = [p["id"] for p in s.api.must("GET", "/identity/v3/projects", "alice")["projects"]
            if p["name"] == "demo"]
    access = s.api.must("GET", "/compute/v2.1/flavors/%s/os-flavor-access" % private,
                        "alice")["flavor_access"]
    check([a["tenant_id"] for a in access] == demo,
          "the API gives project demo access to m1.private (%s)" % access)
    print("ok - flavor metadata and access set by clicks")


def aggregate_more(w, b, s):
    """Manage Hosts of fast (node-1 added) and its Update Metadata."""
    workflow(w, b, "fast", "Manage Hosts", "Manage Hosts within Aggregate", "node-1")
    b.wait("fast lists node-1", lambda: [r for r in b.rows() if "fast" in r and "node-1" in r])
    metadata(w, b, "fast", "ssd", "true")
    b.d.refresh()
    b.settle()
    b.shot("aggregate-managed")
    check([r for r in b.rows() if "fast" in r and "ssd = true" in r],
          "fast's row shows ssd = true (%s)" % b.rows())
    aggs = s.api.must("GET", "/compute/v2.1/os-aggregates", "alice")["aggregates"]
    check([(a["hosts"], a["metadata"].get("ssd")) for a in aggs] == [(["node-1"], "true")],
          "the API has node-1 in fast with ssd=true (%s)" % aggs)
    print("ok - aggregate hosts and metadata set by clicks")


def aggregate(w, b, s):
    b.visit("/admin/aggregates/", "aggregates")
    w.button("Create Host Aggregate").click()
    m = w.modal("#id_availability_zone")
    m.find_element(w.By.ID, "id_name").send_keys("fast")
    m.find_element(w.By.ID, "id_availability_zone").send_keys("az1")
    b.shot("aggregate-form")
    w.button("Create Host Aggregate", m).click()
    b.wait("aggregate fast is listed", lambda: [r for r in b.rows() if "fast" in r and
                                                "az1" in r], 60)
    b.settle()
    b.shot("aggregate-created")
    w.no_errors("aggregate-create")
    aggs = s.api.must("GET", "/compute/v2.1/os-aggregates", "alice")["aggregates"]
    check([(a["name"], a["availability_zone"]) for a in aggs] == [("fast", "az1")],
          "the API has aggregate fast in zone az1 (%s)" % aggs)


def hypervisors(b, s):
    b.visit("/admin/hypervisors/", "hypervisors")
    text = b.d.find_element("tag name", "body").text
    m = re.search(r"VCPU Usage\s+Used (\d+) of (\d+)", text)
    hyps = s.api.must("GET", "/compute/v2.1/os-hypervisors/detail", "alice")["hypervisors"]
    total = sum(h["vcpus"] for h in hyps)
    check(m and int(m.group(2)) == total and total > 0,
          "Hypervisors shows vCPU use x of %d (%s)" % (total, m and m.group(0)))
    check("node-1" in text and "node-2" in text, "Hypervisors lists both hosts")


def evacuate(w, b, s):
    """Guide 2.6 by clicks: node-2's agent stops; once its compute service shows Down,
    Admin > Compute > Hypervisors > Compute Host offers Evacuate Host, whose form sends
    node-2's server to node-1, as the API then shows."""
    rc, _, err = s.c.hv("server", "create", "ev-1", "--host", "node-2", "--flavor", "m1.tiny",
                        "--image", "cirros", "--no-admin-pass", "--wait")
    check(rc == 0, "ev-1 runs on node-2 (%s)" % err.strip())
    s.c.procs["agent-node-2"].send_signal(signal.SIGSTOP)
    try:
        s.c.wait_host("node-2", "down", timeout=60)
        b.visit("/admin/hypervisors/?tab=hypervisor_info__compute_host", "compute-hosts")
        w.no_errors("compute hosts")
        row = w.row("node-2")
        check(row and "Down" in row.text.split(), "Compute Host shows node-2 Down (%s)" %
              (row and row.text))
        w.row_action("node-2", "Evacuate Host", confirm=False)
        m = w.modal("#id_target_host")
        w.select("#id_target_host", "node-1")
        b.shot("evacuate-form")
        w.button("Evacuate Host", m).click()
        b.wait("the form closes", lambda: not b.visible(".modal-dialog"), 60)
        b.settle()
        w.no_errors("evacuate")
        b.shot("evacuate-started")

        def moved():
            srv = [x for x in s.api.must("GET", "/compute/v2.1/servers/detail?all_tenants=1",
                                         "alice")["servers"] if x["name"] == "ev-1"]
            return (len(srv) == 1 and srv[0]["status"] == "ACTIVE" and
                    srv[0]["OS-EXT-SRV-ATTR:host"] == "node-1")
        harness.wait_for("the API shows ev-1 active on node-1", moved, timeout=90)
        b.visit("/admin/instances/", "instances-after-evacuate")
        row = w.row("ev-1")
        check(row and "node-1" in row.text and "Active" in row.text.split(),
              "Admin > Instances shows ev-1 Active on node-1 (%s)" % (row and row.text))
    finally:
        s.c.procs["agent-node-2"].send_signal(signal.SIGCONT)


def main():
    dash.need_all()
    shots = dash.shots_dir("admin")
    # a stopped agent is down within seconds, for the evacuation
    s = dash.Stack(cluster=harness.Cluster(suspect_after=5, down_after=10))
    s.start_horizon()
    mark = s.log_mark()
    b = dash.Browser(s.horizon, shots)
    w = Walk(b, KNOWN_GAPS)
    try:
        b.login("alice")
        flavor(w, b, s)
        flavor_more(w, b, s)
        aggregate(w, b, s)
        aggregate_more(w, b, s)
        hypervisors(b, s)
        evacuate(w, b, s)
    except harness.Failure:
        b.evidence()
        raise
    finally:
        b.quit()
    s.no_gaps(mark)
    for step, banner in w.gaps:
        print("known gap: %s shows %r" % (step, banner))


if __name__ == "__main__":
    harness.run(main)
