#!/usr/bin/env bash
# Runs every fuzz target (func Fuzz* in *_test.go) for a short time each.
# A finding is saved under the package's testdata/fuzz and fails the run,
# with the fuzzer's output. A run that stops without a finding — Go's fuzzing
# engine reports "context deadline exceeded" when one slow input outlasts
# -fuzztime on a loaded machine — is retried once and otherwise only warned
# about: there is no input to reproduce.
#
# Each package's instrumented test binary is built once (go test -c -fuzz)
# and run for each of its targets, as go test -fuzz would run it: in the
# package's directory, with the go command's fuzz cache. Building and
# linking per target, as go test -fuzz does, cost about as much as the
# fuzzing itself.
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime=${1:-3s}
# Targets run FUZZJOBS at a time, each with as many fuzzing workers as
# leaves one core per job.
jobs=${FUZZJOBS:-2}
par=$(( $(nproc) / jobs ))
[ "$par" -ge 1 ] || par=1
bins=$(mktemp -d)
trap 'rm -rf "$bins"' EXIT
cache=$(go env GOCACHE)/fuzz

# The targets, "PKG TARGET" per line; FUZZPKG (an extended regular
# expression) keeps the packages whose ./path it matches.
targets=$(grep -rl --include='*_test.go' '^func Fuzz' . | sort | while read -r f; do
  pkg=./$(dirname "${f#./}")
  grep -o '^func Fuzz[A-Za-z0-9_]*' "$f" | sed 's/^func //' | while read -r target; do
    echo "$pkg $target"
  done
done | grep -E "^${FUZZPKG:-.}[^ ]* ")

# build_one PKG builds PKG's instrumented test binary into $bins.
build_one() {
  local pkg=$1
  go test -c -fuzz=. -o "$bins/$(echo "$pkg" | tr './' '__').test" "$pkg"
}

# fuzz_one PKG TARGET fuzzes one target, retrying once when the engine
# stopped without a finding; it fails (exit 1) on a finding only.
fuzz_one() {
  local pkg=$1 target=$2 log attempt bin importpath
  bin="$bins/$(echo "$pkg" | tr './' '__').test"
  importpath=$(cd "$pkg" && go list -f '{{.ImportPath}}' .)
  log=$(mktemp)
  for attempt in 1 2; do
    if (cd "$pkg" && "$bin" -test.run '^$' -test.fuzz "^${target}\$" -test.fuzztime "$fuzztime" \
        -test.parallel "$par" -test.timeout 5m -test.fuzzcachedir "$cache/$importpath") >"$log" 2>&1; then
      echo "fuzz $pkg $target ($fuzztime)"
      rm -f "$log"
      return 0
    fi
    if grep -q 'Failing input written to' "$log"; then
      echo "fuzz $pkg $target: FINDING"
      cat "$log"
      rm -f "$log"
      return 1
    fi
    echo "fuzz $pkg $target: warning: the fuzzing engine stopped without a finding (attempt $attempt):"
    tail -5 "$log" | sed 's/^/  | /'
  done
  rm -f "$log"
}
export -f build_one fuzz_one
export fuzztime par bins cache

echo "$targets" | cut -d' ' -f1 | sort -u | xargs -P "$jobs" -n 1 bash -c 'build_one "$0"'
echo "$targets" | xargs -P "$jobs" -n 2 bash -c 'fuzz_one "$0" "$1"' || { echo "fuzzing found a failing input (see above)"; exit 1; }
