"""workload.py - the ports and rules both sides of the benchmark program: N ports spread
over 10 security groups of 20 rules each (16 prefix rules, 2 remote-group rules on the
group itself, ICMP, egress). One definition, rendered for hvagent (JSON) and for Neutron's
firewall driver (the dicts its RPC layer would deliver)."""

GROUPS = 10


def port(i):
    return {
        "id": "port%05d" % i,
        "ifname": "tap%05d" % i,
        "mac_address": "fa:16:3e:%02x:%02x:%02x" % ((i >> 16) & 0xff, (i >> 8) & 0xff, i & 0xff),
        "fixed_ips": ["10.%d.%d.%d" % (100 + (i >> 16), (i >> 8) & 0xff, i & 0xff)],
        "security_groups": ["sg%d" % (i % GROUPS)],
    }


def rules(g, variant=0):
    r = []
    for k in range(16):
        p = 1000 + k + (500 if (k == 0 and variant % 2) else 0)
        r.append({"id": "r%d" % k, "direction": "ingress", "ethertype": "IPv4", "protocol": "tcp",
                  "port_range_min": p, "port_range_max": p,
                  "remote_ip_prefix": "10.%d.%d.0/24" % (g, k)})
    for k, p in enumerate((2000, 2001)):
        r.append({"id": "rg%d" % k, "direction": "ingress", "ethertype": "IPv4", "protocol": "udp",
                  "port_range_min": p, "port_range_max": p, "remote_group_id": "sg%d" % g})
    r.append({"id": "icmp", "direction": "ingress", "ethertype": "IPv4", "protocol": "icmp"})
    r.append({"id": "out", "direction": "egress", "ethertype": "IPv4"})
    return r


def group(g, variant=0):
    return {"id": "sg%d" % g, "rules": rules(g, variant)}


def state(n):
    return {"security_groups": [group(g) for g in range(GROUPS)],
            "ports": [port(i) for i in range(n)]}


# ---- Neutron's view of the same objects ----

def neutron_rule(sg, r):
    d = {"direction": r["direction"], "ethertype": r["ethertype"], "security_group_id": sg}
    for k in ("protocol", "port_range_min", "port_range_max", "remote_group_id"):
        if k in r:
            d[k] = r[k]
    if "remote_ip_prefix" in r:
        d["source_ip_prefix" if r["direction"] == "ingress" else "dest_ip_prefix"] = r["remote_ip_prefix"]
    return d


def neutron_port(p):
    return {"device": p["ifname"], "id": p["id"], "network_id": "net0",
            "mac_address": p["mac_address"], "fixed_ips": list(p["fixed_ips"]),
            "security_groups": list(p["security_groups"]),
            "security_group_source_groups": list(p["security_groups"]),
            "port_security_enabled": True, "device_owner": "compute:nova",
            "allowed_address_pairs": []}
