#!/usr/bin/python3
"""The guide's "Add Components" and "Launch Instance" by clicks in Debian's Horizon against
hvcentral and a fake agent, as the member demo: a key pair created (its private key offered
once), a security group with an SSH rule, then the Angular Launch Instance wizard (details
with the availability zone, image source, flavor, network, security groups, key pair and
admin password, customization script and config drive) until the instance is Active in the
table, checked against the API and its config drive; the Overview's usage against the
API's; then actions
from the row's menu (shut off, start, pause, resume, soft reboot), each state shown after;
a floating IP allocated to the project, associated with the instance, disassociated; and a
snapshot taken from the row, Active in Images.
Screenshots under meson-logs/dashboard/launch/. A step Horizon cannot take because of a
known gap of hvcentral's API (KNOWN_GAPS, each also in the gap list handed to the API's
owners) is printed as such, and only its own banner is excused."""
import json
import os
import time

import dash
import harness
from harness import check

PASSWORD = "Dash-Admin-Pass-7"

# (step, the banner it shows while the gap is open)
KNOWN_GAPS = []  # none open: a banner or a 404/501 on these steps fails the test


class Walk:
    def __init__(self, b, known=None):
        from selenium.webdriver.common.by import By
        self.b, self.By = b, By
        self.known = KNOWN_GAPS if known is None else known
        self.gaps = []

    def button(self, text, scope=None):
        els = (scope or self.b.d).find_elements(self.By.CSS_SELECTOR,
                                               "button, a, input[type=submit]")
        found = [e for e in els if e.is_displayed() and
                 (e.text.strip() == text or e.get_attribute("value") == text)]
        check(found, "a %r button is shown" % text)
        return found[0]

    def modal(self, css):
        """The open dialog once the element css inside it is shown."""
        def shown():
            # a themed <select> stays hidden: its dialog being shown is enough
            if not self.b.visible(".modal-dialog", css):
                return False
            time.sleep(0.3)  # the dialog's fade-in
            return [m for m in self.b.by(".modal-dialog") if m.is_displayed()]
        return self.b.wait("a dialog with %s" % css, shown)[-1]

    def no_errors(self, step, page_errors=None):
        errors = page_errors if page_errors is not None else self.b.errors()
        gap = [g for s, g in self.known if s == step and any(g in e for e in errors)]
        if gap:
            self.gaps.append((step, gap[0]))
            return False
        check(not errors, "%s: no error banner (%s)" % (step, errors))
        return True

    def select(self, css, text, exact=True):
        """Horizon's themed selects hide the real <select>: picks the option showing text
        (or containing it) as a user's pick would; the option's text."""
        picked = self.b.d.execute_script(
            "var s = jQuery(arguments[0]), t = arguments[1], exact = arguments[2];"
            " var o = s.find('option').filter(function () {"
            " var x = jQuery(this).text().trim(); return exact ? x == t : x.indexOf(t) >= 0;"
            " }).first(); s.val(o.val()).change(); return o.text();",
            css, text, exact)
        check(picked, "%s offers %s" % (css, text))
        return picked

    def row_action(self, name, label, confirm=True):
        """Picks label in the Actions menu of the table row naming name; confirms unless
        the item opens a form the caller fills."""
        row = self.row(name)
        check(row, "a row for %s" % name)
        toggles = row.find_elements(self.By.CSS_SELECTOR, ".dropdown-toggle")
        if toggles:
            toggles[0].click()
        items = [e for e in row.find_elements(self.By.CSS_SELECTOR, ".dropdown-menu a, "
                                              ".dropdown-menu button, .btn-group > a, "
                                              ".btn-group > button")
                 if e.is_displayed() and e.text.strip() == label]
        check(items, "%s's Actions menu offers %s" % (name, label))
        items[0].click()
        if not confirm:
            return
        time.sleep(0.5)
        confirm = [e for e in self.b.by(".modal-footer .btn-primary, .modal-footer .btn-danger")
                   if e.is_displayed()]
        if confirm:
            confirm[0].click()
        self.b.settle()

    def row(self, name):
        rows = [r for r in self.b.by("table tbody tr") if name in r.text]
        return rows[0] if rows else None

    def wait_row(self, name, status, timeout=90):
        def shown():
            self.b.d.refresh()
            self.b.settle()
            return [r for r in self.b.rows() if name in r and status in r.split()]
        self.b.wait("%s shows %s" % (name, status), shown, timeout)


