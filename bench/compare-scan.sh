#!/usr/bin/env bash
# Usage: bench/compare-scan.sh [-n RUNS] [--out FILE] INPUT
#
# Vulnerability scan of one input (an SBOM of any format osv-scanner reads, a dpkg status file, or a
# docker-archive image, .gz allowed) side by side: median wall time, CPU time and peak RSS of N runs
# (default 5) of
#   osv-scanner  the offline invocation of bench/osv-goldens.sh against the same DB (the corpora's
#                OSV zips plus empty zips, built fresh by `bench/osv-goldens.sh --db-only`):
#                osv-scanner scan source --offline-vulnerabilities --local-db-path DB -L <input> \
#                  --format json --all-packages --output-file <out>
#                (`scan image --archive` for an image; -L dpkg-status:/osv-scanner: prefixes as there).
#                The input is first gunzipped/renamed to osv-scanner's file-name convention (not
#                measured). Exit codes 0 and 1 (vulnerabilities found) are accepted.
#   stellaops    stellaops-cli scan run --runner self --target INPUT --format json --output /dev/null \
#                  --data DIR
#                after one unmeasured warm-up run, in which stellaops-cli imports its bundled advisory
#                snapshot into the empty DIR; the measured runs reuse DIR. Skipped with a message while
#                $STELLAOPS_CLI does not exist or has no `scan run`.
# When the host allows it (root), both rows run inside `unshare --net` (no network at all), as the
# goldens do; dpkg status inputs also get their os-release bind-mounted for osv-scanner.
# Findings/Packages come from osv-scanner's output file, and for stellaops from one extra unmeasured
# run written to a file (a top-level "findings" or "vulnerabilities" array is counted).
#
# Output: a markdown section (machine, table, exact commands) on stdout, also saved to --out
# (default $STELLAOPS_BENCH_CACHE/runs/scan-<input>-<time>.md), raw runs beside it (.tsv).
# Env: STELLAOPS_BENCH_CACHE (~/.cache/stellaops-bench), STELLAOPS_BENCH_BIN ($CACHE/bin),
#      STELLAOPS_CLI (default <repo>/bin/stellaops-cli), STELLAOPS_CORPORA (<repo>/../shared/corpora),
#      STELLAOPS_OK_CODES (exit codes accepted from stellaops, default "0"), BENCH_RUNS,
#      OSV_UNSHARE (1/0, default 1 where possible), BENCH_NICE (default -20 as root, else 0; 0 turns
#      it off; as in compare-sbom.sh the script re-runs itself in its own session and gives that
#      session's scheduler autogroup this nice value).
# Needs: /usr/bin/time (apt-get install time), python3, osv-scanner 2.4.0 (bench/peers.sh osv-scanner).
set -euo pipefail

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }

if [[ "$(id -u)" -eq 0 ]]; then NICE="${BENCH_NICE:--20}"; else NICE="${BENCH_NICE:-0}"; fi
[[ "$NICE" =~ ^-?[0-9]+$ ]] || { echo "BENCH_NICE must be an integer" >&2; exit 2; }
AUTOGROUP=""
if [[ "$NICE" != 0 && "$(cat /proc/sys/kernel/sched_autogroup_enabled 2>/dev/null || echo 0)" == 1 ]]; then
  if [[ -z "${_COMPARE_SCAN_SESSION:-}" ]] && command -v setsid >/dev/null; then
    export _COMPARE_SCAN_SESSION=1
    exec setsid -w "$0" "$@"
  fi
  if echo "$NICE" 2>/dev/null >"/proc/$$/autogroup"; then AUTOGROUP="$(cat "/proc/$$/autogroup")"; fi
fi

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/.." && pwd)"
CACHE="${STELLAOPS_BENCH_CACHE:-$HOME/.cache/stellaops-bench}"
BIN="${STELLAOPS_BENCH_BIN:-$CACHE/bin}"
CLI="${STELLAOPS_CLI:-$REPO/bin/stellaops-cli}"
CORPORA="${STELLAOPS_CORPORA:-$REPO/../shared/corpora}"
STELLA_OK="${STELLAOPS_OK_CODES:-0}"
RUNS="${BENCH_RUNS:-5}"
NICE_CMD=()
[[ "$NICE" != 0 ]] && NICE_CMD=(nice -n "$NICE")
OUT=""

