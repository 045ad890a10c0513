"""harness.py - starts hvcentral and hvagents (fake driver) in a temporary directory, on
ipc:// sockets (or loopback tcp), and drives them through `hv`, as an operator would.
Everything it starts it stops (atexit + signal handlers); nothing leaves the temp dir.
Tests import it; it never decides what a test asserts."""
import atexit
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

SKIP = 77


def build_root():
    root = os.environ.get("HV_BUILD_ROOT")
    if not root:
        sys.exit("HV_BUILD_ROOT is not set (run through meson test)")
    return root


def need_binaries():
    root = build_root()
    missing = [p for p in ("central/hvcentral", "cli/hv", "agent/hvagent",
                           "drivers/fake/hvagent-driver-fake.so")
               if not os.path.exists(os.path.join(root, p))]
    if missing:
        print("skipped: not built in this tree: " + ", ".join(missing))
        sys.exit(SKIP)


def need_module(name, package):
    """Imports a Python module a test cannot do without, or skips (77) naming the package."""
    try:
        return __import__(name)
    except ImportError:
        print("skipped: %s is not installed (Debian package %s)" % (name, package))
        sys.exit(SKIP)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


_clusters = []  # dumped when a check fails

# HV_DAEMON_WRAPPER runs hvcentral and hvagent under a tool, e.g. valgrind (meson test
# --setup memcheck). The wrapper must exit WRAPPER_ERROR when it found an error; a daemon
# that does is a failed test even when every check passed.
WRAPPER = shlex.split(os.environ.get("HV_DAEMON_WRAPPER", ""))
WRAPPER_ERROR = 99


def daemon(argv):
    return WRAPPER + argv


def slow():
    """How much slower the daemons run than natively (1, or 20 under valgrind): timeouts of
    waits on daemons are multiplied by it."""
    return 20 if WRAPPER else 1


