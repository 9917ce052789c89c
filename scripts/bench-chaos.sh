#!/usr/bin/env bash
# Fault proxy figures, end to end with bin/gonogo on loopback:
#
#   1. overhead      latency p99 of `gonogo load` (http, BENCH_CHAOS_RATE req/s)
#                    against scripts/benchserver, direct and through `gonogo chaos
#                    proxy` with no fault, interleaved tries; the difference of the
#                    best p99 of each side (target: ≤ 1 ms); and the proxy's CPU time
#                    per request over its tries (from /proc, Linux; info)
#   2. rate          the highest open-model rate gonogo sustains direct and through
#                    the proxy, by the rule of scripts/bench.sh (achieved ≥ 99 %,
#                    successes ≥ 99.9 % of the scheduled arrivals, scheduling lag
#                    p99 ≤ BENCH_MAX_LAG_MS), the two searches interleaved; the
#                    ratio proxy/direct (target: ≥ 0.5 on this 2-core machine, where
#                    the load generator, the proxy and the server share the cores)
#
# Results go under BENCH_CHAOS_OUT: rows.tsv (section, figure, measured,
# target, verdict — the rows of scripts/bench.sh), steps.tsv and one
# directory per run. Traffic goes only to 127.0.0.1; every loop is bounded.
#
# Environment (defaults in brackets):
#   BENCH_CHAOS_OUT [results/bench/chaos]
#   BENCH_CHAOS_RATE [5000]      part 1 rate, req/s
#   BENCH_CHAOS_S [10]           part 1 duration per try, seconds
#   BENCH_CHAOS_TRIES [3]        part 1 tries per side
#   BENCH_CHAOS_STEP_S [5]       part 2 seconds per step
#   BENCH_CHAOS_START [5000]     part 2 first rate; doubles until a rate fails, then bisects
#   BENCH_CHAOS_MAX [160000]     part 2 goes no higher
#   BENCH_MAX_LAG_MS [10]        scheduling lag p99 a sustained step may have
#   BENCH_MAX_VUS [2000]         requests in flight at most
#   BENCH_STRICT [0]             1: exit 3 when a target is missed
#   BENCH_GONOGO [bin/gonogo]    the gonogo binary (load generator and proxy)
set -euo pipefail
cd "$(dirname "$0")/.."
BENCH_NAME=bench-chaos
. scripts/benchlib.sh

OUT=${BENCH_CHAOS_OUT:-results/bench/chaos}
RATE=${BENCH_CHAOS_RATE:-5000}
DUR=${BENCH_CHAOS_S:-10}
TRIES=${BENCH_CHAOS_TRIES:-3}
STEP_S=${BENCH_CHAOS_STEP_S:-5}
START=${BENCH_CHAOS_START:-5000}
MAX=${BENCH_CHAOS_MAX:-160000}
MAX_LAG_MS=${BENCH_MAX_LAG_MS:-10}
MAX_VUS=${BENCH_MAX_VUS:-2000}
STRICT=${BENCH_STRICT:-0}
GONOGO=${BENCH_GONOGO:-bin/gonogo}
SERVER=bin/benchserver

rm -rf "$OUT"
mkdir -p "$OUT/runs"
ROWS=$OUT/rows.tsv
MISSED=0
: >"$ROWS"
[ -x "$GONOGO" ] || CGO_ENABLED=0 go build -o "$GONOGO" ./cmd/gonogo
[ -x "$SERVER" ] || CGO_ENABLED=0 go build -o "$SERVER" ./scripts/benchserver

sport=$(free_port)
start_bg "$OUT/benchserver.log" "$SERVER" --addr "127.0.0.1:$sport"
wait_listen "$sport" "$BG_PID" "$OUT/benchserver.log"
pport=$(free_port)
start_bg "$OUT/proxy.log" "$GONOGO" chaos proxy --listen "127.0.0.1:$pport" --admin "" --upstream "http://127.0.0.1:$sport"
PROXY_PID=$BG_PID
wait_listen "$pport" "$BG_PID" "$OUT/proxy.log"

# cpu_ticks PID prints the user+system CPU ticks of a process (0 without /proc).
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
declare -A URL=([direct]="http://127.0.0.1:$sport/" [proxy]="http://127.0.0.1:$pport/")

# run SIDE RATE SECONDS NAME runs one load and prints "achieved ok_ratio
# lag_p99_ms latency_p99_ms sustained".
run() { http_load "${URL[$1]}" "$2" "$3" "$OUT/runs/$4"; }

say "1. overhead: latency p99 at $RATE req/s for ${DUR}s, direct and through the proxy (no fault), $TRIES tries each, interleaved"
declare -A BEST=([direct]=inf [proxy]=inf)
PROXY_TICKS=0 PROXY_REQS=0
for t in $(seq 1 "$TRIES"); do
	for side in direct proxy; do
		c0=$(cpu_ticks "$PROXY_PID")
		read -r a okr lag lat ok < <(run "$side" "$RATE" "$DUR" "overhead-$side-$t")
		if [ "$side" = proxy ]; then
			PROXY_TICKS=$(calc "$PROXY_TICKS + $(cpu_ticks "$PROXY_PID") - $c0")
			PROXY_REQS=$(calc "$PROXY_REQS + $okr * $RATE * $DUR")
		fi
		echo "  $side try $t: achieved $a/s, ok $okr, lag p99 $lag ms, latency p99 $lat ms"
		BEST[$side]=$(calc "min(${BEST[$side]}, $lat)")
	done
done
over=$(calc "round(${BEST[proxy]} - ${BEST[direct]}, 3)")
row chaos "fault proxy, no fault: latency p99 added at $RATE req/s (best of $TRIES: ${BEST[direct]} → ${BEST[proxy]} ms)" "+$over ms" "<= 1 ms" \
	"$([ "$(calc "int($over <= 1)")" = 1 ] && echo PASS || echo FAIL)"
row chaos "fault proxy, no fault: proxy CPU time per request at $RATE req/s" \
	"$(calc "round($PROXY_TICKS * 1e6 / $(getconf CLK_TCK) / max($PROXY_REQS, 1), 1)") µs" "(info)" "-"

say "2. rate: highest sustained open-model rate, direct and through the proxy, ${STEP_S}s steps, interleaved"
search_rates run
ratio=$(calc "round(${LO[proxy]} / max(${LO[direct]}, 1), 3)")
row chaos "fault proxy, no fault: max sustained rate, proxy / direct (${LO[proxy]} / ${LO[direct]} req/s)" "$ratio" ">= 0.5" \
	"$([ "$(calc "int($ratio >= 0.5)")" = 1 ] && echo PASS || echo FAIL)"

say "figures"
column -t -s $'\t' "$ROWS"
if [ "$MISSED" -gt 0 ] && [ "$STRICT" = 1 ]; then exit 3; fi
