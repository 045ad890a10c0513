#!/usr/bin/env python3
"""seeds.py - writes the seed corpus of every fuzz target under tests/data/fuzz/<target>/
from the tests' own data (tests/data/...) and the documents' examples (docs/api.md,
docs/protocol.md), so each target starts from real, valid inputs. The link seeds answer the
commands of the fuzz fixture (fuzz_central.c), whose ids are fixed: run with the ids the
fixture prints (HV_FUZZ_SHOW_FIXTURE=1 build/tests/fuzz/fuzz-link -runs=0 DIR) if it changes.
Usage: tests/fuzz/seeds.py [SOURCE_ROOT]"""
import json
import os
import struct
import sys

ROOT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "..")
DATA = os.path.join(ROOT, "tests", "data")
OUT = os.path.join(DATA, "fuzz")

# the fixture's ids (fuzz_central.c, deterministic)
NEW_1 = "f44fec9b-eae1-4cc3-a609-f67b2f19ab55"
SPAWN = ("c-8664acd7-0d6a-4c69-bb00-1016724f25b0", "29f7c383-a1df-492a-8ea8-373837ad49e1")
REBOOT = ("c-dab15677-7114-45c1-9856-8f7b701dfb0e", "437259fc-c0c0-4fa8-8651-df0837e1d2e8")
BOOT_1 = "b0000000-0000-4000-8000-000000000001"
WEB_1 = "00000000-0000-4000-8000-000000000001"
OTHER_1 = "00000000-0000-4000-8000-000000000008"


def write(target, name, data):
    os.makedirs(os.path.join(OUT, target), exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(OUT, target, name), "wb") as f:
        f.write(data)


def read(*path):
    with open(os.path.join(DATA, *path), "rb") as f:
        return f.read()


def frames(parts):
    """The fuzz_proto/fuzz_link input format: count, then 2-byte LE lengths."""
    out = bytes([len(parts)])
    for p in parts[:-1]:
        out += struct.pack("<H", len(p)) + p
    return out + parts[-1]


def hva(mtype, body, seq=None, corr=None, n=0):
    hdr = {"msg_id": "7e0b8a51-2f1e-4c55-a0f3-3d2c1b0a9f%02x" % n, "host_id": "node-1",
           "boot_id": BOOT_1, "ts_ms": 1800000000100, "schema": 1}
    if seq is not None:
        hdr["seq"] = seq
    if corr:
        hdr["corr_id"] = corr
    return frames([b"HVA1", mtype.encode(), json.dumps(hdr).encode(), json.dumps(body).encode()])


def record(uuid, vm, task, power, name=None):
    r = {"uuid": uuid, "vm_state": vm, "task_state": task, "power_state": power}
    if name:
        r["name"] = name
    return r


def link():
    write("link", "hello", hva("HELLO", {"agent_version": "0.1.0"}, n=1))
    write("link", "snapshot", hva("SNAPSHOT", {"generation": 2, "host": {"vcpus": 8},
                                               "instances": [record(WEB_1, "active", None, "running", "web-1")]},
                                  seq=2, n=2))
    write("link", "delta", hva("DELTA", {"prev_seq": 1, "instances": [record(WEB_1, "stopped", None, "shutdown")],
                                         "removed": [OTHER_1]}, seq=2, n=3))
    write("link", "report", hva("REPORT", {"vcpus": 8, "vcpus_used": 1, "memory_mb": 8192,
                                           "status": "disabled", "disabled_reason": "maintenance"}, n=4))
    write("link", "event", hva("EVENT", {"uuid": WEB_1, "event": "stopped",
                                         "instance": record(WEB_1, "stopped", None, "shutdown")}, seq=2, n=5))
    write("link", "ack", hva("ACK", {"cmd_id": SPAWN[0]}, corr=SPAWN[1], n=6))
    write("link", "result-spawn", hva("RESULT", {"cmd_id": SPAWN[0], "status": "ok", "uuid": NEW_1,
                                                 "instance": record(NEW_1, "active", None, "running")}, n=7))
    write("link", "result-error", hva("RESULT", {"cmd_id": REBOOT[0], "status": "error", "uuid": WEB_1,
                                                 "error": {"code": "driver", "message": "failed"}}, n=8))
    write("link", "error-busy", hva("ERROR", {"code": "busy", "message": "queue full"}, corr=REBOOT[1], n=9))
    write("link", "error-refused", hva("ERROR", {"code": "invalid", "message": "no", "field": "body.name"},
                                       corr=SPAWN[1], n=10))
    write("link", "ping", hva("PING", {}, n=11))
    # catalog images (protocol 6.8): a fetch of an image the host may not have, a chunk of a
    # snapshot nobody asked for
    write("link", "image-get", hva("IMAGE_GET", {"image_id": "cirros", "offset": 0,
                                                 "length": 524288}, n=12))
    write("link", "image-data", hva("IMAGE_DATA", {"image_id": "snap-1", "offset": 0,
                                                   "data": "AAAA", "eof": True}, n=13))
    # the protocol's own examples, from another host (dropped as hvcentral drops them)
    write("link", "delta-other-host", read("fuzz", "proto", "delta"))