while [[ $# -gt 0 ]]; do
  case "$1" in
    -n) RUNS="$2"; shift 2 ;;
    --out) OUT="$2"; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    -*) echo "unknown option: $1" >&2; usage >&2; exit 2 ;;
    *) break ;;
  esac
done
[[ $# -eq 1 ]] || { usage >&2; exit 2; }
[[ "$RUNS" =~ ^[1-9][0-9]*$ ]] || { echo "-n must be a positive integer" >&2; exit 2; }
INPUT="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
[[ -f "$INPUT" ]] || { echo "not a file: $INPUT" >&2; exit 2; }
[[ -x /usr/bin/time ]] || { echo "/usr/bin/time missing: apt-get install time" >&2; exit 1; }

# shellcheck source=bench/lib/osv-offline.sh
. "$HERE/lib/osv-offline.sh"

log() { printf '[compare-scan] %s\n' "$*" >&2; }

STAMP="$(date -u +%Y%m%dT%H%M%SZ)"
LOAD0="$(cut -d' ' -f1-3 /proc/loadavg)"
NAME="$(basename "$INPUT")"
RUNDIR="$CACHE/runs/scan-$NAME-$STAMP"
mkdir -p "$RUNDIR"
OUT="${OUT:-$CACHE/runs/scan-$NAME-$STAMP.md}"
TSV="${OUT%.md}.tsv"
printf 'row\trun\twall_s\tmaxrss_kb\texit\tuser_s\tsys_s\n' >"$TSV"

if [[ -z "${OSV_UNSHARE:-}" ]]; then
  if osv_unshare_ok; then OSV_UNSHARE=1; else OSV_UNSHARE=0; fi
fi
NET_WRAP=()
[[ "$OSV_UNSHARE" == 1 ]] && NET_WRAP=(unshare --net --)

# ---- rows -------------------------------------------------------------------------------------
declare -a R_LABEL=() R_CMD=() R_OK=() R_WARMUP=() R_COUNT=() R_SKIP=()
add_row() { # label ok-codes warmup(0/1) count-spec -- cmd...
  R_LABEL+=("$1"); R_OK+=("$2"); R_WARMUP+=("$3"); R_COUNT+=("$4"); R_SKIP+=(""); shift 5
  R_CMD+=("$(printf '%q ' "$@")")
}
skip_row() { R_LABEL+=("$1"); R_OK+=(""); R_WARMUP+=(0); R_COUNT+=(""); R_SKIP+=("$2"); R_CMD+=(""); log "skipping $1: $2"; }

KIND="$(osv_sniff "$INPUT")"
# The harness floor: what starting a process under the same wrapper costs before any scanner
# runs (7 ms for a process and 7 ms for a network namespace on the PVM machines here). Both
# scanners pay it; the "net" ratio column leaves it out.
add_row "harness floor (\`true\` under the same wrapper)" "0" 0 "" -- "${NET_WRAP[@]}" /bin/true
if [[ ! -x "$BIN/osv-scanner" ]]; then
  skip_row "osv-scanner" "\`$BIN/osv-scanner\` missing (bench/peers.sh osv-scanner)"
else
  OSV_DB="$("$HERE/osv-goldens.sh" --db-only --out "$RUNDIR/osv" --corpora "$CORPORA")"
  osv_prepare "$INPUT" "$KIND" "$RUNDIR/in"
  if [[ "$OSV_READABLE" != 1 ]]; then
    skip_row "osv-scanner" "osv-scanner 2.4.0 cannot read this input ($KIND)"
  else
    mapfile -d '' wrap < <(osv_wrap "$RUNDIR")
    add_row "osv-scanner $("$BIN/osv-scanner" --version | sed -n 's/^osv-scanner version: //p') (offline)" "0 1" 0 \
      "osv:$RUNDIR/osv-scanner.json" -- "${wrap[@]}" "$BIN/osv-scanner" "${OSV_ARGS[@]}" \
      --format json --all-packages --output-file "$RUNDIR/osv-scanner.json"
  fi
fi

DATA="$RUNDIR/stellaops-data"
if [[ ! -x "$CLI" ]]; then
  skip_row "stellaops" "\`$CLI\` does not exist (set STELLAOPS_CLI)"
elif ! "$CLI" scan run --help >/dev/null 2>&1; then
  skip_row "stellaops" "\`$CLI\` has no \`scan run\` yet"
else
  mkdir -p "$DATA"
  add_row "stellaops scan run (snapshot imported)" "$STELLA_OK" 1 "stella:$RUNDIR/stellaops.json" -- \
    "${NET_WRAP[@]}" "$CLI" scan run --runner self --target "$INPUT" --format json --output /dev/null --data "$DATA" \
    --results-dir "$RUNDIR/results"
fi

count() { # spec -> "findings packages"
  if [[ -z "$1" ]]; then echo "– –"; return; fi
  python3 - "$1" <<'PY'
import json, sys
kind, path = sys.argv[1].split(":", 1)
try:
    d = json.load(open(path))
except (OSError, ValueError):
    print("– –"); sys.exit()
if kind == "osv":
    f, p = set(), 0
    for r in d.get("results", []):
        for pk in r.get("packages", []):
            p += 1
            for v in pk.get("vulnerabilities") or []:
                f.add((pk["package"]["name"], pk["package"].get("version", ""), v["id"]))
    print(len(f), p)
else:
    n = "?"
    for k in ("findings", "vulnerabilities", "Findings", "Vulnerabilities"):
        if isinstance(d, dict) and isinstance(d.get(k), list):
            n = len(d[k]); break
    pk = "–"
    for k in ("packages", "components", "Packages"):
        if isinstance(d, dict) and isinstance(d.get(k), list):
            pk = len(d[k]); break
    print(n, pk)
PY
}

# ---- measuring ----------------------------------------------------------------------------------
median() { sort -g | awk '{a[NR]=$1} END {if (NR==0) print "nan"; else if (NR%2) printf "%.3f\n", a[(NR+1)/2]; else printf "%.3f\n", (a[NR/2]+a[NR/2+1])/2}'; }

cat "$INPUT" >/dev/null
declare -a M_WALL=() M_WMIN=() M_WMAX=() M_CPU=() M_RSS=() M_RMAX=() M_FIND=() M_PKGS=() M_STATUS=()
for i in "${!R_LABEL[@]}"; do
  label="${R_LABEL[$i]}"; cmd="${R_CMD[$i]}"
  if [[ -n "${R_SKIP[$i]}" ]]; then
    M_WALL+=(–); M_WMIN+=(–); M_WMAX+=(–); M_CPU+=(–); M_RSS+=(""); M_RMAX+=(""); M_FIND+=(–); M_PKGS+=(–)
    M_STATUS+=("skipped: ${R_SKIP[$i]}")
    continue
  fi
  status=ok
  if [[ "${R_WARMUP[$i]}" == 1 ]]; then
    log "$label: warm-up run (imports the snapshot into $DATA)"
    set +e
    bash -c "$cmd" >"$RUNDIR/warmup.$i.stdout" 2>"$RUNDIR/warmup.$i.stderr"
    rc=$?
    set -e
    if [[ " ${R_OK[$i]} " != *" $rc "* ]]; then
      status="warm-up exit $rc"
      log "$label warm-up: exit $rc; last lines of $RUNDIR/warmup.$i.stderr:"
      tail -n 5 "$RUNDIR/warmup.$i.stderr" >&2 || true
    fi
  fi
  log "$label: $RUNS runs"
  walls=() rsss=() cpus=()
  for ((r = 1; r <= RUNS; r++)); do
    [[ "$status" == ok ]] || break
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
    M_WALL+=(–); M_WMIN+=(–); M_WMAX+=(–); M_CPU+=(–); M_RSS+=(""); M_RMAX+=(""); M_FIND+=(–); M_PKGS+=(–)
    continue
  fi
  M_WALL+=("$(printf '%s\n' "${walls[@]}" | median)")
  M_WMIN+=("$(printf '%s\n' "${walls[@]}" | sort -g | head -n1)")
  M_WMAX+=("$(printf '%s\n' "${walls[@]}" | sort -g | tail -n1)")
  M_CPU+=("$(printf '%s\n' "${cpus[@]}" | median)")
  M_RSS+=("$(printf '%s\n' "${rsss[@]}" | median)")
  M_RMAX+=("$(printf '%s\n' "${rsss[@]}" | sort -g | tail -n1)")
  spec="${R_COUNT[$i]}"
  if [[ "$spec" == stella:* ]]; then # one extra, unmeasured run that keeps the report
    bash -c "${cmd/--output \/dev\/null/--output ${spec#stella:}}" >/dev/null 2>&1 || true
  fi
  read -r nf np < <(count "$spec")
  M_FIND+=("$nf"); M_PKGS+=("$np")
done

# ---- report ---------------------------------------------------------------------------------------
BASE="" FLOOR=""
for i in "${!R_LABEL[@]}"; do
  [[ "${R_LABEL[$i]}" == osv-scanner* ]] && BASE="${M_WALL[$i]}"
  [[ "${R_LABEL[$i]}" == harness* ]] && FLOOR="${M_WALL[$i]}"
done
ratio() { if [[ -n "$2" && "$1" != nan && "$2" != nan && "$1" != – && "$2" != – ]]; then awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a/b}'; else echo "–"; fi; }
netratio() { # wall base floor: (wall-floor)/(base-floor)
  if [[ -n "$2" && -n "$3" && "$1" != – && "$2" != – && "$3" != – && "$1" != nan ]]; then
    awk -v a="$1" -v b="$2" -v f="$3" 'BEGIN {if (b-f <= 0) print "–"; else printf "%.2f", (a-f)/(b-f)}'
  else echo "–"; fi
}
mib() { awk -v k="$1" 'BEGIN { if (k=="" || k=="nan") print "–"; else printf "%.0f", k/1024 }'; }

{
  echo "### Scan run $STAMP: \`$NAME\`"
  echo
  echo "Machine: $(nproc) CPUs, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)," \
    "$(awk '/MemTotal/ {printf "%.1f GiB RAM", $2/1048576}' /proc/meminfo), kernel $(uname -r)," \
    "$(go version 2>/dev/null | awk '{print $3}'); load average at start/end:" \
    "$LOAD0 / $(cut -d' ' -f1-3 /proc/loadavg) (shared machine: other jobs may run)."
  echo "Input: \`$INPUT\` ($KIND), $(du -b "$INPUT" | cut -f1) bytes; $RUNS runs per row, median reported; page cache warm."
  if [[ "$NICE" != 0 ]]; then
    echo "Priority: measured commands ran under \`nice -n $NICE\`${AUTOGROUP:+ in their own session, scheduler autogroup \`$AUTOGROUP\`} (BENCH_NICE)."
  fi
  if [[ "$OSV_UNSHARE" == 1 ]]; then echo "Every row ran inside \`unshare --net\` (no network)."; fi
  echo
  echo "| # | Command | Median wall (s) | Wall min–max (s) | Median CPU user+sys (s) | Median peak RSS (MiB) | Max peak RSS (MiB) | × osv-scanner | × osv-scanner, net of floor | Findings | Packages | Status |"
  echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"
  for i in "${!R_LABEL[@]}"; do
    span="${M_WMIN[$i]}–${M_WMAX[$i]}"
    [[ "${M_WMIN[$i]}" == – ]] && span="–"
    net="$(netratio "${M_WALL[$i]}" "$BASE" "$FLOOR")"
    [[ "${R_LABEL[$i]}" == harness* ]] && net="–"
    printf '| %d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$((i + 1))" "${R_LABEL[$i]}" "${M_WALL[$i]}" \
      "$span" "${M_CPU[$i]}" "$(mib "${M_RSS[$i]}")" "$(mib "${M_RMAX[$i]}")" \
      "$(ratio "${M_WALL[$i]}" "$BASE")" "$net" "${M_FIND[$i]}" "${M_PKGS[$i]}" "${M_STATUS[$i]}"
  done
  echo
  echo "Findings = unique (package, version, id) in the tool's output; Packages = packages in it (osv-scanner: --all-packages)."
  echo "osv-scanner uses the offline DB of bench/osv-goldens.sh (corpora zips: ${OSV_DATA_ECOSYSTEMS[*]}; empty: ${OSV_EMPTY_ECOSYSTEMS[*]})."
  echo
  echo "Commands (paths as on the measuring machine):"
  echo
  for i in "${!R_LABEL[@]}"; do
    if [[ -n "${R_CMD[$i]}" ]]; then printf "%d. \`%s\`\n" "$((i + 1))" "${R_CMD[$i]% }"; fi
  done
} | tee "$OUT"
log "report: $OUT; raw runs: $TSV; work files: $RUNDIR"
