# shellcheck shell=bash disable=SC2034 # variables set here are read by the sourcing scripts
# Shared by bench/osv-goldens.sh and bench/compare-scan.sh (sourced, not run): the offline
# osv-scanner 2.4.0 database and the way each input type is handed to osv-scanner.
#
# What osv-scanner 2.4.0 needs to run fully offline (found by running it; see
# internal/match/testdata/osv-scanner/README.md):
#   * --offline-vulnerabilities --local-db-path DIR: zips are read from DIR/osv-scanner/<Eco>/all.zip,
#     <Eco> being the base ecosystem of a package ("Debian" for "Debian:12"). They must be real
#     files (copies); with --offline-vulnerabilities nothing is downloaded or checked remotely.
#   * For every ecosystem that occurs in an input but has no zip, osv-scanner logs "could not load
#     db for <Eco> ecosystem: ... no offline version of the OSV database is available", leaves those
#     packages unmatched and exits 127 (error) instead of 0/1. An empty but valid zip (just the
#     22-byte end-of-central-directory record) avoids that: it loads as a database with no records.
#   * Nothing else touches the network for SBOMs, dpkg status files, osv-scanner JSON or
#     docker-archive images: the runs below succeed inside a network namespace with no interfaces
#     (`unshare --net`) when the host allows it.
#   * The dpkg extractor takes the distro release from /etc/os-release of the scan root. For -L the
#     scan root is the host's /, so the host's release would leak into the result; the dpkg runs
#     therefore bind-mount the input's own os-release (or an empty file) over /etc/os-release in a
#     private mount namespace. Without any os-release the ecosystem becomes "Linux".

# The corpora's OSV zips (copied as they are) and the ecosystems that get an empty zip.
OSV_DATA_ECOSYSTEMS=(AlmaLinux Go PSF-CPython PyPI crates.io)
OSV_EMPTY_ECOSYSTEMS=(Alpine Debian Ubuntu Linux Maven Packagist RubyGems "GitHub Actions")
OSV_VERSION_WANTED="2.4.0"

# osv_build_db DIR CORPORA: (re)creates DIR/osv-scanner/<Eco>/all.zip from scratch.
osv_build_db() {
  local dir="$1" corpora="$2" eco src
  rm -rf "$dir/osv-scanner"
  for eco in "${OSV_DATA_ECOSYSTEMS[@]}"; do
    src="$corpora/osv/$eco/all.zip"
    [[ -f "$src" ]] || { echo "missing $src" >&2; return 1; }
    mkdir -p "$dir/osv-scanner/$eco"
    cp "$src" "$dir/osv-scanner/$eco/all.zip"
  done
  for eco in "${OSV_EMPTY_ECOSYSTEMS[@]}"; do
    mkdir -p "$dir/osv-scanner/$eco"
    { printf 'PK\005\006'; head -c 18 /dev/zero; } >"$dir/osv-scanner/$eco/all.zip"
  done
}

# osv_sniff FILE: prints the input kind, judged by content (gzip is looked through):
# cdx-json cdx-xml spdx-json spdx-tv spdx-rdf osv-scanner-json dpkg-status in-toto trivy-json
# docker-archive json-schema os-release unknown.
osv_sniff() {
  python3 - "$1" <<'PY'
import gzip, io, json, re, sys, tarfile
data = open(sys.argv[1], "rb").read()
if data[:2] == b"\x1f\x8b":
    data = gzip.decompress(data)
if len(data) > 262 and data[257:262] == b"ustar":
    try:
        names = tarfile.open(fileobj=io.BytesIO(data)).getnames()
    except tarfile.TarError:
        names = []
    print("docker-archive" if "manifest.json" in names else "unknown")
    sys.exit()
text = data.decode("utf-8", "replace").lstrip("\ufeff")
s = text.lstrip()
kind = "unknown"
if s.startswith("{"):
    try:
        d = json.loads(text)
    except ValueError:
        d = None
    if isinstance(d, dict):
        if "json-schema.org" in str(d.get("$schema", "")):
            kind = "json-schema"
        elif d.get("bomFormat") == "CycloneDX" or ("specVersion" in d and ("bomFormat" in d or "components" in d)):
            kind = "cdx-json"
        elif "spdxVersion" in d:
            kind = "spdx-json"
        elif "payloadType" in d and "payload" in d:
            kind = "in-toto"
        elif "SchemaVersion" in d and ("ArtifactName" in d or "Results" in d):
            kind = "trivy-json"
        elif isinstance(d.get("results"), list) and all(isinstance(r, dict) and "packages" in r for r in d["results"]):
            kind = "osv-scanner-json"
elif s.startswith("<"):
    head = s[:4000]
    if "cyclonedx.org/schema/bom" in head:
        kind = "cdx-xml"
    elif "spdx.org/rdf" in head:
        kind = "spdx-rdf"
elif re.search(r"^SPDXVersion:", s[:5000], re.M):
    kind = "spdx-tv"
elif re.search(r"^Package: ", s, re.M) and re.search(r"^Status: ", s, re.M):
    kind = "dpkg-status"
elif re.search(r"^ID=", s, re.M) and re.search(r"^(NAME|VERSION_ID)=", s, re.M):
    kind = "os-release"
print(kind)
PY
}

