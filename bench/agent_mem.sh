#!/usr/bin/env bash
# Resident memory of hvagent (fake driver) idle and holding 1000 instances, beside
# nova-compute's footprint measured in the same run when Debian's python3-nova is installed
# (the interpreter with nova.compute.manager and nova.virt.libvirt.driver imported).
# Targets: idle <= 10 MiB, 1000 instances <= 24 MiB (RSS).
# Usage: bench/agent_mem.sh [BUILD_DIR]   (default: build)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
[ -x "$build/agent/hvagent" ] || { echo "no $build/agent/hvagent: build first" >&2; exit 1; }
/usr/bin/python3 -c 'import zmq' 2>/dev/null || { echo "needs python3-zmq for /usr/bin/python3" >&2; exit 77; }

exec /usr/bin/python3 - "$root" "$build" <<'PY'
import os, subprocess, sys, time, uuid
root, build = sys.argv[1], sys.argv[2]
sys.path.insert(0, os.path.join(root, "tests", "interop"))
import hva

def mem_kib(pid):
    """{"rss", "pss", "private"} in KiB from /proc/PID/smaps_rollup: RSS counts every shared
    library page mapped, PSS shares them out, private is what this process alone holds."""
    m = {}
    with open("/proc/%d/smaps_rollup" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("Rss", "Pss", "Private_Clean", "Private_Dirty"):
                m[k] = int(v.split()[0])
    return {"rss": m.get("Rss", 0), "pss": m.get("Pss", 0),
            "private": m.get("Private_Clean", 0) + m.get("Private_Dirty", 0)}

def settle(pid, seconds=2.0):
    time.sleep(seconds)
    return mem_kib(pid)

wd = hva.workdir()
agent = hva.Agent(os.path.join(build, "agent", "hvagent"), os.path.join(build, "drivers", "fake"),
                  wd, fake={"vcpus": 4096, "memory_mb": 16777216, "local_gb": 1048576})
allow = {agent.public_key(): "compute-a"}
ctl = hva.Controller(wd, allow=allow)
agent = hva.Agent(agent.binary, os.path.join(build, "drivers", "fake"), wd,
                  server_key=ctl.public.decode(),
                  fake={"vcpus": 4096, "memory_mb": 16777216, "local_gb": 1048576})
try:
    agent.start()
    ctl.handshake()
    idle = settle(agent.proc.pid)
    n = 1000
    t0 = time.monotonic()
    for i in range(n):
        ctl.command(b"compute-a", "b-%d" % i, {
            "command": "spawn", "uuid": str(uuid.uuid4()), "name": "bench-%d" % i,
            "flavor": {"name": "m1.tiny", "vcpus": 1, "ram_mb": 64, "root_gb": 1,
                       "extra_specs": {"hw:cpu_policy": "shared"}},
            "image": {"id": "cirros", "format": "qcow2", "properties": {"hw_video_ram": "8"}},
            "ports": [{"id": "port-%d" % i, "mac": "fa:16:3e:00:%02x:%02x" % (i // 256, i % 256),
                       "fixed_ips": ["10.%d.%d.%d" % (i // 65536, (i // 256) % 256, i % 256)]}],
            "metadata": {"role": "bench"}})
    done = 0
    while done < n:
        m = ctl.expect("RESULT", timeout=60, skip=("REPORT", "PING", "EVENT", "DELTA", "ACK"))
        assert m.body["status"] == "ok", m.body
        ctl.send(b"compute-a", "ACK", {"cmd_id": m.body["cmd_id"]})
        done += 1
    spawn_s = time.monotonic() - t0
    ctl.send(b"compute-a", "RESYNC")
    snap = ctl.expect("SNAPSHOT", timeout=30)
    assert len(snap.body["instances"]) == n
    loaded = settle(agent.proc.pid)
finally:
    agent.stop()
    ctl.close()
    hva.cleanup(wd)

TARGET_IDLE, TARGET_LOADED = 10, 24  # MiB of RSS
def line(what, m, target):
    verdict = "met" if m["rss"] <= target * 1024 else "MISSED"
    print("hvagent %-18s RSS %6.1f MiB  PSS %6.1f MiB  private %6.1f MiB   target RSS <= %d MiB: %s"
          % (what + ":", m["rss"] / 1024, m["pss"] / 1024, m["private"] / 1024, target, verdict))
line("idle", idle, TARGET_IDLE)
line("1000 instances", loaded, TARGET_LOADED)
print("1000 spawns through HVA/1:   %6.2f s (fake driver, CURVE, journal fsync per command)" % spawn_s)
ok = idle["rss"] <= TARGET_IDLE * 1024 and loaded["rss"] <= TARGET_LOADED * 1024

probe = ("import nova.compute.manager, nova.virt.libvirt.driver\n"
         "print(open('/proc/self/status').read().split('VmRSS:')[1].split()[0])")
try:
    out = subprocess.run(["/usr/bin/python3", "-c", probe], capture_output=True, text=True,
                         timeout=300)
    nova = int(out.stdout.strip()) if out.returncode == 0 else None
except (OSError, ValueError, subprocess.TimeoutExpired):
    nova = None
if nova:
    print("nova-compute (imports only): %6.1f MiB" % (nova / 1024))
    print("ratio nova / hvagent idle:   %6.1fx (RSS)" % (nova / idle["rss"]))
    print("ratio nova / hvagent 1000:   %6.1fx (RSS)" % (nova / loaded["rss"]))
else:
    print("nova-compute: python3-nova not importable here (apt-get install python3-nova)")
sys.exit(0 if ok else 1)
PY
