"""dash.py - what the dashboard tests share: hvcentral with its OpenStack front and fake
agents (tests/e2e/harness.py), a small cloud in it (projects, users, an image, networks),
Debian's Horizon served by scripts/dashboard.sh on a free port, and headless Chromium driven
by Selenium. Skips (77) naming the Debian package when one is missing. Screenshots go under
the build's meson-logs/dashboard/<test>/. Tests import it; it never decides what a test
asserts beyond the checks every page shares (no error banner)."""
import json
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))
import harness  # noqa: E402
from harness import check  # noqa: E402

SOURCE = os.path.normpath(os.path.join(HERE, "..", ".."))
PY = "/usr/bin/python3"

# (Debian package, how to tell it is there)
NEEDS = [
    ("openstack-dashboard", lambda: module("openstack_dashboard")),
    ("gunicorn", lambda: os.access("/usr/bin/gunicorn", os.X_OK)),
    ("python3-whitenoise", lambda: module("whitenoise")),
    ("python3-selenium", lambda: module("selenium")),
    ("chromium", lambda: os.access("/usr/bin/chromium", os.X_OK)),
    ("chromium-driver", lambda: os.access("/usr/bin/chromedriver", os.X_OK)),
]

# Users of the cloud: name -> (project, role, password)
USERS = {
    "alice": ("admin", "admin", "alice-pass-1"),
    "demo": ("demo", "member", "demo-pass-22"),
    "carol": ("other", "member", "carol-pass-333"),
}


def module(name):
    try:
        __import__(name)
        return True
    except ImportError:
        return False


def need_all():
    missing = [pkg for pkg, ok in NEEDS if not ok()]
    if missing:
        print("skipped: not installed: %s (scripts/deps.sh --dashboard installs them)"
              % ", ".join(missing))
        sys.exit(harness.SKIP)


def shots_dir(test):
    d = os.path.join(harness.build_root(), "meson-logs", "dashboard", test)
    os.makedirs(d, exist_ok=True)
    for n in os.listdir(d):
        if n.endswith((".png", ".html")):
            os.unlink(os.path.join(d, n))
    return d


class Api:
    """hvcentral's OpenStack front over plain HTTP, for setting the cloud up."""

    def __init__(self, url):
        self.url = url
        self.tokens = {}

    def http(self, method, path, token=None, body=None, raw=None, ctype="application/json"):
        data = raw if raw is not None else (json.dumps(body).encode() if body else None)
        req = urllib.request.Request(self.url + path, data=data, method=method)
        req.add_header("Content-Type", ctype)
        if token:
            req.add_header("X-Auth-Token", token)
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                text = r.read()
                return r.status, r.headers, json.loads(text) if text else None
        except urllib.error.HTTPError as e:
            text = e.read()
            try:
                return e.code, e.headers, json.loads(text) if text else None
            except ValueError:
                return e.code, e.headers, text

    def token(self, user):
        if user not in self.tokens:
            project, _, password = USERS[user]
            body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
                "name": user, "domain": {"name": "Default"}, "password": password}}},
                "scope": {"project": {"name": project, "domain": {"name": "Default"}}}}}
            status, headers, _ = self.http("POST", "/identity/v3/auth/tokens", body=body)
            check(status == 201, "a token for %s (%d)" % (user, status))
            self.tokens[user] = headers["X-Subject-Token"]
        return self.tokens[user]

    def must(self, method, path, user, body=None, **kw):
        status, _, out = self.http(method, path, self.token(user), body=body, **kw)
        check(200 <= status < 300, "%s %s as %s: %d %s" % (method, path, user, status, out))
        return out


