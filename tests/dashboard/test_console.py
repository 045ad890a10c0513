#!/usr/bin/python3
"""The instance's Console tab in Debian's Horizon against hvcentral: the tab embeds the URL
os-getVNCConsole answers (hvcentral's noVNC page, token in its path), the page loads in the
frame as noVNC, and its Connect button opens the websocket with that token: hvcentral's log
shows the token used (a fake host has no VNC server behind it, so noVNC then reports the
connection lost). Screenshots under meson-logs/dashboard/console/."""
import re
import time

import dash
import harness
from harness import check


def main():
    dash.need_all()
    shots = dash.shots_dir("console")
    s = dash.Stack(hosts=("node-1",))
    api = s.api
    s.image("cirros")
    net = s.network("demo", "private", "10.0.0.0/24")
    server = api.must("POST", "/compute/v2.1/servers", "demo", {"server": {
        "name": "web-1", "imageRef": "cirros", "flavorRef": "1",
        "networks": [{"uuid": net}]}})["server"]["id"]
    harness.wait_for("web-1 is active", lambda: api.must(
        "GET", "/compute/v2.1/servers/%s" % server, "demo")["server"]["status"] == "ACTIVE",
        timeout=60)
    s.start_horizon()
    b = dash.Browser(s.horizon, shots)
    try:
        b.login("demo")
        _, errors = b.visit("/project/instances/%s/?tab=instance_details__console" % server,
                            "console-tab")
        check(not errors, "the Console tab shows no error (%s)" % errors)
        frames = b.by("iframe#console_embed")
        check(frames, "the Console tab embeds a console frame")
        src = frames[0].get_attribute("src")
        check(re.search(r"/vnc_auto\.html\?path=%3Ftoken%3D[A-Za-z0-9_-]{43}", src),
              "its URL is hvcentral's noVNC page with a token (%s)" % src[:80])
        b.d.switch_to.frame(frames[0])
        # noVNC titles the page with Horizon's title= parameter: its Connect button tells
        b.wait("noVNC's Connect button in the frame", lambda: b.visible("#noVNC_connect_button"),
               timeout=60)
        mark = time.monotonic()
        b.by("#noVNC_connect_button")[0].click()
        b.d.switch_to.default_content()

        def used():
            with open(s.c.path("hvcentral.log")) as f:
                return re.search(r"console: token [0-9a-f]{8} used: vnc console of server "
                                 + server, f.read())
        harness.wait_for("noVNC's websocket reaches the proxy with the token", used,
                         timeout=30)
        b.shot("console-connected")
        check(time.monotonic() - mark < 30, "noVNC opened the websocket")
        with open(s.c.path("hvcentral.log")) as f:
            log = f.read()
        tok = re.search(r"token%3D([A-Za-z0-9_-]{43})", src).group(1)
        check(tok not in log, "hvcentral's log never holds the token itself")
    finally:
        b.quit()


if __name__ == "__main__":
    harness.run(main)
