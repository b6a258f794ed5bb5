#!/usr/bin/env bash
# The main job, for now: the Fractal API and two workers on this machine, a few fractals created
# and listed. `--serve` keeps everything running (open the printed URL) until Ctrl-C.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh

port=${FRACTAL_DEMO_PORT:-8080}
api=http://127.0.0.1:$port
work=$(mktemp -d /tmp/fractal-demo.XXXXXX)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  echo "stopped; logs and data in $work"
}
trap cleanup EXIT

printf '\n==> starting the API on %s (data in %s)\n' "$api" "$work"
.venv/bin/fractal-api --bind "127.0.0.1:$port" --data-dir "$work/data" >"$work/api.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do
  curl -fsS "$api/healthz" >/dev/null 2>&1 && break
  kill -0 "${pids[0]}" 2>/dev/null || { cat "$work/api.log"; exit 1; }
  sleep 0.1
done
for n in 1 2; do
  .venv/bin/fractal-worker --api "$api" --name "demo-worker-$n" \
    --heartbeat-file "$work/worker-$n.heartbeat" >"$work/worker-$n.log" 2>&1 &
  pids+=($!)
done

printf '\n==> creating 6 random fractals and waiting for the workers\n'
.venv/bin/fractal --api "$api" create --random --count 6 --wait
printf '\n==> fractal list\n'
.venv/bin/fractal --api "$api" list
if [[ ${1:-} == --serve ]]; then
  printf '\nOpen %s/ in a browser; Ctrl-C stops.\n' "$api"
  wait "${pids[0]}"
fi