class Stack:
    """hvcentral + agents (fake ones unless cluster, a harness.Cluster such as the
    libvirt workflows' LibvirtCluster, says otherwise) + a small cloud + Horizon."""

    def __init__(self, hosts=("node-1", "node-2"), cluster=None):
        self.c = cluster or harness.Cluster()
        # each host its own image store, as separate machines have (two agents fetching
        # the same image into one shared folder at once can trip over each other)
        self.c.own_images = True
        port = harness.free_port()
        self.url = "http://127.0.0.1:%d" % port
        self.c.start_central(conf_extra="[openstack]\nlisten = 127.0.0.1:%d\n"
                             "[network]\nexternal_cidr = 203.0.113.0/24\n" % port)
        for h in hosts:
            self.c.allow(h)
            self.c.start_agent(h)
        for h in hosts:
            self.c.wait_host(h, "up")
        for project in ("demo", "other"):
            rc, _, err = self.c.hv("project", "create", project)
            check(rc == 0, "project %s (%s)" % (project, err.strip()))
        for name, (project, role, password) in USERS.items():
            self.c.user(name, project, role, password)
        self.api = Api(self.url)
        self.horizon = None

    def image(self, name="cirros", data=b"\0" * 65536, disk_format="raw", properties=None):
        """A public image uploaded through the image service; properties (strings) are
        Glance's custom ones, at the top level of the record."""
        img = self.api.must("POST", "/image/v2/images", "alice", dict(properties or {}, **{
            "name": name, "disk_format": disk_format, "container_format": "bare",
            "visibility": "public"}))
        self.api.must("PUT", "/image/v2/images/%s/file" % img["id"], "alice",
                      raw=data, ctype="application/octet-stream")
        return img["id"]

    def network(self, user, name, cidr):
        net = self.api.must("POST", "/network/v2.0/networks", user,
                            {"network": {"name": name}})["network"]
        self.api.must("POST", "/network/v2.0/subnets", user, {"subnet": {
            "name": name + "-sub", "network_id": net["id"], "cidr": cidr, "ip_version": 4}})
        return net["id"]

    def start_horizon(self):
        port = harness.free_port()
        d = self.c.path("horizon")
        log = open(self.c.path("horizon.log"), "a")
        p = subprocess.Popen([os.path.join(SOURCE, "scripts", "dashboard.sh"), "--foreground",
                              "--port", str(port), "--dir", d, "--keystone",
                              self.url + "/identity/v3"],
                             stdout=log, stderr=subprocess.STDOUT)
        self.c.procs["horizon"] = p
        self.horizon = "http://127.0.0.1:%d" % port

        def answers():
            if p.poll() is not None:
                raise harness.Failure("Horizon stopped (see horizon.log)")
            try:
                with urllib.request.urlopen(self.horizon + "/auth/login/", timeout=10) as r:
                    return r.status == 200
            except (OSError, urllib.error.URLError):
                return False
        harness.wait_for("Horizon's login page", answers, timeout=120, step=0.5)
        return self.horizon

    def horizon_holds(self, secret):
        """The files of Horizon's directory (its settings, logs) whose bytes hold secret."""
        hits = []
        for root, _, names in os.walk(self.c.path("horizon")):
            for n in names:
                with open(os.path.join(root, n), "rb") as f:
                    if secret.encode() in f.read():
                        hits.append(os.path.join(root, n))
        with open(self.c.path("horizon.log"), "rb") as f:
            if secret.encode() in f.read():
                hits.append("horizon.log")
        return hits

    def log_mark(self):
        with open(self.c.path("hvcentral.log")) as f:
            return len(f.read().splitlines())

    REQ = re.compile(r"openstack request: method=(\S+) path=(\S+) status=(\d+)")

    def requests_since(self, mark):
        """[(method, path, status)] hvcentral answered since log_mark() returned mark."""
        with open(self.c.path("hvcentral.log")) as f:
            lines = f.read().splitlines()[mark:]
        return [(m.group(1), m.group(2), int(m.group(3)))
                for m in (self.REQ.search(l) for l in lines) if m]


    def no_gaps(self, mark):
        """No call Horizon made since mark was answered 404, 501 or a server error."""
        bad = sorted({r for r in self.requests_since(mark) if r[2] in (404, 501) or
                      r[2] >= 500})
        check(not bad, "no call Horizon made was answered 404, 501 or 5xx (%s)" % bad)


