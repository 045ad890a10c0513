#!/usr/bin/python3
"""The libvirt driver proven through hvcentral + hvagent: one real QEMU/TCG guest walked
through every server action with `hv`, checking vm_state / task_state / power_state after
each one and what the guest itself printed on its serial console; then libvirtd is killed
under the running agent and started again. Run by run_guest.sh (private libvirtd, guest)."""
import json
import os
import time

import wf
from wf import check, hv_ok, states

FLAVOR = "vcpus=1,ram=256,disk=1"
T0 = time.monotonic()


def step(what):
    print("# [%5.1fs] %s" % (time.monotonic() - T0, what), flush=True)


def boots(c, name):
    return len(c.lines(name, "HVGUEST-BOOTED"))


def disks(c, name):
    """{device: sector-1 text} as the guest's latest boot found its data disks."""
    last = c.lines(name, "HVGUEST-DISKS")[-1].split()[1:]
    return dict(d.split("=", 1) for d in last)


def booted_again(c, name, before, what):
    """Waits for boot number before+1 and for its power button to be armed; returns what
    that boot found on its data disks."""
    c.wait_lines(name, "HVGUEST-BOOTED", before + 1)
    c.wait_lines(name, "HVGUEST-READY", before + 1)
    check(boots(c, name) == before + 1, what)
    return disks(c, name)


def waited(c, name, action, *args, want, what):
    hv_ok(c, "server", action, name, *(list(args) + ["--wait"]))
    got = states(c, name)
    check(got == want, "%s: %s (got %s)" % (what, "/".join(map(str, want)), "/".join(map(str, got))))


def last_wrote(c, name):
    return c.lines(name, "HVGUEST-DISK-WROTE")[-1].split()[-1]


