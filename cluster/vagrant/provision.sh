#!/bin/bash
# Provision one node (as root, no network needed beyond the cluster's own):
#   provision.sh NAME join|configure PRIVATE_ADDRESS PREFIXLEN
# Sets the hostname and the private (ring0) address; the shared data directory, corosync.conf
# + authkey from the stage (the product, agents included, is the box's fractal-ha package);
# starts Corosync and Pacemaker (enabled at boot, so a crashed VM rejoins when started).
# "configure" (the last node) waits for every node, then loads the service's crmsh configuration.
set -euo pipefail
name=$1 role=$2 address=$3 prefixlen=$4
files=/tmp/fractal-ha
t0=$SECONDS
say() { printf '[%s %3ds] %s\n' "$name" $((SECONDS - t0)) "$*"; }

# Hostname and the private address here rather than by Vagrant (vm.hostname, auto_config):
# Vagrant's way is a dozen ssh round trips, ~1 min per VM under emulation.
echo "$name" >/etc/hostname
hostname "$name"
sed -i "s/^127\.0\.1\.1 .*/127.0.1.1 $name/" /etc/hosts
printf '[Match]\nName=eth1\n[Network]\nAddress=%s/%s\n' "$address" "$prefixlen" \
  >/etc/systemd/network/50-private.network
networkctl reload
for _ in $(seq 60); do ip -br addr show eth1 | grep -q "$address/" && break; sleep 1; done

# The product is the box's fractal-ha package (cluster/package.py), as on an operator's node.
[[ -x /usr/lib/ocf/resource.d/fractal/api ]] || { say "the box lacks the fractal-ha package"; exit 1; }
say "hostname, private address $address; $(dpkg-query -W -f '${Package} ${Version}' fractal-ha)"

# The shared data directory: the host's directory through 9p (the VM definition carries the
# device). cache=mmap: SQLite's WAL index is mmap-ed. Mounted before Pacemaker starts.
mkdir -p /srv/fractal
if ! grep -q '^fractal-shared ' /etc/fstab; then
  echo 'fractal-shared /srv/fractal 9p trans=virtio,version=9p2000.L,cache=mmap,msize=262144,nofail,x-systemd.before=pacemaker.service 0 0' >>/etc/fstab
fi
mountpoint -q /srv/fractal || mount /srv/fractal

# The host's cloud (fencing through its compute API): the member's clouds.yaml, as on the lab's
# nodes, and the relay from the endpoints' URLs on this VM's loopback to the host (a unit of
# the box, started once its configuration is here; before Pacemaker, which fences through it).
if [[ -f $files/clouds.yaml ]]; then
  install -D -m 600 "$files/clouds.yaml" /etc/openstack/clouds.yaml
  install -D -m 644 "$files/cloud-relay.env" /etc/fractal-ha/cloud-relay.env
  systemctl restart fractal-cloud-relay
  say "clouds.yaml and the relay to the host's cloud"
fi

# The API's bearer token (auth=token in fractal.crm): the same 0600 file on every node, before
# Pacemaker starts the service there. (Staged by driver.stage; a stage without it names no
# token_file either.)
if [[ -f $files/api-token ]]; then
  install -D -m 600 "$files/api-token" /etc/fractal/api-token
fi

mkdir -p /var/log/cluster  # corosync.conf's log file (the template's, shared with the lab)
install -m 644 "$files/corosync.conf" /etc/corosync/corosync.conf
install -m 400 "$files/authkey" /etc/corosync/authkey
# Enabled by hand: `systemctl enable` goes through the units' SysV scripts (update-rc.d), and
# the daemon reloads that sets off took 15 s each, 75 s in all, in a TCG guest.
for unit in corosync pacemaker; do
  ln -sf "/lib/systemd/system/$unit.service" \
    "/etc/systemd/system/multi-user.target.wants/$unit.service"
done
systemctl restart corosync
systemctl restart pacemaker
say "corosync and pacemaker started"

[[ $role == configure ]] || exit 0
# Every node online first, not just quorum: the configuration enables fencing, and Pacemaker
# fences a node it has never seen (startup-fencing) — a VM still provisioning would be
# powered off.
nodes=$(grep -c ring0_addr /etc/corosync/corosync.conf)
formed() {
  local xml
  xml=$(crm_mon -1 --output-as=xml 2>/dev/null) || return 1
  grep -q 'with_quorum="true"' <<<"$xml" && (( $(grep -c 'online="true"' <<<"$xml") >= nodes ))
}
for _ in $(seq 300); do formed && break; sleep 2; done
formed || { say "not all $nodes nodes online after 600 s"; crm_mon -1 || true; exit 1; }
if [[ -f $files/fractal-config.xml ]]; then
  # fractal.crm as translated by crmsh on the host (crmsh in a guest takes ~15 s or more)
  say "all nodes online; loading the service configuration (cibadmin)"
  cibadmin --modify --allow-create --scope configuration --xml-file "$files/fractal-config.xml"
else
  say "all nodes online; loading the service configuration (crmsh)"
  crm configure load update "$files/fractal.crm"
fi
say "configuration loaded"
