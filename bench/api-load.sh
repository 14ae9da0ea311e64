#!/usr/bin/env bash
# API load on loopback: builds stellaops and bench/cmd/apiload, starts `stellaops serve --dev` in a
# scratch data directory, then runs (1) the per-token rate limit check (one token at RATE_RPS for
# RATE_SECS) and (2) the latency run (LOAD_RPS spread over LOAD_CLIENTS token holders for
# LOAD_SECS, RUNS times) against GET /api/v1/quota, an authenticated route that checks the token,
# the revocation list, the rate limit and the quota. Prints markdown for docs/benchmarks.md.
set -euo pipefail
if [[ "${1:-}" == "--help" || "${1:-}" == "-h" ]]; then
  sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'
  echo "Env: PORT (18777) LOAD_RPS (1000) LOAD_SECS (10) LOAD_CLIENTS (30) RUNS (3) RATE_RPS (100) RATE_SECS (5) SERVER_GOGC LOAD_GOGC (100)"
  exit 0
fi
cd "$(dirname "$0")/.."
export GOTOOLCHAIN=local
PORT=${PORT:-18777}
LOAD_RPS=${LOAD_RPS:-1000} LOAD_SECS=${LOAD_SECS:-10} LOAD_CLIENTS=${LOAD_CLIENTS:-30} RUNS=${RUNS:-3}
RATE_RPS=${RATE_RPS:-100} RATE_SECS=${RATE_SECS:-5}
work=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT
CGO_ENABLED=0 go build -trimpath -o "$work/bin/" ./cmd/stellaops ./bench/cmd/apiload
GOGC=${SERVER_GOGC:-100} "$work/bin/stellaops" serve --dev --data "$work/data" --listen "127.0.0.1:$PORT" >"$work/serve.out" 2>"$work/serve.err" &
pid=$!
for _ in $(seq 1 120); do
  curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1 && break
  sleep 0.5
done
curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null || { cat "$work/serve.err"; exit 1; }
key=$(python3 -c "import json,sys;print(json.load(open(sys.argv[1]))['bootstrapKey'])" "$work/data/dev-credentials.json")
echo "### API load ($(nproc) cores, $(date -u +%F), loopback, server and load generator on one machine)"
echo
"$work/bin/apiload" -server "http://127.0.0.1:$PORT" -bootstrap-key "$key" -mode ratelimit -rps "$RATE_RPS" -duration "${RATE_SECS}s" | sed 's/^/    /'
echo
# Warm-up, not reported: connections, server heap, first-use initialisation.
GOGC=${LOAD_GOGC:-100} "$work/bin/apiload" -server "http://127.0.0.1:$PORT" -bootstrap-key "$key" -rps "$LOAD_RPS" -duration 3s -clients "$LOAD_CLIENTS" >/dev/null
for i in $(seq 1 "$RUNS"); do
  GOGC=${LOAD_GOGC:-100} "$work/bin/apiload" -server "http://127.0.0.1:$PORT" -bootstrap-key "$key" -rps "$LOAD_RPS" -duration "${LOAD_SECS}s" -clients "$LOAD_CLIENTS" | { [[ $i == 1 ]] && cat || grep -v '^|--\|^| target\|^$'; }
done
