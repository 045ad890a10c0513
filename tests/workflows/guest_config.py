#!/usr/bin/python3
"""Guest customization end to end, as the guest itself sees it. Run by run_guest.sh.

  guest_config.py drive    `hv server create --config-drive --key-file --user-data`: the tiny
                           guest mounts the config-2 cdrom and prints the uuid, hostname, key
                           and user data it found there.
  guest_config.py userdata one server, created and then rebuilt with new user data 7 times:
                           a shell script, a #cloud-config document, a gzip'd payload and a
                           MIME multipart message, each with and without an admin password;
                           after each boot the guest prints the sha256 of the user_data and
                           of the admin_pass it read, compared with what was given.
  guest_config.py inject   [guest] inject_key / inject_password on, an ext4 root disk: the
                           guest mounts its disk and prints root's authorized_keys and shadow
                           hash; the hash must verify against the requested password; then
                           the same after a rebuild with a new key and password."""
import gzip
import hashlib
import json
import os
import subprocess
import sys
import time

import wf
from wf import check, hv_ok, states

FLAVOR = "vcpus=1,ram=256,disk=1"
KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOpEr9t7Gq4Jd2vQm2+RkKkq2d0N8e6Zk1u1cD4hvT2e ops@example"
PASSWORD = "Tiny-guest-0wns-this"
KEY2 = ("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGsN9NMU3DY54Je2XYHctrFOcK3N43SGr/eXzpYy6G1j "
        "rebuilt@example")
PASSWORD2 = "Rebuilt-guest-0wns-it"


def files(c):
    keyfile, udfile = c.path("id_ed25519.pub"), c.path("init.sh")
    with open(keyfile, "w") as f:
        f.write(KEY + "\n")
    script = "#!/bin/sh\necho configured by hv > /etc/motd\n"
    with open(udfile, "w") as f:
        f.write(script)
    return keyfile, udfile, script


def values(c, name, prefix):
    """HVGUEST-<prefix> k=v lines of the console as (k, v) pairs, in order."""
    out = []
    for ln in c.lines(name, "HVGUEST-%s " % prefix):
        k, _, v = ln.split(" ", 1)[1].partition("=")
        out.append((k, v))
    return out


def drive(c):
    keyfile, udfile, script = files(c)
    c.import_image("tiny", os.path.join(wf.ENV["DIR"], "data.qcow2"), wf.guest_properties())
    out = hv_ok(c, "server", "create", "cfg-1", "--host", "node-1", "--flavor-spec", FLAVOR,
                *c.image_args("tiny"), "--key-file", keyfile, "--user-data", udfile,
                "--config-drive", "--wait", "-f", "json")
    s = json.loads(out)
    check(states(c, "cfg-1") == ("active", None, "running"), "cfg-1 is active/running")
    c.wait_lines("cfg-1", "HVGUEST-READY", 1)
    got = values(c, "cfg-1", "CD")
    print("# the guest printed: %s" % got)
    d = dict(got)
    check(d.get("label") == "config-2", "the guest finds a cdrom labelled config-2")
    check(d.get("uuid") == s["uuid"], "meta_data.json in the guest holds the server's uuid")
    # hvcentral derives the hostname from the server's name, as nova does
    check(d.get("hostname") == "cfg-1", "and its hostname, from the server's name (%s)" % d.get("hostname"))
    check([v for k, v in got if k == "key"] == [KEY], "and exactly the --key-file key in public_keys")
    ud = [ln[len("HVGUEST-UD "):] for ln in c.lines("cfg-1", "HVGUEST-UD")]
    print("# user_data as the guest read it:\n#   " + "\n#   ".join(ud))
    given = open(udfile, "rb").read()
    check(d.get("user_data_sha256") == hashlib.sha256(given).hexdigest(),
          "the guest's user_data is the --user-data file byte for byte (sha256 %s)"
          % d.get("user_data_sha256"))
    pw = s.get("adminPass", "")
    check(len(pw) >= 8, "hv shows the generated admin password once")
    check(d.get("admin_pass_sha256") == hashlib.sha256(pw.encode()).hexdigest(),
          "meta_data.json admin_pass in the guest is that password, as nova writes it")
    check(pw not in c.console("cfg-1"), "and the console never shows it")
    hv_ok(c, "server", "delete", "cfg-1", "--wait")
    check(not os.path.exists(c.config_drive_path(s["uuid"])), "delete removes the config drive")
    check("instance-" + s["uuid"] not in c.domains(), "its domain is gone")


