#!/usr/bin/python3
"""hv_ops.py - the same benchmark steps as neutron_peer.py, as `hv-nf replay` lines:
full sync of N ports, K rule changes in sg0, K new ports in sg1.
Usage: hv_ops.py N K_RULES K_PORTS > ops.jsonl"""
import json
import sys

import workload

n, k_rules, k_ports = (int(a) for a in sys.argv[1:4])
print(json.dumps({"op": "apply", "arg": workload.state(n)}))
for k in range(k_rules):
    print(json.dumps({"op": "group", "arg": workload.group(0, variant=k + 1)}))
for k in range(k_ports):
    print(json.dumps({"op": "plug", "arg": workload.port(n + k * workload.GROUPS + 1)}))
