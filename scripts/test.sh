#!/usr/bin/env bash
# Set up whatever is missing, then run the whole test suite (unit, service, agents, cluster).
# Extra arguments go to pytest, e.g. `bash scripts/test.sh -k worker`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
printf '\n==> ruff\n'
.venv/bin/ruff check .
printf '\n==> pytest\n'
exec .venv/bin/python -m pytest "$@"
