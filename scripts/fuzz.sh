#!/usr/bin/env bash
# Runs every fuzz target (func Fuzz* in *_test.go) for a short time each.
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime=${1:-3s}
grep -rl --include='*_test.go' '^func Fuzz' . | sort | while read -r f; do
  pkg=./$(dirname "${f#./}")
  grep -o '^func Fuzz[A-Za-z0-9_]*' "$f" | sed 's/^func //' | while read -r target; do
    echo "fuzz $pkg $target ($fuzztime)"
    go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" "$pkg" >/dev/null
  done
done