def api():
    reqs = {
        "host-list": {"id": 1, "op": "host.list"},
        "host-show": {"id": 2, "op": "host.show", "args": {"host": "node-1"}},
        "host-accept": {"id": 3, "op": "host.accept", "args": {"key": "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7", "name": "node-3"}},
        "server-create": {"id": 4, "op": "server.create", "wait": True, "args": {
            "name": "web-2", "host": "node-1", "image": "cirros",
            "flavor": {"vcpus": 2, "ram": 512, "disk": 1, "ephemeral": 0, "swap": 0},
            "properties": {"hw:cpu_policy": "shared"}, "admin_pass": "s3cret",
            "user_data": "I2Nsb3VkLWNvbmZpZwo=", "config_drive": True, "project": "demo"}},
        "server-list": {"id": 5, "op": "server.list", "args": {"host": "node-1", "deleted": True}},
        "server-show": {"id": 6, "op": "server.show", "args": {"server": "web-1"}},
        "pause": {"id": 7, "op": "server.action", "args": {"server": "web-1", "action": "pause"}},
        "reboot-hard": {"id": 8, "op": "server.action", "args": {"server": "db-1", "action": "reboot", "hard": True}},
        "resize": {"id": 9, "op": "server.action", "wait": True, "timeout_ms": 1000, "args": {
            "server": "db-1", "action": "resize", "flavor": {"vcpus": 2, "ram": 1024, "disk": 2}}},
        "rebuild": {"id": 10, "op": "server.action", "args": {"server": "broken-1", "action": "rebuild",
                                                              "image": "cirros", "admin_pass": "pw"}},
        "snapshot": {"id": 11, "op": "server.action", "wait": True, "args": {"server": "suspended-1",
                                                                              "action": "snapshot", "name": "snap 1"}},
        "confirm": {"id": 12, "op": "server.action", "args": {"server": "resized-1", "action": "confirm_resize"}},
        "unrescue": {"id": 13, "op": "server.action", "args": {"server": "rescued-1", "action": "unrescue"}},
        "set-password": {"id": 14, "op": "server.action", "args": {"server": "web-1", "action": "set_admin_password",
                                                                   "password": "pw", "user": "root"}},
        "console": {"id": 15, "op": "server.console", "args": {"server": "web-1", "type": "vnc"}},
        "console-log": {"id": 16, "op": "server.console_log", "args": {"server": "web-1", "length": 1}},
        "delete": {"id": 17, "op": "server.action", "args": {"server": "other-1", "action": "delete"}},
        "project-create": {"id": 18, "op": "project.create", "args": {"name": "demo", "description": "d",
                                                                      "enabled": True}},
        "quota-set": {"id": 19, "op": "quota.set", "args": {"project": "admin", "quotas": {
            "instances": 20, "cores": -1, "key_pairs": 1}}},
        "flavor-create": {"id": 20, "op": "flavor.create", "args": {
            "name": "m1.nano", "id": "42", "vcpus": 1, "ram": 64, "disk": 1, "swap": 16, "is_public": False,
            "project": "admin", "extra_specs": {"hw:watchdog_action": "reset", "quota:cpu_shares": "512"}}},
        "flavor-unset": {"id": 21, "op": "flavor.unset", "args": {"flavor": "m1.tiny",
                                                                  "extra_specs": ["hw:numa_nodes"]}},
        "keypair-create": {"id": 22, "op": "keypair.create", "args": {"name": "k1"}},
        "server-create-catalog": {"id": 23, "op": "server.create", "args": {
            "name": "many", "host": "node-1", "image": "cirros", "flavor": "m1.tiny",
            "min_count": 2, "max_count": 3}},
        "network-create": {"id": 24, "op": "network.create", "args": {
            "name": "public", "external": True, "subnet_range": "203.0.113.0/28"}},
        "subnet-create": {"id": 25, "op": "subnet.create", "args": {
            "network": "public", "cidr": "10.0.0.0/24", "gateway_ip": "10.0.0.1",
            "allocation_pools": [{"start": "10.0.0.10", "end": "10.0.0.20"}],
            "dns_nameservers": ["192.0.2.53"]}},
        "secgroup-rule-create": {"id": 26, "op": "secgroup.rule.create", "args": {
            "group": "default", "protocol": "tcp", "port_range_min": 22, "port_range_max": 22,
            "remote_ip_prefix": "0.0.0.0/0"}},
        "floatingip-create": {"id": 27, "op": "floatingip.create", "args": {}},
        "server-create-network": {"id": 28, "op": "server.create", "args": {
            "name": "net-1", "host": "node-1", "image": "cirros", "flavor": "m1.tiny",
            "networks": ["public"], "security_groups": ["default"]}},
        "floatingip-add": {"id": 29, "op": "server.floatingip.add", "args": {
            "server": "web-1", "floating_ip": "203.0.113.2"}},
        "aggregate-create": {"id": 30, "op": "aggregate.create", "args": {
            "name": "rack-a", "availability_zone": "az1", "properties": {"ssd": "true"}}},
        "aggregate-add-host": {"id": 31, "op": "aggregate.add_host", "args": {
            "aggregate": "rack-a", "host": "node-1"}},
        "server-group-create": {"id": 32, "op": "server_group.create", "args": {
            "name": "g", "policy": "anti-affinity"}},
        "server-create-group": {"id": 33, "op": "server.create", "args": {
            "name": "grouped", "image": "cirros", "flavor": "m1.tiny", "availability_zone": "az1",
            "hints": {"group": "g"}}},
        "usage-show": {"id": 34, "op": "usage.show", "args": {
            "start": "2026-01-01", "end": "2026-12-31T23:59:59Z"}},
        "hypervisor-stats": {"id": 35, "op": "hypervisor.stats"},
        "server-rename": {"id": 36, "op": "server.rename", "args": {
            "server": "web-1", "name": "web-2"}},
        "server-evacuate": {"id": 37, "op": "server.evacuate", "args": {
            "server": "web-1", "host": "node-2", "admin_pass": "s3cret"}},
    }
    for name, r in reqs.items():
        write("api", name, json.dumps(r))


