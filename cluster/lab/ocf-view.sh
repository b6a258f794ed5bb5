#!/bin/bash
# ocf-view.sh PROVIDERS_DIR [COMMAND...]
# In the current mount namespace (it must be a private one), lay PROVIDERS_DIR (holding e.g.
# fractal/api) over /usr/lib/ocf/resource.d, then exec COMMAND if one is given. Pacemaker's
# OCF path is compiled in, so this is how a test shows agents to Pacemaker, crmsh and
# ocf-tester without installing into the host's /usr/lib/ocf, which other runs share.
set -euo pipefail
providers=${1:?usage: ocf-view.sh PROVIDERS_DIR [COMMAND...]}
shift
if [[ $providers != /* || $providers == *[,:]* ]]; then  # ',' and ':' split overlay options
  echo "ocf-view.sh: PROVIDERS_DIR must be an absolute path without ',' or ':'" >&2
  exit 2
fi
# Read-only overlay (no upper layer): the first lower layer wins, the host's agents show through.
mount -t overlay ocf-view -o "lowerdir=$providers:/usr/lib/ocf/resource.d" /usr/lib/ocf/resource.d
if (($#)); then exec "$@"; fi
