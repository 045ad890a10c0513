"""Reads a config drive tree with Debian's cloud-init, the reader real guests run, and
checks what a guest would see: identity, key, routed network, the admin password where nova
puts it (meta_data.json admin_pass) and the user data exactly as given, which cloud-init
then recognises as the kind it is (script, cloud-config, gzip, MIME).

usage: /usr/bin/python3 configdrive_reader.py TREE ADMIN_PASSWORD USER_DATA_FILE KIND"""
import hashlib
import sys

from cloudinit import helpers
from cloudinit import sources
from cloudinit import user_data as ud_mod
from cloudinit.sources.helpers import openstack

tree, password, ud_file, kind = sys.argv[1:5]
MAC = "52:54:00:12:34:56"
given = open(ud_file, "rb").read()


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

if password:
    check(md.get("admin_pass") == password, "meta_data.json admin_pass is the admin password")
else:
    check("admin_pass" not in md, "no admin_pass without an admin password")
check(r.get("vendordata") == {}, "vendor data is nova's empty object")
# what cloud-init makes of it: an empty vendor_data.json must not pass for vendor data
check(sources.convert_vendordata(r.get("vendordata")) is None
      and sources.convert_vendordata(r.get("vendordata2")) is None,
      "cloud-init finds no vendor data in vendor_data.json nor vendor_data2.json")

ud = r["userdata"]
check(ud == given, "user_data is the %d bytes given (sha256 %s)"
      % (len(given), hashlib.sha256(given).hexdigest()))
msg = ud_mod.UserDataProcessor(helpers.Paths({})).process(ud)
parts = {p.get_content_type(): p.get_payload(decode=True)
         for p in msg.walk() if p.get_content_maintype() != "multipart"}
want = {"script": ("text/x-shellscript", b"echo customized"),
        "cloud-config": ("text/cloud-config", b"echo cloud-config"),
        "gzip": ("text/x-shellscript", b"echo gzipped"),
        "mime": ("text/x-shellscript", b"echo mime")}[kind]
check(want[1] in parts.get(want[0], b""), "cloud-init reads it as %s" % want[0])
check(len(parts) == 1, "and finds nothing it was not given (%s)" % sorted(parts))
