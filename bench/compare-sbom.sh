#!/usr/bin/env bash
# bench/compare-sbom.sh — time SBOM generation (cold inventory) side by side with peers.
#
# Usage: bench/compare-sbom.sh [-n RUNS] [--tools LIST] [--out FILE.md] IMAGE_TAR
#
# IMAGE_TAR is a docker-archive (`docker save` format) tarball, e.g. one made by
# bench/build-debian-image.sh. For each command it does RUNS measured runs (default 5; the
# median is reported) and records wall time (date +%s%N around the run) and peak RSS
# (/usr/bin/time -f %M). Rows:
#   decompress  the floor: every layer gunzipped to io.Discard (compress/gzip and klauspost),
#               and the same with an archive/tar walk of every entry (bench/cmd/decompress)
#   trivy       trivy image --input … --format cyclonedx (SBOM, license scanner only, no DB);
#               cold = empty --cache-dir every run; warm = same cache dir as the previous run
#   trivy-npm   the same with the older prebuilt trivy from npm (only if asked for in --tools,
#               or automatically when the v0.65.0 build is missing)
#   osv         osv-scanner scan image --archive … --all-packages, offline, against a local DB
#               holding empty Debian zips (so it is in effect inventory only)
#   stellaops   stellaops-cli sbom generate … (cold: empty --data dir; warm: second run on it);
#               skipped with a message while $STELLAOPS_CLI does not exist
# Default --tools: decompress,trivy,osv,stellaops.
# The OS page cache is warm for every row (one unmeasured read of the image first): "cold" means
# no scanner-side cache, not a cold disk.
#
# Output: a markdown section (machine, table, exact commands) on stdout, also saved to --out
# (default $STELLAOPS_BENCH_CACHE/runs/<image>-<time>.md); per-run raw data beside it (.tsv).
# Env: STELLAOPS_BENCH_CACHE (~/.cache/stellaops-bench), STELLAOPS_BENCH_BIN ($CACHE/bin, see
#      bench/peers.sh), STELLAOPS_CLI (default <repo>/bin/stellaops-cli), BENCH_RUNS,
#      BENCH_NICE (default -20 as root, else 0; 0 turns it off): the script re-runs itself in a new
#      session (setsid) and gives that session's scheduler autogroup this nice value, and runs the
#      measured commands under `nice -n BENCH_NICE`. With kernel autogroups a plain `nice` only
#      ranks processes within one session, so this is what shields the runs from other jobs on a
#      shared machine. It is noted in the report.
# Needs: go, /usr/bin/time (apt-get install time), python3, the peers from bench/peers.sh.
set -euo pipefail

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }

if [[ "$(id -u)" -eq 0 ]]; then NICE="${BENCH_NICE:--20}"; else NICE="${BENCH_NICE:-0}"; fi
[[ "$NICE" =~ ^-?[0-9]+$ ]] || { echo "BENCH_NICE must be an integer" >&2; exit 2; }
AUTOGROUP=""
if [[ "$NICE" != 0 && "$(cat /proc/sys/kernel/sched_autogroup_enabled 2>/dev/null || echo 0)" == 1 ]]; then
  if [[ -z "${_COMPARE_SBOM_SESSION:-}" ]] && command -v setsid >/dev/null; then
    export _COMPARE_SBOM_SESSION=1
    exec setsid -w "$0" "$@"
  fi
  if echo "$NICE" 2>/dev/null >"/proc/$$/autogroup"; then AUTOGROUP="$(cat "/proc/$$/autogroup")"; fi
fi

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/.." && pwd)"
CACHE="${STELLAOPS_BENCH_CACHE:-$HOME/.cache/stellaops-bench}"
BIN="${STELLAOPS_BENCH_BIN:-$CACHE/bin}"
CLI="${STELLAOPS_CLI:-$REPO/bin/stellaops-cli}"
RUNS="${BENCH_RUNS:-5}"
NICE_CMD=()
[[ "$NICE" != 0 ]] && NICE_CMD=(nice -n "$NICE")
TOOLS="decompress,trivy,osv,stellaops"
OUT=""

