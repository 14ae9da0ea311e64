#!/usr/bin/env bash
# Runs every Go fuzz target in the module for a short time (FUZZTIME, default 5s each),
# FUZZJOBS (default: the number of CPUs) at a time.
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
# FUZZJOBS targets run at once, each with one fuzz worker: the same CPU as one target with a
# worker per core, in a fraction of the wall time (each target's build and start-up overlap).
jobs="${FUZZJOBS:-$(nproc 2>/dev/null || echo 2)}"
workdir=$(mktemp -d)
trap 'rm -rf "$workdir"' EXIT

# deadline_race reports whether a failed run's log ($1) is only the coordinator race.
deadline_race() {
  grep -q 'context deadline exceeded' "$1" &&
    ! grep -qE 'Failing input written|panic:|_test\.go:[0-9]+:' "$1"
}

# fuzz_one runs one target; its report goes to $workdir/<n>.out, its status to <n>.rc.
fuzz_one() {
  local n="$1" file="$2" name="$3" pkg log out
  pkg="./$(dirname "$file")"
  log="$workdir/$n.log"
  out="$workdir/$n.out"
  printf '  fuzz %-40s %s\n' "$name" "$pkg" >"$out"
  for attempt in 1 2; do
    if go test -run='^$' -fuzz="^${name}\$" -fuzztime="$fuzztime" -fuzzminimizetime="$minimizetime" -parallel=1 "$pkg" >"$log" 2>&1; then
      echo 0 >"$workdir/$n.rc"
      return
    fi
    if deadline_race "$log"; then
      if [ "$attempt" = 1 ]; then
        echo "    (fuzztime deadline race, golang/go#75804: retrying)" >>"$out"
        continue
      fi
      echo "    (fuzztime deadline race again: nothing found, not counted as a failure)" >>"$out"
      echo 0 >"$workdir/$n.rc"
      return
    fi
    cat "$log" >>"$out"
    echo 1 >"$workdir/$n.rc"
    return
  done
}

n=0
while IFS=: read -r file name; do
  n=$((n + 1))
  while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n || true; done
  fuzz_one "$n" "$file" "$name" &
done < <(git ls-files '*_test.go' | xargs grep -Ho '^func Fuzz[A-Za-z0-9_]*' | sed 's/:func /:/' | sort)
wait

status=0
for i in $(seq 1 "$n"); do
  cat "$workdir/$i.out"
  if [ "$(cat "$workdir/$i.rc" 2>/dev/null || echo 1)" != 0 ]; then status=1; fi
done
echo "fuzzed $n targets, $jobs at a time, $fuzztime each"
exit $status
