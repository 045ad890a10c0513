#!/usr/bin/env bash
# Serves Horizon (Debian's openstack-dashboard, unmodified) against hvcentral's
# OpenStack-compatible API, with gunicorn. Horizon's own files stay as Debian installed them:
# this writes, in a directory of its own, a settings module that imports Debian's settings
# (and so its local_settings) and overrides only what hvcentral needs, then starts gunicorn
# on it, waits until the login page answers and prints the URL.
#
# Usage: scripts/dashboard.sh [--port 8080] [--bind 127.0.0.1]
#                             [--keystone http://127.0.0.1:8774/identity/v3]
#                             [--dir DIR] [--foreground]
#        scripts/dashboard.sh --stop [--dir DIR]
#   --keystone    hvcentral's identity endpoint ([openstack] listen of hvcentral.conf)
#   --dir         where the settings, the secret key, the pid and the logs go
#                 (default /run/hv-dashboard-PORT as root, else $TMPDIR/hv-dashboard-PORT)
#   --foreground  runs gunicorn in the foreground (stops with the caller) instead of
#                 detaching it
# scripts/deps.sh --dashboard installs what it needs.
set -euo pipefail

port=8080
bind=127.0.0.1
keystone=http://127.0.0.1:8774/identity/v3
dir=
foreground=0
stop=0
while [ $# -gt 0 ]; do
  case "$1" in
  --port) port=${2:?--port needs a number}; shift 2 ;;
  --bind) bind=${2:?--bind needs an address}; shift 2 ;;
  --keystone) keystone=${2:?--keystone needs a URL}; shift 2 ;;
  --dir) dir=${2:?--dir needs a path}; shift 2 ;;
  --foreground) foreground=1; shift ;;
  --stop) stop=1; shift ;;
  -h | --help) sed -n '2,/^set -eu/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
  *) echo "dashboard.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done

# These end up in a Python file: refuse anything but the plain shapes they have.
[[ $port =~ ^[0-9]{1,5}$ ]] && [ "$port" -ge 1 ] && [ "$port" -le 65535 ] ||
  { echo "dashboard.sh: --port: a number from 1 to 65535, not '$port'" >&2; exit 2; }
[[ $bind =~ ^[0-9A-Za-z.:-]+$ ]] ||
  { echo "dashboard.sh: --bind: an address or host name, not '$bind'" >&2; exit 2; }
