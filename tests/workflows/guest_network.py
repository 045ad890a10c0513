#!/usr/bin/python3
"""A real guest on the network hvcentral gives it. Run by run_guest.sh --private.

hvcentral + one hvagent (libvirt driver, QEMU/TCG, [netfilter] enabled) whose network
namespace is the private libvirtd's ("host" below: the taps libvirt makes are there, and
the agent's nf_tables). Two more namespaces this test makes, each held by a sleeping
process it owns:
  client    10.77.0.250/24 on a veth into the host, routed as a second port would be
            (a /32 route and proxy ARP on the host side), on the server's network;
  external  198.51.100.1/24 on a veth whose host end is [netfilter] external_interface
            (198.51.100.2), routing the floating pool 203.0.113.0/26 to the host.
Nothing here plumbs the guest's tap: the agent makes its host side (forwarding, proxy ARP
on the tap, its /32 route to the fixed IP; docs/protocol-netfilter.md section 5) when the
port is plugged and again each time libvirt makes the tap, and removes its route with the
port; the host namespace starts with forwarding off.

Through hv: a key pair, a group 'ssh' allowing TCP 22 and ICMP, a network with a /24, a
server with --network --security-group --key-name --config-drive --user-data. The guest
(guestimg.sh) applies network_data.json, prints what it configured on its serial console
and runs echo servers on TCP 22 and 80. Checked: the address it printed is its port's; from
the client TCP 22 echoes and ping answers; TCP 80 (listening, not in the group) is dropped
(a timeout, not a reset) until a rule for it is added, and again once that rule is deleted;
a floating IP makes TCP 22 reachable from the external namespace
by the floating address and its removal cuts the established session; the host's ruleset
holds exactly the group's rules for the port's tap; after a hard reboot (a new tap) the
guest is routed and reachable again; after delete no route of the agent is left."""
import hashlib
import json
import os
import re
import subprocess
import sys
import time

import wf
from wf import check, hv_ok, states, wait_for

FLAVOR = "vcpus=1,ram=256,disk=1"
CIDR = "10.77.0.0/24"
CLIENT = "10.77.0.250"
EXT_HOST, EXT_PEER = "198.51.100.2", "198.51.100.1"
FIP_CIDR = "203.0.113.0/26"
NF_CONF = ("[netfilter]\nenabled = true\nexternal_interface = ext0\nresync_interval = 0\n")

# Run inside a namespace: TCP to ADDR PORT, one line echoed back? Prints open (echoed),
# refused, or timeout. With 'session', keeps the connection: after each line on stdin it
# sends another and prints echoed or cut.
PROBE = r"""
import socket, sys
addr, port, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]
s = socket.socket()
s.settimeout(4)
def echo(word):
    try:
        s.sendall(word + b"\n")
        got = b""
        while not got.endswith(b"\n"):
            b = s.recv(100)
            if not b:
                return "cut (closed)"
            got += b
        return "echoed" if got == word + b"\n" else "garbled %r" % got
    except socket.timeout:
        return "cut (timeout)"
    except OSError as e:
        return "cut (%s)" % e.strerror
try:
    s.connect((addr, port))
except socket.timeout:
    print("timeout"); sys.exit(0)
except ConnectionRefusedError:
    print("refused"); sys.exit(0)
except OSError as e:
    print("error " + str(e)); sys.exit(0)
r = echo(b"hello")
print("open" if r == "echoed" else r, flush=True)
if mode == "session":
    for n, line in enumerate(sys.stdin):
        print(echo(b"again%d" % n), flush=True)
"""


class NetCluster(wf.LibvirtCluster):
    """The agent runs in the private libvirtd's network namespace (host_pid's)."""

    def __init__(self, host_pid):
        super().__init__(guest_conf=NF_CONF)
        self.host_pid = host_pid

    def start_agent(self, host_id, fake=""):
        conf = self.agent_conf(host_id)
        env = dict(os.environ, HVAGENT_DRIVER_DIR=self.binary("drivers/libvirt"))
        log = open(self.path("agent-%s.log" % host_id), "a")
        p = subprocess.Popen(["nsenter", "-t", str(self.host_pid), "-n",
                              self.binary("agent/hvagent"), "-c", conf], env=env,
                             stdout=log, stderr=log)
        self.procs["agent-" + host_id] = p
        return p