# osv_unshare_ok: whether runs can be isolated (no network; private mounts for dpkg).
osv_unshare_ok() {
  command -v unshare >/dev/null && unshare --net --mount --propagation private true 2>/dev/null
}

# osv_prepare FILE KIND WORKDIR: puts the input where and under the name osv-scanner needs
# (gunzipped; renamed to its file-name convention) and sets:
#   OSV_ARGS       osv-scanner arguments after the binary, minus the output options
#   OSV_SCANNED_AS the file name osv-scanner is given (for the record)
#   OSV_OS_RELEASE for dpkg-status: the os-release file to bind-mount ("" = an empty one)
#   OSV_READABLE   1 if osv-scanner has a reader for the kind, else 0 (it is still run, to record
#                  its error)
# DB is passed in $OSV_DB. Companion os-release of X.dpkg-status / dpkg-status: X.os-release /
# os-release next to it.
osv_prepare() {
  local file="$1" kind="$2" work="$3" base stem name
  base="$(basename "$file")"; base="${base%.gz}"
  stem="${base%.*}"
  mkdir -p "$work"
  OSV_OS_RELEASE="" OSV_READABLE=1
  case "$kind" in
    cdx-json) if [[ "$base" == *.cdx.json || "${base,,}" == bom.json ]]; then name="$base"; else name="${stem%.cdx}.cdx.json"; fi ;;
    cdx-xml) if [[ "$base" == *.cdx.xml || "${base,,}" == bom.xml ]]; then name="$base"; else name="${stem%.cdx}.cdx.xml"; fi ;;
    spdx-json) if [[ "$base" == *.spdx.json ]]; then name="$base"; else name="${stem%.spdx}.spdx.json"; fi ;;
    spdx-tv) if [[ "$base" == *.spdx ]]; then name="$base"; else name="${stem%.spdx}.spdx"; fi ;;
    spdx-rdf) if [[ "$base" == *.spdx.rdf ]]; then name="$base"; else name="${stem%.spdx}.spdx.rdf"; fi ;;
    docker-archive) name="${base%.tar}.tar" ;;
    *) name="$base" ;;
  esac
  if [[ "$file" == *.gz ]]; then gzip -dc "$file" >"$work/$name"; else cp "$file" "$work/$name"; fi
  OSV_SCANNED_AS="$name"
  case "$kind" in
    docker-archive)
      OSV_ARGS=(scan image --archive "$work/$name" --offline-vulnerabilities --local-db-path "$OSV_DB") ;;
    osv-scanner-json)
      OSV_ARGS=(scan source --offline-vulnerabilities --local-db-path "$OSV_DB" -L "osv-scanner:$work/$name")
      OSV_SCANNED_AS="osv-scanner:$name" ;;
    dpkg-status)
      OSV_ARGS=(scan source --offline-vulnerabilities --local-db-path "$OSV_DB" -L "dpkg-status:$work/$name")
      OSV_SCANNED_AS="dpkg-status:$name"
      local d f
      d="$(dirname "$file")"; f="$(basename "$file")"
      if [[ "$f" == *.dpkg-status && -f "$d/${f%.dpkg-status}.os-release" ]]; then OSV_OS_RELEASE="$d/${f%.dpkg-status}.os-release"
      elif [[ "$f" == dpkg-status && -f "$d/os-release" ]]; then OSV_OS_RELEASE="$d/os-release"; fi ;;
    in-toto|trivy-json|json-schema|os-release|unknown)
      OSV_READABLE=0
      OSV_ARGS=(scan source --offline-vulnerabilities --local-db-path "$OSV_DB" -L "$work/$name") ;;
    *)
      OSV_ARGS=(scan source --offline-vulnerabilities --local-db-path "$OSV_DB" -L "$work/$name") ;;
  esac
}

# osv_wrap WORKDIR: prints, NUL-separated, the wrapper that isolates a run (empty when
# OSV_UNSHARE=0): unshare --net, plus for dpkg-status a private mount namespace with
# OSV_OS_RELEASE (or an empty file) bind-mounted over /etc/os-release.
osv_wrap() {
  local work="$1"
  [[ "${OSV_UNSHARE:-0}" == 1 ]] || return 0
  if [[ "${OSV_ARGS[*]}" == *" -L dpkg-status:"* ]]; then
    local rel="$OSV_OS_RELEASE"
    if [[ -z "$rel" ]]; then rel="$work/empty-os-release"; : >"$rel"; fi
    # shellcheck disable=SC2016 # $1 is expanded by the inner sh
    printf '%s\0' unshare --net --mount --propagation private -- sh -c 'mount --bind "$1" /etc/os-release && shift && exec "$@"' sh "$rel"
  else
    printf '%s\0' unshare --net --
  fi
}
