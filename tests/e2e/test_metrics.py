#!/usr/bin/python3
"""Prometheus /metrics on a fake-driver agent ([metrics] listen): servers in several states
are scraped; the text parses with Debian's python3-prometheus-client; the per-domain
families carry the libvirt exporters' names and types and the fake driver's values (state,
vCPUs, memory, CPU time); the agent's own families count the commands it ran and its link."""
import urllib.error
import urllib.request

import harness
from harness import check

harness.need_module("prometheus_client", "python3-prometheus-client")
from prometheus_client import parser  # noqa: E402

MiB = 1024 * 1024


def scrape(url):
    with urllib.request.urlopen(url, timeout=10) as r:
        check(r.headers["Content-Type"].startswith("text/plain; version=0.0.4"),
              "served as the text format, version 0.0.4")
        text = r.read().decode()
    families = {f.name: f for f in parser.text_string_to_metric_families(text)}
    return text, families


def by_label(family, sample_name, label):
    return {s.labels[label]: s.value for s in family.samples if s.name == sample_name}


def main():
    c = harness.Cluster()
    cport = harness.free_port()
    c.start_central(conf_extra="[metrics]\nlisten = 127.0.0.1:%d\n" % cport)
    c.allow("node-1")
    port = harness.free_port()
    c.start_agent("node-1", fake="[metrics]\nlisten = 127.0.0.1:%d\n" % port)
    c.wait_host("node-1", "up")
    url = "http://127.0.0.1:%d/metrics" % port
    flavors = {"run": (1, 64), "paused": (2, 128), "stopped": (3, 256)}
    for name, (vcpus, ram) in flavors.items():
        rc, _, err = c.hv("server", "create", name, "--host", "node-1", "--flavor-spec",
                          "vcpus=%d,ram=%d,disk=1" % (vcpus, ram), "--image", "cirros", "--wait")
        check(rc == 0, "server %s created: %s" % (name, err.strip()))
    check(c.hv("server", "pause", "paused", "--wait")[0] == 0, "one server paused")
    check(c.hv("server", "stop", "stopped", "--wait")[0] == 0, "one server stopped")
    uuid = {name: c.show(name)["uuid"] for name in flavors}

    text, fam = scrape(url)
    expect_types = {
        "libvirt_domain_info_state": "gauge",
        "libvirt_domain_info_virtual_cpus": "gauge",
        "libvirt_domain_info_maximum_memory_bytes": "gauge",
        "libvirt_domain_info_cpu_time_seconds": "counter",  # the parser drops _total
        "hvagent_command_duration_seconds": "histogram",
        "hvagent_journal_commit_seconds": "histogram",
        "hvagent_queue_depth": "gauge",
        "hvagent_controller_connected": "gauge",
        "hvagent_controller_reconnects": "counter",
    }
    for name, typ in expect_types.items():
        check(name in fam and fam[name].type == typ, "%s is a %s" % (name, typ))

    state = by_label(fam["libvirt_domain_info_state"], "libvirt_domain_info_state", "uuid")
    check(state == {uuid["run"]: 1, uuid["paused"]: 3, uuid["stopped"]: 5},
          "libvirt_domain_info_state per domain: running 1, paused 3, shut off 5 (%s)" % state)
    vcpus = by_label(fam["libvirt_domain_info_virtual_cpus"], "libvirt_domain_info_virtual_cpus",
                     "uuid")
    mem = by_label(fam["libvirt_domain_info_maximum_memory_bytes"],
                   "libvirt_domain_info_maximum_memory_bytes", "uuid")
    check(all(vcpus[uuid[n]] == v and mem[uuid[n]] == r * MiB for n, (v, r) in flavors.items()),
          "vCPUs and memory bytes per domain are the flavors' (%s, %s)" % (vcpus, mem))
    cpu = by_label(fam["libvirt_domain_info_cpu_time_seconds"],
                   "libvirt_domain_info_cpu_time_seconds_total", "uuid")
    check(set(cpu) == set(uuid.values()) and all(v >= 0 for v in cpu.values()),
          "CPU time per domain, in seconds (%s)" % cpu)
    check(all(s.labels["domain"] == s.labels["uuid"] for s in fam["libvirt_domain_info_state"].samples),
          "each domain sample names its domain")

    counts = by_label(fam["hvagent_command_duration_seconds"],
                      "hvagent_command_duration_seconds_count", "command")
    check(counts.get("spawn") == 3 and counts.get("pause") == 1 and counts.get("stop") == 1,
          "the latency histogram counts each command the agent ran (%s)" % counts)
    inf = [s.value for s in fam["hvagent_command_duration_seconds"].samples
           if s.name.endswith("_bucket") and s.labels["command"] == "spawn" and
           s.labels["le"] == "+Inf"]
    check(inf == [3], "its +Inf bucket holds every spawn")
    commits = [s.value for s in fam["hvagent_journal_commit_seconds"].samples
               if s.name == "hvagent_journal_commit_seconds_count"]
    check(commits and commits[0] >= 1, "journal commits are timed (%s)" % commits)
    check([s.value for s in fam["hvagent_controller_connected"].samples] == [1],
          "the controller link is up")
    queues = by_label(fam["hvagent_queue_depth"], "hvagent_queue_depth", "queue")
    check(set(queues) == {"commands", "house", "firewall"}, "queue depth per queue")

    # hvcentral: hosts by state, servers by vm_state, command latency by action
    # its page is at most a second old: scrape until it shows the last command
    def central_page():
        _, f = scrape("http://127.0.0.1:%d/metrics" % cport)
        done = by_label(f["hvcentral_command_duration_seconds"],
                        "hvcentral_command_duration_seconds_count", "action")
        return f if done.get("stop") == 1 else None
    cfam = harness.wait_for("hvcentral's page after the stop", central_page, timeout=10)
    for name, typ in (("hvcentral_hosts", "gauge"), ("hvcentral_servers", "gauge"),
                      ("hvcentral_command_duration_seconds", "histogram")):
        check(name in cfam and cfam[name].type == typ, "%s is a %s" % (name, typ))
    hosts = by_label(cfam["hvcentral_hosts"], "hvcentral_hosts", "state")
    check(hosts == {"up": 1, "suspect": 0, "down": 0}, "hvcentral_hosts: one up (%s)" % hosts)
    servers = by_label(cfam["hvcentral_servers"], "hvcentral_servers", "vm_state")
    check(servers["active"] == 1 and servers["paused"] == 1 and servers["stopped"] == 1 and
          sum(servers.values()) == 3, "hvcentral_servers by vm_state (%s)" % servers)
    ccounts = by_label(cfam["hvcentral_command_duration_seconds"],
                       "hvcentral_command_duration_seconds_count", "action")
    check(ccounts.get("spawn") == 3 and ccounts.get("pause") == 1 and ccounts.get("stop") == 1,
          "hvcentral's latency histogram counts each command (%s)" % ccounts)

    rc, _, _ = c.hv("server", "delete", "run", "--wait")
    _, fam = scrape(url)
    state = by_label(fam["libvirt_domain_info_state"], "libvirt_domain_info_state", "uuid")
    check(uuid["run"] not in state and len(state) == 2,
          "a deleted server's domain is gone from the next scrape")
    try:
        urllib.request.urlopen("http://127.0.0.1:%d/other" % port, timeout=10)
        check(False, "another path is refused")
    except urllib.error.HTTPError as e:
        check(e.code == 404, "another path is 404")


harness.run(main)
