#!/usr/bin/python3
"""Every server action of `hv`, end to end: hv -> hvcentral -> hvagent -> fake driver and
back, checking vm_state / task_state / power_state after each one, then the errors an
operator meets (wrong state, unknown server, bad spec, no controller)."""
import json
import re

import harness
from harness import check, drive_file


def states(c, name):
    s = c.show(name)
    return s["vm_state"], s["task_state"], s["power_state"]


def api_rejects_malformed_requests(c):
    """The API socket, spoken to directly as docs/api.md describes."""
    zmq = harness.need_module("zmq", "python3-zmq")
    s = zmq.Context.instance().socket(zmq.DEALER)
    s.linger = 0
    s.connect(c.api)

    def ask(payload):
        s.send_multipart([b"", payload])
        if not s.poll(10000):
            raise harness.Failure("no API reply to %r" % payload[:40])
        return __import__("json").loads(s.recv_multipart()[-1])

    r = ask(b"{not json")
    check(r["ok"] is False and r["error"]["code"] == "invalid", "malformed JSON gets an invalid error")
    r = ask(b'{"id": 5, "op": "server.explode"}')
    check(r["id"] == 5 and r["error"]["field"] == "request.op", "an unknown op is refused naming request.op")
    r = ask(b'{"id": 6, "op": "server.create", "args": {"name": "x", "host": "node-1", "image": "cirros",'
            b' "flavor": {"vcpus": "two", "ram": 64, "disk": 1}}}')
    check(r["error"]["field"] == "args.flavor.vcpus", "a mistyped flavor field is named (args.flavor.vcpus)")
    r = ask(b'{"id": 7, "op": "server.action", "args": {"server": "web-1", "action": "pause", "hard": true}}')
    check(r["error"]["field"] == "args.hard", "hard on anything but reboot is refused naming args.hard")
    base = b'"name": "x", "host": "node-1", "image": "cirros", "flavor": {"vcpus": 1, "ram": 64, "disk": 1}'
    r = ask(b'{"id": 9, "op": "server.create", "args": {' + base + b', "user_data": "#!/bin/sh"}}')
    check(r["error"]["field"] == "args.user_data", "user data that is not base64 is refused naming args.user_data")
    import base64
    big = base64.b64encode(b"u" * 65537)
    r = ask(b'{"id": 14, "op": "server.create", "args": {' + base + b', "user_data": "' + big + b'"}}')
    check(r["error"]["field"] == "args.user_data" and "64 KiB" in r["error"]["message"],
          "user data of 65 537 bytes once decoded is refused (the limit is 64 KiB decoded)")
    r = ask(b'{"id": 10, "op": "server.create", "args": {' + base + b', "key_data": "-----BEGIN"}}')
    check(r["error"]["field"] == "args.key_data", "a key that is not OpenSSH is refused naming args.key_data")
    r = ask(b'{"id": 11, "op": "server.create", "args": {' + base + b', "admin_pass": 7}}')
    check(r["error"]["field"] == "args.admin_pass", "a mistyped admin_pass is refused naming args.admin_pass")
    r = ask(b'{"id": 12, "op": "server.create", "args": {' + base + b', "image_properties": {"a": 1}}}')
    check(r["error"]["field"] == "args.image_properties.a", "image properties must be strings")
    r = ask(b'{"id": 13, "op": "server.action", "args": {"server": "web-1", "action": "explode"}}')
    check(r["error"]["field"] == "args.action", "an unknown action is refused naming args.action")
    r = ask(b'{"id": 15, "op": "server.create", "args": {' + base + b', "admin_pass": ""}}')
    check(r["error"]["field"] == "args.admin_pass", "an empty admin_pass is refused naming args.admin_pass")
    r = ask(b'{"id": 16, "op": "server.action", "args": {"server": "web-1", "action": "reboot", "type": "hard"}}')
    check(r["ok"] is False and r["error"]["field"] == "args.type" and "unknown field" in r["error"]["message"],
          "an arg the action does not read (reboot's \"type\": \"hard\") is refused naming args.type, not ignored")
    r = ask(b'{"id": 17, "op": "server.create", "args": {"name": "x", "host": "node-1", "image": "cirros",'
            b' "flavor": {"vcpus": 1, "ram": 64, "disk": 1, "vpcus": 2}}}')
    check(r["error"]["field"] == "args.flavor.vpcus", "an unknown flavor field is refused naming args.flavor.vpcus")
    r = ask(b'{"id": 18, "op": "server.list", "args": {"hots": "node-1"}}')
    check(r["error"]["field"] == "args.hots", "an unknown server.list arg is refused naming args.hots")
    r = ask(b'{"id": 19, "op": "server.list", "wiat": true}')
    check(r["error"]["field"] == "request.wiat", "an unknown request field is refused naming request.wiat")
    r = ask(b'{"id": 20, "op": "server.create", "args": {"name": "0A1B2C3D-0000-4000-8000-00000000abcd",'
            b' "host": "node-1", "image": "cirros", "flavor": {"vcpus": 1, "ram": 64, "disk": 1}}}')
    check(r["error"]["field"] == "args.name" and "uuid" in r["error"]["message"],
          "a server name shaped like a uuid is refused naming args.name")
    r = ask(b'{"id": 21, "op": "server.create", "args": {"name": "caf\xe9", "host": "node-1"}}')
    check(r["ok"] is False and r["error"]["code"] == "invalid" and "UTF-8" in r["error"]["message"]
          and "missing" not in r["error"]["message"],
          "invalid UTF-8 in a request is refused as such, not as a missing field (%s)" % r["error"]["message"])
    r = ask(b'{"id": 8, "op": "server.list"}')
    check(r["ok"] is True and isinstance(r["result"], list), "a well-formed request still works after them")
    s.close()


