#!/usr/bin/env bash
# The benchmarks behind `make bench`: Go micro-benchmarks, then the figures of
# gonogo's performance targets, measured end to end on loopback:
#
#   1. scheduling accuracy   achieved/target rate within 1 %, scheduling_lag p99 < 2 ms
#                            (kserve, 5000/s against `gonogo fixture serve`)
#   2. throughput            highest open-model rate gonogo sustains vs vegeta (≥ 1.5×),
#                            and wrk's closed-loop maximum as a reference
#                            (all against scripts/benchserver, one server for all tools)
#   3. memory                peak RSS after 1 M vs 10 M requests, within 10 %
#   4. truth                 with a server stalling 1 s every 5 s, latency p99 ≥ 500 ms
#                            where latency_service (closed-loop view) hides it
#
# Results go under results/bench/: summary.txt (the final table),
# results.json (the same, machine-readable), steps.tsv (every rate step),
# gobench.txt, and one directory or log per run.
#
# Idempotent: installs vegeta (go install) and wrk and GNU time (apt-get)
# only when missing. Traffic goes only to 127.0.0.1. Every loop is bounded.
#
# Environment (defaults in brackets):
#   BENCH_GOBENCH [1]            run the Go benchmarks first (0: skip)
#   BENCH_BENCHTIME [1s]         -benchtime of the Go benchmarks
#   BENCH_SCHED_RATE [5000]      rate of the scheduling-accuracy run
#   BENCH_SCHED_DURATION [20s]   its duration
#   BENCH_STEP_DURATION [5]      seconds per throughput step
#   BENCH_RATES [5000 10000 …]   the throughput steps, req/s, ascending (2 500 apart near the limits seen here)
#   BENCH_STEP_RETRIES [1]       retries of a failed step before it counts as failed
#   BENCH_MAX_VUS [2000]         gonogo --max-vus in the throughput steps
#   BENCH_WRK_DURATION [5s]      wrk run length
#   BENCH_WRK_CONNS [64]         wrk connections (-c); threads are -t2
#   BENCH_MEM_SMALL [1000000]    requests of the small memory run
#   BENCH_MEM_LARGE [10000000]   requests of the large memory run
#   BENCH_MEM_MODE [auto]        open: constant-arrival-rate at BENCH_MEM_RATE;
#                                closed: shared-iterations with 64 VUs (≤ 30 min);
#                                auto: open unless the large run would take
#                                longer than BENCH_MEM_MAX_OPEN_S
#   BENCH_MEM_RATE [0.8 × gonogo's max sustained rate]
#   BENCH_MEM_MAX_OPEN_S [300]
#   BENCH_MEM_MAX_VUS [256]      --max-vus of an open-model memory run: peak RSS
#                                follows peak concurrency, so it is bounded here
#   BENCH_TRUTH_DURATION [20s]   length of the truth run
#   BENCH_STRICT [0]             1: exit 3 when a target is missed
set -euo pipefail
cd "$(dirname "$0")/.."

GOBENCH=${BENCH_GOBENCH:-1}
BENCHTIME=${BENCH_BENCHTIME:-1s}
SCHED_RATE=${BENCH_SCHED_RATE:-5000}
SCHED_DURATION=${BENCH_SCHED_DURATION:-20s}
STEP_S=${BENCH_STEP_DURATION:-5}
RATES=${BENCH_RATES:-5000 10000 15000 17500 20000 22500 25000 27500 30000 32500 35000 40000 45000 50000 60000 70000 80000 100000 120000 150000}
RETRIES=${BENCH_STEP_RETRIES:-1}
MAX_VUS=${BENCH_MAX_VUS:-2000}
WRK_DURATION=${BENCH_WRK_DURATION:-5s}
WRK_CONNS=${BENCH_WRK_CONNS:-64}
MEM_SMALL=${BENCH_MEM_SMALL:-1000000}
MEM_LARGE=${BENCH_MEM_LARGE:-10000000}
MEM_MODE=${BENCH_MEM_MODE:-auto}
MEM_RATE=${BENCH_MEM_RATE:-}
MEM_MAX_OPEN_S=${BENCH_MEM_MAX_OPEN_S:-300}
MEM_MAX_VUS=${BENCH_MEM_MAX_VUS:-256}
TRUTH_DURATION=${BENCH_TRUTH_DURATION:-20s}
STRICT=${BENCH_STRICT:-0}