def keypair(w, b):
    b.visit("/project/key_pairs/", "keypairs")
    w.button("Create Key Pair").click()
    m = w.modal("#name")
    m.find_element(w.By.ID, "name").send_keys("mykey")
    w.select("select[name='key-type']", "SSH Key")
    b.shot("keypair-form")
    w.button("Create Key Pair", m).click()
    time.sleep(2)
    b.settle()
    b.shot("keypair-created")
    if not w.no_errors("keypair"):
        return None
    b.visit("/project/key_pairs/", "keypairs-list")
    check([r for r in b.rows() if "mykey" in r], "the key pair is listed")
    return "mykey"


def secgroup(w, b):
    b.visit("/project/security_groups/", "security-groups")
    w.button("Create Security Group").click()
    m = w.modal("#id_name")
    m.find_element(w.By.ID, "id_name").send_keys("ssh")
    m.find_element(w.By.ID, "id_description").send_keys("SSH from anywhere")
    w.button("Create Security Group", m).click()
    b.wait("the group's rules page", lambda: "Manage Security Group Rules: ssh" in b.d.title)
    b.settle()
    w.no_errors("secgroup")
    w.button("Add Rule").click()
    m = w.modal("#id_port")
    w.select("#id_rule_menu", "SSH")
    b.shot("rule-form")
    w.button("Add", m).click()
    b.wait("the SSH rule is listed", lambda: [
        r for r in b.rows() if "Ingress" in r and "22 (SSH)" in r and "0.0.0.0/0" in r])
    b.settle()
    b.shot("rule-added")
    w.no_errors("secgroup-rule")


def launch(w, b, key, name="web-2", image="cirros", flavor="m1.tiny", groups=("ssh",),
           script="#cloud-config\nhostname: web-2\n", active_within=90, zone=None,
           password=None):
    """The Launch Instance wizard, tab by tab, with a config drive (and the availability
    zone zone, the admin password password when given); until the row of name says Active
    (within active_within seconds)."""
    b.visit("/project/instances/", "instances-before")
    w.button("Launch Instance").click()
    m = w.modal("input[name=name]")
    m.find_element(w.By.ID, "name").send_keys(name)
    count = m.find_element(w.By.ID, "instance-count")
    count.clear()
    count.send_keys("1")
    if zone:
        w.select("#availability-zone", zone)
    b.shot("wizard-details")

    def step(title):
        [e for e in b.by(".wizard-nav li") if e.text.strip() == title][0].click()
        time.sleep(0.5)
        b.settle()

    def allocate(label):
        rows = [r for r in b.by(".modal-dialog tr") if r.is_displayed() and label in r.text
                and r.find_elements(w.By.CSS_SELECTOR, "button.fa-arrow-up")]
        check(rows, "the wizard offers %s" % label)
        rows[0].find_element(w.By.CSS_SELECTOR, "button.fa-arrow-up").click()
        time.sleep(0.3)

    def allocated(label):
        return [r for r in b.by(".modal-dialog tr") if r.is_displayed() and label in r.text
                and r.find_elements(w.By.CSS_SELECTOR, "button.fa-arrow-down")]

    step("Source")
    allocate(image)
    b.shot("wizard-source")
    step("Flavor")
    allocate(flavor)
    b.shot("wizard-flavor")
    step("Networks")
    if not allocated("private"):
        allocate("private")
    b.shot("wizard-networks")
    step("Security Groups")
    for g in groups:
        allocate(g)
    check(all(allocated(g) for g in ("default",) + tuple(groups)),
          "security groups %s" % ", ".join(("default",) + tuple(groups)))
    b.shot("wizard-security-groups")
    if key or password:
        step("Key Pair")
    if key and not allocated(key):
        allocate(key)
    if password:
        # shown where OPENSTACK_HYPERVISOR_FEATURES can_set_password (scripts/dashboard.sh)
        box = [e for e in b.by(".modal-dialog label[for=setPassword]") if e.is_displayed()]
        check(box, "the Key Pair step offers Set admin password")
        box[0].click()
        for field in ("adminPassword", "confirmPassword"):
            b.wait("the %s field" % field, lambda: b.visible("#" + field))
            time.sleep(0.3)  # the fields' slide-in: a key typed before it can be lost
            e = b.by("#" + field)[0]
            e.clear()
            e.send_keys(password)
            b.wait("the %s field holds what was typed" % field,
                   lambda: e.get_attribute("value") == password, 10)
    if key or password:
        b.shot("wizard-key-pair")
    step("Configuration")
    box = [e for e in b.by(".modal-dialog textarea") if e.is_displayed()]
    check(box, "the Configuration step has the customization script")
    box[0].send_keys(script)
    drive = [e for e in b.by(".modal-dialog label[for=config-drive]") if e.is_displayed()]
    check(drive, "the Configuration step has the config drive box")
    drive[0].click()
    check(b.by("#config-drive")[0].is_selected(), "config drive is ticked")
    b.shot("wizard-configuration")
    w.button("Launch Instance", m).click()
    b.wait("the wizard closes", lambda: not b.visible(".modal-dialog"), 60)
    b.settle()
    w.no_errors("launch")
    w.wait_row(name, "Active", active_within)
    b.shot("instance-active")


