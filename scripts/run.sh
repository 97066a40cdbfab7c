#!/usr/bin/env bash
# Start the Huey worker and the product (production build, one port), print where to go.
set -euo pipefail
cd "$(dirname "$0")/.."

port="$(.venv/bin/python -c 'from membook_app.settings import get_settings; print(get_settings().port)')"
base_url="$(.venv/bin/python -c 'from membook_app.settings import get_settings; print(get_settings().base_url)')"
mkdir -p var/log

.venv/bin/membook worker >var/log/worker.log 2>&1 &
pids=($!)
# The local Paytrail sandbox stands in for Paytrail on the embedded default.
if [[ "$(.venv/bin/python -c 'from membook_app.settings import get_settings; print(get_settings().paytrail_base_url)')" == "http://127.0.0.1:8765" ]]; then
  .venv/bin/python -m membook_app.payments.sandbox --port 8765 --base-url http://127.0.0.1:8765 \
    >var/log/paytrail-sandbox.log 2>&1 &
  pids+=($!)
fi
trap 'kill "${pids[@]}" 2>/dev/null || true' EXIT INT TERM

(
  for _ in $(seq 1 600); do
    if curl -fsS "http://127.0.0.1:${port}/api/health" >/dev/null 2>&1; then
      echo
      echo "Membook on käynnissä / is running: ${base_url}"
      .venv/bin/membook demo-logins
      echo "Lokit / logs: var/log/ (Ctrl-C pysäyttää / stops)"
      exit 0
    fi
    sleep 1
  done
  echo "Membook did not answer on port ${port}" >&2
) &
pids+=($!)

.venv/bin/reflex run --env prod --single-port --frontend-port "${port}" --backend-port "${port}"
