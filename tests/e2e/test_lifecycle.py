#!/usr/bin/python3
"""Every server action of `hv`, end to end: hv -> hvcentral -> hvagent -> fake driver and
back, checking vm_state / task_state / power_state after each one, then the errors an
operator meets (wrong state, unknown server, bad spec, no controller)."""
import harness
from harness import check


def states(c, name):
    s = c.show(name)
    return s["vm_state"], s["task_state"], s["power_state"]


def api_rejects_malformed_requests(c):
    """The API socket, spoken to directly as docs/api.md describes."""
    try:
        import zmq
    except ImportError:
        print("# python3-zmq missing: raw API checks skipped")
        return
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
    r = ask(b'{"id": 8, "op": "server.list"}')
    check(r["ok"] is True and isinstance(r["result"], list), "a well-formed request still works after them")
    s.close()


def main():
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