OUT=results/bench
GONOGO=bin/gonogo
SERVER=bin/benchserver

say() { printf '\n== %s\n' "$*"; }
die() { echo "bench: $*" >&2; exit 1; }

# ---- background processes: started here, killed by pid at exit ----------
PIDS=()
cleanup() {
	local pid
	for pid in "${PIDS[@]}"; do
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# free_port prints a free loopback TCP port.
free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# start_bg LOG CMD... starts CMD in the background; its pid is in BG_PID.
start_bg() {
	local log=$1
	shift
	"$@" >"$log" 2>&1 &
	BG_PID=$!
	PIDS+=("$BG_PID")
}

# stop_bg PID stops one process started by start_bg.
stop_bg() {
	kill "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
}

# wait_listen PORT PID LOG waits (≤ 10 s) until 127.0.0.1:PORT accepts.
wait_listen() {
	local port=$1 pid=$2 log=$3 i
	for i in $(seq 1 100); do
		kill -0 "$pid" 2>/dev/null || { cat "$log" >&2; die "server on port $port exited"; }
		if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
			return 0
		fi
		sleep 0.1
	done
	die "nothing listens on 127.0.0.1:$port after 10 s"
}

# ---- figures: one row per target, printed and saved at the end -----------
ROWS=$OUT/rows.tsv
MISSED=0
# row SECTION WHAT VALUE GOAL VERDICT
row() {
	printf '%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$5" >>"$ROWS"
	if [ "$5" = FAIL ]; then MISSED=$((MISSED + 1)); fi
}

# stats DIR prints a gonogo run's default-scenario figures as shell
# assignments: target achieved total ok failed dropped queued lag_p99
# lat_p99 svc_p99 (ms), or ok=none when run.json is missing.
stats() {
	python3 - "$1/run.json" <<'PY'
import json, sys
try:
    d = json.load(open(sys.argv[1]))
except (OSError, ValueError):
    print("total=0 ok=0 failed=0 dropped=0 queued=0 achieved=0 target=0 lag_p99=nan lat_p99=nan svc_p99=nan")
    sys.exit(0)
s = d["scenarios"].get("default") or next(iter(d["scenarios"].values()))
r, q = s.get("rate", {}), s.get("requests", {})
p99 = lambda m: s.get(m, {}).get("p99", float("nan"))
print(f'target={r.get("target", 0)} achieved={r.get("achieved", 0)} total={q.get("total", 0)} '
      f'ok={q.get("ok", 0)} failed={sum(q.get("failed", {}).values())} dropped={q.get("dropped", 0)} '
      f'queued={q.get("queued", 0)} lag_p99={p99("scheduling_lag")} lat_p99={p99("latency")} '
      f'svc_p99={p99("latency_service")}')
PY
}

# calc EXPR prints a Python expression's value (floats).
calc() { python3 -c "from math import *; print($1)"; }

# ---- setup ----------------------------------------------------------------
SUDO=""
if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null; then SUDO="sudo"; fi
apt_install() {
	$SUDO apt-get install -y "$@" >/dev/null || { $SUDO apt-get update >/dev/null && $SUDO apt-get install -y "$@" >/dev/null; }
}

rm -rf "$OUT"
mkdir -p "$OUT/steps"
: >"$ROWS"
printf 'tool\trate\tachieved\terrors\tdropped\tsustained\n' >"$OUT/steps.tsv"

say "build"
make --no-print-directory build
CGO_ENABLED=0 go build -o "$SERVER" ./scripts/benchserver

GOBIN_DIR="$(go env GOPATH)/bin"
VEGETA="$GOBIN_DIR/vegeta"
if [ ! -x "$VEGETA" ]; then
	if command -v vegeta >/dev/null; then
		VEGETA=$(command -v vegeta)
	else
		echo "installing vegeta v12.13.0 (go install)"
		go install github.com/tsenart/vegeta/v12@v12.13.0
	fi
fi
if ! command -v wrk >/dev/null; then
	echo "installing wrk (apt-get)"
	apt_install wrk
fi
if [ ! -x /usr/bin/time ]; then
	echo "installing GNU time (apt-get)"
	apt_install time
fi
echo "gonogo: $($GONOGO version 2>/dev/null | head -1 || echo '?')"
echo "vegeta: $VEGETA $(go version -m "$VEGETA" 2>/dev/null | awk '$1 == "mod" {print $3}' || true)"
echo "wrk:    $(wrk -v 2>&1 | head -1 || true)"
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
echo "cpus:   $(nproc)   load average: $LOAD0"

# ---- 0. Go benchmarks --------------------------------------------------------
if [ "$GOBENCH" = 1 ]; then
	say "Go benchmarks (-benchtime $BENCHTIME)"
	go test -run '^$' -bench . -benchmem -benchtime "$BENCHTIME" ./scenarios/ ./analyze/ ./extensions/... | tee "$OUT/gobench.txt"
	# Shadow mirroring overhead: primary p99 at 1 000 req/s, alone and with a
	# candidate that stalls 2 s per request (target: within 1 ms).
	go test -run '^$' -bench 'ShadowPrimaryP99|FanoutDo' -benchmem -benchtime 1x ./replay/ | tee -a "$OUT/gobench.txt"
	# The engine's own figures go into the final table.
	python3 - "$OUT/gobench.txt" >>"$ROWS" <<'PY'
import re, sys
keep = {
    "BenchmarkScheduleNext": ["arrivals/s", "allocs/op"],
    "BenchmarkEngineArrivals": ["ns/arrival", "allocs/arrival", "dropped/arrival"],
    "BenchmarkHTTPClient": ["ns/op", "allocs/op"],
    "BenchmarkRecorderRecord": ["ns/op", "allocs/op"],
    "BenchmarkShadowPrimaryP99": ["p99-alone-ms", "p99-shadow-ms", "p99-delta-ms"],
}
for line in open(sys.argv[1]):
    f = line.split()
    if not f or not f[0].startswith("Benchmark"):
        continue
    name = re.sub(r"-\d+$", "", f[0])
    units = keep.get(name.split("/")[0])
    if units is None:
        continue
    m = {f[i + 1]: f[i] for i in range(2, len(f) - 1, 2)}
    vals = ", ".join(f"{m[u]} {u}" for u in units if u in m)
    print(f"go bench\t{name}\t{vals}\t(info)\t-")
PY
fi

# ---- 1. scheduling accuracy --------------------------------------------------
say "1. scheduling accuracy: kserve, constant-arrival-rate $SCHED_RATE/s for $SCHED_DURATION"
port=$(free_port)
start_bg "$OUT/fixture-sched.log" "$GONOGO" fixture serve --addr "127.0.0.1:$port"
fix=$BG_PID
wait_listen "$port" "$fix" "$OUT/fixture-sched.log"
rc=0
"$GONOGO" load --target "http://127.0.0.1:$port" --protocol kserve --model resnet \
	--executor constant-arrival-rate --rate "$SCHED_RATE" --duration "$SCHED_DURATION" \
	--quiet --out "$OUT/sched" >"$OUT/sched.log" 2>&1 || rc=$?
stop_bg "$fix"
eval "$(stats "$OUT/sched")"
ratio=$(calc "$achieved / $SCHED_RATE")
echo "rc=$rc requests=$total failed=$failed dropped=$dropped achieved=$achieved/s ratio=$ratio scheduling_lag p99=${lag_p99} ms"
row sched "achieved / target rate ($SCHED_RATE/s, $SCHED_DURATION, kserve)" \
	"$(printf '%.4f (%.1f/s)' "$ratio" "$achieved")" "within 1 %" \
	"$([ "$rc" = 0 ] && [ "$(calc "int(abs($ratio - 1) <= 0.01)")" = 1 ] && echo PASS || echo FAIL)"
row sched "scheduling_lag p99" "$(printf '%.3f ms' "$lag_p99")" "< 2 ms" \
	"$([ "$rc" = 0 ] && [ "$(calc "int($lag_p99 < 2)")" = 1 ] && echo PASS || echo FAIL)"
row sched "dropped / failed requests" "$dropped / $failed of $total" "(info)" "-"

# ---- 4. truth (before the long runs; needs its own stalling fixture) -------
say "4. truth: fixture stalling 1 s every 5 s; kserve 200/s for $TRUTH_DURATION, 4 VUs, queue"
port=$(free_port)
start_bg "$OUT/fixture-truth.log" "$GONOGO" fixture serve --addr "127.0.0.1:$port" --stall-every 5s --stall-for 1s
fix=$BG_PID
wait_listen "$port" "$fix" "$OUT/fixture-truth.log"
rc=0
"$GONOGO" load --target "http://127.0.0.1:$port" --protocol kserve --model resnet \
	--rate 200 --duration "$TRUTH_DURATION" --max-vus 4 --saturation queue \
	--quiet --out "$OUT/truth" >"$OUT/truth.log" 2>&1 || rc=$?
stop_bg "$fix"
eval "$(stats "$OUT/truth")"
echo "rc=$rc requests=$total queued=$queued latency p99=$lat_p99 ms latency_service p99=$svc_p99 ms"
row truth "latency p99 (from intended send)" "$(printf '%.1f ms' "$lat_p99")" ">= 500 ms" \
	"$([ "$rc" = 0 ] && [ "$(calc "int($lat_p99 >= 500)")" = 1 ] && echo PASS || echo FAIL)"
row truth "latency_service p99 (closed-loop view)" "$(printf '%.1f ms' "$svc_p99")" "(info)" "-"

# ---- 2. throughput -------------------------------------------------------------
say "2. throughput: open-model rate steps of ${STEP_S}s against scripts/benchserver"
port=$(free_port)
URL="http://127.0.0.1:$port/"
start_bg "$OUT/benchserver.log" "$SERVER" --addr "127.0.0.1:$port"
srv=$BG_PID
wait_listen "$port" "$srv" "$OUT/benchserver.log"
echo "GET $URL" >"$OUT/targets.txt"

# step_gonogo RATE TRY: one gonogo step; sets step_ok (1/0) and step_line.
step_gonogo() {
	local r=$1 dir="$OUT/steps/gonogo-$1-$2" rc=0
	"$GONOGO" load --target "$URL" --protocol http --executor constant-arrival-rate \
		--rate "$r" --duration "${STEP_S}s" --max-vus "$MAX_VUS" \
		--quiet --out "$dir" >"$dir.log" 2>&1 || rc=$?
	eval "$(stats "$dir")"
	local err
	err=$(calc "$failed / max($total, 1)")
	step_ok=$(calc "int($rc == 0 and $achieved >= 0.99 * $r and $err < 0.001 and $dropped == 0)")
	step_line=$(printf 'gonogo\t%s\t%.1f\t%.5f\t%s\t%s' "$r" "$achieved" "$err" "$dropped" "$step_ok")
}

# step_vegeta RATE TRY: one vegeta step; sets step_ok and step_line.
step_vegeta() {
	local r=$1 f="$OUT/steps/vegeta-$1-$2.json"
	"$VEGETA" attack -rate="$r" -duration="${STEP_S}s" -targets="$OUT/targets.txt" |
		"$VEGETA" report -type=json >"$f" || true
	local got
	got=$(python3 -c '
import json, sys
try:
    d = json.load(open(sys.argv[1]))
    print(d.get("rate", 0), 1 - d.get("success", 0))
except (OSError, ValueError):
    print(0, 1)' "$f")
	local achieved=${got% *} err=${got#* }
	step_ok=$(calc "int($achieved >= 0.99 * $r and $err < 0.001)")
	step_line=$(printf 'vegeta\t%s\t%.1f\t%.5f\t-\t%s' "$r" "$achieved" "$err" "$step_ok")
}

# max_sustained TOOL: steps the rate up until a step fails RETRIES+1 times;
# prints the highest sustained rate (0 if even the first step failed).
max_sustained() {
	local tool=$1 best=0 r try
	for r in $RATES; do
		for try in $(seq 0 "$RETRIES"); do
			"step_$tool" "$r" "$try"
			printf '%s\n' "$step_line" >>"$OUT/steps.tsv"
			printf '  %s\n' "$step_line" | tr '\t' ' ' >&2
			[ "$step_ok" = 1 ] && break
		done
		[ "$step_ok" = 1 ] || break
		best=$r
	done
	echo "$best"
}

echo "  tool rate achieved error_ratio dropped sustained"
GMAX=$(max_sustained gonogo)
VMAX=$(max_sustained vegeta)
wrk -t2 -c"$WRK_CONNS" -d"$WRK_DURATION" "$URL" >"$OUT/wrk.txt" 2>&1 || true
WRK=$(awk '/^Requests\/sec:/ {print $2}' "$OUT/wrk.txt")
WRK=${WRK:-0}
WRK_ERRS=$(grep -E 'Socket errors|Non-2xx' "$OUT/wrk.txt" | tr -s ' ' | paste -sd';' - || true)
echo "  wrk -t2 -c$WRK_CONNS -d$WRK_DURATION: $WRK req/s ${WRK_ERRS:+($WRK_ERRS)}"
stop_bg "$srv"

# The gonogo step at its maximum, for the drop count in the table.
gdrops="-"
if [ "$GMAX" != 0 ]; then
	gdrops=$(awk -F'\t' -v r="$GMAX" '$1 == "gonogo" && $2 == r && $6 == 1 {print $5; exit}' "$OUT/steps.tsv")
fi
gnext=$(awk -F'\t' -v r="$GMAX" '$1 == "gonogo" && $2 > r {l = sprintf("%s/s: achieved %s, errors %s, dropped %s", $2, $3, $4, $5)} END {print l}' "$OUT/steps.tsv")
vratio=$(calc "round($GMAX / $VMAX, 2) if $VMAX > 0 else float('inf')")
wratio=$(calc "round($GMAX / $WRK, 2) if $WRK > 0 else float('nan')")
row throughput "gonogo max sustained open-model rate" "$GMAX/s (dropped $gdrops)" "(info)" "-"
if [ -n "$gnext" ]; then row throughput "gonogo first failed step" "$gnext" "(info)" "-"; fi
row throughput "vegeta max sustained rate" "$VMAX/s" "(info)" "-"
row throughput "wrk -t2 -c$WRK_CONNS closed-loop max" "$WRK req/s" "(reference)" "-"
row throughput "gonogo / vegeta" "$vratio" ">= 1.5" \
	"$([ "$(calc "int($vratio >= 1.5)")" = 1 ] && echo PASS || echo FAIL)"
row throughput "gonogo / wrk" "$wratio" "(info)" "-"

# ---- 3. memory -------------------------------------------------------------
if [ -z "$MEM_RATE" ]; then
	MEM_RATE=$(calc "max(1000, int(0.8 * $GMAX / 500) * 500)")
fi
if [ "$MEM_MODE" = auto ]; then
	MEM_MODE=$(calc "'open' if $MEM_LARGE / $MEM_RATE <= $MEM_MAX_OPEN_S else 'closed'")
fi
case $MEM_MODE in
open) MEM_DESC="open model, constant-arrival-rate $MEM_RATE/s, max $MEM_MAX_VUS VUs" ;;
closed) MEM_DESC="closed model, shared-iterations, 64 VUs (open model at $MEM_RATE/s would take $(calc "round($MEM_LARGE / $MEM_RATE)") s)" ;;
*) die "BENCH_MEM_MODE: want auto, open or closed (got $MEM_MODE)" ;;
esac
say "3. memory: peak RSS after $MEM_SMALL vs $MEM_LARGE requests — $MEM_DESC"
port=$(free_port)
start_bg "$OUT/benchserver-mem.log" "$SERVER" --addr "127.0.0.1:$port"
srv=$BG_PID
wait_listen "$port" "$srv" "$OUT/benchserver-mem.log"
declare -A RSS
MEM_VALID=1
for n in "$MEM_SMALL" "$MEM_LARGE"; do
	if [ "$MEM_MODE" = open ]; then
		load=(--executor constant-arrival-rate --rate "$MEM_RATE" --duration "$(calc "ceil($n * 1000 / $MEM_RATE)")ms" --max-vus "$MEM_MAX_VUS")
	else
		load=(--executor shared-iterations --iterations "$n" --vus 64 --duration 30m)
	fi
	rc=0
	/usr/bin/time -v -o "$OUT/mem-$n.time" "$GONOGO" load --target "http://127.0.0.1:$port/" --protocol http \
		"${load[@]}" --quiet --out "$OUT/mem-$n" >"$OUT/mem-$n.log" 2>&1 || rc=$?
	RSS[$n]=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$OUT/mem-$n.time")
	eval "$(stats "$OUT/mem-$n")"
	echo "rc=$rc requests=$total failed=$failed dropped=$dropped achieved=$achieved/s peak RSS=${RSS[$n]} KiB"
	# A run counts only if it really did (≥ 99.9 % of) its n requests.
	valid=$(calc "int($rc == 0 and $ok >= 0.999 * $n)")
	[ "$valid" = 1 ] || MEM_VALID=0
	row memory "peak RSS, $n requests" "$(calc "round(${RSS[$n]:-0} / 1024, 1)") MiB ($ok ok, $failed failed, $dropped dropped, $achieved/s)" \
		"$n ok" "$([ "$valid" = 1 ] && echo ok || echo FAIL)"
