#!/usr/bin/env bash
# Usage: bench/trivy-db-size.sh [OSV_MIRROR]
#
# Our Trivy DB export beside what trivy-db's own builder stores for the same advisories. Takes the
# language ecosystems of an OSV mirror (<Ecosystem>/all.zip; default the corpora's Go, PyPI and
# crates.io), builds a Trivy DB from them with trivy-db's vulnsrc/osv + vulndb (bench/trivydb-build,
# its own module, pinned to the trivy-db Trivy v0.65.0 uses), compacts it as upstream's release does,
# and runs our chain (fetch, parse, map, merge, export:trivy-db) on the same zips. Prints file sizes,
# per-bucket entry counts and how many (ecosystem, package, ID) keys the two have in common.
# Env: STELLAOPS_BENCH_CACHE (~/.cache/stellaops-bench), STELLAOPS_CORPORA (<repo>/../shared/corpora).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
REPO="$(cd "$HERE/.." && pwd)"
CORPORA="${STELLAOPS_CORPORA:-$REPO/../shared/corpora}"
MIRROR="${1:-$CORPORA/osv}"
export GOTOOLCHAIN=local
if [[ "${1:-}" == "-h" || "${1:-}" == "--help" ]]; then sed -n '2,10p' "$0"; exit 0; fi
W="$(mktemp -d)"
trap 'rm -rf "$W"' EXIT
(cd "$HERE/trivydb-build" && GOFLAGS=-mod=mod go build -o "$W/trivydb-build" .)
(cd "$REPO" && CGO_ENABLED=0 go build -o "$W/" ./cmd/stellaops)

ecos=()
for eco in Go PyPI crates.io npm Maven RubyGems NuGet Packagist Hex Pub; do
  [[ -f "$MIRROR/$eco/all.zip" ]] || continue
  ecos+=("$eco")
  mkdir -p "$W/osv/$eco" "$W/mirror/$eco"
  unzip -q -o "$MIRROR/$eco/all.zip" -d "$W/osv/$eco"
  cp "$MIRROR/$eco/all.zip" "$W/mirror/$eco/"
done
echo "ecosystems: ${ecos[*]}"

start=$(date +%s.%N)
"$W/trivydb-build" build -root "$W/osv" -out "$W/theirs" "${ecos[@]}" 2>/dev/null
echo "trivy-db builder + compact: $(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN {printf "%.2f", e-s}') s"
mkdir -p "$W/theirs-db" && cp "$W/theirs/trivy-compact.db" "$W/theirs-db/trivy.db" && cp "$W/theirs/metadata.json" "$W/theirs-db/"
tar -C "$W/theirs-db" -czf "$W/theirs.tar.gz" metadata.json trivy.db

start=$(date +%s.%N)
for job in source:osv:fetch source:osv:parse source:osv:map merge:reconcile; do
  "$W/stellaops" concelier run "$job" --data "$W/data" --mirror "$W/mirror" >/dev/null
done
"$W/stellaops" concelier run export:trivy-db --data "$W/data" -o "$W/ours" >/dev/null
echo "stellaops chain + export: $(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN {printf "%.2f", e-s}') s"

echo
echo "| | trivy.db bytes | db.tar.gz bytes | vulnerability entries | advisory entries |"
echo "|---|---:|---:|---:|---:|"
for side in theirs ours; do
  db="$W/theirs-db/trivy.db"; tgz="$W/theirs.tar.gz"; label="trivy-db builder (compacted)"
  if [[ $side == ours ]]; then db="$W/ours/trivy.db"; tgz="$W/ours/db.tar.gz"; label="StellaOps export:trivy-db"; fi
  "$W/trivydb-build" count "$db" | python3 -c '
import json, sys
c = json.load(sys.stdin)
print("| %s | %d | %d | %d | %d |" % (sys.argv[1], c["bytes"], int(sys.argv[2]), c["vulnerabilities"], sum(c["entries"].values())))
' "$label" "$(stat -c %s "$tgz")"
  "$W/trivydb-build" keys "$db" | sort >"$W/$side.keys"
done
echo
echo "(ecosystem, package, ID) keys: $(comm -12 "$W/theirs.keys" "$W/ours.keys" | wc -l) in both," \
  "$(comm -23 "$W/theirs.keys" "$W/ours.keys" | wc -l) only in trivy-db's, $(comm -13 "$W/theirs.keys" "$W/ours.keys" | wc -l) only in ours"
