#!/usr/bin/env bash
# bench/build-debian-image.sh — build a real Debian bookworm image locally, for benchmarks.
#
# Usage: bench/build-debian-image.sh [--large] [--force] OUT_DIR
#
# Builds bookworm root filesystems with debootstrap (default variant = required + important
# priorities, i.e. larger than minbase) and packs them as a layered image:
#   layer 1: the base system                     (debootstrap bookworm)
#   layer 2: + python3, perl, openssl, curl, …   (debootstrap --include=$L2_PACKAGES, diffed against layer 1,
#                                                 then `rm -rf /var/lib/apt/lists/*` as a Dockerfile would,
#                                                 which yields whiteouts)
#   layer 3: (--large only) + default-jdk-headless, build-essential, …  (~1 GB uncompressed in total)
# Each upper layer is a proper diff of two rootfs trees (content/mode/owner/link target compared;
# removed paths become .wh. whiteouts); /dev, /proc and /sys contents and device nodes are left out.
#
# Outputs (in OUT_DIR):
#   debian-bookworm[-large].docker.tar   docker-archive (`docker save` format), gzip layers
#   debian-bookworm[-large].oci/         OCI image layout with the same layers
#   debian-bookworm[-large].info.txt     per-layer sizes, package counts, build times
# Work files (rootfs trees, .deb cache) live in OUT_DIR/work/ and are reused on the next run.
#
# Env: DEBIAN_MIRROR (default: the first non-security Debian URI in /etc/apt/sources.list*),
#      DEBIAN_SUITE (bookworm), L2_PACKAGES, L3_PACKAGES (comma-separated). Keep npm out of these
#      lists: debootstrap's simple resolver misses some of its node-* dependencies and fails.
#      Adding golang-go to L3_PACKAGES makes the large image ~1.8 GB (the Go toolchain is ~470 MB).
# Needs: root, debootstrap (installed with apt-get if missing), go (builds bench/cmd/packimage).
set -euo pipefail

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }

LARGE=0
FORCE=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --large) LARGE=1; shift ;;
    --force) FORCE=1; shift ;;
    -h|--help) usage; exit 0 ;;
    -*) echo "unknown option: $1" >&2; usage >&2; exit 2 ;;
    *) break ;;
  esac