def waited(c, *args):
    """hv server ARGS --wait, which must succeed."""
    rc, out, err = c.hv("server", *(list(args) + ["--wait"]))
    check(rc == 0, "hv server %s --wait exits 0 (%s)" % (" ".join(args), err.strip()))
    return out


def guide_actions(c):
    """The guide's other instance actions, each checked through vm_state / task_state /
    power_state as hvcentral mirrors them from the host."""
    import json, os
    waited(c, "resize", "web-1", "--flavor-spec", "vcpus=4,ram=1024,disk=1",
           "--property", "hw:mem_page_size=small")
    check(states(c, "web-1") == ("resized", None, "running"), "resize lands in resized/running")
    s = c.show("web-1")
    check(s["flavor"]["vcpus"] == 4 and s["flavor"]["ram_mb"] == 1024, "the resized server shows the new flavor")
    check(s["properties"].get("hw:mem_page_size") == "small", "resize --property becomes the new extra specs")
    rc, _, err = c.hv("server", "resize", "web-1", "--flavor-spec", "vcpus=1,ram=64,disk=1")
    check(rc == 1 and "resized" in err, "a second resize before confirm/revert is refused naming resized")
    waited(c, "resize-revert", "web-1")
    check(states(c, "web-1") == ("active", None, "running"), "resize-revert goes back to active/running")
    check(c.show("web-1")["flavor"]["vcpus"] == 2, "and restores the old flavor")
    waited(c, "resize", "web-1", "--flavor-spec", "vcpus=4,ram=1024,disk=1")
    waited(c, "resize-confirm", "web-1")
    check(states(c, "web-1") == ("active", None, "running"), "resize-confirm ends active/running")
    check(c.show("web-1")["flavor"]["vcpus"] == 4, "and keeps the new flavor")
    rc, _, err = c.hv("server", "resize-confirm", "web-1")
    check(rc == 1 and "active" in err, "confirming with no resize pending is refused naming the state")
    rc, _, err = c.hv("server", "resize", "web-1")
    check(rc == 2 and "--flavor-spec" in err, "resize without --flavor-spec is a usage error")

    waited(c, "rebuild", "web-1", "--image", "cirros-0.6", "--image-property", "hw_qemu_guest_agent=yes")
    check(states(c, "web-1") == ("active", None, "running"), "rebuild ends active/running")
    check(c.show("web-1")["image"] == "cirros-0.6", "the rebuilt server shows its new image")
    rc, _, err = c.hv("server", "rebuild", "web-1")
    check(rc == 2 and "--image" in err, "rebuild without --image is a usage error")

    rc, _, err = c.hv("server", "unrescue", "web-1")
    check(rc == 1 and "rescued" in err, "unrescue of a server not in rescue is refused")
    waited(c, "rescue", "web-1")
    check(states(c, "web-1") == ("rescued", None, "running"), "rescue: rescued/running")
    rc, _, err = c.hv("server", "pause", "web-1")
    check(rc == 1 and "rescued" in err, "a rescued server cannot be paused")
    waited(c, "unrescue", "web-1")
    check(states(c, "web-1") == ("active", None, "running"), "unrescue: active/running again")
    waited(c, "rescue", "web-1", "--image", "rescue-img")
    check(states(c, "web-1") == ("rescued", None, "running"), "rescue --image: rescued/running")
    waited(c, "unrescue", "web-1")

    rc, out, err = c.hv("server", "snapshot", "web-1", "nightly 1", "--wait", "-f", "json")
    check(rc == 0, "snapshot --wait succeeds (%s)" % err.strip())
    img = json.loads(out)
    check(re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}",
                       img["id"]) and img["name"] == "nightly 1" and img["status"] == "active",
          "snapshot prints the new image's id, a UUID as Glance's (%s)" % img["id"])
    check(img.get("properties", {}).get("image_type") == "snapshot", "the host's image properties come back")
    # the image store holds the image under its id (with a suffix and a sidecar in
    # stores that record formats)
    written = [n for n in os.listdir(c.path("images")) if n == img["id"] or n.startswith(img["id"] + ".")]
    check(any(os.path.getsize(c.path("images", n)) > 0 for n in written),
          "the fake driver wrote the image file (%s)" % ", ".join(written))
    check(states(c, "web-1") == ("active", None, "running"), "a snapshot leaves the server active/running")
    cmds = c.show("web-1")["recent_commands"]
    check(cmds[0]["action"] == "snapshot" and cmds[0].get("image_id") == img["id"],
          "hvcentral recorded the image id with the snapshot command")
    rc, out, err = c.hv("server", "snapshot", "web-1", "plain")
    check(rc == 0 and re.search(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-", out),
          "snapshot without --wait prints the id at once (%s)" % out.strip())
    harness.wait_for("snapshot done", lambda: states(c, "web-1") == ("active", None, "running"))

    for typ, base in (("vnc", 5900), ("serial", 10000)):
        rc, out, err = c.hv("server", "console", "web-1", "--type", typ, "-f", "json")
        check(rc == 0, "console --type %s succeeds (%s)" % (typ, err.strip()))
        ep = json.loads(out)
        check(ep["type"] == typ and ep["host"] and ep["port"] >= base,
              "console %s returns an endpoint %s:%s" % (typ, ep["host"], ep["port"]))
    rc, out, _ = c.hv("server", "console", "web-1")
    check(rc == 0 and "vnc://" in out, "console defaults to vnc and prints a url")
    check(states(c, "web-1") == ("active", None, "running"), "a console changes no state")

    rc, out, err = c.hv("server", "set-password", "web-1", "--wait", "-f", "json")
    check(rc == 0, "set-password --wait succeeds (%s)" % err.strip())
    pw = json.loads(out).get("adminPass", "")
    check(len(pw) == 16, "set-password without --password shows the generated password once")
    check(states(c, "web-1") == ("active", None, "running"), "set-password leaves active/running")
    rc, out, _ = c.hv("server", "show", "web-1")
    check(pw not in out, "server show does not show the password again")
    rc, out, err = c.hv("server", "set-password", "web-1", "--password", "S3cret-given-pw", "--wait")
    check(rc == 0 and "S3cret-given-pw" not in out, "a given password is not echoed")
    for secret in (pw, "S3cret-given-pw"):
        check(c.central_holds(secret) == [], "the password is in neither hvcentral's log nor its database")
    rc, _, err = c.hv("server", "console", "web-1", "--type", "spice")
    check(rc == 2 and "--type" in err, "an unknown console type is a usage error")


def config_drive_create(c):
    """create --key-file --user-data --config-drive reaches the agent: the config drive the
    host built carries the uuid, the key and the script; the generated password is shown
    once and stays out of hvcentral's files and out of the drive in clear."""
    import base64, json, os, subprocess
    key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOpEr9t7Gq4Jd2vQm2+RkKkq2d0N8e6Zk1u1cD4hvT2e ops@example"
    keyfile = c.path("id_ed25519.pub")
    with open(keyfile, "w") as f:
        f.write(key + "\n")
    script = "#!/bin/sh\necho configured by hv > /etc/motd\n"
    udfile = c.path("init.sh")
    with open(udfile, "w") as f:
        f.write(script)
    rc, out, err = c.hv("server", "create", "cfg-1", "--host", "node-1", "--flavor-spec",
                        "vcpus=1,ram=128,disk=1", "--image", "cirros", "--key-file", keyfile,
                        "--user-data", udfile, "--config-drive", "--wait", "-f", "json")
    check(rc == 0, "create with --key-file --user-data --config-drive succeeds (%s)" % err.strip())
    s = json.loads(out)
    pw = s.get("adminPass", "")
    check(len(pw) == 16, "create without --admin-pass shows a generated adminPass")
    check(states(c, "cfg-1") == ("active", None, "running"), "the server is active/running")
    check("adminPass" not in c.show("cfg-1") and pw not in json.dumps(c.show("cfg-1")),
          "the password is shown once: server show never has it")
    iso = c.config_drive("node-1", s["uuid"])
    check(os.path.isfile(iso), "the agent built the config drive " + iso)
    found = subprocess.run(["xorriso", "-indev", iso, "-find"], capture_output=True, text=True)
    check(found.returncode == 0 and "openstack/latest/meta_data.json" in found.stdout,
          "xorriso lists openstack/latest/meta_data.json")
    meta = json.loads(drive_file(iso, "meta_data.json"))
    check(meta["uuid"] == s["uuid"], "meta_data.json carries the server's uuid")
    check(key in json.dumps(meta.get("public_keys")), "meta_data.json carries the --key-file key")
    check(drive_file(iso, "user_data") == script.encode(),
          "user_data on the drive is the --user-data script, byte for byte")
    check(meta.get("admin_pass") == pw,
          "the generated password is in meta_data.json admin_pass, where nova puts it")
    metas = found.stdout.count("/meta_data.json")  # one per metadata version on the drive
    with open(iso, "rb") as f:
        check(f.read().count(pw.encode()) == metas,
              "and nowhere else on the drive (once in each of its %d meta_data.json)" % metas)
    check(c.central_holds(pw) == [], "the generated password is in neither hvcentral's log nor its database")
    check(c.central_holds("configured by hv") == [] and
          c.central_holds("IyEvYmluL3NoCmVjaG8gY29uZmln") == [],
          "the user data is in neither hvcentral's log nor its database")

    two = c.path("two.pub")
    with open(two, "w") as f:
        f.write(key + "\n" + key + "\n")
    rc, _, err = c.hv("server", "create", "cfg-2", "--host", "node-1", "--flavor-spec",
                      "vcpus=1,ram=64,disk=1", "--image", "cirros", "--key-file", two)
    check(rc == 2 and "more than one line" in err, "a key file of two lines is refused before sending")
    big = c.path("big.sh")
    with open(big, "w") as f:
        f.write("#" * 70000)
    rc, _, err = c.hv("server", "create", "cfg-2", "--host", "node-1", "--flavor-spec",
                      "vcpus=1,ram=64,disk=1", "--image", "cirros", "--user-data", big)
    check(rc == 2 and "--user-data" in err, "user data over 64 KiB is refused before sending")
    check(json.loads(drive_file(iso, "network_data.json")) == {},
          "without ports network_data.json is still written, as nova writes it: {}")

    # rebuild --user-data replaces the user data (nova's rebuild takes user_data); without it
    # the rebuilt drive keeps what the server was created with
    import gzip
    new_ud = gzip.compress(b"#!/bin/sh\necho rebuilt\n", mtime=0)
    with open(c.path("rebuilt.gz"), "wb") as f:
        f.write(new_ud)
    rc, _, err = c.hv("server", "rebuild", "cfg-1", "--image", "cirros", "--wait")
    check(rc == 0 and drive_file(iso, "user_data") == script.encode(),
          "a rebuild without --user-data keeps the user data on the drive (%s)" % err.strip())
    rc, _, err = c.hv("server", "rebuild", "cfg-1", "--image", "cirros", "--user-data",
                      c.path("rebuilt.gz"), "--wait")
    check(rc == 0 and drive_file(iso, "user_data") == new_ud,
          "rebuild --user-data puts the new (gzip'd) user data on the drive byte for byte (%s)"
          % err.strip())
    check(c.central_holds(base64.b64encode(new_ud).decode()[:24]) == [],
          "the rebuild's user data is in neither hvcentral's log nor its database")
    rc, _, err = c.hv("server", "rebuild", "cfg-1", "--image", "cirros", "--user-data",
                      c.path("missing"))
    check(rc == 2 and "--user-data" in err, "an unreadable rebuild --user-data is a usage error")

    # --no-admin-pass: nothing is generated, meta_data.json has no admin_pass
    rc, _, err = c.hv("server", "create", "cfg-3", "--host", "node-1", "--flavor-spec",
                      "vcpus=1,ram=64,disk=1", "--image", "cirros", "--admin-pass", "x",
                      "--no-admin-pass")
    check(rc == 2 and "--no-admin-pass" in err, "--no-admin-pass with --admin-pass is refused")
    rc, out, err = c.hv("server", "create", "cfg-3", "--host", "node-1", "--flavor-spec",
                        "vcpus=1,ram=64,disk=1", "--image", "cirros", "--no-admin-pass",
                        "--config-drive", "--wait", "-f", "json")
    s3 = json.loads(out) if rc == 0 else {}
    check(rc == 0 and "adminPass" not in s3, "create --no-admin-pass shows no adminPass (%s)"
          % err.strip())
    meta3 = json.loads(drive_file(c.config_drive("node-1", s3["uuid"]), "meta_data.json"))
    check(meta3["uuid"] == s3["uuid"] and "admin_pass" not in meta3,
          "and its meta_data.json has no admin_pass")
    check(c.hv("server", "delete", "cfg-3", "--wait")[0] == 0, "cfg-3 deleted")

    rc, _, err = c.hv("server", "set-password", "cfg-1", "--wait")
    check(rc == 1 and "hw_qemu_guest_agent" in err,
          "set-password on an image without a guest agent fails naming hw_qemu_guest_agent")
    check(states(c, "cfg-1") == ("active", None, "running"), "and leaves the server as it was")
    rc, _, _ = c.hv("server", "delete", "cfg-1", "--wait")
    check(rc == 0, "cfg-1 deleted")


def main():
    harness.need_module("zmq", "python3-zmq")  # the raw API checks speak ZeroMQ directly
    c = harness.Cluster()
    c.start_central()
    c.allow("node-1")
    c.start_agent("node-1")
    c.wait_host("node-1", "up")

    rc, out, err = c.hv("server", "create", "web-1", "--host", "node-1",
                        "--flavor-spec", "vcpus=2,ram=512,disk=1,ephemeral=1,swap=128",
                        "--property", "hw:cpu_policy=shared", "--image", "cirros", "--wait")
    check(rc == 0, "create --wait succeeds (%s)" % err.strip())
    check(states(c, "web-1") == ("active", None, "running"), "a new server is active and running")
    s = c.show("web-1")
    check(s["flavor"]["vcpus"] == 2 and s["flavor"]["ram_mb"] == 512 and s["flavor"]["swap_mb"] == 128,
          "the server keeps its flavor")
    check(s["properties"].get("hw:cpu_policy") == "shared", "the --property reaches the flavor extra specs")

    steps = [
        (["pause"], ("paused", None, "paused"), "pause keeps the memory: paused/paused"),
        (["unpause"], ("active", None, "running"), "unpause runs it again"),
        (["suspend"], ("suspended", None, "suspended"), "suspend saves it: suspended"),
        (["resume"], ("active", None, "running"), "resume brings it back"),
        (["stop"], ("stopped", None, "shutdown"), "stop powers it off: stopped/shutdown"),
        (["start"], ("active", None, "running"), "start powers it on"),
        (["reboot"], ("active", None, "running"), "a soft reboot ends active and running"),
        (["reboot", "--hard"], ("active", None, "running"), "a hard reboot ends active and running"),
    ]
    for args, want, what in steps:
        rc, out, err = c.hv("server", *(args[:1] + ["web-1"] + args[1:] + ["--wait"]))
        check(rc == 0, "hv server %s --wait exits 0 (%s)" % (" ".join(args), err.strip()))
        check(states(c, "web-1") == want, what)

    # without --wait the action is accepted at once and finishes on its own
    rc, out, err = c.hv("server", "pause", "web-1")
    check(rc == 0, "pause without --wait is accepted")
    harness.wait_for("web-1 paused", lambda: states(c, "web-1") == ("paused", None, "paused"))
    check(True, "the unwaited pause reaches paused")
    rc, out, err = c.hv("server", "pause", "web-1")
    check(rc == 1 and "paused" in err, "pausing a paused server is refused naming its state")
    check(states(c, "web-1") == ("paused", None, "paused"), "a refused action changes nothing")
    rc, _, _ = c.hv("server", "unpause", "web-1", "--wait")
    check(rc == 0, "unpause again")

    guide_actions(c)
    config_drive_create(c)

    rc, out, err = c.hv("server", "console-log", "web-1", "--length", "3")
    check(rc == 0 and out.count("\n") <= 3 and len(out) > 0, "console-log --length 3 prints at most 3 lines")
    rc, out, err = c.hv("server", "console-log", "web-1", "-f", "json")
    check(rc == 0 and "output" in out, "console-log -f json carries the output")

    rc, out, _ = c.hv("server", "list", "-f", "json")
    check(rc == 0 and [s["name"] for s in __import__("json").loads(out)] == ["web-1"], "list shows the server")
    rc, out, _ = c.hv("server", "list")
    check(rc == 0 and "web-1" in out and "Power State" in out, "list prints a table for people")

    rc, out, err = c.hv("server", "create", "web-1", "--host", "node-1",
                        "--flavor-spec", "vcpus=1,ram=64,disk=1", "--image", "cirros")
    check(rc == 1 and "args.name" in err, "a second server with the same name is refused naming args.name")

    rc, out, err = c.hv("server", "delete", "web-1", "--wait")
    check(rc == 0, "delete --wait succeeds (%s)" % err.strip())
    check(states(c, "web-1") == ("deleted", None, "nostate"), "a deleted server is deleted/nostate")
    rc, out, _ = c.hv("server", "list", "-f", "json")
    check(rc == 0 and __import__("json").loads(out) == [], "list no longer shows it")

    # operator mistakes and their exit codes
    rc, _, err = c.hv("server", "show", "nope")
    check(rc == 1 and "nope" in err, "an unknown server exits 1 naming it")
    rc, _, err = c.hv("server", "create", "x", "--host", "node-1", "--flavor-spec", "vcpus=2,ram=0,disk=1",
                      "--image", "cirros")
    check(rc == 2 and "flavor-spec.ram" in err, "a bad flavor spec exits 2 naming flavor-spec.ram")
    check(err.count("flavor-spec.ram") == 1, "and names the field once (%s)" % err.strip())
    rc, _, err = c.hv("server", "create", "x", "--host", "node-1", "--host", "node-2",
                      "--flavor-spec", "vcpus=1,ram=64,disk=1", "--image", "cirros")
    check(rc == 2 and "--host" in err and "more than once" in err,
          "--host given twice is a usage error, not the last one silently taken")
    rc, _, err = c.hv("server", "create", "x", "--host", "no/such host", "--flavor-spec",
                      "vcpus=1,ram=64,disk=1", "--image", "cirros")
    check(rc == 1 and err.count("args.host") == 1,
          "a server-side error names its field once (%s)" % err.strip())
    rc, _, err = c.hv("server", "create", "x", "--host", "node-1", "--flavor-spec",
                      "vcpus=1,ram=64,disk=1", "--image", "cirros", "--admin-pass", "pw\udcff")
    check(rc == 2 and "--admin-pass" in err and "UTF-8" in err,
          "an --admin-pass that is not UTF-8 is a usage error naming it, not silently dropped")
    check("x" not in [s["name"] for s in c.hv_json("server", "list")], "and nothing was created")
    rc, _, err = c.hv("server", "pause", "nope")
    check(rc == 1 and len(err.strip().splitlines()) == 1 and err.count("nope") == 1,
          "a server-side error is one line naming the server once (%s)" % err.strip())
    rc, _, err = c.hv("server", "create", "x", "--host", "node-9", "--flavor-spec", "vcpus=1,ram=64,disk=1",
                      "--image", "cirros")
    check(rc == 1 and "host" in err, "an unknown host exits 1 naming the host")
    rc, _, err = c.hv("server", "create", "x", "--host", "node-1", "--flavor-spec", "vcpus=1,ram=64,disk=1",
                      "--image", "../../etc/passwd")
    check(rc == 1 and "args.image" in err, "an image id with a path in it is refused naming args.image")
    api_rejects_malformed_requests(c)

    # a host slower than the operator's patience: --wait gives up with exit 4, the server
    # still gets there
    c.allow("node-slow")
    c.start_agent("node-slow", fake="latency_ms = 3000\n")
    c.wait_host("node-slow", "up")
    rc, _, err = c.hv("server", "create", "slow-1", "--host", "node-slow", "--flavor-spec",
                      "vcpus=1,ram=64,disk=1", "--image", "cirros", "--wait", "--timeout", "1")
    check(rc == 4 and "timeout" in err, "--wait that runs out exits 4")
    harness.wait_for("slow-1 active", lambda: states(c, "slow-1") == ("active", None, "running"))
    check(True, "and the server still ends active")

    # on the slow host each action is seen in flight: hv returns at once with the task set
    in_flight = [
        (["resize", "--flavor-spec", "vcpus=2,ram=128,disk=1"], "resize_migrating", ("resized", None, "running")),
        (["resize-revert"], "resize_reverting", ("active", None, "running")),
        (["resize", "--flavor-spec", "vcpus=2,ram=128,disk=1"], "resize_migrating", ("resized", None, "running")),
        (["resize-confirm"], "resize_confirming", ("active", None, "running")),
        (["rebuild", "--image", "cirros", "--image-property", "hw_qemu_guest_agent=yes"], "rebuilding",
         ("active", None, "running")),
        (["rescue"], "rescuing", ("rescued", None, "running")),
        (["unrescue"], "unrescuing", ("active", None, "running")),
        (["snapshot", "slow-snap"], "image_snapshot", ("active", None, "running")),
        (["set-password", "--password", "Slow-pw-1234"], "updating_password", ("active", None, "running")),
    ]
    for args, task, want in in_flight:
        rc, out, err = c.hv("server", args[0], "slow-1", *args[1:])
        check(rc == 0, "hv server %s without --wait is accepted (%s)" % (args[0], err.strip()))
        check(states(c, "slow-1")[1] == task, "%s is in flight as task_state %s" % (args[0], task))
        if task == "image_snapshot":
            rc, _, err = c.hv("server", "pause", "slow-1")
            check(rc == 1 and "task in flight" in err, "another action waits for the task: refused")
            rc, out, err = c.hv("server", "console", "slow-1", "-f", "json")
            check(rc == 0 and json.loads(out)["port"] > 0, "a console opens while a snapshot runs")
        harness.wait_for("slow-1 " + args[0], lambda: states(c, "slow-1") == want)
        check(True, "and %s ends %s" % (args[0], "/".join(str(x) for x in want)))

    # hvcentral dying while hv waits: hv notices and says so (exit 3) instead of waiting out
    import os, subprocess, time
    waiter = subprocess.Popen([c.binary("cli/hv"), "server", "reboot", "slow-1", "--wait"],
                              env=dict(os.environ, HV_API=c.api), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    harness.wait_for("reboot in flight", lambda: states(c, "slow-1")[1] == "rebooting")
    c.kill("hvcentral")
    out, err = waiter.communicate(timeout=60)
    check(waiter.returncode == 3 and "went away" in err, "a waiting hv exits 3 when hvcentral dies")
    rc, _, err = c.hv("server", "list")
    check(rc == 3, "no hvcentral exits 3")


harness.run(main)