class Netns:
    """A network namespace held by a sleeping process of ours; gone when it is killed."""

    def __init__(self, name):
        self.name = name
        cmd = ["unshare", "-n", "sh", "-c", "ip link set lo up && exec sleep 100000"]
        self.holder = subprocess.Popen(cmd, stdin=subprocess.DEVNULL)
        me = os.readlink("/proc/self/ns/net")
        try:
            wait_for("namespace %s" % name, lambda: self._ready(me), 10)
        except BaseException:
            self.close()
            raise

    def _ready(self, me):
        # the holder has exec'd sleep once its namespace is set up
        try:
            ns = os.readlink("/proc/%d/ns/net" % self.holder.pid)
            exe = os.path.basename(os.readlink("/proc/%d/exe" % self.holder.pid))
        except OSError:
            return False
        return ns != me and exe == "sleep"

    @property
    def pid(self):
        return self.holder.pid

    def argv(self, *cmd):
        return ["nsenter", "-t", str(self.pid), "-n"] + [str(c) for c in cmd]

    def run(self, *cmd, timeout=30, ok=True):
        r = subprocess.run(self.argv(*cmd), capture_output=True, text=True, timeout=timeout)
        if ok and r.returncode:
            check(False, "in %s: %s (%s)" % (self.name, " ".join(map(str, cmd)),
                                             (r.stderr or r.stdout).strip()))
        return r

    def close(self):
        if self.holder.poll() is None:
            self.holder.kill()
            self.holder.wait(timeout=10)


class HostNs(Netns):
    """The private libvirtd's namespace: run_guest.sh made it and tears it down."""

    def __init__(self, pid):
        self.name, self._pid = "host", pid

    @property
    def pid(self):
        return self._pid

    def close(self):
        pass


def machine_missing():
    if os.geteuid() != 0:
        return "needs root for network namespaces"
    for t in ("nsenter", "unshare", "ip", "nft", "sysctl"):
        if subprocess.run(["sh", "-c", "command -v " + t], capture_output=True).returncode:
            return "%s is not installed" % t
    r = subprocess.run(["unshare", "-n", "sh", "-c",
                        "ip link add a0 type veth peer name a1 && nft list ruleset"],
                       capture_output=True, text=True)
    if r.returncode:
        return "cannot make a network namespace with veth and nf_tables here: " + \
            (r.stderr or r.stdout).strip()
    return None


def plumb(host, client, ext):
    """The wires: client and external namespaces into the host. Forwarding stays as a new
    namespace has it (off): turning it on is the agent's."""
    host.run("ip", "link", "add", "cl0", "type", "veth", "peer", "name", "eth0", "netns",
             client.pid)
    host.run("ip", "link", "add", "ext0", "type", "veth", "peer", "name", "eth0", "netns",
             ext.pid)
    for dev in ("cl0", "ext0"):
        host.run("ip", "link", "set", dev, "up")
    host.run("sysctl", "-qw", "net.ipv4.conf.cl0.proxy_arp=1")
    host.run("ip", "route", "add", CLIENT + "/32", "dev", "cl0")
    host.run("ip", "addr", "add", EXT_HOST + "/24", "dev", "ext0")
    # the host's way out; it is also what proxy ARP answers the guest's 169.254.1.1 from
    host.run("ip", "route", "add", "default", "via", EXT_PEER)
    client.run("ip", "link", "set", "eth0", "up")
    client.run("ip", "addr", "add", CLIENT + "/24", "dev", "eth0")
    ext.run("ip", "link", "set", "eth0", "up")
    ext.run("ip", "addr", "add", EXT_PEER + "/24", "dev", "eth0")
    ext.run("ip", "route", "add", FIP_CIDR, "via", EXT_HOST)


