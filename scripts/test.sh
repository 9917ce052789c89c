#!/usr/bin/env bash
# The whole test suite, as `make test` and CI run it. Idempotent: installs
# what the tests need when it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
export TESTCONTAINERS_RYUK_DISABLED=true

echo "== go vet"
go vet ./...
echo "== tests"
go test -count=1 -timeout 8m ./...
echo "== race tests (engine, recorder, clients)"
go test -count=1 -race -timeout 5m ./scenarios/... ./analyze/... ./extensions/...
echo "== fuzzing (${FUZZTIME:-3s} per target)"
./scripts/fuzz.sh "${FUZZTIME:-3s}"