def mb_text(mb):
    """Horizon's mb_float_format: 512MB, 1GB, 1.5GB."""
    if mb < 1024:
        return "%dMB" % mb
    return ("%.1fGB" % (mb / 1024.0)).replace(".0GB", "GB")


def overview(w, b, s, project_id, name="web-2"):
    """Project > Compute > Overview: the usage summary and the instance's usage row say
    what os-simple-tenant-usage says for the project."""
    b.visit("/project/", "overview")
    w.no_errors("overview")
    usage = s.api.must("GET", "/compute/v2.1/os-simple-tenant-usage/%s?start=2000-01-01T00:00:00"
                       % project_id, "demo")["tenant_usage"]
    live = [u for u in usage.get("server_usages", []) if u.get("ended_at") is None]
    check([u["name"] for u in live] == [name], "the API's usage has %s running (%s)" %
          (name, [u["name"] for u in live]))
    summary = b.by("#activity")[0].text.split("\n")
    facts = dict(zip(summary[0::2], summary[1::2]))
    check(facts.get("Active Instances:") == str(len(live)) and
          facts.get("Active RAM:") == mb_text(sum(u["memory_mb"] for u in live)),
          "the Usage Summary shows the API's active instances and RAM (%s)" % facts)
    row = w.row(name)
    check(row, "the usage table lists %s" % name)
    cells = [c.text.strip() for c in row.find_elements(w.By.CSS_SELECTOR, "td")]
    u = live[0]
    check(cells[1:4] == [str(u["vcpus"]), "%dGB" % u["local_gb"], mb_text(u["memory_mb"])],
          "its row shows the API's vCPUs, disk and RAM (%s)" % cells)
    b.shot("overview-usage")


def floating_ip(w, b, s):
    """Allocate from the external pool, associate with web-2, disassociate."""
    b.visit("/project/floating_ips/", "floating-ips")
    w.button("Allocate IP To Project").click()
    m = w.modal("#id_pool")
    b.shot("fip-allocate-form")
    w.button("Allocate IP", m).click()
    b.wait("an address of 203.0.113.0/24 is listed",
           lambda: [r for r in b.rows() if "203.0.113." in r])
    b.settle()
    w.no_errors("fip-allocate")
    ip = [t for r in b.rows() for t in r.split() if t.startswith("203.0.113.")][0]
    w.row_action(ip, "Associate")
    m = w.modal("#id_port_id")
    w.select("#id_port_id", "web-2", exact=False)
    b.shot("fip-associate-form")
    w.button("Associate", m).click()
    b.wait("%s is mapped to web-2" % ip,
           lambda: [r for r in b.rows() if ip in r and "web-2" in r and "10.0.0.2" in r])
    b.settle()
    b.shot("fip-associated")
    w.no_errors("fip-associate")
    fips = s.api.must("GET", "/network/v2.0/floatingips", "demo")["floatingips"]
    check([(f["floating_ip_address"], f["fixed_ip_address"]) for f in fips] ==
          [(ip, "10.0.0.2")], "the API shows %s on 10.0.0.2 (%s)" % (ip, fips))
    w.row_action(ip, "Disassociate")
    b.wait("%s is free again" % ip,
           lambda: [r for r in b.rows() if ip in r and "web-2" not in r])
    b.shot("fip-disassociated")
    w.no_errors("fip-disassociate")
    print("ok - floating IP %s allocated, associated with web-2, disassociated" % ip)


