#!/usr/bin/env bash
# API load on loopback: builds stellaops and bench/cmd/apiload, starts `stellaops serve --dev` in a
# scratch data directory and runs these modes of apiload (MODES picks some), each bounded in time:
#   ratelimit  one token at RATE_RPS for RATE_SECS on GET /api/v1/quota: 200s and 429s per second;
#   latency    GET /api/v1/quota (token check, revocation list, rate limit, quota) at LOAD_RPS over
#              LOAD_CLIENTS token holders for LOAD_SECS, RUNS runs after a 3 s warm-up;
#   rescan     one cold scan of testdata's alpine archive (POST /scan), then warm re-scans (layer
#              cached) at RESCAN_RPS for RESCAN_SECS;
#   layers     POST /layers/missing, 100 digests of which 50 are cached by a scan, at LAYERS_RPS over
#              LAYERS_CLIENTS holders for LAYERS_SECS, RUNS runs after a 3 s warm-up;
#   scan-sbom  POST /scan?sbom-only=true of the postgres-stretch SBOM at SBOM_RPS for SBOM_SECS;
#   runtime    POST /api/v1/runtime/events, 256-event batches from RUNTIME_SENDERS closed-loop
#              senders for RUNTIME_SECS: accepted events per second.
# Open loop except runtime: latency runs from each request's scheduled send time. Every answer is
# checked. Prints markdown for docs/benchmarks.md, with the load average before each mode.
set -euo pipefail
if [[ "${1:-}" == "--help" || "${1:-}" == "-h" ]]; then
  sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'
  echo "Env: MODES (all) PORT (18777) RUNS (3) LOAD_RPS (1000) LOAD_SECS (10) LOAD_CLIENTS (30) RATE_RPS (100)"
  echo "     RATE_SECS (5) LAYERS_RPS (1000) LAYERS_SECS (10) LAYERS_CLIENTS (40) SBOM_RPS (20) SBOM_SECS (10)"
  echo "     RESCAN_RPS (5) RESCAN_SECS (10) RUNTIME_SECS (10) RUNTIME_SENDERS (4) SERVER_GOGC LOAD_GOGC (100)"
  echo "     Server settings (product defaults): SCAN_UPLOADS (2) RUNTIME_TENANT_RATE (200) RUNTIME_TENANT_BURST (200)"
  echo "     RUNTIME_NODE_RATE (50) RUNTIME_NODE_BURST (200); any other STELLAOPS_* variable reaches the server too."
  echo "     PG_DSN, REDIS_ADDR: run the server in scale mode on them (a fresh schema, a fresh Redis prefix)"
  echo "     instead of serve --dev."
  exit 0
fi
cd "$(dirname "$0")/.."
export GOTOOLCHAIN=local
PORT=${PORT:-18777} RUNS=${RUNS:-3}
MODES=${MODES:-ratelimit latency rescan layers scan-sbom runtime}
LOAD_RPS=${LOAD_RPS:-1000} LOAD_SECS=${LOAD_SECS:-10} LOAD_CLIENTS=${LOAD_CLIENTS:-30}
RATE_RPS=${RATE_RPS:-100} RATE_SECS=${RATE_SECS:-5}
LAYERS_RPS=${LAYERS_RPS:-1000} LAYERS_SECS=${LAYERS_SECS:-10} LAYERS_CLIENTS=${LAYERS_CLIENTS:-40}
SBOM_RPS=${SBOM_RPS:-20} SBOM_SECS=${SBOM_SECS:-10}
RESCAN_RPS=${RESCAN_RPS:-5} RESCAN_SECS=${RESCAN_SECS:-10}
RUNTIME_SECS=${RUNTIME_SECS:-10} RUNTIME_SENDERS=${RUNTIME_SENDERS:-4}
work=$(mktemp -d)
pid=
trap '[[ -n $pid ]] && { kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; }; rm -rf "$work"' EXIT
CGO_ENABLED=0 go build -trimpath -o "$work/bin/" ./cmd/stellaops ./bench/cmd/apiload
# The server's scan and runtime settings, at the product defaults unless overridden.
STELLAOPS_SCANNER__UPLOADS=${SCAN_UPLOADS:-2} \
  STELLAOPS_RUNTIME__PERTENANTEVENTSPERSECOND=${RUNTIME_TENANT_RATE:-200} STELLAOPS_RUNTIME__PERTENANTBURST=${RUNTIME_TENANT_BURST:-200} \
  STELLAOPS_RUNTIME__PERNODEEVENTSPERSECOND=${RUNTIME_NODE_RATE:-50} STELLAOPS_RUNTIME__PERNODEBURST=${RUNTIME_NODE_BURST:-200} \
