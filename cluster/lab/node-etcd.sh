#!/bin/bash
# Start this lab node's etcd member the way Debian's etcd.service does: the ETCD_* variables of
# /etc/default/etcd, then /usr/bin/etcd. Runs inside the node: from node-init.sh at boot, or
# through nsenter to start a stopped member again (the member keeps its data directory). It
# runs in the background, its pid in the node's /run/etcd.pid; a crash of the node (SIGKILL to
# its PID 1) takes it along with everything else.
set -euo pipefail
set -a
. /etc/default/etcd
set +a
# Output to a file, never to the caller's pipes: nsenter's caller would wait on them forever.
setsid /usr/bin/etcd </dev/null >>/var/log/cluster/etcd.log 2>&1 &
echo $! >/run/etcd.pid