def check_tap_host_side(host, tap, fixed_ip):
    """What the agent put around the guest's tap: its route (protocol 199), proxy ARP,
    forwarding."""
    def routed():
        out = host.run("ip", "route", "show", "proto", "199", "dev", tap, ok=False).stdout
        return out.split() if out.split()[:1] == [fixed_ip] else None
    routes = wait_for("the agent's route to %s" % fixed_ip, routed, 30, 0.5) or []
    sysctl = host.run("sysctl", "-n", "net.ipv4.conf.%s.proxy_arp" % tap,
                      "net.ipv4.ip_forward").stdout.split()
    check(routes[:1] == [fixed_ip] and sysctl == ["1", "1"],
          "the agent routes %s through %s (proto 199), with proxy ARP and forwarding on "
          "(routes %s, sysctls %s)" % (fixed_ip, tap, routes, sysctl))


def probe(ns, addr, port):
    r = ns.run("python3", "-c", PROBE, addr, port, "once", timeout=30, ok=False)
    return r.stdout.strip() or "error " + r.stderr.strip()[-200:]


def ping(ns, addr):
    r = ns.run("ping", "-n", "-c", "3", "-W", "3", addr, timeout=30, ok=False)
    m = re.search(r"(\d+) (?:packets )?received", r.stdout)
    return int(m.group(1)) if m else 0


def nft_json(host):
    return json.loads(host.run("nft", "-j", "list", "ruleset").stdout)["nftables"]


def chain_rules(host, chain):
    out = host.run("nft", "list", "chain", "inet", "hvagent", chain).stdout
    return [ln.strip() for ln in out.splitlines()
            if ln.strip() and not ln.strip().startswith(("table", "chain", "}", "type"))]


def check_ruleset(host, tap, rules):
    """The tap is a member of exactly one group's set, and that group's chains hold one
    nft rule per group rule of its direction: TCP 22 and ICMP in."""
    sets = [o["set"] for o in nft_json(host) if "set" in o]
    member = [s["name"] for s in sets if s.get("table") == "hvagent" and
              s["name"].startswith("gm_") and tap in json.dumps(s.get("elem", []))]
    check(len(member) == 1, "the tap is in exactly one group set (%s)" % member)
    g = member[0][len("gm_"):]
    ingress = chain_rules(host, "sg_%s_i" % g)
    egress = chain_rules(host, "sg_%s_e" % g)
    print("# the group's chains in the host's ruleset:\n#   " + "\n#   ".join(ingress + egress))
    want_in = [r for r in rules if r["direction"] == "ingress"]
    want_e = [r for r in rules if r["direction"] == "egress"]
    check(len(ingress) == len(want_in) == 2 and len(egress) == len(want_e),
          "one nft rule per group rule: %d in, %d out (%d, %d in the group)"
          % (len(ingress), len(egress), len(want_in), len(want_e)))
    check(sum(bool(re.search(r"\btcp (th )?dport 22 ", r)) for r in ingress) == 1 and
          sum("l4proto icmp " in r and "dport" not in r for r in ingress) == 1,
          "the ingress rules are TCP 22 and ICMP, nothing else")
    check(not any(re.search(r"dport (23|80)\b", r) for r in ingress + egress),
          "nothing admits TCP 23 or 80")


