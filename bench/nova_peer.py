"""nova-api (Debian's python3-nova) as bench/os_servers.py's peer: nova's own WSGI
application (nova.api.openstack.compute.wsgi) under gunicorn, auth_strategy noauth2, the
API and cell databases in SQLite, holding servers written through nova's own objects (rows
of instances, instance_extra and instance_mappings, as nova-conductor writes them), the
networking service a stub answering no ports at once. Every step says why when it cannot
run."""
import http.server
import json
import os
import shutil
import subprocess
import sys
import threading
import time
import urllib.request

# nova's own pipeline for noauth2 (etc/nova/api-paste.ini), without the keystone branch
PASTE = """[composite:osapi_compute]
use = call:nova.api.openstack.urlmap:urlmap_factory
/: oscomputeversions
/v2.1: openstack_compute_api_v21

[composite:openstack_compute_api_v21]
use = call:nova.api.auth:pipeline_factory_v21
keystone = cors http_proxy_to_wsgi compute_req_id faultwrap request_log sizelimit osprofiler noauth2 osapi_compute_app_v21
noauth2 = cors http_proxy_to_wsgi compute_req_id faultwrap request_log sizelimit osprofiler noauth2 osapi_compute_app_v21

[filter:request_log]
paste.filter_factory = nova.api.openstack.requestlog:RequestLog.factory
[filter:compute_req_id]
paste.filter_factory = nova.api.compute_req_id:ComputeReqIdMiddleware.factory
[filter:faultwrap]
paste.filter_factory = nova.api.openstack:FaultWrapper.factory
[filter:noauth2]
paste.filter_factory = nova.api.openstack.auth:NoAuthMiddleware.factory
[filter:osprofiler]
paste.filter_factory = nova.profiler:WsgiMiddleware.factory
[filter:sizelimit]
paste.filter_factory = oslo_middleware:RequestBodySizeLimiter.factory
[filter:http_proxy_to_wsgi]
paste.filter_factory = oslo_middleware.http_proxy_to_wsgi:HTTPProxyToWSGI.factory
[app:osapi_compute_app_v21]
paste.app_factory = nova.api.openstack.compute:APIRouterV21.factory
[pipeline:oscomputeversions]
pipeline = cors faultwrap request_log http_proxy_to_wsgi oscomputeversionapp
[app:oscomputeversionapp]
paste.app_factory = nova.api.openstack.compute.versions:Versions.factory
[filter:cors]
paste.filter_factory = oslo_middleware.cors:filter_factory
oslo_config_project = nova
"""

CONF = """[DEFAULT]
host = bench
transport_url = fake:/
state_path = {d}
log_dir = {d}
debug = false
[api]
auth_strategy = noauth2
[api_database]
connection = sqlite:///{d}/nova_api.sqlite
[database]
connection = sqlite:///{d}/nova.sqlite
[oslo_concurrency]
lock_path = {d}/lock
[oslo_policy]
enforce_scope = false
enforce_new_defaults = false
[wsgi]
api_paste_config = {d}/api-paste.ini
[neutron]
auth_type = none
endpoint_override = http://127.0.0.1:{neutron}
"""

WSGI = """import sys
sys.argv = ["nova-api"]
from nova.api.openstack.compute import wsgi
application = wsgi.init_application()
"""

# Runs inside a python with nova's config: writes n servers of project "admin" on host
# "bench" into the cell database, with their instance mappings, as nova's objects do; no
# network, as the bench's hvcentral servers have none.
POPULATE = """import sys, uuid
from nova import config, context, objects
from nova.network import model as network_model
objects.register_all()
config.parse_args(["nova-manage", "--config-file", sys.argv[1]])
ctx = context.get_admin_context()
cell = objects.CellMappingList.get_all(ctx)
cell = [c for c in cell if c.name == "cell1"][0]
flavor = objects.Flavor(name="m1.tiny", flavorid="1", memory_mb=512, vcpus=1, root_gb=1,
                        ephemeral_gb=0, swap=0, rxtx_factor=1.0, vcpu_weight=0,
                        disabled=False, is_public=True, extra_specs={}, description=None)
with context.target_cell(ctx, cell) as cctx:
    for i in range(int(sys.argv[2])):
        u = str(uuid.uuid4())
        inst = objects.Instance(cctx, uuid=u, project_id="admin", user_id="admin",
                                display_name="b%04d" % i, hostname="b%04d" % i,
                                vm_state="active", power_state=1, task_state=None,
                                host="bench", node="bench", image_ref=str(uuid.uuid4()),
                                flavor=flavor, instance_type_id=1, memory_mb=512, vcpus=1,
                                root_gb=1, ephemeral_gb=0, availability_zone="nova",
                                launched_at=None, metadata={}, system_metadata={},
                                info_cache=objects.InstanceInfoCache(
                                    network_info=network_model.NetworkInfo([])))
        inst.create()
        objects.InstanceMapping(ctx, instance_uuid=u, project_id="admin", cell_mapping=cell,
                                user_id="admin", queued_for_delete=False).create()
print("ok")
"""