done
stop_bg "$srv"
mratio=$(calc "round(${RSS[$MEM_LARGE]:-0} / max(${RSS[$MEM_SMALL]:-0}, 1), 3)")
row memory "RSS($MEM_LARGE) / RSS($MEM_SMALL) ($MEM_MODE model)" "$mratio" "<= 1.10" \
	"$([ "$MEM_VALID" = 1 ] && [ "$(calc "int($mratio <= 1.10)")" = 1 ] && echo PASS || echo FAIL)"

# ---- summary ---------------------------------------------------------------
say "summary"
row host "CPUs; load average (1, 5, 15 min) at start / end" "$(nproc); $LOAD0 / $(cut -d' ' -f1-3 /proc/loadavg)" "(info)" "-"
python3 - "$ROWS" "$OUT" <<'PY'
import csv, json, os, sys, time
rows = [r for r in csv.reader(open(sys.argv[1]), delimiter="\t") if r]
out = sys.argv[2]
w = [max(len(r[i]) for r in rows + [["section", "figure", "measured", "target", "verdict"]]) for i in range(5)]
lines = []
fmt = lambda r: "  ".join(c.ljust(w[i]) for i, c in enumerate(r)).rstrip()
lines.append(fmt(["section", "figure", "measured", "target", "verdict"]))
lines.append(fmt(["-" * x for x in w]))
prev = None
for r in rows:
    if prev is not None and r[0] != prev:
        lines.append("")
    lines.append(fmt(r))
    prev = r[0]
text = "\n".join(lines) + "\n"
sys.stdout.write(text)
with open(os.path.join(out, "summary.txt"), "w") as f:
    f.write(f"gonogo bench, {time.strftime('%Y-%m-%d %H:%M:%S %Z')}, {os.cpu_count()} CPUs\n\n" + text)
steps = [dict(zip(["tool", "rate", "achieved", "errors", "dropped", "sustained"], s))
         for s in csv.reader(open(os.path.join(out, "steps.tsv")), delimiter="\t")][1:]
with open(os.path.join(out, "results.json"), "w") as f:
    json.dump({"figures": [dict(zip(["section", "figure", "measured", "target", "verdict"], r)) for r in rows],
               "steps": steps}, f, indent=2)
PY
echo
echo "results: $OUT/summary.txt, $OUT/results.json, $OUT/steps.tsv"
if [ "$MISSED" -gt 0 ]; then
	echo "$MISSED target(s) missed"
	if [ "$STRICT" = 1 ]; then exit 3; fi
fi
