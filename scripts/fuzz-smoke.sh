#!/usr/bin/env bash
# Runs every Go fuzz target in the module for a short time (FUZZTIME, default 5s each).
# Minimising a new interesting input may take FUZZMINIMIZETIME (default 1s, Go's own default is
# 60s): with inputs of tens of KB, as the SBOM seeds are, Go's minimiser otherwise holds the only
# worker for the whole run and the target executes nothing after its first new input.
# Crashers land in the package's testdata/fuzz/ and become regression cases for `go test`.
#
# Go 1.26's fuzz coordinator can report a bare "context deadline exceeded" at the -fuzztime
# boundary without having found anything (golang/go#75804, fixed in Go 1.27). Such a run wrote no
# reproducer and printed no failure of its own, so it is retried once and, if it repeats, noted
# rather than failed. Anything else that fails — a reproducer written, a panic, a t.Error — fails.
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime="${FUZZTIME:-5s}"
minimizetime="${FUZZMINIMIZETIME:-1s}"
log=$(mktemp)
trap 'rm -f "$log"' EXIT

# deadline_race reports whether a failed run's log is only the coordinator race.
deadline_race() {
  grep -q 'context deadline exceeded' "$log" &&
    ! grep -qE 'Failing input written|panic:|_test\.go:[0-9]+:' "$log"
}

status=0
while IFS=: read -r file name; do
  pkg="./$(dirname "$file")"
  printf '  fuzz %-40s %s\n' "$name" "$pkg"
  for attempt in 1 2; do
    if go test -run='^$' -fuzz="^${name}\$" -fuzztime="$fuzztime" -fuzzminimizetime="$minimizetime" "$pkg" >"$log" 2>&1; then
      break
    fi
    if deadline_race; then
      if [ "$attempt" = 1 ]; then
        echo "    (fuzztime deadline race, golang/go#75804: retrying)"
        continue
      fi
      echo "    (fuzztime deadline race again: nothing found, not counted as a failure)"
      break
    fi
    cat "$log"
    status=1
    break
  done
done < <(git ls-files '*_test.go' | xargs grep -Ho '^func Fuzz[A-Za-z0-9_]*' | sed 's/:func /:/' | sort)
exit $status
