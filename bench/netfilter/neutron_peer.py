#!/usr/bin/python3
"""neutron_peer.py - drives Neutron's stock IptablesFirewallDriver (Debian python3-neutron)
on the benchmark workload, in the current network namespace, calling it in the order its
security-group agent does. Only the RPC layer is replaced. Prints one line per measure:
"<what> <n_ports> <seconds>".
Usage: neutron_peer.py N [--rule-changes K] [--new-ports K]"""
import sys
import tempfile
import time

sys.argv[0] = "neutron-linuxbridge-agent"  # the wrapped chain prefix of a real deployment

from neutron.common import eventlet_utils  # noqa: E402
eventlet_utils.monkey_patch()

from oslo_config import cfg  # noqa: E402
from oslo_log import log as logging  # noqa: E402
from neutron.conf.agent import common as agent_config  # noqa: E402
from neutron.conf.agent import securitygroups_rpc as sg_config  # noqa: E402

import workload  # noqa: E402


def setup():
    agent_config.register_root_helper(cfg.CONF)
    agent_config.register_iptables_opts(cfg.CONF)
    agent_config.register_agent_state_opts_helper(cfg.CONF)
    sg_config.register_securitygroups_opts(cfg.CONF)
    logging.register_options(cfg.CONF)
    import neutron.privileged  # noqa: F401  registers [privsep]
    cfg.CONF([], project="neutron", default_config_files=[])
    cfg.CONF.set_override("root_helper", "", "AGENT")
    cfg.CONF.set_override("lock_path", tempfile.mkdtemp(prefix="nbench"), "oslo_concurrency")
    cfg.CONF.set_override("enable_ipset", True, "SECURITYGROUP")
    cfg.CONF.set_override("helper_command", "privsep-helper", "privsep")
    logging.setup(cfg.CONF, "neutron")
    from neutron.agent.linux import iptables_firewall
    return iptables_firewall.IptablesFirewallDriver()


def members(ports, sg):
    return {"IPv4": [(p["fixed_ips"][0], p["mac_address"]) for p in ports if sg in p["security_groups"]],
            "IPv6": []}


def main():
    n = int(sys.argv[1])
    rule_changes = int(sys.argv[sys.argv.index("--rule-changes") + 1]) if "--rule-changes" in sys.argv else 1
    new_ports = int(sys.argv[sys.argv.index("--new-ports") + 1]) if "--new-ports" in sys.argv else 1
    fw = setup()
    # Start the privsep daemon before timing: a running agent has it already.
    import neutron.privileged
    neutron.privileged.default.start()
    st = workload.state(n)
    ports = [workload.neutron_port(p) for p in st["ports"]]
    sgs = ["sg%d" % g for g in range(workload.GROUPS)]

    t0 = time.monotonic()
    with fw.defer_apply():
        for g in range(workload.GROUPS):
            fw.update_security_group_rules(sgs[g], [workload.neutron_rule(sgs[g], r) for r in workload.rules(g)])
        for sg in sgs:
            fw.update_security_group_members(sg, members(ports, sg))
        for p in ports:
            fw.prepare_port_filter(p)
    print("full_sync %d %.6f" % (n, time.monotonic() - t0), flush=True)

    # One rule replaced in sg0: Neutron has no in-place update; it refreshes every member.
    for k in range(rule_changes):
        t0 = time.monotonic()
        with fw.defer_apply():
            fw.update_security_group_rules("sg0", [workload.neutron_rule("sg0", r)
                                                   for r in workload.rules(0, variant=k + 1)])
            for p in ports:
                if "sg0" in p["security_groups"]:
                    fw.update_port_filter(p)
        print("rule_change %d %.6f" % (n, time.monotonic() - t0), flush=True)

    # One new port in sg1 (its remote group is itself, so the membership changes too).
    for k in range(new_ports):
        p = workload.neutron_port(workload.port(n + k * workload.GROUPS + 1))
        ports.append(p)
        t0 = time.monotonic()
        with fw.defer_apply():
            fw.update_security_group_members("sg1", members(ports, "sg1"))
            fw.prepare_port_filter(p)
        print("new_port %d %.6f" % (n, time.monotonic() - t0), flush=True)


if __name__ == "__main__":
    main()
