#!/usr/bin/python3
"""The dashboard against a real guest: Debian's Horizon on hvcentral and one hvagent with the
libvirt driver (QEMU/TCG) on the distribution's libvirtd as shipped, booting the tiny guest
of tests/workflows/guestimg.sh. Run by tests/workflows/run_guest.sh (which builds the guest
and starts the stock daemon), as the member demo in headless Chromium:
  - Project > Compute > Instances > Launch Instance with the guest's image (uploaded through
    the image service with its direct-kernel-boot properties), a flavor that fits, the
    project's network, a customization script and a config drive; the row says Active;
  - View Log from the row's Actions menu shows the guest's own serial lines: it booted, and
    read the hostname and the script the wizard gave it from its config drive;
  - the instance's Console tab: the noVNC page hvcentral serves connects through its proxy
    to QEMU's VNC server on the host's loopback (its Connect button clicked), its status says
    connected to this instance's display, and the canvas shows the guest's screen (the
    kernel's lines on tty0: not one uniform colour), saved as a picture.
hvcentral answered no call Horizon made with 404, 501 or 5xx. Screenshots (and the console's
canvas) under meson-logs/dashboard/guest/."""
import base64
import os
import re
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "workflows"))
import dash  # noqa: E402
import harness  # noqa: E402
import wf  # noqa: E402
from harness import check  # noqa: E402
from test_launch import Walk, launch  # noqa: E402

NAME = "guest-1"
# tty0 too: the kernel's lines are drawn on the screen the console shows; the guest's own
# lines go to /dev/console, the last console= (the serial port, what View Log reads)
CMDLINE = "console=tty0 console=ttyS0"
FLAVOR = {"name": "m1.guest", "vcpus": 1, "ram": 256, "disk": 1}
SCRIPT = "#cloud-config\nhostname: %s\n" % NAME

# The picture on noVNC's canvas: its size, the share of pixels that differ from the most
# common colour (the background), how many colours it has.
CANVAS = """
var c = document.querySelector('#noVNC_container canvas');
if (!c || !c.width || !c.height) return null;
var d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data, n = {}, top = 0;
for (var i = 0; i < d.length; i += 4) {
    var k = (d[i] << 16) | (d[i + 1] << 8) | d[i + 2];
    n[k] = (n[k] || 0) + 1;
    if (n[k] > top) top = n[k];
}
var px = d.length / 4;
return {width: c.width, height: c.height, colours: Object.keys(n).length,
        drawn: (px - top) / px};
"""


def server(s, name):
    got = [x for x in s.api.must("GET", "/compute/v2.1/servers/detail", "demo")["servers"]
           if x["name"] == name]
    check(len(got) == 1, "the API has one server %s (%d)" % (name, len(got)))
    return got[0]


def console(b, s, sid):
    """The Console tab: noVNC connects to the guest's display and shows its screen."""
    _, errors = b.visit("/project/instances/%s/?tab=instance_details__console" % sid,
                        "console-tab")
    check(not errors, "the Console tab shows no error (%s)" % errors)
    frames = b.by("iframe#console_embed")
    check(frames, "the Console tab embeds a console frame")
    src = frames[0].get_attribute("src")
    check(src.startswith(s.url + "/vnc_auto.html?path=%3Ftoken%3D"),
          "the frame opens hvcentral's noVNC page with a token (%s)" % src[:80])
    b.d.switch_to.frame(frames[0])
    try:
        # Debian's vnc_auto.html is noVNC's full page: it waits for a Connect click
        b.wait("noVNC's page in the frame", lambda: b.d.execute_script(
            "return !document.documentElement.classList.contains('noVNC_loading')"), 60)
        if b.visible("#noVNC_connect_button"):
            b.by("#noVNC_connect_button")[0].click()
        b.wait("noVNC is connected", lambda: b.d.execute_script(
            "return document.documentElement.classList.contains('noVNC_connected')"), 60)
        status = b.d.execute_script(
            "return document.getElementById('noVNC_status').textContent")
        print("# noVNC's status: %s" % status)
        check(status.startswith("Connected") and sid in status,
              "noVNC's status says connected to this instance's display (%s)" % status)

        def screen():
            got = b.d.execute_script(CANVAS)
            return got if got and got["colours"] > 1 and got["drawn"] > 0.002 else None
        try:
            got = b.wait("the guest's screen is drawn on the canvas", screen, 90)
        finally:
            picture = b.d.execute_script(
                "var c = document.querySelector('#noVNC_container canvas');"
                " return c ? c.toDataURL('image/png') : '';")
            if picture.startswith("data:image/png;base64,"):
                with open(os.path.join(b.shots, "guest-screen.png"), "wb") as f:
                    f.write(base64.b64decode(picture.split(",", 1)[1]))
        print("# the canvas: %dx%d, %d colours, %.1f%% of it drawn over the background"
              % (got["width"], got["height"], got["colours"], 100 * got["drawn"]))
        check(got["width"] >= 320 and got["height"] >= 200,
              "the canvas has the guest's screen size (%dx%d)" % (got["width"], got["height"]))
    finally:
        b.d.switch_to.default_content()
    b.shot("console-guest-screen")

    with open(s.c.path("hvcentral.log")) as f:
        log = f.read()
    check(re.search(r"console: token [0-9a-f]{8} used: vnc console of server " + sid, log),
          "hvcentral's log shows the console token used for %s" % sid)
    tok = re.search(r"token%3D([A-Za-z0-9_-]{43})", src).group(1)
    check(tok not in log, "hvcentral's log never holds the token itself")
    print("ok - Console: noVNC connected through hvcentral's proxy and shows the guest's screen")


