"""wf.py - what the real-guest workflow tests share: a cluster of hvcentral + one hvagent on
the libvirt driver (virt_type=qemu) against the private libvirtd that run_guest.sh started,
the image store, and reading the guest's own serial console lines back through `hv`.
Builds on tests/e2e/harness.py (processes, hv, checks); adds only what a real guest needs."""
import json
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
import harness  # noqa: E402
from harness import Failure, check, wait_for  # noqa: E402,F401

ENV = {k: os.environ.get("HV_WF_" + k, "") for k in ("DIR", "URI", "KERNEL", "INITRD", "PRIVD")}


def guest_properties():
    """Direct kernel boot of the tiny guest (drivers/libvirt/README.md, image properties)."""
    return {"kernel": ENV["KERNEL"], "initrd": ENV["INITRD"],
            "os_command_line": "console=ttyS0 quiet"}


class LibvirtCluster(harness.Cluster):
    def __init__(self, guest_conf=""):
        super().__init__(suspect_after=30, down_after=120)
        # a stock libvirtd's qemu user searches it (0711) to open the disks under it
        os.chmod(self.dir, 0o711)
        self.guest_conf = guest_conf
        self.images = self.path("images")
        self.instances = self.path("instances")

    def agent_conf(self, host_id, fake=""):
        d = self.path("agent-" + host_id)
        os.makedirs(d, exist_ok=True)
        os.makedirs(self.images, exist_ok=True)
        conf = os.path.join(d, "hvagent.conf")
        with open(conf, "w") as f:
            f.write("[DEFAULT]\nhost_id = %s\nstate_dir = %s\ndriver = libvirt\ndriver_dir = %s\n"
                    "report_interval = 1\ninstances_path = %s\nimage_store = %s\n"
                    "log_level = debug\n"
                    "[controller]\nendpoint = %s\nserver_public_key = %s\nkeys_dir = %s/keys\n"
                    "heartbeat_interval = 1\nreconnect_min_ms = 50\nreconnect_max_ms = 500\n"
                    "[libvirt]\nuri = %s\nvirt_type = qemu\nreboot_timeout = 60\n"
                    "shutdown_timeout = 30\n"
                    "[guest]\nconfig_drive_dir = %s/config-drives\n%s"
                    % (host_id, d, self.binary("drivers/libvirt"), self.instances, self.images,
                       self.agent_ep, self.server_key, d, ENV["URI"], self.instances,
                       self.guest_conf))
        return conf

    def start_agent(self, host_id, fake=""):
        conf = self.agent_conf(host_id)
        env = dict(os.environ, HVAGENT_DRIVER_DIR=self.binary("drivers/libvirt"))
        log = open(self.path("agent-%s.log" % host_id), "a")
        p = subprocess.Popen([self.binary("agent/hvagent"), "-c", conf], env=env,
                             stdout=log, stderr=log)
        self.procs["agent-" + host_id] = p
        return p

    def config_drive_path(self, uuid):
        return os.path.join(self.instances, "config-drives", uuid + ".config")

    # ---- the image store ----------------------------------------------------------------
    def agent_has(self, word):
        out = subprocess.run([self.binary("agent/hvagent"), "--help"], capture_output=True,
                             text=True)
        return word in out.stdout + out.stderr

    def hv_has(self, option):
        rc, out, err = self.hv("server", "create", "--help")
        return option in out + err

    def import_image(self, image_id, src, props, fmt="qcow2"):
        """Puts src (a file of format fmt) into the image store: with hvagent image-import,
        its format and props recorded, when the agent has it (as qcow2 when hv cannot name
        a raw image's format); else as qcow2 where an older agent looks for an image id
        (<image_store>/<id>)."""
        if fmt != "qcow2" and not (self.agent_has("image-import") and self.hv_has("--image-format")):
            qcow2 = self.path(image_id + ".qcow2")
            subprocess.run(["qemu-img", "convert", "-q", "-f", fmt, "-O", "qcow2", src, qcow2],
                           check=True)
            src, fmt = qcow2, "qcow2"
        if self.agent_has("image-import"):
            args = [self.binary("agent/hvagent"), "-c", self.agent_conf("node-1"),
                    "image-import", src, "--id", image_id, "--format", fmt]
            for k, v in props.items():
                args += ["--property", "%s=%s" % (k, v)]
            r = subprocess.run(args, capture_output=True, text=True)
            check(r.returncode == 0, "hvagent image-import %s (%s)" % (image_id, r.stderr.strip()))
            rec = self.store_record(image_id)
            check(rec is not None and rec.get("format") == fmt and rec.get("properties") == props,
                  "the store records %s as %s with its properties" % (image_id, fmt))
            return "image-import"
        subprocess.run(["cp", src, os.path.join(self.images, image_id)], check=True)
        print("# hvagent has no image-import: %s copied to <image_store>/%s" % (src, image_id))
        return "copy"

    def image_args(self, image_id):
        """hv's image options: the id, its format when not qcow2, plus the properties for
        direct kernel boot unless the store records them for this image."""
        rec = self.store_record(image_id) or {}
        fmt = ["--image-format", rec["format"]] if rec.get("format", "qcow2") != "qcow2" else []
        if "kernel" in rec.get("properties", {}):
            return ["--image", image_id] + fmt
        return image_args(image_id) + fmt

    def store_record(self, image_id):
        """The store's sidecar of image_id (common/imgstore.h), or None."""
        p = os.path.join(self.images, image_id + ".json")
        if not os.path.isfile(p):
            return None
        with open(p) as f:
            return json.load(f)

    def store_has_data(self, image_id):
        return any(os.path.isfile(os.path.join(self.images, image_id + sfx))
                   for sfx in (".img", ""))

    # ---- the guest ----------------------------------------------------------------------
    def console(self, server):
        rc, out, err = self.hv("server", "console-log", server, "-f", "json")
        if rc != 0:
            return ""
        return json.loads(out).get("output", "")

    def lines(self, server, prefix):
        """The guest's complete marker lines (prefix and what follows), oldest first: the
        serial console reaches the file a few bytes at a time, so a line is read only once
        its newline is there."""
        return [m.group(1).rstrip("\r") for m in
                re.finditer(r"(%s[^\n]*)\n" % re.escape(prefix), self.console(server))]

    def wait_lines(self, server, prefix, n, timeout=240):
        return wait_for("%d x %s on %s's console" % (n, prefix, server),
                        lambda: (lambda ls: ls if len(ls) >= n else None)(
                            self.lines(server, prefix)), timeout, 1.0)

    def virsh(self, *args):
        r = subprocess.run(["virsh", "-q", "-c", ENV["URI"]] + list(args), capture_output=True,
                           text=True)
        return r.stdout

    def domains(self):
        return [ln.split()[1] for ln in self.virsh("list", "--all").splitlines() if ln.strip()]

    def privd(self, cmd):
        subprocess.run([ENV["PRIVD"], cmd, ENV["DIR"]], check=True)

    def dump_logs(self):
        super().dump_logs()
        print("---- virsh list --all\n" + self.virsh("list", "--all"))
        for uuid in sorted(os.listdir(self.instances)) if os.path.isdir(self.instances) else []:
            log = os.path.join(self.instances, uuid, "console.log")
            if os.path.isfile(log):
                with open(log, errors="replace") as f:
                    print("---- console.log of %s\n%s" % (uuid, f.read()[-3000:]))


def states(c, name):
    s = c.show(name)
    return s["vm_state"], s["task_state"], s["power_state"]


def hv_ok(c, *args, timeout=300):
    """hv ARGS, which must exit 0."""
    rc, out, err = c.hv(*args, timeout=timeout)
    check(rc == 0, "hv %s exits 0 (%s)" % (" ".join(args), err.strip()[-300:]))
    return out


def image_args(image_id):
    args = ["--image", image_id]
    for k, v in guest_properties().items():
        args += ["--image-property", "%s=%s" % (k, v)]
    return args