class NoPorts(http.server.BaseHTTPRequestHandler):
    """The networking service as nova-api's server list asks it (the ports and groups of
    the servers): none, answered at once. A real neutron costs nova-api more."""

    def do_GET(self):  # noqa: N802 - the handler's name
        port = self.server.server_address[1]
        if self.path.rstrip("/") in ("", "/"):
            body = {"versions": [{"id": "v2.0", "status": "CURRENT", "links": [
                {"rel": "self", "href": "http://127.0.0.1:%d/v2.0/" % port}]}]}
        else:
            body = {"ports": [], "security_groups": [], "networks": [], "extensions": []}
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


class Nova:
    """A running nova-api, or why not (self.why)."""

    def __init__(self, workdir, servers):
        self.dir, self.servers, self.proc, self.why, self.pids = workdir, servers, None, None, []
        self.port = None

    def fail(self, step, r=None):
        tail = ""
        if r is not None:
            tail = ((r.stderr or "") + (r.stdout or "")).strip().splitlines()[-1:] or [""]
            tail = ": " + tail[0][-300:]
        self.why = "%s failed%s" % (step, tail)
        return False

    def run(self, step, argv, timeout=600):
        r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                           env=dict(os.environ, OS_NOVA_CONFIG_DIR=self.dir))
        return r if r.returncode == 0 else (self.fail(step, r) and None)

    def start(self, port):
        try:
            import nova  # noqa: F401
        except ImportError:
            self.why = "python3-nova is not installed (scripts/deps.sh --bench installs it)"
            return False
        gunicorn = shutil.which("gunicorn") or shutil.which("gunicorn3")
        if not gunicorn:
            self.why = "no gunicorn (Debian's gunicorn package) to serve nova's WSGI app"
            return False
        d = self.dir
        os.makedirs(os.path.join(d, "lock"), exist_ok=True)
        self.neutron = http.server.ThreadingHTTPServer(("127.0.0.1", 0), NoPorts)
        threading.Thread(target=self.neutron.serve_forever, daemon=True).start()
        conf = os.path.join(d, "nova.conf")
        with open(conf, "w") as f:
            f.write(CONF.format(d=d, neutron=self.neutron.server_address[1]))
        with open(os.path.join(d, "api-paste.ini"), "w") as f:
            f.write(PASTE)
        with open(os.path.join(d, "nova_wsgi.py"), "w") as f:
            f.write(WSGI)
        # nova-manage's own entry point (the command is in nova-common, not python3-nova)
        manage = [sys.executable, "-c", "import sys; from nova.cmd.manage import main; "
                  "sys.argv[0] = 'nova-manage'; sys.exit(main())", "--config-file", conf]
        cell0 = "sqlite:///%s/nova_cell0.sqlite" % d
        for step, args in (("nova-manage api_db sync", ["api_db", "sync"]),
                           ("nova-manage cell_v2 map_cell0",
                            ["cell_v2", "map_cell0", "--database_connection", cell0]),
                           ("nova-manage cell_v2 create_cell",
                            ["cell_v2", "create_cell", "--name", "cell1"]),
                           ("nova-manage db sync", ["db", "sync"])):
            if not self.run(step, manage + args):
                return False
        t0 = time.monotonic()
        if not self.run("writing %d servers through nova's objects" % self.servers,
                        [sys.executable, "-c", POPULATE, conf, str(self.servers)]):
            return False
        self.populate_s = time.monotonic() - t0
        self.port = port
        log = open(os.path.join(d, "gunicorn.log"), "w")
        self.proc = subprocess.Popen(
            [gunicorn, "--workers", "2", "--bind", "127.0.0.1:%d" % port, "--chdir", d,
             "--timeout", "120", "nova_wsgi:application"],
            stdout=log, stderr=subprocess.STDOUT, env=dict(os.environ, OS_NOVA_CONFIG_DIR=d))
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.why = "gunicorn exited (%d); see %s" % (self.proc.returncode,
                                                             log.name)
                return False
            try:
                req = urllib.request.Request("http://127.0.0.1:%d/v2.1/servers?limit=1" % port,
                                             headers={"X-Auth-Token": "admin:admin"})
                with urllib.request.urlopen(req, timeout=30) as r:
                    if r.status == 200:
                        self.pids = self.worker_pids()
                        return True
            except Exception as e:  # noqa: BLE001 - starting: any failure is retried
                last = e
            time.sleep(1)
        self.why = "nova-api did not answer within 120 s (%s); see %s" % (last, log.name)
        return False

    def worker_pids(self):
        try:
            with open("/proc/%d/task/%d/children" % (self.proc.pid, self.proc.pid)) as f:
                return [self.proc.pid] + [int(p) for p in f.read().split()]
        except OSError:
            return [self.proc.pid]

    def stop(self):
        if getattr(self, "neutron", None):
            self.neutron.shutdown()
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=30)
