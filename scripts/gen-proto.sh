#!/usr/bin/env bash
# Regenerates the Go code of the KServe v2 gRPC protocol (internal/kservepb)
# from internal/kservepb/grpc_predict_v2.proto. The generated files are
# committed, so that building gonogo needs no protoc; run this only after
# changing the .proto or the generator versions below.
#
# Needs protoc (Debian: apt-get install -y protobuf-compiler) and the two
# Go plugins at the pinned versions:
#   go install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12
#   go install google.golang.org/grpc/cmd/protoc-gen-go-grpc@v1.6.2
set -euo pipefail
cd "$(dirname "$0")/.."

want_go=v1.36.12
want_grpc=1.6.2
pkg=github.com/gonogo-dev/gonogo/internal/kservepb
dir=internal/kservepb
proto=grpc_predict_v2.proto

export PATH="$(go env GOPATH)/bin:$PATH"
for tool in protoc protoc-gen-go protoc-gen-go-grpc; do
  if ! command -v "$tool" >/dev/null; then
    echo "gen-proto: $tool not found; see the header of $0" >&2
    exit 1
  fi
done
have_go=$(protoc-gen-go --version | awk '{print $2}')
have_grpc=$(protoc-gen-go-grpc --version | awk '{print $2}')
if [[ $have_go != "$want_go" || $have_grpc != "$want_grpc" ]]; then
  echo "gen-proto: want protoc-gen-go $want_go and protoc-gen-go-grpc $want_grpc," \
    "have $have_go and $have_grpc; see the header of $0" >&2
  exit 1
fi

# The .proto is kept as KServe publishes it (no go_package option): the Go
# import path is given with the M option instead.
protoc -I "$dir" \
  --go_out="$dir" --go_opt=paths=source_relative --go_opt="M$proto=$pkg" \
  --go-grpc_out="$dir" --go-grpc_opt=paths=source_relative --go-grpc_opt="M$proto=$pkg" \
  "$dir/$proto"
gofmt -l "$dir" | (! grep .) || { echo "gen-proto: generated code is not gofmt'ed" >&2; exit 1; }
echo "gen-proto: regenerated $dir/${proto%.proto}.pb.go and $dir/${proto%.proto}_grpc.pb.go"