while [[ $# -gt 0 ]]; do
  case "$1" in
    -n) RUNS="$2"; shift 2 ;;
    --tools) TOOLS="$2"; shift 2 ;;
    --out) OUT="$2"; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    -*) echo "unknown option: $1" >&2; usage >&2; exit 2 ;;
    *) break ;;
  esac
done
[[ $# -eq 1 ]] || { usage >&2; exit 2; }
[[ "$RUNS" =~ ^[1-9][0-9]*$ ]] || { echo "-n must be a positive integer" >&2; exit 2; }
IMG="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
[[ -f "$IMG" ]] || { echo "not a file: $IMG (a docker-archive tarball is needed)" >&2; exit 2; }
[[ -x /usr/bin/time ]] || { echo "/usr/bin/time missing: apt-get install time" >&2; exit 1; }

log() { printf '[compare-sbom] %s\n' "$*" >&2; }
want() { [[ ",$TOOLS," == *",$1,"* ]]; }

STAMP="$(date -u +%Y%m%dT%H%M%SZ)"
LOAD0="$(cut -d' ' -f1-3 /proc/loadavg)"
IMGNAME="$(basename "$IMG" .tar)"
RUNDIR="$CACHE/runs/$IMGNAME-$STAMP"
mkdir -p "$RUNDIR"
OUT="${OUT:-$CACHE/runs/$IMGNAME-$STAMP.md}"
TSV="${OUT%.md}.tsv"
printf 'row\trun\twall_s\tmaxrss_kb\texit\tuser_s\tsys_s\n' >"$TSV"

# ---- rows -------------------------------------------------------------------------------
# Each row: label, tool, mode, the exact command (for the doc), accepted exit codes, a prepare
# function run before every measured run, and an optional package counter for the output file.
declare -a R_LABEL=() R_CMD=() R_OK=() R_PREP=() R_COUNT=() R_OUTF=() R_WARMUP=()
add_row() { # label ok-codes prep warmup(0/1) count-fn outfile -- cmd...
  local label="$1" ok="$2" prep="$3" warm="$4" count="$5" outf="$6"; shift 7
  R_LABEL+=("$label"); R_OK+=("$ok"); R_PREP+=("$prep"); R_WARMUP+=("$warm"); R_COUNT+=("$count"); R_OUTF+=("$outf")
  R_CMD+=("$(printf '%q ' "$@")")
}
prep_none() { :; }

if want decompress; then
  DEC="$("$HERE/decompress-baseline" --build)"
  for mode in raw tar; do
    for gz in std klauspost; do
      add_row "decompress $gz $mode" 0 prep_none 0 "" "" -- "$DEC" -gzip "$gz" -mode "$mode" "$IMG"
    done
  done
  # The floor for a tool that reads layers concurrently: one goroutine per CPU.
  add_row "decompress klauspost tar -j$(nproc)" 0 prep_none 0 "" "" -- "$DEC" -gzip klauspost -mode tar -j "$(nproc)" "$IMG"
fi

count_cdx() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(sum(1 for c in d.get("components",[]) if c.get("type")!="operating-system"))' "$1"; }
count_osv() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(sum(len(r.get("packages",[])) for r in d.get("results",[])))' "$1"; }

trivy_rows() { # binary name
  local t="$BIN/$1" extra=()
  if [[ ! -x "$t" ]]; then log "skipping $1: $t missing (run bench/peers.sh)"; return; fi
  local help; help="$("$t" image --help 2>&1 || true)"
  [[ "$help" == *--skip-version-check* ]] && extra+=(--skip-version-check)
  [[ "$help" == *--disable-telemetry* ]] && extra+=(--disable-telemetry)
  local c="$RUNDIR/$1-cache" o="$RUNDIR/$1.cdx.json"
  # The Java DB cannot be downloaded here, and with --skip-java-db-update Trivy refuses to analyse
  # JARs without one ("cannot be specified on the first run"). Each cold run therefore starts from
  # an empty cache dir holding only an empty Java DB (schema 1): JARs are identified by their own
  # metadata only.
  eval "prep_${1//-/_}_cold() { rm -rf '$c'; mkdir -p '$c/java-db'; cp '$JAVADB'/* '$c/java-db/'; }"
  "prep_${1//-/_}_cold"
  add_row "$1 cold" 0 "prep_${1//-/_}_cold" 0 count_cdx "$o" -- "$t" image --input "$IMG" --cache-dir "$c" \
    --format cyclonedx --list-all-pkgs --offline-scan --skip-db-update --skip-java-db-update --scanners license \
    "${extra[@]}" --quiet --output "$o"
  add_row "$1 warm" 0 prep_none 1 count_cdx "$o" -- "$t" image --input "$IMG" --cache-dir "$c" \
    --format cyclonedx --list-all-pkgs --offline-scan --skip-db-update --skip-java-db-update --scanners license \
    "${extra[@]}" --quiet --output "$o"
}
JAVADB="$RUNDIR/trivy-empty-java-db"
mkdir -p "$JAVADB"
python3 - "$JAVADB" <<'PY'
import datetime, json, os, sqlite3, sys
d = sys.argv[1]
db = os.path.join(d, "trivy-java.db")
if os.path.exists(db):
    os.remove(db)
c = sqlite3.connect(db)
for stmt in (
    "CREATE TABLE artifacts(id INTEGER PRIMARY KEY, group_id TEXT, artifact_id TEXT)",
    "CREATE TABLE indices(artifact_id INTEGER, version TEXT, sha1 BLOB, archive_type TEXT, foreign key (artifact_id) references artifacts(id))",
    "CREATE UNIQUE INDEX artifacts_idx ON artifacts(artifact_id, group_id)",
    "CREATE INDEX indices_artifact_idx ON indices(artifact_id)",
    "CREATE UNIQUE INDEX indices_sha1_idx ON indices(sha1)",
):
    c.execute(stmt)
c.commit()
c.close()
now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
fmt = lambda t: t.isoformat().replace("+00:00", "Z")
with open(os.path.join(d, "metadata.json"), "w") as f:
    json.dump({"Version": 1, "NextUpdate": fmt(now + datetime.timedelta(days=3)), "UpdatedAt": fmt(now), "DownloadedAt": fmt(now)}, f)
PY
want trivy && trivy_rows trivy
if want trivy-npm || { want trivy && [[ ! -x "$BIN/trivy" ]]; }; then trivy_rows trivy-npm; fi

if want osv; then
  if [[ -x "$BIN/osv-scanner" ]]; then
    # Offline DB: empty zips for the OS ecosystems (inventory only) plus the shared corpora's
    # zips where they exist (copied, not symlinked; osv-scanner wants real files).
    OSVDB="$RUNDIR/osvdb"
    for eco in Debian Ubuntu Alpine AlmaLinux "Rocky Linux" "Red Hat" SUSE openSUSE Wolfi Chainguard \
      "Photon OS" Mageia Go PyPI npm Maven crates.io RubyGems NuGet Packagist Pub Hex CRAN; do
      mkdir -p "$OSVDB/osv-scanner/$eco"
      src="$REPO/../shared/corpora/osv/$eco/all.zip"
      if [[ -f "$src" ]]; then cp "$src" "$OSVDB/osv-scanner/$eco/all.zip"
      else python3 -c 'import zipfile,sys; zipfile.ZipFile(sys.argv[1],"w").close()' "$OSVDB/osv-scanner/$eco/all.zip"; fi
    done
    o="$RUNDIR/osv-scanner.json"
    add_row "osv-scanner" "0 1" prep_none 0 count_osv "$o" -- "$BIN/osv-scanner" scan image --archive "$IMG" \
      --offline-vulnerabilities --local-db-path "$OSVDB" --format json --all-packages --output-file "$o"
  else
    log "skipping osv-scanner: $BIN/osv-scanner missing (run bench/peers.sh)"
  fi
fi

STELLA_SKIPPED=""
if want stellaops; then
  if [[ -x "$CLI" ]]; then
    DATA="$RUNDIR/stellaops-data"
    o="$RUNDIR/stellaops.cdx.json"
    prep_stella_cold() { rm -rf "$DATA"; mkdir -p "$DATA"; }
    add_row "stellaops cold" 0 prep_stella_cold 0 "" "" -- "$CLI" sbom generate "$IMG" --format cyclonedx-json \
      --output /dev/null --data "$DATA"
    add_row "stellaops warm" 0 prep_none 1 "" "" -- "$CLI" sbom generate "$IMG" --format cyclonedx-json \
      --output /dev/null --data "$DATA"
    # One extra (unmeasured) run per row writes the SBOM to a file so its components can be counted.
    R_COUNT[-1]=count_cdx; R_OUTF[-1]="$o"; R_COUNT[-2]=count_cdx; R_OUTF[-2]="$o"
  else
    STELLA_SKIPPED="$CLI"
    log "skipping stellaops: $CLI does not exist yet (set STELLAOPS_CLI)"
  fi
fi

# ---- measuring ---------------------------------------------------------------------------
median() { sort -g | awk '{a[NR]=$1} END {if (NR==0) print "nan"; else if (NR%2) printf "%.3f\n", a[(NR+1)/2]; else printf "%.3f\n", (a[NR/2]+a[NR/2+1])/2}'; }

log "warming the page cache with one read of $IMG"
cat "$IMG" >/dev/null

declare -a M_WALL=() M_WMIN=() M_WMAX=() M_CPU=() M_RSS=() M_RMAX=() M_PKGS=() M_STATUS=()
for i in "${!R_LABEL[@]}"; do
  label="${R_LABEL[$i]}"; cmd="${R_CMD[$i]}"; prep="${R_PREP[$i]}"
  log "$label: $RUNS runs"
  if [[ "${R_WARMUP[$i]}" == 1 ]]; then bash -c "$cmd" >/dev/null 2>&1 || true; fi
  walls=() rsss=() cpus=() status=ok
  for ((r = 1; r <= RUNS; r++)); do
    "$prep"
    tf="$RUNDIR/time.$i.$r"
    t0=$(date +%s%N)
    set +e
    "${NICE_CMD[@]}" /usr/bin/time -f '%M %x %U %S' -o "$tf" bash -c "exec $cmd" >"$RUNDIR/stdout.$i" 2>"$RUNDIR/stderr.$i"
    rc=$?
    set -e
    t1=$(date +%s%N)
    wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.3f", (b-a)/1e9}')
    read -r rss _ usr sys < <(tail -n1 "$tf")
    printf '%s\t%d\t%s\t%s\t%s\t%s\t%s\n' "$label" "$r" "$wall" "$rss" "$rc" "$usr" "$sys" >>"$TSV"
    if [[ " ${R_OK[$i]} " != *" $rc "* ]]; then
      status="exit $rc"; log "$label run $r: exit $rc (see $RUNDIR/stderr.$i)"; break
    fi
    walls+=("$wall"); rsss+=("$rss"); cpus+=("$(awk -v u="$usr" -v s="$sys" 'BEGIN {print u+s}')")
  done
  M_STATUS+=("$status")
  if [[ ${#walls[@]} -eq 0 ]]; then
    M_WALL+=(–); M_WMIN+=(–); M_WMAX+=(–); M_CPU+=(–); M_RSS+=(""); M_RMAX+=(""); M_PKGS+=("")
    continue
  fi
  M_WALL+=("$(printf '%s\n' "${walls[@]}" | median)")
  M_WMIN+=("$(printf '%s\n' "${walls[@]}" | sort -g | head -n1)")
  M_WMAX+=("$(printf '%s\n' "${walls[@]}" | sort -g | tail -n1)")
  M_CPU+=("$(printf '%s\n' "${cpus[@]}" | median)")
  M_RSS+=("$(printf '%s\n' "${rsss[@]}" | median)")
  M_RMAX+=("$(printf '%s\n' "${rsss[@]}" | sort -g | tail -n1)")
  pk=""
  if [[ -n "${R_COUNT[$i]}" && -n "${R_OUTF[$i]}" ]]; then
    if [[ "$label" == stellaops* ]]; then
      bash -c "${cmd/--output \/dev\/null/--output ${R_OUTF[$i]}}" >/dev/null 2>&1 || true
    fi
    pk="$("${R_COUNT[$i]}" "${R_OUTF[$i]}" 2>/dev/null || true)"
  fi
  M_PKGS+=("$pk")
done

# ---- report ------------------------------------------------------------------------------
FLOOR="" PFLOOR=""
for i in "${!R_LABEL[@]}"; do
  [[ "${R_LABEL[$i]}" == "decompress klauspost raw" ]] && FLOOR="${M_WALL[$i]}"
  [[ "${R_LABEL[$i]}" == "decompress klauspost tar -j"* ]] && PFLOOR="${M_WALL[$i]}"
done
ratio() { if [[ -n "$2" && "$1" != nan && "$2" != nan && "$1" != – && "$2" != – ]]; then awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a/b}'; else echo "–"; fi; }
mib() { awk -v k="$1" 'BEGIN { if (k=="" || k=="nan") print "–"; else printf "%.0f", k/1024 }'; }

{
  echo "### Run $STAMP: \`$(basename "$IMG")\`"
  echo
  echo "Machine: $(nproc) CPUs, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)," \
    "$(awk '/MemTotal/ {printf "%.1f GiB RAM", $2/1048576}' /proc/meminfo), kernel $(uname -r)," \
    "$(go version 2>/dev/null | awk '{print $3}'); load average at start/end:" \
    "$LOAD0 / $(cut -d' ' -f1-3 /proc/loadavg) (shared machine: other jobs may run)."
  echo "Image: \`$IMG\`, $(du -b "$IMG" | cut -f1) bytes; $RUNS runs per row, median reported; page cache warm."
  if [[ "$NICE" != 0 ]]; then
    echo "Priority: measured commands ran under \`nice -n $NICE\`${AUTOGROUP:+ in their own session, scheduler autogroup \`$AUTOGROUP\`} (BENCH_NICE)."
  fi
  echo
  echo "| # | Command | Median wall (s) | Wall min–max (s) | Median CPU user+sys (s) | Median peak RSS (MiB) | Max peak RSS (MiB) | × floor | × par. floor | Packages | Status |"
  echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"
  for i in "${!R_LABEL[@]}"; do
    printf '| %d | %s | %s | %s–%s | %s | %s | %s | %s | %s | %s | %s |\n' "$((i + 1))" "${R_LABEL[$i]}" "${M_WALL[$i]}" \
      "${M_WMIN[$i]}" "${M_WMAX[$i]}" "${M_CPU[$i]}" "$(mib "${M_RSS[$i]}")" "$(mib "${M_RMAX[$i]}")" \
      "$(ratio "${M_WALL[$i]}" "$FLOOR")" "$(ratio "${M_WALL[$i]}" "$PFLOOR")" "${M_PKGS[$i]:-–}" "${M_STATUS[$i]}"
  done
  if [[ -n "$STELLA_SKIPPED" ]]; then
    echo "| – | stellaops cold | TODO | | | | | | | | skipped: \`$STELLA_SKIPPED\` not built yet |"
    echo "| – | stellaops warm | TODO | | | | | | | | skipped: \`$STELLA_SKIPPED\` not built yet |"
  fi
  echo
  echo "× floor = median wall / median wall of \`decompress klauspost raw\` (plain single-threaded gunzip of every layer);"
  echo "× par. floor = the same against \`decompress klauspost tar -j$(nproc)\` (layers gunzipped and tar-walked concurrently)."
  echo "Packages = components in the tool's output (CycloneDX components other than the OS; osv-scanner packages)."
  echo
  echo "Commands (paths as on the measuring machine):"
  echo
  for i in "${!R_LABEL[@]}"; do
    printf "%d. \`%s\`\n" "$((i + 1))" "${R_CMD[$i]% }"
  done
} | tee "$OUT"
log "report: $OUT; raw runs: $TSV; work files: $RUNDIR"
