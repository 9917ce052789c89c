#!/usr/bin/env bash
# HTTP/2 figures, end to end with bin/gonogo on loopback:
#
#   max sustained rate   the highest open-model rate `gonogo load --protocol
#                        http` sustains against scripts/benchserver --h2c over
#                        HTTP/1.1 (the hand-written keep-alive client) and over
#                        prior-knowledge cleartext HTTP/2 (--h2c, net/http), by
#                        the rule of scripts/bench.sh (achieved ≥ 99 %, successes
#                        ≥ 99.9 % of the scheduled arrivals, scheduling lag p99
#                        ≤ BENCH_MAX_LAG_MS), the two searches interleaved on one
#                        server; both rates and their ratio, for information
#
# Results go under BENCH_H2_OUT: rows.tsv (section, figure, measured, target,
# verdict — the rows of scripts/bench.sh), steps.tsv (side "direct" is
# HTTP/1.1, side "proxy" is h2c: the names of scripts/benchlib.sh's search)
# and one directory per run. Traffic goes only to 127.0.0.1; every loop is
# bounded.
#
# Environment (defaults in brackets):
#   BENCH_H2_OUT [results/bench/h2]
#   BENCH_H2_STEP_S [5]          seconds per step
#   BENCH_H2_START [5000]        first rate; doubles until a rate fails, then bisects
#   BENCH_H2_MAX [160000]        the search goes no higher
#   BENCH_MAX_LAG_MS [10]        scheduling lag p99 a sustained step may have
#   BENCH_MAX_VUS [2000]         requests in flight at most
#   BENCH_GONOGO [bin/gonogo]    the gonogo binary
#   BENCH_SERVER [bin/benchserver]
set -euo pipefail
cd "$(dirname "$0")/.."
BENCH_NAME=bench-h2
. scripts/benchlib.sh

OUT=${BENCH_H2_OUT:-results/bench/h2}
STEP_S=${BENCH_H2_STEP_S:-5}
START=${BENCH_H2_START:-5000}
MAX=${BENCH_H2_MAX:-160000}
MAX_LAG_MS=${BENCH_MAX_LAG_MS:-10}
MAX_VUS=${BENCH_MAX_VUS:-2000}
GONOGO_BIN=${BENCH_GONOGO:-bin/gonogo}
SERVER=${BENCH_SERVER:-bin/benchserver}

rm -rf "$OUT"
mkdir -p "$OUT/runs"
ROWS=$OUT/rows.tsv
MISSED=0
: >"$ROWS"
[ -x "$GONOGO_BIN" ] || CGO_ENABLED=0 go build -o "$GONOGO_BIN" ./cmd/gonogo
[ -x "$SERVER" ] || CGO_ENABLED=0 go build -o "$SERVER" ./scripts/benchserver
"$SERVER" --help 2>&1 | grep -q -- -h2c || CGO_ENABLED=0 go build -o "$SERVER" ./scripts/benchserver # an older build

sport=$(free_port)
start_bg "$OUT/benchserver.log" "$SERVER" --addr "127.0.0.1:$sport" --h2c
wait_listen "$sport" "$BG_PID" "$OUT/benchserver.log"

# http_load runs $GONOGO; the h2c side runs it through a wrapper that adds
# --h2c after the other flags.
H2C_WRAPPER=$OUT/gonogo-h2c
printf '#!/bin/sh\nexec %q "$@" --h2c\n' "$(realpath "$GONOGO_BIN")" >"$H2C_WRAPPER"
chmod +x "$H2C_WRAPPER"
declare -A BIN=([direct]="$GONOGO_BIN" [proxy]="$H2C_WRAPPER")

# run SIDE RATE SECONDS NAME runs one load and prints "achieved ok_ratio
# lag_p99_ms latency_p99_ms sustained".
run() { GONOGO=${BIN[$1]} http_load "http://127.0.0.1:$sport/" "$2" "$3" "$OUT/runs/$4"; }

say "max sustained open-model rate over HTTP/1.1 and h2c, ${STEP_S}s steps, interleaved"
search_rates run
# Every h2c run must really have been HTTP/2: the server cannot tell us, so
# check that the client was asked for it and a run succeeded.
grep -q -- '--h2c' "$H2C_WRAPPER" || die "h2c wrapper lost its flag"
row h2 "max sustained rate, HTTP/1.1 (gonogo's keep-alive client)" "${LO[direct]} req/s" "(info)" "-"
row h2 "max sustained rate, HTTP/2 cleartext (--h2c)" "${LO[proxy]} req/s" "(info)" "-"
row h2 "max sustained rate, h2c / HTTP/1.1" "$(calc "round(${LO[proxy]} / max(${LO[direct]}, 1), 3)")" "(info)" "-"

say "figures"
column -t -s $'\t' "$ROWS"
