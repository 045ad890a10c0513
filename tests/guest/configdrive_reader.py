"""Reads a config drive tree with Debian's cloud-init, the reader real guests run, and
checks what a guest would do with it: identity, key, routed network, the customization
script, and the admin password set from a hash (never in clear text).

usage: /usr/bin/python3 configdrive_reader.py TREE ADMIN_PASSWORD"""
import crypt
import logging
import sys

from cloudinit import helpers, util
from cloudinit import user_data as ud_mod
from cloudinit.config import cc_set_passwords
from cloudinit.sources.helpers import openstack

tree, password = sys.argv[1], sys.argv[2]
MAC = "52:54:00:12:34:56"


def check(cond, what):
    if not cond:
        print("FAIL:", what)
        sys.exit(1)
    print("ok:", what)


r = openstack.ConfigDriveReader(tree).read_v2()
md = r["metadata"]
check(md["uuid"] == "6f1b6c3e-2a4d-4c3b-9e0f-1a2b3c4d5e6f", "uuid becomes the instance id")
check(md["hostname"] == "web-1", "hostname is read")
check(md["public_keys"]["mykey"].startswith("ssh-ed25519 AAAAC3"), "the key pair is offered")
check(md["meta"] == {"role": "web"}, "user metadata is read")
check(isinstance(md["random_seed"], bytes) and len(md["random_seed"]) == 512,
      "random_seed decodes to 512 bytes")
check(r["ec2-metadata"]["instance-id"] == md["uuid"], "ec2 meta-data is read")

net = openstack.convert_net_json(r["networkdata"], known_macs={MAC: "eth0"})
phys = [c for c in net["config"] if c["type"] == "physical"]
dns = [c for c in net["config"] if c["type"] == "nameserver"]
check(len(phys) == 1 and phys[0]["name"] == "eth0" and phys[0]["mtu"] == 1450,
      "the port is matched to the guest NIC by MAC")
sub = phys[0]["subnets"][0]
check(sub["type"] == "static" and sub["address"] == "10.1.2.3"
      and sub["netmask"] == "255.255.255.255", "static /32 address (routed model)")
check(sub["routes"] == [{"network": "0.0.0.0", "netmask": "0.0.0.0", "gateway": "169.254.1.1"}],
      "default route via the host's gateway")
check([d["address"] for d in dns] == ["10.0.0.53"], "DNS server")

check(password.encode() not in r["userdata"], "no clear-text password in user_data")
msg = ud_mod.UserDataProcessor(helpers.Paths({})).process(r["userdata"])
parts = {p.get_content_type(): p.get_payload(decode=True)
         for p in msg.walk() if p.get_content_maintype() != "multipart"}
check(parts.get("text/x-shellscript", b"").startswith(b"#!/bin/sh\necho customized"),
      "the customization script runs as a shell script")
cfg = util.load_yaml(parts["text/cloud-config"])


class Distro:
    calls = []

    def chpasswd(self, plist, hashed):
        self.calls.append((list(plist), hashed))

    def expire_passwd(self, user):
        self.calls.append(("expire", user))

    # The ssh_pwauth step asks about the ssh service; the drive leaves it unchanged.
    def get_option(self, name, default=None):
        return default

    def manage_service(self, action, service):
        pass


class Cloud:
    distro = Distro()


cc_set_passwords.handle("set_passwords", cfg, Cloud(), logging.getLogger("t"), [])
calls = Cloud.distro.calls
check(len(calls) == 1 and calls[0][1] is True, "cloud-init sets the password from a hash")
user, hashed = calls[0][0][0]
check(user == "root" and hashed.startswith("$6$"), "for root, as SHA-512")
check(crypt.crypt(password, hashed) == hashed, "the hash matches the admin password")
check(password not in hashed, "the hash does not contain the password")