def main():
    c = wf.LibvirtCluster()
    c.start_central()
    c.allow("node-1")
    c.start_agent("node-1")
    c.wait_host("node-1", "up", timeout=60)
    how = c.import_image("tiny", os.path.join(wf.ENV["DIR"], "data.qcow2"), wf.guest_properties())

    step("spawn")
    out = hv_ok(c, "server", "create", "walk-1", "--host", "node-1", "--flavor-spec", FLAVOR,
                *c.image_args("tiny"), "--wait", "-f", "json")
    uuid = json.loads(out)["uuid"]
    check(states(c, "walk-1") == ("active", None, "running"), "a new server is active/running")
    c.wait_lines("walk-1", "HVGUEST-READY", 1)
    check(boots(c, "walk-1") == 1, "console-log shows the guest's own boot line, once")
    check(disks(c, "walk-1") == {"vda": "fresh"}, "the guest reads the image's disk (sector 1 says fresh)")
    doms = c.domains()
    check(len(doms) == 1 and doms[0].startswith("instance-"), "libvirt holds one instance-* domain")
    dom = doms[0]

    step("pause / unpause")
    waited(c, "walk-1", "pause", want=("paused", None, "paused"), what="pause")
    check("paused" in c.virsh("domstate", dom), "libvirt says the domain is paused")
    waited(c, "walk-1", "unpause", want=("active", None, "running"), what="unpause")

    step("suspend / resume")
    waited(c, "walk-1", "suspend", want=("suspended", None, "suspended"), what="suspend (managed save)")
    check("shut off" in c.virsh("domstate", dom), "a suspended domain is saved and off")
    waited(c, "walk-1", "resume", want=("active", None, "running"), what="resume")
    check(boots(c, "walk-1") == 1, "pause and suspend kept the guest's memory: no new boot")

    step("soft reboot")
    b = boots(c, "walk-1")
    presses = len(c.lines("walk-1", "HVGUEST-POWERBUTTON"))
    waited(c, "walk-1", "reboot", want=("active", None, "running"), what="soft reboot")
    booted_again(c, "walk-1", b, "the soft reboot booted the guest again")
    check(len(c.lines("walk-1", "HVGUEST-POWERBUTTON")) == presses + 1,
          "the guest saw the ACPI power button of the soft reboot")

    step("hard reboot")
    b, presses = boots(c, "walk-1"), len(c.lines("walk-1", "HVGUEST-POWERBUTTON"))
    waited(c, "walk-1", "reboot", "--hard", want=("active", None, "running"), what="hard reboot")
    booted_again(c, "walk-1", b, "the hard reboot booted the guest again")
    check(len(c.lines("walk-1", "HVGUEST-POWERBUTTON")) == presses,
          "a hard reboot presses no button")

    step("stop / start")
    b, presses = boots(c, "walk-1"), len(c.lines("walk-1", "HVGUEST-POWERBUTTON"))
    waited(c, "walk-1", "stop", want=("stopped", None, "shutdown"), what="stop")
    check("shut off" in c.virsh("domstate", dom), "libvirt says the domain is shut off")
    check(len(c.lines("walk-1", "HVGUEST-POWERBUTTON")) == presses + 1,
          "stop shut the guest down gracefully (it saw the power button)")
    waited(c, "walk-1", "start", want=("active", None, "running"), what="start")
    booted_again(c, "walk-1", b, "start booted the guest")
    mark = last_wrote(c, "walk-1")

    step("snapshot")
    out = hv_ok(c, "server", "snapshot", "walk-1", "walk snap", "--wait", "-f", "json")
    img = json.loads(out)
    snap = img["id"]
    check(states(c, "walk-1") == ("active", None, "running"), "a snapshot leaves walk-1 active/running")
    check(c.store_has_data(snap), "the snapshot's data is in the image store (%s)" % snap)
    rec = c.store_record(snap)
    if rec is None and how == "copy":
        print("# the image store wiring has not landed: properties checked from the result")
        props = img.get("properties", {})
    else:
        check(rec is not None, "the store records the snapshot (%s.json)" % snap)
        props = rec.get("properties", {})
    check(props.get("image_type") == "snapshot", "image_type=snapshot")
    check(props.get("instance_uuid") == uuid, "instance_uuid is walk-1's")
    check(props.get("base_image_ref") == "tiny", "base_image_ref is the image walk-1 booted")
    hv_ok(c, "server", "create", "walk-2", "--host", "node-1", "--flavor-spec", FLAVOR,
          *c.image_args(snap), "--wait")
    check(states(c, "walk-2") == ("active", None, "running"), "a server from the snapshot is active/running")
    c.wait_lines("walk-2", "HVGUEST-DISKS", 1)
    check(disks(c, "walk-2") == {"vda": mark},
          "it boots from the snapshot: its disk holds what walk-1 wrote (%s)" % mark)
    uuid2 = c.show("walk-2")["uuid"]
    waited(c, "walk-2", "delete", want=("deleted", None, "nostate"), what="delete walk-2")
    check(not os.path.exists(os.path.join(c.instances, uuid2)), "walk-2's disk is gone")

    step("rescue / unrescue")
    b = boots(c, "walk-1")
    waited(c, "walk-1", "rescue", *c.image_args("tiny"), want=("rescued", None, "running"), what="rescue")
    seen = booted_again(c, "walk-1", b, "the rescue image booted")
    check(sorted(seen.values()) == sorted(["fresh", mark]),
          "the rescued guest has a fresh rescue disk and its own disk (%s)" % seen)
    print("# the rescued guest's kernel names its disks %s" % seen)
    waited(c, "walk-1", "unrescue", want=("active", None, "running"), what="unrescue")
    check(booted_again(c, "walk-1", b + 1, "unrescue booted the guest's own disk")
          == {"vda": mark}, "the guest's own disk is back alone, as it was")
    mark = last_wrote(c, "walk-1")

    step("resize + confirm")
    b = boots(c, "walk-1")
    waited(c, "walk-1", "resize", "--flavor-spec", "vcpus=2,ram=320,disk=2",
           want=("resized", None, "running"), what="resize")
    check(booted_again(c, "walk-1", b, "the resized guest booted") == {"vda": mark},
          "the resized guest kept its disk")
    info = c.virsh("dominfo", dom)
    check("CPU(s):         2" in info and "Max memory:     327680 KiB" in info,
          "libvirt runs the new flavor (2 vCPUs, 320 MiB)")
    waited(c, "walk-1", "resize-confirm", want=("active", None, "running"), what="resize-confirm")
    check(c.show("walk-1")["flavor"]["vcpus"] == 2, "the server keeps the new flavor")
    check(not os.path.exists(os.path.join(c.instances, uuid, "resize.xml")),
          "nothing is left for a revert")

    step("rebuild")
    b = boots(c, "walk-1")
    waited(c, "walk-1", "rebuild", *c.image_args("tiny"), want=("active", None, "running"), what="rebuild")
    check(booted_again(c, "walk-1", b, "the rebuilt guest booted") == {"vda": "fresh"},
          "rebuild gave it a fresh disk from the image")
    check(c.show("walk-1")["uuid"] == uuid, "and kept its identity")

    step("libvirtd killed under the agent, then started again")
    n_boots = boots(c, "walk-1")
    c.privd("kill")
    lost = "AUTO: hypervisor connection lost"
    wf.wait_for("the host reports itself disabled",
                lambda: lost in json.dumps(c.hv_json("host", "show", "node-1")), 60, 1)
    check(True, "with libvirtd gone the host reports itself disabled (%s)" % lost)
    check(states(c, "walk-1") == ("active", None, "running"), "walk-1 still shows active/running")
    rc, _, err = c.hv("server", "pause", "walk-1")
    check(rc == 0, "a pause is accepted while libvirtd is down (%s)" % err.strip())
    time.sleep(3)
    check(states(c, "walk-1")[:2] == ("active", "pausing"), "and waits: active/pausing")
    c.privd("daemon")
    wf.wait_for("the host enabled again",
                lambda: lost not in json.dumps(c.hv_json("host", "show", "node-1")), 90, 1)
    check(True, "libvirtd is back: the agent reconnected and the host is enabled again")
    wf.wait_for("the pause done", lambda: states(c, "walk-1") == ("paused", None, "paused"), 90, 1)
    check(True, "the pause sent during the outage ran once libvirtd was back: paused/None/paused")
    check("paused" in c.virsh("domstate", dom), "libvirt agrees: paused")
    waited(c, "walk-1", "unpause", want=("active", None, "running"), what="unpause after the restart")
    check(c.hv_json("host", "show", "node-1")["state"] == "up", "the host is up")
    check("running" in c.virsh("domstate", dom), "libvirt says the domain is running")
    time.sleep(2)  # a guest that was restarted would print its boot line within this
    check(boots(c, "walk-1") == n_boots,
          "the guest itself never restarted: it printed no new boot line (%d boots)" % n_boots)

    step("delete")
    waited(c, "walk-1", "delete", want=("deleted", None, "nostate"), what="delete")
    check(c.domains() == [], "virsh list --all shows no domain")
    check(not os.path.exists(os.path.join(c.instances, uuid)), "no disk is left under instances_path")
    step("done")


wf.harness.run(main)