def req():
    write("req", "spawn", read("proto", "command-spawn.body.json"))
    for name in ("reboot", "resize", "set-password"):
        raw = read("fuzz", "proto", name)
        write("req", name, raw[raw.rfind(b"}{") + 1:])  # the body: the last frame
    write("req", "stop", json.dumps({"command": "stop", "uuid": WEB_1, "timeout_s": 30}))
    write("req", "snapshot", json.dumps({"command": "snapshot", "uuid": WEB_1, "image_id": "snap-1",
                                         "format": "qcow2"}))
    # user data at the limit: 21 845 x "AAAA" + "AA==" is 65 536 bytes decoded (accepted);
    # one more "AAAA" is 65 538 and "AAA=" 65 537 (both refused)
    spawn = json.loads(read("proto", "command-spawn.body.json"))
    for name, n, tail in (("user-data-64k", 21845, "AA=="), ("user-data-64k-plus", 21845, "AAAA"),
                          ("user-data-64k-plus-1", 21845, "AAA=")):
        body = dict(spawn, user_data="AAAA", x_fuzz_repeat=n, x_fuzz_tail=tail)
        write("req", name, json.dumps(body))
    write("req", "console-log", json.dumps({"command": "console_log", "uuid": WEB_1, "max_bytes": 4096}))