done
[[ $# -eq 1 ]] || { usage >&2; exit 2; }
OUT_DIR="$1"

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/.." && pwd)"
SUITE="${DEBIAN_SUITE:-bookworm}"
L2_PACKAGES="${L2_PACKAGES:-python3,python3-pip,python3-venv,perl,openssl,curl,wget,ca-certificates,libxml2,libxslt1.1,git,gnupg,xz-utils,unzip,zip,less,procps,vim-nox,sqlite3,libsqlite3-0,zlib1g,libssl3,tzdata,locales,bzip2,file,jq}"
L3_PACKAGES="${L3_PACKAGES:-default-jdk-headless,build-essential,cmake,pkg-config,libssl-dev,libxml2-dev,zlib1g-dev,python3-dev,ruby}"

log() { printf '[build-debian-image] %s\n' "$*" >&2; }
now() { date +%s; }

[[ "$(id -u)" -eq 0 ]] || { log "must run as root (debootstrap)"; exit 1; }

detect_mirror() {
  local f uri
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list; do
    [[ -f "$f" ]] || continue
    # deb822 "URIs:" lines and one-line "deb URI suite ..." entries; skip security and non-Debian repos.
    while read -r uri; do
      case "$uri" in
        *security*) continue ;;
        http*://*/debian|http*://*/debian/) printf '%s\n' "${uri%/}"; return 0 ;;
      esac
    done < <(sed -n -e 's/^URIs:[[:space:]]*//p' -e 's/^deb[[:space:]]\{1,\}\(\[[^]]*\][[:space:]]\{1,\}\)\{0,1\}\([^[:space:]]*\).*/\2/p' "$f" | tr ' ' '\n')
  done
  printf '%s\n' http://deb.debian.org/debian
}
MIRROR="${DEBIAN_MIRROR:-$(detect_mirror)}"

if ! command -v debootstrap >/dev/null; then
  log "installing debootstrap"
  apt-get update -qq && apt-get install -y -qq debootstrap >&2
fi

mkdir -p "$OUT_DIR/work/debs"
OUT_DIR="$(cd "$OUT_DIR" && pwd)"
WORK="$OUT_DIR/work"
NAME="debian-$SUITE"
[[ $LARGE -eq 1 ]] && NAME="$NAME-large"
INFO="$OUT_DIR/$NAME.info.txt"

# make_rootfs DIR INCLUDE: debootstrap SUITE into DIR (skipped when DIR/.complete exists).
make_rootfs() {
  local dir="$1" include="$2" t0
  if [[ -f "$dir/.complete" && $FORCE -eq 0 ]]; then log "reusing $dir"; return; fi
  # A failed debootstrap can leave proc/sys mounted inside the tree: never rm -rf through a mount.
  if awk -v d="$dir/" 'index($2, d) == 1 {found=1} END {exit !found}' /proc/mounts; then
    log "$dir has mounts under it (see /proc/mounts); unmount them first"; exit 1
  fi
  rm -rf "$dir"
  t0=$(now)
  log "debootstrap $SUITE -> $dir (mirror $MIRROR${include:+, include $include})"
  debootstrap --arch=amd64 --cache-dir="$WORK/debs" ${include:+--include="$include"} \
    "$SUITE" "$dir" "$MIRROR" >"$dir.log" 2>&1 || { tail -n 30 "$dir.log" >&2; exit 1; }
  # What a Dockerfile would clean up: downloaded .debs, and (in the upper layers) apt lists.
  rm -f "$dir"/var/cache/apt/archives/*.deb "$dir"/var/cache/apt/*.bin
  if [[ -n "$include" ]]; then rm -rf "$dir"/var/lib/apt/lists/*; fi
  echo "$(( $(now) - t0 ))" >"$dir/.complete"
}

pkgcount() { dpkg-query --admindir="$1/var/lib/dpkg" -W -f '${db:Status-Abbrev}\n' | grep -c '^ii'; }

T0=$(now)
ROOTS=("$WORK/rootfs-base")
make_rootfs "$WORK/rootfs-base" ""
make_rootfs "$WORK/rootfs-l2" "$L2_PACKAGES"
ROOTS+=("$WORK/rootfs-l2")
if [[ $LARGE -eq 1 ]]; then
  make_rootfs "$WORK/rootfs-l3" "$L2_PACKAGES,$L3_PACKAGES"
  ROOTS+=("$WORK/rootfs-l3")
fi

TAR="$OUT_DIR/$NAME.docker.tar"
OCI="$OUT_DIR/$NAME.oci"
if [[ -f "$TAR" && -f "$OCI/index.json" && $FORCE -eq 0 && "$TAR" -nt "${ROOTS[-1]}/.complete" ]]; then
  log "image already built: $TAR"
else
  PACK="$WORK/packimage"
  (cd "$REPO" && GOTOOLCHAIN=local go build -o "$PACK.$$" ./bench/cmd/packimage) && mv -f "$PACK.$$" "$PACK"
  t0=$(now)
  rm -rf "$OCI" "$TAR"
  "$PACK" -tag "stellaops.bench/$NAME:latest" -docker "$TAR" -oci "$OCI" -work "$WORK/layers-$NAME" \
    "${ROOTS[@]}" >"$WORK/pack-$NAME.txt"
  echo "$(( $(now) - t0 ))" >"$WORK/pack-$NAME.seconds"
fi

{
  echo "# $NAME  (built $(date -u +%Y-%m-%dT%H:%M:%SZ), mirror $MIRROR)"
  echo "docker-archive: $TAR ($(du -b "$TAR" | cut -f1) bytes)"
  echo "oci-layout:     $OCI ($(du -sb "$OCI" | cut -f1) bytes)"
  echo
  echo "## layers"
  cat "$WORK/pack-$NAME.txt"
  echo
  echo "## rootfs (dpkg-query, status ii) and debootstrap time"
  for r in "${ROOTS[@]}"; do
    printf '%-12s packages=%-4s du=%s debootstrap_seconds=%s\n' "$(basename "$r")" "$(pkgcount "$r")" \
      "$(du -sh --exclude=./proc --exclude=./sys --exclude=./dev "$r" | cut -f1)" "$(cat "$r/.complete")"
  done
  echo "pack_seconds=$(cat "$WORK/pack-$NAME.seconds")  this_run_seconds=$(( $(now) - T0 ))"
} | tee "$INFO"
