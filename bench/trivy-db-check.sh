#!/usr/bin/env bash
# Usage: bench/trivy-db-check.sh [--out DIR] [INPUT...]
#
# Does stock Trivy read the Trivy DB that Concelier exports, and does it find what our own engine
# finds on the same data? The script
#   1. ingests the corpora's five OSV archives (and the Alpine secdb samples) into a fresh data
#      directory with `stellaops concelier run`, merges them and exports `export:trivy-db`;
#   2. drops trivy.db + metadata.json into a fresh Trivy cache (`<cache>/db/`);
#   3. scans each INPUT (default: the postgres-stretch SBOM; CycloneDX XML is first rendered as our
#      CycloneDX JSON, which both tools then read; a .tar is an image, read with trivy image --input) with
#        trivy sbom --cache-dir C --skip-db-update --skip-java-db-update --offline-scan --format json
#      and with `stellaops-cli scan run --data D --format json`;
#   4. compares the (vulnerability, package, version) sets — a vulnerability is the same when Trivy's
#      ID is our ID or one of our aliases — and prints the differences. Exit 1 when they differ.
#
# Needs: trivy v0.65.0 (bench/peers.sh trivy), go, python3, the shared corpora.
# Env: STELLAOPS_BENCH_CACHE (~/.cache/stellaops-bench), STELLAOPS_CORPORA (<repo>/../shared/corpora).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
REPO="$(cd "$HERE/.." && pwd)"
CACHE="${STELLAOPS_BENCH_CACHE:-$HOME/.cache/stellaops-bench}"
CORPORA="${STELLAOPS_CORPORA:-$REPO/../shared/corpora}"
TRIVY="${TRIVY:-$CACHE/bin/trivy}"
OUT="$CACHE/runs/trivy-db-check-$(date -u +%Y%m%dT%H%M%SZ)"
if [[ "${1:-}" == "--out" ]]; then OUT="$2"; shift 2; fi
if [[ "${1:-}" == "-h" || "${1:-}" == "--help" ]]; then sed -n '2,19p' "$0"; exit 0; fi
INPUTS=("$@")
[[ ${#INPUTS[@]} -gt 0 ]] || INPUTS=("$CORPORA/sbom/osv-scanner/postgres-stretch.cdx.xml")
[[ -x "$TRIVY" ]] || { echo "trivy not found at $TRIVY (bench/peers.sh trivy)" >&2; exit 2; }
export GOTOOLCHAIN=local
log() { printf '[trivy-db-check] %s\n' "$*" >&2; }

mkdir -p "$OUT"
log "building stellaops and stellaops-cli"
(cd "$REPO" && CGO_ENABLED=0 go build -o "$OUT/bin/" ./cmd/stellaops ./cmd/stellaops-cli)
D="$OUT/data"
run() { "$OUT/bin/stellaops" concelier run "$@" --data "$D" >>"$OUT/concelier.log"; }
log "ingesting the corpora (osv, alpine secdb) into $D"
for stage in fetch parse map; do
  run "source:osv:$stage" --mirror "$CORPORA/osv"
  run "source:alpine:$stage" --mirror "$CORPORA/distro/alpine-secdb"
done
run merge:reconcile
run export:trivy-db --output "$OUT/trivy-db"
mkdir -p "$OUT/trivy-cache/db"
cp "$OUT/trivy-db/trivy.db" "$OUT/trivy-db/metadata.json" "$OUT/trivy-cache/db/"
log "Trivy: $("$TRIVY" --version | head -n1)"

status=0
for in in "${INPUTS[@]}"; do
  name="$(basename "$in")"
  src="$in"
  if [[ "$in" == *.gz ]]; then src="$OUT/${name%.gz}"; gunzip -c "$in" >"$src"; name="${name%.gz}"; fi
  if [[ "$name" == *.xml ]]; then # Trivy reads CycloneDX JSON, not XML: both tools get our JSON rendering
    "$OUT/bin/stellaops-cli" sbom generate "$src" --format cyclonedx-json --output "$OUT/${name%.xml}.json" --data "$D"
    src="$OUT/${name%.xml}.json"; name="${name%.xml}.json"
  fi
  log "scanning $name"
  kind=sbom; target=("$src")
  if [[ "$name" == *.tar ]]; then kind=image; target=(--input "$src"); fi # image tarballs: trivy image --input
  "$TRIVY" "$kind" --cache-dir "$OUT/trivy-cache" --skip-db-update --skip-java-db-update --offline-scan \
    --scanners vuln --format json --output "$OUT/$name.trivy.json" "${target[@]}" 2>"$OUT/$name.trivy.log" || {
    echo "trivy failed on $name (see $OUT/$name.trivy.log)" >&2; status=1; continue; }
  "$OUT/bin/stellaops-cli" scan run --data "$D" --target "$src" --format json --output "$OUT/$name.stellaops.json" \
    --results-dir "$OUT/results" 2>"$OUT/$name.stellaops.log"
  python3 - "$OUT/$name.trivy.json" "$OUT/$name.stellaops.json" "$name" <<'PY' || status=1
import json, sys
trivy, ours, name = json.load(open(sys.argv[1])), json.load(open(sys.argv[2])), sys.argv[3]
t = set()
for r in trivy.get("Results") or []:
    for v in r.get("Vulnerabilities") or []:
        t.add((v["PkgName"], v["InstalledVersion"], v["VulnerabilityID"]))
o, ids = set(), {}
for f in ours.get("findings") or []:
    c = f["component"]
    key = (c["name"], c["version"])
    names = [f["id"]] + (f.get("aliases") or [])
    hit = [n for n in names if key + (n,) in t]
    o.add(key + (hit[0] if hit else f["id"],))
only_t, only_o = sorted(t - o), sorted(o - t)
print(f"{name}: trivy {len(t)}, stellaops {len(o)}, only trivy {len(only_t)}, only stellaops {len(only_o)}")
for x in only_t: print("  only trivy:    ", *x)
for x in only_o: print("  only stellaops:", *x)
sys.exit(1 if only_t or only_o else 0)
PY
done
log "outputs in $OUT"
exit $status
