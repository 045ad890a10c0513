#!/usr/bin/python3
"""The guide's admin tasks by clicks in Debian's Horizon against hvcentral and two fake
agents, as the admin alice: Admin > Compute > Flavors > Create Flavor (name, vCPUs, RAM,
disk), Admin > Compute > Host Aggregates > Create Host Aggregate with an availability zone,
each listed in its table and checked against the API; the Hypervisors page shows the vCPU
use of the two hosts (x of y). Screenshots under meson-logs/dashboard/admin/. A banner of
a known gap of hvcentral's API (KNOWN_GAPS, also in the gap list handed to the API's
owners) is printed as such; any other fails the test."""
import re

import dash
import harness
from harness import check
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


def main():
    dash.need_all()
    shots = dash.shots_dir("admin")
    s = dash.Stack()
    s.start_horizon()
    b = dash.Browser(s.horizon, shots)
    w = Walk(b, KNOWN_GAPS)
    try:
        b.login("alice")
        flavor(w, b, s)
        aggregate(w, b, s)
        hypervisors(b, s)
    finally:
        b.quit()
    for step, banner in w.gaps:
        print("known gap: %s shows %r" % (step, banner))


if __name__ == "__main__":
    harness.run(main)