class Browser:
    """Headless Chromium through Selenium (Debian's chromium-driver)."""

    def __init__(self, base, shots):
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
        opts = webdriver.ChromeOptions()
        opts.binary_location = "/usr/bin/chromium"
        for a in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                  "--disable-gpu", "--window-size=1400,1000", "--lang=en-US"):
            opts.add_argument(a)
        self.d = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)
        self.d.set_page_load_timeout(120)
        self.base = base
        self.shots = shots
        self.n = 0

    def quit(self):
        self.d.quit()

    def by(self, css):
        from selenium.webdriver.common.by import By
        return self.d.find_elements(By.CSS_SELECTOR, css)

    def wait(self, what, fn, timeout=60):
        return harness.wait_for(what, fn, timeout=timeout, step=0.3)

    def shot(self, name):
        self.n += 1
        path = os.path.join(self.shots, "%02d-%s.png" % (self.n, re.sub(r"\W+", "-", name)))
        self.d.save_screenshot(path)
        return path

    def evidence(self):
        """The page as a failed check left it: a screenshot and its HTML."""
        path = self.shot("failed")
        with open(path[:-4] + ".html", "w") as f:
            f.write(self.d.page_source)

    def login(self, user):
        from selenium.webdriver.common.by import By
        self.d.delete_all_cookies()
        self.d.get(self.base + "/auth/login/")
        self.d.find_element(By.ID, "id_username").send_keys(user)
        self.d.find_element(By.ID, "id_password").send_keys(USERS[user][2])
        self.d.find_element(By.ID, "loginBtn").click()
        self.wait("%s is logged in" % user,
                  lambda: "/auth/login" not in self.d.current_url and self.d.execute_script(
                      "var e = document.querySelector('.user-menu .user-name');"
                      " return e && e.innerText.trim();") == user)
        self.shot("login-" + user)

    def errors(self):
        """The error banners and toasts shown: Django's messages and Angular's toasts."""
        out = []
        for e in self.by(".alert-danger, .alert-error, .toast-error"):
            try:
                if e.is_displayed() and e.text.strip():
                    out.append(e.text.strip())
            except Exception:  # noqa: BLE001 an element gone while reading it
                pass
        body = self.d.find_element("tag name", "body").text
        if "Something went wrong" in body:
            out.append("Horizon's error page: " + body[:200])
        return out

    def settle(self, timeout=30):
        """Waits until jQuery and Angular have no request in flight."""
        script = ("return document.readyState == 'complete' && "
                  "(!window.jQuery || jQuery.active == 0) && "
                  "(!window.angular || !document.body || "
                  "!angular.element(document.body).injector() || "
                  "angular.element(document.body).injector().get('$http')"
                  ".pendingRequests.length == 0)")
        try:
            self.wait("the page settles", lambda: self.d.execute_script(script), timeout)
        except harness.Failure:
            pass  # the page is judged as it is
        time.sleep(0.3)

    def visit(self, path, name):
        """Opens path, waits for it to settle, screenshots it; (title, errors)."""
        self.d.get(self.base + path)
        self.settle()
        self.shot(name)
        return self.d.title, self.errors()

    def visible(self, css, inside=None):
        """How many elements css shows (holding an element inside, when given), counted at
        once in the page: a reloading page has no stale elements."""
        return self.d.execute_script(
            "var inside = arguments[1];"
            " return Array.from(document.querySelectorAll(arguments[0])).filter(function (e)"
            " { return e.offsetParent !== null && (!inside || e.querySelector(inside)); })"
            ".length;", css, inside)

    def rows(self):
        """The text of each table row, read at once (a reloading page has no stale rows)."""
        return self.d.execute_script(
            "return Array.from(document.querySelectorAll('table tbody tr'))"
            ".map(function (r) { return r.innerText; });")
