#!/usr/bin/env bash
# Builds the simulated inference server's FROM-scratch image from a static
# binary (there is no registry, so no golang base image): fixture-image.sh TAG
set -euo pipefail
cd "$(dirname "$0")/.."
tag=${1:-gonogo-fixture:dev}
ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT
CGO_ENABLED=0 go build -trimpath -ldflags '-s -w' -o "$ctx/fixture-server" ./cmd/fixture-server
cp fixtures/Dockerfile "$ctx/"
docker build -q -t "$tag" "$ctx" >/dev/null
echo "built $tag"