[[ $keystone =~ ^https?://[0-9A-Za-z.:/_-]+$ ]] ||
  { echo "dashboard.sh: --keystone: an http(s) URL such as http://127.0.0.1:8774/identity/v3, not '$keystone'" >&2; exit 2; }

if [ -z "$dir" ]; then
  if [ "$(id -u)" -eq 0 ]; then dir=/run/hv-dashboard-$port; else dir=${TMPDIR:-/tmp}/hv-dashboard-$port; fi
fi

if [ $stop = 1 ]; then
  if [ -f "$dir/gunicorn.pid" ]; then
    kill "$(cat "$dir/gunicorn.pid")" && echo "dashboard.sh: stopped ($dir)"
  else
    echo "dashboard.sh: not running ($dir/gunicorn.pid is absent)" >&2; exit 1
  fi
  exit 0
fi

py=/usr/bin/python3
missing=()
[ -x /usr/bin/gunicorn ] || missing+=(gunicorn)
"$py" -c 'import openstack_dashboard' 2>/dev/null || missing+=(openstack-dashboard)
"$py" -c 'import whitenoise' 2>/dev/null || missing+=(python3-whitenoise)
if [ ${#missing[@]} -gt 0 ]; then
  echo "dashboard.sh: not installed: ${missing[*]} (scripts/deps.sh --dashboard installs them)" >&2
  exit 3
fi

mkdir -p "$dir"
chmod 700 "$dir"
if [ ! -s "$dir/secret_key" ]; then
  (umask 077; "$py" -c 'import secrets; print(secrets.token_urlsafe(48))' >"$dir/secret_key")
fi

# A package of three modules: the settings (Debian's, then hvcentral's endpoint and what a
# lean controller needs), the panels hvcentral has no service for, and the WSGI entry.
pkg=$dir/hv_dashboard
mkdir -p "$pkg"
: >"$pkg/__init__.py"
cat >"$pkg/settings.py" <<EOF
# Written by hvagent's scripts/dashboard.sh; rewritten at each start.
import os

from openstack_dashboard.settings import *  # noqa: F401,F403 Debian's, local_settings included

OPENSTACK_KEYSTONE_URL = "$keystone"
OPENSTACK_KEYSTONE_MULTIDOMAIN_SUPPORT = False
OPENSTACK_KEYSTONE_DEFAULT_DOMAIN = "Default"
OPENSTACK_KEYSTONE_DEFAULT_ROLE = "member"
ALLOWED_HOSTS = ["*"]
with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "secret_key")) as _f:
    SECRET_KEY = _f.read().strip()

# The session lives in its signed cookie: no cache or database to run beside Horizon.
SESSION_ENGINE = "django.contrib.sessions.backends.signed_cookies"
# Plain HTTP on a local port.
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False

# Stylesheets and scripts as Debian's postinst compressed them into STATIC_ROOT; the
# WSGI module serves that folder.
COMPRESS_ENABLED = True
COMPRESS_OFFLINE = True

# Only what hvcentral serves: no RBAC, no auto-allocated network. Services absent from the
# catalog (volumes, object storage, orchestration, ...) hide their panels. "enable_router"
# stays on because it also registers the Floating IPs panels; panels.py removes the router
# ones.
HORIZON_CONFIG["customization_module"] = "hv_dashboard.panels"
OPENSTACK_NEUTRON_NETWORK.update({
    "enable_router": True,
    "enable_quotas": False,
    "enable_rbac_policy": False,
    "enable_distributed_router": False,
    "enable_ha_router": False,
    "enable_fip_topology_check": False,
    "enable_auto_allocated_network": False,
    "enable_ipv6": False,
})
OPENSTACK_HYPERVISOR_FEATURES.update({"can_set_password": True})
# The Console tab shows hvcentral's noVNC page (its proxy answers on the API's own port);
# only VNC and serial consoles exist, so Horizon need not try SPICE, RDP or MKS first.
CONSOLE_TYPE = "VNC"
LAUNCH_INSTANCE_DEFAULTS.update({
    "create_volume": False,
    "hide_create_volume": True,
    "disable_volume": True,
    "disable_volume_snapshot": True,
})

# Client libraries at INFO: their DEBUG lines carry request bodies and token digests.
for _name in ("keystoneauth", "keystoneclient", "novaclient", "glanceclient",
              "neutronclient", "cinderclient", "swiftclient", "openstack_auth"):
    LOGGING["loggers"].setdefault(_name, {"handlers": ["console"], "propagate": False})
    LOGGING["loggers"][_name]["level"] = "INFO"
EOF

cat >"$pkg/panels.py" <<'EOF'
# Written by hvagent's scripts/dashboard.sh: the panels of what hvcentral does not serve
# (Neutron routers, and the topology drawn from them), removed as Horizon's
# customization_module allows.
import horizon

from openstack_dashboard.dashboards.admin.routers.panel import Routers as AdminRouters
from openstack_dashboard.dashboards.project.network_topology.panel import NetworkTopology
from openstack_dashboard.dashboards.project.routers.panel import Routers

horizon.get_dashboard("project").unregister(Routers)
horizon.get_dashboard("project").unregister(NetworkTopology)
horizon.get_dashboard("admin").unregister(AdminRouters)
EOF

cat >"$pkg/wsgi.py" <<'EOF'
# Written by hvagent's scripts/dashboard.sh: Horizon's WSGI application with its static
# files (STATIC_ROOT, filled by Debian's postinst) served beside it.
import os

os.environ["DJANGO_SETTINGS_MODULE"] = "hv_dashboard.settings"

from django.conf import settings  # noqa: E402
from django.core.wsgi import get_wsgi_application  # noqa: E402
from whitenoise import WhiteNoise  # noqa: E402

application = WhiteNoise(get_wsgi_application(), root=settings.STATIC_ROOT,
                         prefix=settings.STATIC_URL)
EOF

args=(--pythonpath "$dir" --bind "$bind:$port" --workers 1 --threads 8
      --worker-class gthread --timeout 120 --access-logfile "$dir/access.log"
      --error-logfile "$dir/error.log" --pid "$dir/gunicorn.pid" hv_dashboard.wsgi:application)
case "$bind" in *:*) host="[$bind]" ;; *) host=$bind ;; esac
url="http://$host:$port/"

if [ $foreground = 1 ]; then
  echo "dashboard.sh: serving $url (Keystone $keystone; logs in $dir)"
  exec /usr/bin/gunicorn "${args[@]}"
fi

if [ -f "$dir/gunicorn.pid" ] && kill -0 "$(cat "$dir/gunicorn.pid")" 2>/dev/null; then
  echo "dashboard.sh: already running from $dir (--stop first)" >&2
  exit 1
fi
/usr/bin/gunicorn --daemon "${args[@]}"
for _ in $(seq 1 120); do
  if "$py" -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=5)' \
    "${url}auth/login/" 2>/dev/null; then
    echo "dashboard.sh: $url (Keystone $keystone; logs in $dir; stop: $0 --stop --dir $dir)"
    exit 0
  fi
  sleep 0.5
done
echo "dashboard.sh: $url did not answer within 60 s; see $dir/error.log" >&2
exit 1
