#!/usr/bin/env bash
# Usage: bench/concelier-scale.sh [MIRROR...]
#
# Concelier ingest + merge throughput at several sizes. For each OSV mirror (<Ecosystem>/all.zip;
# default: the corpora's 13,970 records and a 300,000-record synthetic mirror that
# `go run ./bench/cmd/genosv -n 300000` writes into $STELLAOPS_BENCH_CACHE/osv-300k), runs
# source:osv:fetch, :parse, :map and merge:reconcile into a fresh data directory (embedded SQLite)
# and prints each step's wall time, peak RSS and records/s, as a markdown table.
# Env: STELLAOPS_BENCH_CACHE (~/.cache/stellaops-bench), STELLAOPS_CORPORA (<repo>/../shared/corpora).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
REPO="$(cd "$HERE/.." && pwd)"
CACHE="${STELLAOPS_BENCH_CACHE:-$HOME/.cache/stellaops-bench}"
CORPORA="${STELLAOPS_CORPORA:-$REPO/../shared/corpora}"
export GOTOOLCHAIN=local
if [[ "${1:-}" == "-h" || "${1:-}" == "--help" ]]; then sed -n '2,10p' "$0"; exit 0; fi
MIRRORS=("$@")
if [[ ${#MIRRORS[@]} -eq 0 ]]; then
  [[ -d "$CACHE/osv-300k" ]] || (cd "$REPO" && go run ./bench/cmd/genosv -n 300000 -o "$CACHE/osv-300k")
  MIRRORS=("$CORPORA/osv" "$CACHE/osv-300k")
fi
BIN="$(mktemp -d)"
(cd "$REPO" && CGO_ENABLED=0 go build -o "$BIN/" ./cmd/stellaops)
echo "| Mirror | Records | Step | Wall (s) | Peak RSS (MiB) | Records/s |"
echo "|---|---:|---|---:|---:|---:|"
for m in "${MIRRORS[@]}"; do
  n=$(python3 -c "import zipfile,glob,sys; print(sum(sum(1 for f in zipfile.ZipFile(z).namelist() if f.endswith('.json')) for z in glob.glob(sys.argv[1]+'/*/all.zip')))" "$m")
  data="$(mktemp -d)"
  total=0
  for job in source:osv:fetch source:osv:parse source:osv:map merge:reconcile; do
    args=(concelier run "$job" --data "$data")
    [[ "$job" == source:* ]] && args+=(--mirror "$m")
    /usr/bin/time -f '%e %M' -o "$data/.time" "$BIN/stellaops" "${args[@]}" >/dev/null
    read -r wall rss <"$data/.time"
    total=$(awk -v a="$total" -v b="$wall" 'BEGIN {print a+b}')
    printf '| %s | %d | %s | %.2f | %.0f | %.0f |\n' "$(basename "$m")" "$n" "$job" "$wall" "$(awk -v k="$rss" 'BEGIN {print k/1024}')" "$(awk -v n="$n" -v w="$wall" 'BEGIN {print n/w}')"
  done
  printf '| %s | %d | **total** | %.2f | | %.0f |\n' "$(basename "$m")" "$n" "$total" "$(awk -v n="$n" -v w="$total" 'BEGIN {print n/w}')"
  rm -rf "$data"
done
rm -rf "$BIN"
