#!/usr/bin/python3
"""Creates a server through openstacksdk (the cloud from OS_CLOUD) and waits for it:
sdk_server.py NAME IMAGE FLAVOR; prints {"id", "status", "admin_password"} as JSON."""
import json
import sys

import openstack

conn = openstack.connect()
s = conn.compute.create_server(name=sys.argv[1], image_id=sys.argv[2], flavor_id=sys.argv[3])
password = s.admin_password
s = conn.compute.wait_for_server(s, status="ACTIVE", interval=1, wait=90)
print(json.dumps({"id": s.id, "status": s.status, "admin_password": password}))
