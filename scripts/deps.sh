#!/usr/bin/env bash
# Installs the Debian 12 packages hvagent needs to build, test and run its main job.
# Idempotent: does nothing (and prints nothing) when everything is already installed.
# Usage: scripts/deps.sh [--bench] [--dashboard]
#   --bench      adds the peers the benchmarks compare against
#   --dashboard  adds Horizon (Debian's openstack-dashboard, served by gunicorn) and the
#                headless browser the dashboard suite drives it with
set -euo pipefail

pkgs=(
  # build
  build-essential pkg-config meson ninja-build git
  libcmocka-dev libjansson-dev libinih-dev libsqlite3-dev sqlite3
  libzmq3-dev libsodium-dev libsystemd-dev libmicrohttpd-dev libcrypt-dev
  libxml2-dev libxml2-utils
  # hypervisor
  libvirt-dev libvirt-daemon-system libvirt-clients qemu-system-x86 qemu-utils qemu-guest-agent
  # netfilter
  libnftnl-dev libmnl-dev libnftables-dev nftables libnl-3-dev libnl-route-3-dev
  libnetfilter-conntrack-dev conntrack iproute2 iputils-ping netcat-openbsd socat procps
  # guest
  libguestfs-dev libguestfs-tools linux-image-amd64 supermin libisofs-dev xorriso
  genisoimage e2fsprogs busybox-static cpio cloud-init
  # tests, fuzzing, tooling
  python3-zmq python3-prometheus-client clang clang-format-14 libclang-rt-14-dev valgrind scdoc rpm rpmlint file
  # the OpenStack clients the compat suite drives, unmodified
  python3-openstackclient python3-novaclient python3-openstacksdk
)
for arg in "$@"; do
  case "$arg" in
  --bench) pkgs+=(python3-nova gunicorn python3-neutron ipset iptables) ;;
  --dashboard) pkgs+=(openstack-dashboard gunicorn python3-whitenoise chromium chromium-driver python3-selenium novnc) ;;
  *) echo "deps.sh: unknown option $arg (--bench, --dashboard)" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "deps.sh: need root to install: ${missing[*]}" >&2
  exit 1
fi
echo "deps.sh: installing ${#missing[@]} packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# Daemons are started by the tests that need them; do not let postinst scripts start them.
policy=/usr/sbin/policy-rc.d
own_policy=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' >"$policy"; chmod +x "$policy"; own_policy=1
fi
trap '[ $own_policy = 1 ] && rm -f "$policy"' EXIT
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "deps.sh: done"
