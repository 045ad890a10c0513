#!/usr/bin/env bash
# A remote-group rule follows membership: a port is admitted while it belongs to the
# remote group and refused once it leaves.
. "$(dirname "$0")/lib.sh"
setup
cat >"$WORK/s.json" <<'JSON'
{"security_groups": [
  {"id": "db", "rules": [
   {"direction": "ingress", "protocol": "tcp", "port_range_min": 5432, "port_range_max": 5432,
    "remote_group_id": "app"}, {"direction": "egress"}]},
  {"id": "app", "rules": [{"direction": "egress"}]},
  {"id": "other", "rules": [{"direction": "egress"}]}],
 "ports": [
  {"id": "p1", "ifname": "tapA", "mac_address": "fa:16:3e:00:00:01", "fixed_ips": ["10.0.0.5"],
   "security_groups": ["db"]},
  {"id": "p2", "ifname": "tapB", "mac_address": "fa:16:3e:00:00:02", "fixed_ips": ["10.0.0.6"],
   "security_groups": ["other"]}]}
JSON
check "hv-nf applies the state" nf apply "$WORK/s.json"
echo_server "$VM1" 5432; serve "$VM1" 5433; wait_listen "$VM1" 5432; wait_listen "$VM1" 5433
check_not "a port outside the remote group is refused" tcp_reach "$VM2" 10.0.0.5 5433
echo '["app"]' >"$WORK/app.json"; echo '["other"]' >"$WORK/other.json"
check "p2 joins the remote group" nf set-groups p2 "$WORK/app.json"
check "a member of the remote group is admitted" session_open member "$VM2" 10.0.0.5 5432
check_not "only on the rule's port" tcp_reach "$VM2" 10.0.0.5 5433
check "p2 leaves the remote group" nf set-groups p2 "$WORK/other.json"
check_not "a member leaving cuts its established session" session_alive member
check_not "and its new connections are refused" tcp_reach "$VM2" 10.0.0.5 5432
finish