def payloads():
    """The four kinds of user data cloud-init knows, as (kind, bytes)."""
    mime = (b'Content-Type: multipart/mixed; boundary="XYZ"\nMIME-Version: 1.0\n\n--XYZ\n'
            b'Content-Type: text/x-shellscript\n\n#!/bin/sh\necho mime\n--XYZ--\n')
    return [("script", b"#!/bin/sh\necho customized > /var/tmp/customized\n"),
            ("cloud-config", b'#cloud-config\nruncmd:\n  - [sh, -c, "echo cloud-config"]\n'),
            ("gzip", gzip.compress(b"#!/bin/sh\necho gzipped\n", mtime=0)),
            ("mime", mime)]


def boots(c, name):
    """The guest's HVGUEST-CD lines of each boot so far, as one dict per boot."""
    out, cur = [], {}
    for ln in c.lines(name, "HVGUEST-"):
        if ln.startswith("HVGUEST-READY"):
            out.append(cur)
            cur = {}
        elif ln.startswith("HVGUEST-CD "):
            k, _, v = ln.split(" ", 1)[1].partition("=")
            cur[k] = v
    return out


def userdata(c):
    """One boot per case (QEMU under TCG is the cost): a create, then a rebuild with the next
    case's user data, with and without --admin-pass in turn."""
    c.import_image("tiny", os.path.join(wf.ENV["DIR"], "data.qcow2"), wf.guest_properties())
    # every rebuild changes the user data, and the password's presence alternates (the
    # create is the first case without one: --no-admin-pass)
    data = dict(payloads())
    order = [("script", False), ("cloud-config", True), ("gzip", False), ("mime", True),
             ("script", True), ("cloud-config", False), ("gzip", True), ("mime", False)]
    cases = [(k, data[k], "Ud-%s-pw" % k if pw else None) for k, pw in order]
    t0 = time.monotonic()
    for i, (kind, data, pw) in enumerate(cases):
        udfile = c.path("user-data-%d" % i)
        with open(udfile, "wb") as f:
            f.write(data)
        pw_args = ["--admin-pass", pw] if pw else ([] if i else ["--no-admin-pass"])
        if i == 0:
            hv_ok(c, "server", "create", "ud-1", "--host", "node-1", "--flavor-spec", FLAVOR,
                  *c.image_args("tiny"), "--user-data", udfile, "--config-drive", *pw_args,
                  "--wait")
        else:
            hv_ok(c, "server", "rebuild", "ud-1", *c.image_args("tiny"), "--user-data", udfile,
                  *pw_args, "--wait")
        check(states(c, "ud-1") == ("active", None, "running"), "ud-1 is active/running")
        c.wait_lines("ud-1", "HVGUEST-READY", i + 1)
        got = boots(c, "ud-1")[i]
        with_pw = "with" if pw else "without"
        print("# boot %d (%s, %s an admin password): the guest printed %s"
              % (i + 1, kind, with_pw, sorted(got.items())))
        check(got.get("label") == "config-2", "the guest finds its config drive")
        check(got.get("user_data_sha256") == hashlib.sha256(data).hexdigest(),
              "%s user data, %s an admin password: the guest's user_data is the %d bytes "
              "given (sha256 %s)" % (kind, with_pw, len(data), got.get("user_data_sha256")))
        if pw:
            check(got.get("admin_pass_sha256") == hashlib.sha256(pw.encode()).hexdigest(),
                  "and meta_data.json admin_pass is the password given")
        else:
            check("admin_pass_sha256" not in got, "and meta_data.json has no admin_pass")
    spent = time.monotonic() - t0
    print("# %d cases, one create and %d rebuilds: %.0f s (%.0f s a boot)"
          % (len(cases), len(cases) - 1, spent, spent / len(cases)))
    hv_ok(c, "server", "delete", "ud-1", "--wait")


