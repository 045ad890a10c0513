"""guide.py - what the tests of the guide's sections share: a cloud of hvcentral and two
fake hosts with an external network, the image the guide launches from, and the few
checks every section repeats. Builds on tests/e2e/harness.py; a section's test says what
the guide's procedure does and checks the outcome the guide describes."""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
import harness  # noqa: E402
from harness import Failure, check, wait_for  # noqa: E402,F401

HOSTS = ("node-1", "node-2")


class Cloud(harness.Cluster):
    """hvcentral + node-1 and node-2 (8 vCPUs, 8 GiB each, fake: more [fake] lines), the
    external network 'public' (203.0.113.0/26) and, unless image is None, the image 'cirros'
    in the catalog."""

    def __init__(self, image="cirros", conf_extra="", fake="", **kw):
        super().__init__(**kw)
        self.start_central(conf_extra="[network]\nexternal_cidr = 203.0.113.0/26\n" + conf_extra)
        for h in HOSTS:
            self.allow(h)
            self.start_agent(h, fake=fake)
        for h in HOSTS:
            self.wait_host(h, "up")
        if image:
            self.image(image)

    def ok(self, *args):
        """Runs hv; a failure fails the test with hv's own message."""
        rc, out, err = self.hv(*args)
        check(rc == 0, "hv %s (%s)" % (" ".join(args), err.strip() or "ok"))
        return out

    def refused(self, args, field, what):
        """hv exits 1 and its message names field."""
        rc, _, err = self.hv(*args)
        check(rc == 1 and field in err, "refused, naming %s: %s (%s)" % (field, what,
                                                                          err.strip()))

    def image(self, name, props=(), size=1 << 20):
        """Uploads a raw disk of size bytes as a public image with --property props."""
        disk = self.path(name + ".raw")
        with open(disk, "wb") as f:
            f.write(os.urandom(4096) + b"\0" * (size - 4096))
        args = ["image", "create", name, "--file", disk, "--disk-format", "raw", "--public"]
        for p in props:
            args += ["--property", p]
        return self.hv_json(*args)

    def server(self, name, *extra, image="cirros", flavor="m1.tiny"):
        """Creates a server with --wait and returns hv server show's record."""
        self.ok("server", "create", name, "--flavor", flavor, "--image", image, "--wait",
                *extra)
        return self.show(name)

    def states(self, name):
        s = self.show(name)
        return s["vm_state"], s.get("task_state") or None, s.get("power_state")

    def expect(self, name, vm_state, power=None, what=""):
        s = self.show(name)
        ok = s["vm_state"] == vm_state and not s.get("task_state") and (
            power is None or s.get("power_state") == power)
        check(ok, "%s: %s is %s%s (%s/%s/%s)" % (
            what, name, vm_state, "" if power is None else ", power " + power,
            s["vm_state"], s.get("task_state"), s.get("power_state")))
        return s

    def drive(self, server):
        """The files of server's config drive, as the guest would read them:
        {path under openstack/latest/: bytes}."""
        s = self.show(server)
        iso = self.config_drive(s["host"], s["uuid"])
        check(os.path.isfile(iso), "the host built %s's config drive" % server)
        return harness.drive_files(iso)

    def meta(self, server):
        return json.loads(self.drive(server)["meta_data.json"])


def run(section):
    harness.run(section)