def snapshot(w, b, s):
    """Create Snapshot from web-2's row: the image appears in Images and becomes Active."""
    b.visit("/project/instances/", "instances-snapshot")
    w.row_action("web-2", "Create Snapshot")
    m = w.modal("#id_name")
    m.find_element(w.By.ID, "id_name").send_keys("web-2-snap")
    w.button("Create Snapshot", m).click()
    b.wait("the Images page", lambda: b.d.title.startswith("Images - "), 60)
    b.settle()
    w.no_errors("snapshot")

    def active():
        b.d.refresh()
        b.settle()
        return [r for r in b.rows() if "web-2-snap" in r and "Active" in r]
    b.wait("web-2-snap is Active in Images", active, 120)
    b.shot("snapshot-active")
    snap = [i for i in s.api.must("GET", "/image/v2/images", "demo")["images"]
            if i["name"] == "web-2-snap"]
    check(len(snap) == 1 and snap[0]["status"] == "active",
          "the image service has web-2-snap active (%s)" % snap)
    print("ok - snapshot web-2-snap taken by clicks and active")


def main():
    dash.need_all()
    shots = dash.shots_dir("launch")
    s = dash.Stack(hosts=("node-1",))
    # the zone the wizard offers: an aggregate's, as the admin made it (guide 2.4)
    agg = s.api.must("POST", "/compute/v2.1/os-aggregates", "alice", {"aggregate": {
        "name": "fast", "availability_zone": "az1"}})["aggregate"]
    s.api.must("POST", "/compute/v2.1/os-aggregates/%s/action" % agg["id"], "alice",
               {"add_host": {"host": "node-1"}})
    s.image("cirros")
    s.network("demo", "private", "10.0.0.0/24")
    s.start_horizon()
    b = dash.Browser(s.horizon, shots)
    w = Walk(b)
    t0 = time.monotonic()
    try:
        b.login("demo")
        key = keypair(w, b)
        secgroup(w, b)
        launch(w, b, key, zone="az1", password=PASSWORD)
        srv = [x for x in s.api.must("GET", "/compute/v2.1/servers/detail", "demo")["servers"]
               if x["name"] == "web-2"]
        check(len(srv) == 1 and srv[0]["status"] == "ACTIVE", "the API shows web-2 ACTIVE")
        sid = srv[0]["id"]
        srv = s.api.must("GET", "/compute/v2.1/servers/" + sid, "demo")["server"]
        check(srv.get("OS-EXT-AZ:availability_zone") == "az1",
              "web-2 is in the zone picked, az1 (%s)" % srv.get("OS-EXT-AZ:availability_zone"))
        meta = json.loads(harness.drive_file(s.c.config_drive("node-1", sid), "meta_data.json"))
        check(meta.get("admin_pass") == PASSWORD,
              "its config drive carries the admin password typed%s" %
              ("" if meta.get("admin_pass") == PASSWORD else
               " (it has %s)" % ("none" if "admin_pass" not in meta else "another one")))
        check(meta.get("availability_zone") == "az1",
              "and the zone (%s)" % meta.get("availability_zone"))
        check(not s.horizon_holds(PASSWORD) and not s.c.central_holds(PASSWORD),
              "neither Horizon's log nor hvcentral's files hold the password")
        overview(w, b, s, srv["tenant_id"])
        b.visit("/project/instances/", "instances")
        check([a["addr"] for a in srv["addresses"].get("private", [])] == ["10.0.0.2"],
              "web-2 has an address on private (%s)" % srv["addresses"])
        # the ports hold the groups (the server body's own list is a known gap)
        sgs = {g["id"]: g["name"] for g in
               s.api.must("GET", "/network/v2.0/security-groups", "demo")["security_groups"]}
        ports = s.api.must("GET", "/network/v2.0/ports?device_id=" + sid, "demo")["ports"]
        groups = sorted(sgs.get(g, g) for p in ports for g in p["security_groups"])
        check(groups == ["default", "ssh"], "web-2's port is in default and ssh (%s)" % groups)
        check(os.path.exists(s.c.config_drive("node-1", sid)),
              "the host built web-2's config drive")
        if key:
            check(srv.get("key_name") == key, "web-2 has key pair %s" % key)
        for label, status in (("Shut Off Instance", "Shutoff"), ("Start Instance", "Active"),
                              ("Pause Instance", "Paused"), ("Resume Instance", "Active"),
                              ("Soft Reboot Instance", "Active")):
            w.row_action("web-2", label)
            w.no_errors(label)
            w.wait_row("web-2", status)
            b.shot("after-" + label)
            print("ok - %s: web-2 shows %s" % (label, status))
        floating_ip(w, b, s)
        snapshot(w, b, s)
        took = time.monotonic() - t0
    finally:
        b.quit()
    for step, banner in w.gaps:
        print("known gap: %s shows %r" % (step, banner))
    print("launched and drove web-2 by clicks in %.1f s; screenshots in %s" % (took, shots))


if __name__ == "__main__":
    harness.run(main)