def injection_missing(c):
    """What keeps the agent from injecting, in words; None when it can."""
    module = os.environ.get("HVAGENT_INJECT_MODULE", "")
    if not os.path.isfile(module):
        return ("the injection module %r was not built (libguestfs disabled): spawn does not "
                "act on [guest] inject_key / inject_password" % module)
    if not os.path.isfile("/usr/bin/supermin"):
        return "supermin is not installed (the libguestfs appliance cannot be built)"
    for k in os.listdir("/boot"):
        if k.startswith("vmlinuz-") and not os.access(os.path.join("/boot", k), os.R_OK):
            return "/boot/%s is not readable (the libguestfs appliance needs it)" % k
    return None


def inject(c):
    import crypt
    keyfile, _, _ = files(c)
    how = c.import_image("tiny-root", os.path.join(wf.ENV["DIR"], "root.img"), wf.guest_properties(),
                         fmt="raw")
    print("# the ext4 root disk is in the store as %s" % c.store_record("tiny-root").get("format")
          if how == "image-import" else "# the ext4 root disk was copied as qcow2")
    out = hv_ok(c, "server", "create", "inj-1", "--host", "node-1", "--flavor-spec", FLAVOR,
                *c.image_args("tiny-root"), "--key-file", keyfile, "--admin-pass", PASSWORD,
                "--wait", "--timeout", "600", "-f", "json", timeout=700)
    s = json.loads(out)
    check(states(c, "inj-1") == ("active", None, "running"), "inj-1 is active/running")
    c.wait_lines("inj-1", "HVGUEST-READY", 1)
    got = values(c, "inj-1", "ROOT")
    print("# the guest printed: %s" % [(k, v[:12] + "...") for k, v in got])
    check([v for k, v in got if k == "key"] == [KEY],
          "the guest's /root/.ssh/authorized_keys holds exactly the key")
    shadow = dict(got).get("shadow", "")
    check(shadow.startswith("$6$") or shadow.startswith("$y$"), "root has a SHA-512 or yescrypt hash")
    check(crypt.crypt(PASSWORD, shadow) == shadow, "the hash verifies against the requested password")
    check(PASSWORD not in c.console("inj-1"), "the password never reaches the console")
    base = os.path.join(c.images, "tiny-root.img")
    if os.path.isfile(base) and c.store_record("tiny-root")["format"] == "raw":
        ls = subprocess.run(["debugfs", "-R", "ls -a /root", base], capture_output=True, text=True)
        check(ls.returncode == 0 and ".ssh" not in ls.stdout,
              "the image in the store is untouched: the key went into the instance's own disk")
    # rebuild injects exactly as spawn does: the new key, a hash of the new password
    keyfile2 = c.path("rebuilt.pub")
    with open(keyfile2, "w") as f:
        f.write(KEY2 + "\n")
    hv_ok(c, "server", "rebuild", "inj-1", *c.image_args("tiny-root"), "--key-file", keyfile2,
          "--admin-pass", PASSWORD2, "--wait", timeout=700)
    check(states(c, "inj-1") == ("active", None, "running"), "rebuilt, inj-1 is active/running")
    c.wait_lines("inj-1", "HVGUEST-READY", 2)
    got = values(c, "inj-1", "ROOT")
    first = [k for k, _ in got].index("shadow")
    again = got[first + 1:]
    print("# after the rebuild the guest printed: %s" % [(k, v[:12] + "...") for k, v in again])
    check([v for k, v in again if k == "key"] == [KEY2],
          "the rebuilt guest's authorized_keys holds exactly the new key")
    shadow = dict(again).get("shadow", "")
    check(crypt.crypt(PASSWORD2, shadow) == shadow,
          "and root's hash verifies against the new password")
    hv_ok(c, "server", "delete", "inj-1", "--wait")
    check(not os.path.exists(os.path.join(c.instances, s["uuid"])), "no disk is left")


def main():
    mode = sys.argv[1]
    guest_conf = ""
    if mode == "inject":
        guest_conf = "inject_key = true\ninject_password = true\n"
        os.environ.setdefault("LIBGUESTFS_BACKEND", "direct")
        os.environ.setdefault("LIBGUESTFS_BACKEND_SETTINGS", "force_tcg")
    c = wf.LibvirtCluster(guest_conf=guest_conf)
    if mode == "inject":
        missing = injection_missing(c)
        if missing:
            print("SKIP: " + missing)
            sys.exit(77)
    c.start_central()
    c.allow("node-1")
    c.start_agent("node-1")
    c.wait_host("node-1", "up", timeout=60)
    {"drive": drive, "userdata": userdata, "inject": inject}[mode](c)


wf.harness.run(main)