def view_log(w, b, sid):
    """View Log from the row's menu: the guest's own serial lines."""
    b.visit("/project/instances/", "before-view-log")
    w.row_action(NAME, "View Log", confirm=False)
    lines = ("HVGUEST-BOOTED cmdline=[" + CMDLINE, "HVGUEST-CD uuid=" + sid,
             "HVGUEST-CD hostname=" + NAME, "HVGUEST-UD " + SCRIPT.splitlines()[0],
             "HVGUEST-READY")
    # the kernel's boot lines come first: the user asks for more than the default 35, as
    # the guide's Log Length box offers, and asks again (Go) until the guest has printed
    # them all
    length = b.wait("the Log Length box", lambda: [
        e for e in b.by("#tail_length input[name=length]") if e.is_displayed()])[0]
    length.clear()
    length.send_keys("400")

    def shown():
        check(b.d.execute_script(
            "var g = document.querySelector('#tail_length button[type=submit]');"
            " if (g) g.click(); return !!g;"), "the Log tab has its Go button")
        time.sleep(1)
        b.settle()
        text = b.d.execute_script(
            "var p = document.querySelector('pre.logs'); return p ? p.innerText : '';")
        return all(line in text for line in lines)
    b.wait("the Log tab shows the guest's lines %s" % (lines,), shown, 180)
    b.shot("view-log")
    w.no_errors("view-log")
    print("ok - View Log shows the guest's own lines %s" % (lines,))


def main():
    dash.need_all()
    shots = dash.shots_dir("guest")
    t0 = time.monotonic()
    s = dash.Stack(hosts=("node-1",), cluster=wf.LibvirtCluster())
    with open(os.path.join(wf.ENV["DIR"], "data.qcow2"), "rb") as f:
        s.image("tiny", data=f.read(), disk_format="qcow2",
                properties=dict(wf.guest_properties(), os_command_line=CMDLINE))
    s.api.must("POST", "/compute/v2.1/flavors", "alice", {"flavor": FLAVOR})
    s.network("demo", "private", "10.0.0.0/24")
    s.start_horizon()
    mark = s.log_mark()
    b = dash.Browser(s.horizon, shots)
    w = Walk(b)
    try:
        b.login("demo")
        t = time.monotonic()
        launch(w, b, None, name=NAME, image="tiny", flavor=FLAVOR["name"], groups=(),
               script=SCRIPT, active_within=300)
        took_launch = time.monotonic() - t
        sid = server(s, NAME)["id"]
        state = s.c.virsh("domstate", "instance-" + sid).strip()
        check(state == "running", "libvirt runs instance-%s (%s)" % (sid, state))
        print("ok - Launch Instance: %s Active in %.1f s, its domain running" % (NAME, took_launch))
        # the log first: once the guest has booted, its screen holds the kernel's lines
        view_log(w, b, sid)
        console(b, s, sid)
    except harness.Failure:
        b.evidence()
        raise
    finally:
        b.quit()
    s.no_gaps(mark)
    s.api.must("DELETE", "/compute/v2.1/servers/" + sid, "demo")
    harness.wait_for("%s is deleted" % NAME, lambda: s.api.http(
        "GET", "/compute/v2.1/servers/" + sid, s.api.token("demo"))[0] == 404, 120, 1.0)
    check("instance-" + sid not in s.c.domains(), "libvirt no longer lists the domain")
    print("the dashboard drove a real guest in %.1f s; screenshots in %s"
          % (time.monotonic() - t0, shots))


if __name__ == "__main__":
    harness.run(main)