# Scale mode (PG_DSN): a schema of its own, dropped at exit; the bootstrap key and issuer that
# --dev would have made.
mode=(--dev)
if [[ -n ${PG_DSN:-} ]]; then
  schema="bench_$(date +%s)_$$"
  psql -q "$PG_DSN" -c "CREATE SCHEMA $schema"
  trap '[[ -n $pid ]] && { kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; }; psql -q "$PG_DSN" -c "DROP SCHEMA $schema CASCADE" >/dev/null 2>&1; redis-cli -h "${REDIS_ADDR%:*}" -p "${REDIS_ADDR##*:}" --scan --pattern "*$schema*" | xargs -r redis-cli -h "${REDIS_ADDR%:*}" -p "${REDIS_ADDR##*:}" del >/dev/null; rm -rf "$work"' EXIT
  sep='?'; [[ $PG_DSN == *\?* ]] && sep='&'
  export STELLAOPS_STORAGE__DRIVER=postgres STELLAOPS_STORAGE__DSN="${PG_DSN}${sep}search_path=$schema"
  export STELLAOPS_REDIS__ADDR=${REDIS_ADDR:?REDIS_ADDR is needed with PG_DSN} STELLAOPS_REDIS__PREFIX=$schema
  export STELLAOPS_AUTHORITY__BOOTSTRAPKEY="bench-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
  export STELLAOPS_AUTHORITY__ISSUER="http://127.0.0.1:$PORT"
  mode=()
fi
  GOGC=${SERVER_GOGC:-100} "$work/bin/stellaops" serve "${mode[@]}" --data "$work/data" --listen "127.0.0.1:$PORT" >"$work/serve.out" 2>"$work/serve.err" &
pid=$!
for _ in $(seq 1 120); do
  curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1 && break
  sleep 0.5
done
curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null || { cat "$work/serve.err"; exit 1; }
if [[ -n ${PG_DSN:-} ]]; then
  key=$STELLAOPS_AUTHORITY__BOOTSTRAPKEY
  echo "_Scale mode: PostgreSQL schema $schema, Redis $REDIS_ADDR._"
else
  key=$(python3 -c "import json,sys;print(json.load(open(sys.argv[1]))['bootstrapKey'])" "$work/data/dev-credentials.json")
fi
load() { cut -d' ' -f1-3 /proc/loadavg; }
# apiload ARGS…: one run; a failure is reported in the output and the next mode still runs.
apiload() {
  GOGC=${LOAD_GOGC:-100} "$work/bin/apiload" -server "http://127.0.0.1:$PORT" -bootstrap-key "$key" "$@" 2>"$work/apiload.err" ||
    echo "**apiload $* failed:** $(tr '\n' ' ' <"$work/apiload.err")"
}
# multi NAME ARGS…: RUNS runs of one mode as one table (a run column), then each run's
# server-side line.
multi() {
  local name=$1
  shift
  for i in $(seq 1 "$RUNS"); do apiload "$@" >"$work/$name.$i"; done
  cat "$work/$name".* | grep -m1 '^`' || true
  echo
  cat "$work/$name".* | grep -m2 '^|' | sed '1s/^|/| run |/; 2s/^|/|---:|/' || true
  for i in $(seq 1 "$RUNS"); do grep '^| [0-9]' "$work/$name.$i" | sed "s/^|/| $i |/" || true; done
  echo
  for i in $(seq 1 "$RUNS"); do
    grep -h '^server-side\|^first\|^\*\*apiload' "$work/$name.$i" | sed "s/^/- run $i: /" || true
  done
}
has() { [[ " $MODES " == *" $1 "* ]]; }
echo "### API load ($(nproc) cores, $(date -u +%F), loopback, server and load generator on one machine; load average $(load))"
if has ratelimit; then
  echo
  echo "#### Rate limit (_load $(load)_)"
  echo
  apiload -mode ratelimit -rps "$RATE_RPS" -duration "${RATE_SECS}s" | sed 's/^/    /'
fi
if has latency; then
  echo
  echo "#### \`GET /api/v1/quota\` (_load $(load)_)"
  echo
  # Warm-up, not reported: connections, server heap, first-use initialisation.
  apiload -rps "$LOAD_RPS" -duration 3s -clients "$LOAD_CLIENTS" >/dev/null
  multi latency -rps "$LOAD_RPS" -duration "${LOAD_SECS}s" -clients "$LOAD_CLIENTS"
fi
# Before layers: its image holds the alpine layer, whose first scan here must be cold.
if has rescan; then
  echo
  echo "#### Warm image re-scan (_load $(load)_)"
  echo
  apiload -mode rescan -rps "$RESCAN_RPS" -duration "${RESCAN_SECS}s"
fi
if has layers; then
  echo
  echo "#### \`POST /layers/missing\` (_load $(load)_)"
  echo
  apiload -mode layers -rps "$LAYERS_RPS" -duration 3s -clients "$LAYERS_CLIENTS" >/dev/null
  multi layers -mode layers -rps "$LAYERS_RPS" -duration "${LAYERS_SECS}s" -clients "$LAYERS_CLIENTS"
fi
if has scan-sbom; then
  echo
  echo "#### SBOM-only scan (_load $(load)_)"
  echo
  apiload -mode scan-sbom -rps "$SBOM_RPS" -duration "${SBOM_SECS}s"
fi
if has runtime; then
  echo
  echo "#### Runtime event ingestion (_load $(load)_)"
  echo
  apiload -mode runtime -senders "$RUNTIME_SENDERS" -duration "${RUNTIME_SECS}s"
fi
echo
echo "_Load average at the end: $(load)._"