def walk(c, host, client, ext):
    kp = c.hv_json("keypair", "create", "k", "--private-key", c.path("k"))
    pub = kp["public_key"].strip()
    c.hv_json("security", "group", "create", "ssh", "--description", "SSH and ping")
    c.hv_json("security", "group", "rule", "create", "ssh", "--protocol", "tcp",
              "--dst-port", "22", "--remote-ip", "0.0.0.0/0")
    c.hv_json("security", "group", "rule", "create", "ssh", "--protocol", "icmp")
    rules = c.hv_json("security", "group", "rule", "list", "ssh")
    c.hv_json("network", "create", "private")
    c.hv_json("subnet", "create", "private-v4", "--network", "private", "--subnet-range", CIDR)

    c.import_image("tiny", os.path.join(wf.ENV["DIR"], "data.qcow2"), wf.guest_properties())
    udfile = c.path("init.sh")
    with open(udfile, "w") as f:
        f.write("#!/bin/sh\necho on the network > /etc/motd\n")
    t0 = time.monotonic()
    hv_ok(c, "server", "create", "web-1", "--host", "node-1", "--flavor-spec", FLAVOR,
          *c.image_args("tiny"), "--network", "private", "--security-group", "ssh",
          "--key-name", "k", "--config-drive", "--user-data", udfile, "--wait", "-f", "json")
    check(states(c, "web-1") == ("active", None, "running"), "web-1 is active/running")
    ports = c.hv_json("port", "list", "--network", "private")
    check(len(ports) == 1, "web-1 has one port on 'private'")
    port = ports[0]
    fixed = port["fixed_ips"][0]["ip_address"]
    tap = "tap" + port["id"][:11]
    check_tap_host_side(host, tap, fixed)

    c.wait_lines("web-1", "HVGUEST-NET listening", 1)
    print("# the guest printed: %s (%.0f s after create)"
          % (c.lines("web-1", "HVGUEST-NET "), time.monotonic() - t0))
    got = dict(kv.split("=", 1) for kv in c.lines("web-1", "HVGUEST-NET if=")[0].split()[1:])
    check(got.get("address") == fixed + "/32" and got.get("mac") == port["mac_address"] and
          got.get("gateway") == "169.254.1.1",
          "the guest configured its port's address %s/32, MAC and the routed gateway (%s)"
          % (fixed, got))
    cd = [ln.split(" ", 1)[1] for ln in c.lines("web-1", "HVGUEST-CD ")]
    check("key=" + pub in cd, "the guest's config drive has key pair k's public key")
    check("user_data_sha256=" + hashlib.sha256(open(udfile, "rb").read()).hexdigest() in cd,
          "and the --user-data script byte for byte")

    # the client on the same network
    r = wait_for("TCP 22 from the client", lambda: (lambda p: p if p == "open" else None)(
        probe(client, fixed, 22)), 60, 1)
    check(r == "open", "from the client namespace TCP 22 connects and echoes")
    n = ping(client, fixed)
    check(n >= 2, "ping from the client answers (%d of 3)" % n)
    r = probe(client, fixed, 80)
    check(r == "timeout", "TCP 80, listening but not in the group, is dropped: %s" % r)
    r = probe(client, fixed, 23)
    check(r == "timeout", "TCP 23, not in the group, is dropped (no reset either): %s" % r)

    # the guest does listen on 80: a rule for it opens it, and deleting the rule closes it
    r80 = c.hv_json("security", "group", "rule", "create", "ssh", "--protocol", "tcp",
                    "--dst-port", "80", "--remote-ip", CLIENT + "/32")
    r = wait_for("TCP 80 once a rule admits it", lambda: (
        lambda p: p if p == "open" else None)(probe(client, fixed, 80)), 60, 1)
    check(r == "open", "a rule for TCP 80 from the client opens it: the guest listens there")
    hv_ok(c, "security", "group", "rule", "delete", r80["id"])
    r = wait_for("TCP 80 dropped again", lambda: (
        lambda p: p if p == "timeout" else None)(probe(client, fixed, 80)), 60, 1)
    check(r == "timeout", "deleting the rule drops TCP 80 again")

    check_ruleset(host, tap, rules)

    # the floating IP
    fip = c.hv_json("floating", "ip", "create", "public")["floating_ip_address"]
    r = probe(ext, fip, 22)
    check(r in ("timeout", "refused") or r.startswith("error"),
          "before association the external namespace cannot reach %s:22 (%s)" % (fip, r))
    hv_ok(c, "server", "add", "floating", "ip", "web-1", fip)
    r = wait_for("TCP 22 by the floating address", lambda: (
        lambda p: p if p == "open" else None)(probe(ext, fip, 22)), 60, 1)
    check(r == "open", "from the external namespace %s:22 connects and echoes" % fip)
    dnat = host.run("nft", "list", "map", "ip", "hvnat", "fip_dnat").stdout
    check("%s : %s" % (fip, fixed) in dnat, "the host NATs %s to %s" % (fip, fixed))

    sess = subprocess.Popen(ext.argv("python3", "-c", PROBE, fip, 22, "session"),
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        first = sess.stdout.readline().strip()
        check(first == "open", "a session from outside by %s is established (%s)" % (fip, first))
        sess.stdin.write("x\n")
        sess.stdin.flush()
        again = sess.stdout.readline().strip()
        check(again == "echoed", "and carries a second line (%s)" % again)
        hv_ok(c, "server", "remove", "floating", "ip", "web-1", fip)
        wait_for("the host drops the NAT", lambda: "%s : " % fip not in host.run(
            "nft", "list", "map", "ip", "hvnat", "fip_dnat").stdout, 60, 0.5)
        sess.stdin.write("x\n")
        sess.stdin.flush()
        after = sess.stdout.readline().strip()
        check(after.startswith("cut"), "server remove floating ip cuts the session (%s)" % after)
    finally:
        if sess.poll() is None:
            sess.kill()
        sess.wait(timeout=10)
    r = probe(ext, fip, 22)
    check(r != "open", "and a new connection by %s fails (%s)" % (fip, r))
    r = probe(client, fixed, 22)
    check(r == "open", "the client still reaches the fixed address on 22 (%s)" % r)
    check_ruleset(host, tap, rules)

    # a hard reboot destroys the domain, so libvirt makes a new tap and the kernel took the
    # old one's route with it: the agent routes the new tap on its own (no command carries
    # the port again)
    def ifindex():
        return host.run("ip", "-o", "link", "show", tap).stdout.split(":")[0]
    before = ifindex()
    hv_ok(c, "server", "reboot", "web-1", "--hard", "--wait")
    after = ifindex()
    check(after != before, "the hard reboot made a new tap (ifindex %s, was %s)" % (after, before))
    check_tap_host_side(host, tap, fixed)
    r = wait_for("TCP 22 after the hard reboot", lambda: (
        lambda p: p if p == "open" else None)(probe(client, fixed, 22)), 120, 1)
    check(r == "open", "after the hard reboot the client reaches the guest on 22 again")

    hv_ok(c, "server", "delete", "web-1", "--wait")
    check(not c.hv_json("port", "list"), "delete frees the port")
    check(not host.run("ip", "link", "show", tap, ok=False).returncode == 0,
          "and the tap is gone from the host")
    left = host.run("ip", "route", "show", "proto", "199").stdout.strip()
    check(not left, "no route of the agent is left (%r)" % left)


def main():
    missing = machine_missing()
    if missing:
        print("SKIP: " + missing)
        sys.exit(77)
    host_pid = int(open(os.path.join(wf.ENV["DIR"], "ns.pid")).read())
    host = HostNs(host_pid)
    spaces, c = [], None
    try:
        client = Netns("client")
        spaces.append(client)
        ext = Netns("external")
        spaces.append(ext)
        plumb(host, client, ext)
        c = NetCluster(host_pid)
        c.start_central(conf_extra="[network]\nexternal_cidr = %s\n" % FIP_CIDR)
        c.allow("node-1")
        c.start_agent("node-1")
        c.wait_host("node-1", "up", timeout=60)
        t0 = time.monotonic()
        walk(c, host, client, ext)
        print("# the walk took %.0f s" % (time.monotonic() - t0))
    except wf.Failure:
        raise  # harness.run prints the logs and stops the daemons
    except BaseException:
        if c:  # harness.run handles only failed checks: stop what we started
            c.stop_all(keep_logs=True)
        raise
    finally:
        for ns in spaces:
            ns.close()


wf.harness.run(main)
