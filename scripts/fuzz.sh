#!/usr/bin/env bash
# Runs every fuzz target (func Fuzz* in *_test.go) for a short time each.
# A finding is saved under the package's testdata/fuzz and fails the run,
# with the fuzzer's output. A run that stops without a finding — Go's fuzzing
# engine reports "context deadline exceeded" when one slow input outlasts
# -fuzztime on a loaded machine — is retried once and otherwise only warned
# about: there is no input to reproduce.
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime=${1:-3s}
log=$(mktemp)
trap 'rm -f "$log"' EXIT
grep -rl --include='*_test.go' '^func Fuzz' . | sort | while read -r f; do
  pkg=./$(dirname "${f#./}")
  grep -o '^func Fuzz[A-Za-z0-9_]*' "$f" | sed 's/^func //' | while read -r target; do
    echo "fuzz $pkg $target ($fuzztime)"
    for attempt in 1 2; do
      if go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" "$pkg" >"$log" 2>&1; then
        break
      fi
      if grep -q 'Failing input written to' "$log"; then
        cat "$log"
        exit 1
      fi
      echo "  warning: the fuzzing engine stopped without a finding (attempt $attempt):"
      tail -5 "$log" | sed 's/^/  | /'
    done
  done
done