def sshkey():
    keys = [l for l in read("guest", "keys-good.txt").decode().splitlines() if l and not l.startswith("#")]
    for i, k in enumerate(keys):
        write("sshkey", "key-%d" % i, k)
    write("sshkey", "options", 'command="/bin/sh" ' + keys[0])


def config():
    for d in ("good", "sample"):
        for name in sorted(os.listdir(os.path.join(DATA, "config", d))):
            if name.endswith(".conf"):
                write("config", d + "-" + name, read("config", d, name))
    dropins = [read("config", "dropin", "hvagent.conf.d", n) for n in ("10-early.conf", "20-late.conf")]
    write("config", "with-dropins", b"\f".join([read("config", "dropin", "hvagent.conf")] + dropins))


def extraspecs():
    # the golden flavors of tests/libvirt/test_domxml.c
    cases = {
        "topology": "f:vcpus=4\nf:ram_mb=2048\ns:hw:cpu_sockets=2\ns:hw:cpu_cores=2\ns:hw:cpu_threads=1\n",
        "numa-guide-6-2": "f:vcpus=8\nf:ram_mb=4096\ns:hw:numa_nodes=2\ns:hw:numa_cpus.0=0-5\n"
                          "s:hw:numa_cpus.1=6,7\ns:hw:numa_mem.0=3072\ns:hw:numa_mem.1=1024\n"
                          "s:hw:numa_mempolicy=preferred\n",
        "video-ram": "s:hw_video:ram_max_mb=64\np:hw_video_ram=32\np:hw_video_model=qxl\n",
        "quota": "f:vcpus=2\nf:ram_mb=1024\ns:quota:cpu_shares=512\ns:quota:cpu_period=100000\n"
                 "s:quota:cpu_quota=50000\ns:quota:disk_read_bytes_sec=10485760\n"
                 "s:quota:disk_total_iops_sec=1000\n",
        "vif-bandwidth": "f:ports=1\ns:quota:vif_inbound_average=1024\ns:quota:vif_inbound_peak=2048\n"
                         "s:quota:vif_inbound_burst=512\ns:quota:vif_outbound_average=768\n",
        "kernel-boot": "f:ram_mb=256\np:kernel=/var/lib/hvagent/images/k.vmlinuz\n"
                       "p:initrd=/var/lib/hvagent/images/k.initrd\np:os_command_line=console=ttyS0 quiet\n",
        "everything": "f:vcpus=8\nf:ram_mb=4096\nf:ephemeral_gb=1\nf:swap_mb=512\nf:ports=1\n"
                      "f:config_drive=1\nf:serial_port=10002\ns:hw:cpu_sockets=2\ns:hw:cpu_cores=4\n"
                      "s:hw:cpu_threads=1\ns:hw:cpu_max_sockets=2\ns:hw:numa_nodes=2\n"
                      "s:hw:numa_mempolicy=strict\ns:hw:watchdog_action=poweroff\n"
                      "s:hw_rng:rate_bytes=2048\ns:hw_rng:rate_period=1000\ns:hw_video:ram_max_mb=16\n"
                      "s:quota:cpu_shares=2048\ns:quota:cpu_period=20000\ns:quota:cpu_quota=10000\n"
                      "p:hw_video_ram=16\np:hw_qemu_guest_agent=true\np:os_require_quiesce=yes\n",
        "no-host-numa": "f:vcpus=2\nf:numa=0\ns:hw:numa_nodes=1\ns:hw_rng:allowed=False\n",
    }
    for name, text in cases.items():
        write("extraspecs", name, text)


def netfilter():
    for name in sorted(os.listdir(os.path.join(DATA, "netfilter"))):
        if name.endswith(".json"):
            write("netfilter", name[:-5], read("netfilter", name))
    for i, c in enumerate(["0.0.0.0/0", "198.51.100.0/24", "2001:db8::/32", "10.0.8.8", "fe80::1/128"]):
        write("netfilter", "cidr-%d" % i, c)


for fn in (link, api, req, sshkey, config, extraspecs, netfilter):
    fn()
