#!/usr/bin/python3
"""The guide's flow once through openstacksdk (the cloud from OS_CLOUD): a key pair, a
security group with an SSH rule, a network and subnet, a server with them (waited ACTIVE),
a snapshot of it (waited active), a floating IP from the external network attached to its
port, reboot, stop and start, then everything deleted. sdk_flow.py IMAGE FLAVOR; prints
what each step answered as JSON, for the test to check."""
import json
import sys
import time

import openstack

WAIT = 120


def settle(conn, s, status):
    """The server once it is in status with no task left (an action's task_state is set
    when it is accepted, so a wait cannot return before the action started)."""
    end = time.monotonic() + WAIT
    while True:
        s = conn.compute.get_server(s.id)
        if s.status == status and not s.task_state:
            return s
        if time.monotonic() > end:
            raise SystemExit("server %s stayed %s/%s" % (s.id, s.status, s.task_state))
        time.sleep(0.5)


def main(image, flavor):
    conn = openstack.connect()
    out = {}
    kp = conn.compute.create_keypair(name="sdk-kp")
    out["keypair"] = {"name": kp.name, "fingerprint": kp.fingerprint,
                      "private_key": bool(kp.private_key)}
    sg = conn.network.create_security_group(name="sdk-sg", description="ssh in")
    rule = conn.network.create_security_group_rule(
        security_group_id=sg.id, direction="ingress", ethertype="IPv4", protocol="tcp",
        port_range_min=22, port_range_max=22, remote_ip_prefix="0.0.0.0/0")
    out["group"] = {"name": sg.name, "id": sg.id}
    out["rule"] = {"security_group_id": rule.security_group_id, "protocol": rule.protocol,
                   "port_range_min": rule.port_range_min, "port_range_max": rule.port_range_max,
                   "direction": rule.direction}
    net = conn.network.create_network(name="sdk-net")
    sub = conn.network.create_subnet(network_id=net.id, name="sdk-sub", ip_version=4,
                                     cidr="10.42.0.0/24")
    out["network"] = {"name": net.name, "id": net.id}
    out["subnet"] = {"cidr": sub.cidr, "network_id": sub.network_id,
                     "gateway_ip": sub.gateway_ip}

    s = conn.compute.create_server(name="sdk-vm", image_id=image, flavor_id=flavor,
                                   key_name=kp.name, networks=[{"uuid": net.id}],
                                   security_groups=[{"name": sg.name}])
    s = conn.compute.wait_for_server(s, status="ACTIVE", interval=1, wait=WAIT)
    out["server"] = {"id": s.id, "status": s.status, "key_name": s.key_name,
                     "addresses": s.addresses,
                     "security_groups": sorted(g["name"] for g in s.security_groups)}

    img = conn.compute.create_server_image(s, "sdk-snap", wait=True, timeout=WAIT)
    out["snapshot"] = {"id": img.id, "name": img.name, "status": img.status}

    ext = conn.network.find_network("public", ignore_missing=False)
    fip = conn.network.create_ip(floating_network_id=ext.id)
    port = list(conn.network.ports(device_id=s.id))[0]
    fip = conn.network.update_ip(fip, port_id=port.id)
    s = conn.compute.get_server(s.id)
    out["floating_ip"] = {"address": fip.floating_ip_address, "port_id": fip.port_id,
                          "server_port": port.id, "fixed_ip_address": fip.fixed_ip_address,
                          "on_server": fip.floating_ip_address in json.dumps(s.addresses)}

    conn.compute.reboot_server(s, "SOFT")
    s = settle(conn, s, "ACTIVE")
    out["reboot"] = {"status": s.status}
    conn.compute.stop_server(s)
    s = settle(conn, s, "SHUTOFF")
    out["stop"] = {"status": s.status, "power_state": s.power_state}
    conn.compute.start_server(s)
    s = settle(conn, s, "ACTIVE")
    out["start"] = {"status": s.status, "power_state": s.power_state}

    conn.network.delete_ip(fip)
    conn.compute.delete_server(s)
    conn.compute.wait_for_delete(s, interval=1, wait=WAIT)
    conn.image.delete_image(img)
    conn.network.delete_subnet(sub)
    conn.network.delete_network(net)
    conn.network.delete_security_group(sg)
    conn.compute.delete_keypair(kp)
    out["left"] = {
        "servers": [x.name for x in conn.compute.servers() if x.name == "sdk-vm"],
        "images": [x.name for x in conn.image.images() if x.name == "sdk-snap"],
        "floating_ips": [x.floating_ip_address for x in conn.network.ips()],
        "networks": [x.name for x in conn.network.networks() if x.name == "sdk-net"],
        "security_groups": [x.name for x in conn.network.security_groups()
                            if x.name == "sdk-sg"],
        "keypairs": [x.name for x in conn.compute.keypairs() if x.name == "sdk-kp"],
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
