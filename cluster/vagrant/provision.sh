#!/bin/bash
# Provision one node (as root, no network needed beyond the cluster's own):
#   provision.sh NAME join|configure ADDRESS PREFIXLEN MAC TENANT_GATEWAY EXTERNAL_CIDR
# Sets the hostname and the service NIC (the VM's Neutron port: MAC, fixed IP ADDRESS, also
# Corosync's ring0; the cloud's external network through the router at TENANT_GATEWAY);
# corosync.conf + authkey, clouds.yaml and the relay to the host's cloud, the API's token from
# the stage (the product, agents included, is the box's fractal-ha package); starts Corosync and
# Pacemaker (enabled at boot, so a crashed VM rejoins when started). "configure" (the last
# node) waits for every node, then loads the service's configuration.
set -euo pipefail
name=$1 role=$2 address=$3 prefixlen=$4 mac=$5 gateway=$6 external=$7
files=/tmp/fractal-ha
t0=$SECONDS
# The stage's copy holds secrets (authkey, clouds.yaml, the API's token): private while it is
# read, gone once provisioning ends; each file is installed 0600/0400 where it belongs.
chmod -R go-rwx "$files"
trap 'rm -rf "$files"' EXIT
say() { printf '[%s %3ds] %s\n' "$name" $((SECONDS - t0)) "$*"; }

# Hostname and the port's address here rather than by Vagrant (vm.hostname, auto_config):
# Vagrant's way is a dozen ssh round trips, ~1 min per VM under emulation. The NIC is found by
# its port's MAC. Only the external network goes through the cloud's router (clients, the
# floating IP, as an instance's default route would); the default route stays on Vagrant's
# management network, where the VM reaches the host's cloud endpoints.
printf '%s\n' "$name" >/etc/hostname
hostname "$name"
sed -i "s/^127\.0\.1\.1 .*/127.0.1.1 $name/" /etc/hosts
printf '[Match]\nMACAddress=%s\n[Network]\nAddress=%s/%s\n[Route]\nDestination=%s\nGateway=%s\n' \
  "$mac" "$address" "$prefixlen" "$external" "$gateway" >/etc/systemd/network/50-port.network
networkctl reload
for _ in $(seq 60); do ip -br addr | grep -q " $address/" && break; sleep 1; done
ip -br addr | grep -q " $address/" || { say "no NIC took $address (MAC $mac)"; ip -br link; exit 1; }

# The product is the box's fractal-ha package (cluster/package.py), as on an operator's node.
[[ -x /usr/lib/ocf/resource.d/fractal/api ]] || { say "the box lacks the fractal-ha package"; exit 1; }
say "hostname, port $mac at $address; $(dpkg-query -W -f '${Package} ${Version}' fractal-ha)"

# The host's cloud (fencing through its compute API): the member's clouds.yaml, as on the lab's
# nodes, and the relay from the endpoints' URLs on this VM's loopback to the host (a unit of
# the box, started once its configuration is here; before Pacemaker, which fences through it).
install -D -m 600 "$files/clouds.yaml" /etc/openstack/clouds.yaml
install -D -m 644 "$files/cloud-relay.env" /etc/fractal-ha/cloud-relay.env
systemctl restart fractal-cloud-relay
say "clouds.yaml and the relay to the host's cloud"

# The API's bearer token (auth=token in fractal.crm): the same 0600 file on every node, before
# Pacemaker starts the service there.
install -D -m 600 "$files/api-token" /etc/fractal/api-token

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
