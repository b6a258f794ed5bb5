#!/bin/bash
# PID 1 of a lab node: runs inside `ip netns exec NS unshare --mount --uts --pid --fork
# --mount-proc`. Gives the node private state (bind mounts from $NODE_DIR), its hostname, fresh
# /run and /dev/shm, then starts its etcd member (if the lab gives it one), corosync and
# pacemakerd, and reaps orphans until killed.
# SIGKILL to this process kills every process of the node at once: a hard crash.
set -euo pipefail
: "${NODE_NAME:?}" "${NODE_DIR:?}"

mount --make-rprivate /
hostname "$NODE_NAME"
for dir in etc-corosync:/etc/corosync var-lib-pacemaker:/var/lib/pacemaker \
           var-lib-corosync:/var/lib/corosync var-log-cluster:/var/log/cluster \
           var-log-pacemaker:/var/log/pacemaker var-lib-fractal:/var/lib/fractal \
           var-log-fractal:/var/log/fractal var-lib-heartbeat:/var/lib/heartbeat; do
  src=$NODE_DIR/${dir%%:*} dst=${dir#*:}
  mkdir -p "$src" "$dst"
  mount --bind "$src" "$dst"
done
if [[ -n ${ETC_NET:-} ]]; then  # the lab's hosts file and a resolver that fails fast
  # (the host's DNS server is not reachable from the lab's networks: every lookup would
  # wait out its timeouts; fence_openstack looked up the node's own name for 10 s)
  for file in hosts resolv.conf; do mount --bind "$ETC_NET/$file" "/etc/$file"; done
fi
if [[ -n ${OPENSTACK_ETC:-} ]]; then  # clouds.yaml for the agents and fence_openstack
  mkdir -p /etc/openstack
  mount --bind "$OPENSTACK_ETC" /etc/openstack
fi
if [[ -n ${FRACTAL_ETC:-} ]]; then  # the API's bearer token (auth=token in fractal.crm)
  mkdir -p /etc/fractal
  mount --bind "$FRACTAL_ETC" /etc/fractal
fi
if [[ -n ${OCF_PROVIDERS:-} ]]; then  # agents for this node only (see ocf-view.sh)
  bash "$(dirname "${BASH_SOURCE[0]}")/ocf-view.sh" "$OCF_PROVIDERS"
fi
mount -t tmpfs -o mode=755 tmpfs /run
mount -t tmpfs -o mode=1777 tmpfs /dev/shm
mkdir -p /run/crm /run/resource-agents /var/lib/pacemaker/{cib,pengine,blackbox,cores}
chown -R hacluster:haclient /run/crm /var/lib/pacemaker /var/log/pacemaker
chmod 750 /run/crm

if [[ -n ${ETCD_DEFAULTS:-} ]]; then  # this node's etcd member, beside Pacemaker (not in it)
  mkdir -p "$NODE_DIR/var-lib-etcd"
  chmod 700 "$NODE_DIR/var-lib-etcd"
  mount --bind "$NODE_DIR/var-lib-etcd" /var/lib/etcd
  mount --bind "$ETCD_DEFAULTS" /etc/default/etcd
  bash "$(dirname "${BASH_SOURCE[0]}")/node-etcd.sh"
fi
corosync -f >>/var/log/cluster/corosync.out 2>&1 &
# pacemakerd needs corosync's IPC: wait until its CPG socket answers
for _ in $(seq 100); do corosync-cfgtool -s >/dev/null 2>&1 && break; sleep 0.1; done
PCMK_logfile=/var/log/pacemaker/pacemaker.log pacemakerd >>/var/log/pacemaker/pacemakerd.out 2>&1 &
echo ready > "$NODE_DIR/ready"

# PID 1 must reap orphans (daemons the agents start are reparented here).
trap 'exit 0' TERM INT
while true; do wait -n 2>/dev/null || sleep 1; done