class Failure(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Failure(what)
    print("ok - " + what)


def wait_for(what, fn, timeout=30.0, step=0.1):
    """Polls fn until it returns a true value; the timeout only bounds a hang."""
    end = time.monotonic() + timeout * slow()
    while True:
        v = fn()
        if v:
            return v
        if time.monotonic() > end:
            raise Failure("gave up waiting for: " + what)
        time.sleep(step)


def fake_section(extra):
    """The [fake] lines: an 8-vCPU, 8 GB host unless extra ("memory_mb = 2048\n...") says
    otherwise; a key is given once."""
    keys = {"vcpus": "8", "memory_mb": "8192"}
    lines = []
    for line in extra.splitlines():
        k, sep, v = line.partition("=")
        if sep and k.strip() in keys:
            keys[k.strip()] = v.strip()
        elif line.strip():
            lines.append(line)
    return "".join("%s = %s\n" % kv for kv in keys.items()) + "".join(l + "\n" for l in lines)


class NotifySocket:
    """What a daemon tells systemd: binds path; messages() returns (monotonic time, {key:
    value}) for each datagram received, in order."""

    def __init__(self, path):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        self.received = []

    def env(self, watchdog_usec=None):
        e = {"NOTIFY_SOCKET": self.path}
        if watchdog_usec:
            e["WATCHDOG_USEC"] = str(watchdog_usec)
        return e

    def poll(self, seconds, until=None):
        """Receives for seconds, or until until(got) holds; returns what arrived meanwhile."""
        end, got = time.monotonic() + seconds, []
        while until is None or not until(got):
            left = end - time.monotonic()
            if left <= 0:
                return got
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(4096)
            except socket.timeout:
                return got
            fields = dict(line.split("=", 1) for line in data.decode().split("\n") if line)
            got.append((time.monotonic(), fields))
            self.received.append(got[-1])
        return got

    def wait(self, what, pred, timeout=30.0):
        """Receives until a message satisfies pred(fields); returns its fields."""
        end = time.monotonic() + timeout * slow()
        for _, f in self.received:
            if pred(f):
                return f
        while time.monotonic() < end:
            for _, f in self.poll(min(0.5, end - time.monotonic())):
                if pred(f):
                    return f
        raise Failure("gave up waiting for the notification: " + what)

    def pings(self, seconds, count=None):
        """The times of the WATCHDOG=1 received within the next seconds (or until count)."""
        def is_ping(m):
            return m[1].get("WATCHDOG") == "1"

        def enough(got):
            return count is not None and sum(map(is_ping, got)) >= count
        return [t for t, f in self.poll(seconds, enough) if f.get("WATCHDOG") == "1"]

    def close(self):
        self.sock.close()


def conf_set(path, section, **changes):
    """Sets key = value in the config file path: the line of an existing key is replaced, a
    new one goes at the top of [section]."""
    with open(path) as f:
        text = f.read()
    for key, value in changes.items():
        text, n = re.subn(r"(?m)^%s = .*$" % re.escape(key), "%s = %s" % (key, value), text)
        if not n:
            check("[%s]\n" % section in text, "%s has a [%s] section" % (path, section))
            text = text.replace("[%s]\n" % section, "[%s]\n%s = %s\n" % (section, key, value),
                                1)
    with open(path, "w") as f:
        f.write(text)


def drive_files(iso, names=("meta_data.json", "user_data", "network_data.json")):
    """The files openstack/latest/NAME of the config drive ISO that are on it, as the guest
    would read them: {name: bytes}."""
    files = {}
    with tempfile.TemporaryDirectory() as d:
        for name in names:
            out = os.path.join(d, name)
            r = subprocess.run(["xorriso", "-osirrox", "on", "-indev", iso, "-extract",
                                "/openstack/latest/" + name, out], capture_output=True)
            if r.returncode == 0 and os.path.isfile(out):
                with open(out, "rb") as f:
                    files[name] = f.read()
    return files


def drive_file(iso, name):
    """The bytes of openstack/latest/NAME on the config drive ISO; a failed check if absent."""
    got = drive_files(iso, (name,))
    check(name in got, "the config drive %s holds %s" % (iso, name))
    return got[name]


class Cluster:
    def __init__(self, suspect_after=30, down_after=60, transport="ipc", keep=False):
        self.root = build_root()
        self.dir = tempfile.mkdtemp(prefix="hv-e2e-")
        self.keep = keep
        self.procs = {}
        self.transport = transport
        if transport == "tcp":
            self.agent_ep = "tcp://127.0.0.1:%d" % free_port()
        else:
            self.agent_ep = "ipc://%s/agents.sock" % self.dir
        self.api = "ipc://%s/api.sock" % self.dir
        self.suspect_after = suspect_after
        self.down_after = down_after
        self.server_key = None
        self.wrapper_errors = []
        self.own_images = False  # True: each agent has its own image store (agent-X/images)
        _clusters.append(self)
        atexit.register(self.stop_all)
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._on_signal)

    def _on_signal(self, signum, frame):
        self.stop_all()
        sys.exit(1)

    def path(self, *p):
        return os.path.join(self.dir, *p)

    def binary(self, rel):
        return os.path.join(self.root, rel)

    # ---- hvcentral -----------------------------------------------------------------------
    def start_central(self, env=None, conf_extra=""):
        """env: extra environment (NOTIFY_SOCKET, WATCHDOG_USEC, HV_FAULT); conf_extra:
        sections appended to the config."""
        state = self.path("central")
        if self.server_key is None:
            out = subprocess.run([self.binary("central/hvcentral"), "--init", state],
                                 capture_output=True, text=True, check=True)
            self.server_key = out.stdout.strip()
        conf = self.path("central.conf")
        with open(conf, "w") as f:
            f.write("[DEFAULT]\nstate_dir = %s\nlog_level = debug\n"
                    "[agents]\nendpoint = %s\nreport_interval = 1\n"
                    "suspect_after = %d\ndown_after = %d\n"
                    "[api]\nendpoint = %s\n"
                    "[commands]\nretry_interval_ms = 500\n%s"
                    % (state, self.agent_ep, self.suspect_after, self.down_after, self.api,
                       conf_extra))
        log = open(self.path("hvcentral.log"), "a")
        p = subprocess.Popen(daemon([self.binary("central/hvcentral"), "-c", conf]),
                             stdout=subprocess.PIPE, stderr=log, text=True,
                             env=dict(os.environ, **(env or {})))
        line = p.stdout.readline()  # "ready api=..." once the sockets are bound
        if not line.startswith("ready"):
            p.kill()
            raise Failure("hvcentral did not start; see " + self.path("hvcentral.log"))
        self.procs["hvcentral"] = p
        return p

    # ---- agents -------------------------------------------------------------------------
    def agent_conf(self, host_id, fake="", conf_extra=""):
        d = self.path("agent-" + host_id)
        os.makedirs(os.path.join(d, "instances"), exist_ok=True)
        store = os.path.join(d, "images") if self.own_images else self.path("images")
        os.makedirs(store, exist_ok=True)
        conf = os.path.join(d, "hvagent.conf")
        with open(conf, "w") as f:
            f.write("[DEFAULT]\nhost_id = %s\nstate_dir = %s\ndriver = fake\ndriver_dir = %s\n"
                    "report_interval = 1\ninstances_path = %s/instances\nimage_store = %s\n"
                    "log_level = debug\n"
                    "[controller]\nendpoint = %s\nserver_public_key = %s\nkeys_dir = %s/keys\n"
                    "heartbeat_interval = 1\nreconnect_min_ms = 50\nreconnect_max_ms = 500\n"
                    "[guest]\nconfig_drive_dir = %s/instances/config-drives\n"
                    "[fake]\n%s%s"
                    % (host_id, d, self.binary("drivers/fake"), d, store,
                       self.agent_ep, self.server_key, d, d, fake_section(fake), conf_extra))
        return conf

    def agent_key(self, host_id):
        out = subprocess.run([self.binary("agent/hvagent"), "-c", self.agent_conf(host_id),
                              "--show-public-key"], capture_output=True, text=True, check=True)
        return out.stdout.strip()

    def catalog_image(self, name="cirros", size=65536):
        """A small public raw image in hvcentral's catalog (the OpenStack API boots only
        the catalog's images); a host fetches it on first use."""
        path = self.path("image-%s.raw" % name)
        with open(path, "wb") as f:
            f.write(b"\0" * size)
        rc, out, err = self.hv("image", "create", name, "--file", path, "--disk-format", "raw",
                               "--public", "-f", "json")
        if rc != 0:
            raise Failure("image %s: %s" % (name, err.strip()))
        return json.loads(out)["id"]

    def allow(self, host_id):
        """Writes the allowlist file the way config management would."""
        key = self.agent_key(host_id)
        with open(self.path("central", "agents", host_id + ".pub"), "w") as f:
            f.write(key + "\n")
        return key

    def import_raw_image(self, host_id, image_id):
        """Puts a small raw disk into the host's image store with hvagent image-import, as an
        operator would, recorded as format raw."""
        disk = self.path(image_id + ".raw")
        with open(disk, "wb") as f:
            f.write(b"\0" * 65536)
        subprocess.run([self.binary("agent/hvagent"), "-c", self.agent_conf(host_id),
                        "image-import", disk, "--id", image_id, "--format", "raw"],
                       check=True, capture_output=True,
                       env=dict(os.environ, HVAGENT_DRIVER_DIR=self.binary("drivers/fake")))

    def start_agent(self, host_id, fake="", env=None, conf_extra="", wrap=None):
        """fake: extra [fake] lines ("latency_ms = 2000\n"); env: extra environment
        (HVAGENT_FAKE_HOST_FLAP, see drivers/fake/README.md); conf_extra: sections appended
        to its config; wrap: a command the agent runs under (unshare ... "$@")."""
        conf = self.agent_conf(host_id, fake, conf_extra)
        env = dict(os.environ, HVAGENT_DRIVER_DIR=self.binary("drivers/fake"), **(env or {}))
        log = open(self.path("agent-%s.log" % host_id), "a")
        p = subprocess.Popen((wrap or []) + daemon([self.binary("agent/hvagent"), "-c", conf]),
                             env=env, stdout=log, stderr=log)
        self.procs["agent-" + host_id] = p
        return p

    def kill(self, name, sig=signal.SIGKILL):
        p = self.procs.pop(name, None)
        if p and p.poll() is None:
            p.send_signal(sig)
            p.wait(timeout=30 * slow())
        if p and WRAPPER and p.returncode == WRAPPER_ERROR:
            self.wrapper_errors.append("%s: %s found errors (see its log)" % (name, WRAPPER[0]))

    def notify_socket(self, name):
        """A datagram socket standing in for systemd's NOTIFY_SOCKET (see NotifySocket)."""
        return NotifySocket(self.path(name + ".notify"))

    def stop_all(self, keep_logs=False):
        for name in list(self.procs):
            self.kill(name, signal.SIGTERM)
        if keep_logs and self.wrapper_errors:
            return
        if not self.keep and os.path.isdir(self.dir):
            if os.environ.get("HV_E2E_KEEP"):
                print("kept " + self.dir)
            else:
                shutil.rmtree(self.dir, ignore_errors=True)

    # ---- hv -----------------------------------------------------------------------------
    def hv(self, *args, timeout=120):
        env = dict(os.environ, HV_API=self.api)
        r = subprocess.run([self.binary("cli/hv")] + list(args), capture_output=True,
                           text=True, env=env, timeout=timeout * slow())
        return r.returncode, r.stdout, r.stderr

    def user(self, name, project, role, password):
        """Creates user name with role in project through hv user create, its password given
        in a file of mode 0600."""
        path = self.path(name + ".pw")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(password + "\n")
        rc, _, err = self.hv("user", "create", name, "--project", project, "--role", role,
                             "--password-file", path)
        check(rc == 0, "hv user create %s succeeds (%s)" % (name, err.strip()))

    def hv_json(self, *args):
        rc, out, err = self.hv(*(list(args) + ["-f", "json"]))
        if rc != 0:
            raise Failure("hv %s failed (%d): %s" % (" ".join(args), rc, err.strip()))
        return json.loads(out)

    def show(self, server):
        return self.hv_json("server", "show", server)

    def hosts(self):
        return {(h["host_id"] or h["public_key"]): h for h in self.hv_json("host", "list")}

    def host_state(self, host_id):
        h = self.hosts().get(host_id)
        return h["state"] if h else None

    def wait_host(self, host_id, state, timeout=60, reported=True):
        """Until the host is in state; "up" also waits for its first report of resources,
        which the scheduler needs (a slow daemon may be up a moment before it reports),
        unless reported is false (a hand-made peer that sends no REPORT)."""
        def reached():
            h = self.hosts().get(host_id)
            return h is not None and h["state"] == state and (
                state != "up" or not reported or
                (h.get("resources") or {}).get("memory_mb", 0) > 0)
        return wait_for("host %s %s" % (host_id, state), reached, timeout)

    def config_drive(self, host_id, uuid):
        """Where the host's agent builds the config drive of instance uuid."""
        return self.path("agent-" + host_id, "instances", "config-drives", uuid + ".config")

    def central_files(self):
        """hvcentral's log and every file of its database (main, WAL, shared memory)."""
        files = [self.path("hvcentral.log")]
        state = self.path("central")
        files += [os.path.join(state, n) for n in os.listdir(state)
                  if os.path.isfile(os.path.join(state, n))]
        return files

    def central_holds(self, secret):
        """The hvcentral files whose bytes contain secret."""
        hits = []
        for f in self.central_files():
            with open(f, "rb") as fh:
                if secret.encode() in fh.read():
                    hits.append(f)
        return hits

    def sanitized(self, name):
        """What replaces the daemons' own allocator in process `name` (AddressSanitizer's
        or valgrind's), or None."""
        with open("/proc/%d/maps" % self.procs[name].pid) as f:
            maps = f.read()
        return ("AddressSanitizer" if "libasan" in maps else
                "valgrind" if "vgpreload_memcheck" in maps else None)

    def memory_holds(self, name, secrets):
        """The secrets (bytes) found anywhere in the writable memory of process `name`
        (heap, stacks, libzmq's buffers), read through /proc/PID/mem; None when this
        process may not read it (not root and not ptrace-able)."""
        pid = self.procs[name].pid
        found = set()
        try:
            maps = open("/proc/%d/maps" % pid).read().splitlines()
            mem = open("/proc/%d/mem" % pid, "rb", buffering=0)
        except OSError:
            return None
        with mem:
            for line in maps:
                addr, perms = line.split()[:2]
                if not perms.startswith("rw"):
                    continue
                lo, hi = (int(x, 16) for x in addr.split("-"))
                if hi - lo > 1 << 30:  # reserved, not used: no daemon of ours holds 1 GiB
                    continue
                try:
                    mem.seek(lo)
                    data = mem.read(hi - lo)
                except (OSError, ValueError, OverflowError):
                    continue
                found.update(s for s in secrets if s in data)
        return sorted(found)

    def dump_logs(self):
        if not os.path.isdir(self.dir):  # stopped earlier in the test: its logs are gone
            return
        for name in sorted(os.listdir(self.dir)):
            if name.endswith(".log"):
                print("---- " + name)
                with open(self.path(name)) as f:
                    print(f.read()[-6000:])


def run(main):
    """Runs main(); prints logs and exits 1 on a failed check, 0 otherwise."""
    need_binaries()
    try:
        main()
        for c in list(_clusters):
            c.stop_all(keep_logs=True)
            check(not c.wrapper_errors, "; ".join(c.wrapper_errors))
    except Failure as e:
        print("not ok - " + str(e))
        for c in list(_clusters):
            c.dump_logs()
        sys.exit(1)
    sys.exit(0)

