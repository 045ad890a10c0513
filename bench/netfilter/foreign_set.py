#!/usr/bin/python3
"""foreign_set.py - an nft script for another program's table holding a 50,000-element
interval set: what firewalld or a blocklist may keep on a shared host. hvagent's cost
must not depend on it. Usage: foreign_set.py [N] | nft -f -"""
import sys

n = int(sys.argv[1]) if len(sys.argv) > 1 else 50000
print("table ip foreign {\n  set blocklist {\n    type ipv4_addr; flags interval;\n    elements = {")
# disjoint /30 ranges in 100.64.0.0/10
print(",\n".join("      100.%d.%d.%d/30" % (64 + (i >> 14), (i >> 6) & 0xff, (i & 0x3f) << 2)
                 for i in range(n)))
print("    }\n  }\n}")
