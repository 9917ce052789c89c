#!/usr/bin/env bash
# The whole test suite, as `make test` and CI run it. Idempotent: installs
# what the tests need when it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
export TESTCONTAINERS_RYUK_DISABLED=true

# The browser test of the HTML report (reports/html_browser_test.go) runs
# headless chromium; Liberation Sans has the metrics the charts are laid out
# with. The rollout's tests start a real HAProxy (rollout/haproxy) and a
# real Prometheus (rollout/provider). apt-get update runs only when the
# install fails without it.
pkgs=()
command -v chromium >/dev/null || pkgs+=(chromium)
command -v haproxy >/dev/null || [ -x /usr/sbin/haproxy ] || pkgs+=(haproxy)
command -v prometheus >/dev/null || pkgs+=(prometheus)
[ -e /usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf ] || pkgs+=(fonts-liberation)
if [ ${#pkgs[@]} -gt 0 ]; then
	echo "== installing ${pkgs[*]}"
	sudo=()
	if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null; then sudo=(sudo); fi
	"${sudo[@]}" apt-get install -y --no-install-recommends "${pkgs[@]}" ||
		{ "${sudo[@]}" apt-get update && "${sudo[@]}" apt-get install -y --no-install-recommends "${pkgs[@]}"; }
fi
# The vegeta import is tested on what a real vegeta writes (reports/vegeta).
if ! command -v vegeta >/dev/null && [ ! -x "$(go env GOPATH)/bin/vegeta" ]; then
	echo "== installing vegeta v12.13.0 (go install)"
	go install github.com/tsenart/vegeta/v12@v12.13.0
fi
export GONOGO_REQUIRE_CHROMIUM=1 GONOGO_REQUIRE_HAPROXY=1 GONOGO_REQUIRE_PROMETHEUS=1 GONOGO_REQUIRE_VEGETA=1
export GONOGO_ARTIFACTS=${GONOGO_ARTIFACTS:-results/test-artifacts}
mkdir -p "$GONOGO_ARTIFACTS"
# Tests run in their package's directory: make the path absolute.
GONOGO_ARTIFACTS=$(cd "$GONOGO_ARTIFACTS" && pwd)

echo "== go vet"
go vet ./...
echo "== tests"
go test -count=1 -timeout 8m ./...
# -short leaves out the volume tests that the step above runs (shadow
# truths over 20 000 requests, 60 s of timestamp replay): under -race they
# cost minutes, and the shorter tests drive the same concurrent code.
# Timing-sensitive tests stay out of race builds (//go:build !race).
echo "== race tests (engine, recorder, clients, replay, run, mirror, chaos, http1, rollout, store, commands)"
go test -count=1 -race -short -timeout 5m ./scenarios/... ./analyze/... ./extensions/... \
	./replay/... ./runner/... ./mirror/... ./chaos/... ./internal/... ./cmd/gonogo/...
# Apart: the rollout's race tests start HAProxy and Prometheus and stream
# through the proxy; beside the chaos experiments' race tests on two cores
# they push those past their steady-state p99.
go test -count=1 -race -short -timeout 5m ./rollout/... ./store/...
echo "== fuzzing (${FUZZTIME:-3s} per target)"
./scripts/fuzz.sh "${FUZZTIME:-3s}"
