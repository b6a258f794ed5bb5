#!/usr/bin/env bash
# The main job: set up whatever is missing, bring up the three-node lab cluster (real Corosync
# and Pacemaker, one network namespace per node), create fractals through the service address,
# crash the node serving the API, and show the failover: outage measured, nothing lost.
# `bash scripts/demo.sh --keep` leaves the lab up (then: .venv/bin/fractal-ha lab status|down).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
printf '\n==> the lab: three cluster nodes, a failover\n'
exec .venv/bin/fractal-ha lab demo "$@"
