#!/usr/bin/env bash
# Idempotent set-up on Debian 12: Debian packages, then the project's virtualenv (.venv).
# Sourced or run by scripts/test.sh and scripts/demo.sh; safe to run again (skips what is there).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

APT_PACKAGES=(
  python3 python3-venv python3-dev gcc       # the virtualenv (a few wheels may compile)
  pacemaker corosync crmsh pacemaker-cli-utils resource-agents fence-agents  # the cluster
  iproute2 iptables procps psmisc util-linux curl  # namespaces, lab data plane, shell checks
  libxml2-utils                                 # xmllint: the agents' meta-data validated against ra-api-1.dtd
  wrk                                           # API benchmark
  python3-openstackclient python3-novaclient    # the stock agents and fence_openstack, compared/used
  prometheus                                    # promtool (rule tests, metrics lint), lab scrapes
  conntrack                                     # lab cloud data plane: flush a moved floating IP's flows
  booth booth-pacemaker                         # the two-site lab's ticket (sites and arbitrator)
  knot bind9-dnsutils                           # the two-site lab's DNS name (RFC 2136 + TSIG; nsupdate/dig for ocf:heartbeat:dnsupdate)
  etcd-server etcd-client                       # settings in etcd (fractal_service/settings/, tests -m etcd)
  chromium chromium-driver                      # the web page in a real browser (tests/browser, headless, selenium)
  lintian                                       # the .deb checked as Debian checks packages (tests/agents/test_deb_package.py)
  vagrant vagrant-libvirt libvirt-daemon-system qemu-system-x86 qemu-utils debootstrap dnsmasq-base fdisk e2fsprogs  # Vagrant cluster (tests/vagrant): VMs, box build
)

step() { printf '\n==> [%s] %s\n' "$1" "$2"; }

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  step 1/3 "installing Debian packages: ${missing[*]}"
  if [[ $EUID -ne 0 ]]; then
    echo "setup: installing packages needs root (try: sudo $0)" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
  # The Debian packages enable corosync/pacemaker on the host; the lab runs its own instances.
  systemctl disable --now pacemaker corosync >/dev/null 2>&1 || true
else
  step 1/3 "Debian packages: all present"
fi

# Debian's own interpreter, not a per-user one (pyenv under /root): the cluster runs agents as
# root, but ocf-tester also runs them as `nobody`, who must be able to start the interpreter.
PYTHON=${PYTHON:-/usr/bin/python3}
stamp=.venv/.installed-$(sha256sum pyproject.toml | cut -c1-16)
if [[ -f .venv/pyvenv.cfg ]] && ! grep -qx "home = $(dirname "$PYTHON")" .venv/pyvenv.cfg; then
  step 2/3 "recreating .venv: it was made by another interpreter than $PYTHON"
  rm -rf .venv
fi
if [[ ! -x .venv/bin/python ]]; then
  step 2/3 "creating the virtualenv .venv with $($PYTHON --version)"
  "$PYTHON" -m venv .venv
else
  step 2/3 "virtualenv .venv: present"
fi
# The lab (cluster/), benchmarks and tests are not in the package (it holds the product only):
# they run from this checkout, put on the virtualenv's path here, before pip replaces an older
# install that still held cluster/ (`python -m cluster.…` works from any directory).
echo "$PWD" > "$(.venv/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/fractal-ha-checkout.pth"
if [[ ! -f $stamp || ! -x .venv/bin/fractal-ha ]]; then  # (a half-removed install too)
  step 3/3 "installing fractal-ha and its dependencies into .venv"
  .venv/bin/python -m pip install --progress-bar on -q --upgrade pip
  .venv/bin/python -m pip install --progress-bar on -e '.[test,lab]'
  rm -f .venv/.installed-*
  touch "$stamp"
else
  step 3/3 "fractal-ha in .venv: up to date"
fi
