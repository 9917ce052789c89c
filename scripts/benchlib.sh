# Helpers the benchmark scripts share (sourced by scripts/bench.sh,
# bench-shadow.sh and bench-stream.sh). The sourcing script sets
# BENCH_NAME (for messages) and, before calling row, ROWS (the rows file)
# and MISSED=0. Background processes are started on 127.0.0.1 only and
# killed at exit.

say() { printf '\n== %s\n' "$*"; }
die() { echo "${BENCH_NAME:-bench}: $*" >&2; exit 1; }

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

# stop_bg PID stops one process started by start_bg (SIGTERM, then waits).
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

# row SECTION WHAT VALUE GOAL VERDICT appends a figure to ROWS; a FAIL
# counts in MISSED.
row() {
	printf '%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$5" >>"$ROWS"
	if [ "$5" = FAIL ]; then MISSED=$((MISSED + 1)); fi
}

# calc EXPR prints a Python expression's value (math and median at hand).
calc() { python3 -c "from math import *; from statistics import median; print($1)"; }

# http_load URL RATE SECONDS DIR runs one open-model http load of $GONOGO
# (at most $MAX_VUS in flight) into DIR and prints "achieved ok_ratio
# lag_p99_ms latency_p99_ms sustained": sustained is scripts/bench.sh's
# rule (achieved ≥ 99 %, successes ≥ 99.9 % of the scheduled arrivals,
# scheduling lag p99 ≤ $MAX_LAG_MS).
http_load() {
	local dir=$4
	"$GONOGO" load --target "$1" --protocol http --executor constant-arrival-rate \
		--rate "$2" --duration "${3}s" --max-vus "$MAX_VUS" --quiet --history '' --no-preflight \
		--out "$dir" >"$dir.log" 2>&1 || true
	python3 - "$dir/run.json" "$2" "$3" "$MAX_LAG_MS" <<'PY'
import json, math, sys
rate, secs, max_lag = float(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
try:
    s = next(iter(json.load(open(sys.argv[1]))["scenarios"].values()))
    a, ok = s["rate"]["achieved"], s["requests"]["ok"]
    lag, lat = s["scheduling_lag"]["p99"], s["latency"]["p99"]
except (OSError, ValueError, KeyError, StopIteration):
    a, ok, lag, lat = 0, 0, math.inf, math.inf
okr = ok / (rate * secs)
print(f"{a:.1f} {okr:.5f} {lag:.3f} {lat:.3f} {int(a >= 0.99 * rate and okr >= 0.999 and lag <= max_lag)}")
PY
}

# search_rates RUN searches the highest rate the sides direct and proxy
# sustain, their steps interleaved so that the noise of a shared machine
# falls on both: from $START the rate doubles until it fails (or passes
# $MAX), then is bisected to 5 % (or 200 req/s); each rate is tried twice,
# $STEP_S seconds, by the function RUN SIDE RATE SECONDS NAME (which prints
# what http_load prints). The steps go to $OUT/steps.tsv; the highest
# sustained rates to LO[direct] and LO[proxy] (0: none).
declare -A LO HI
search_rates() {
	local run=$1 side r t i=0 a okr lag lat ok
	local -A finished=([direct]=0 [proxy]=0)
	LO=([direct]=0 [proxy]=0)
	HI=([direct]=0 [proxy]=0)
	echo -e "side\trate\ttry\tachieved\tok_ratio\tlag_p99_ms\tlatency_p99_ms\tsustained" >"$OUT/steps.tsv"
	while [[ " ${finished[*]} " == *" 0 "* ]] && [ "$i" -lt 30 ]; do
		for side in direct proxy; do
			[ "${finished[$side]}" = 1 ] && continue
			r=$(next_rate "$side")
			if [ -z "$r" ]; then
				finished[$side]=1
				continue
			fi
			ok=0
			for t in 1 2; do
				read -r a okr lag lat ok < <("$run" "$side" "$r" "$STEP_S" "rate-$side-$r-$t")
				printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$side" "$r" "$t" "$a" "$okr" "$lag" "$lat" "$ok" | tee -a "$OUT/steps.tsv" | sed 's/^/  /'
				[ "$ok" = 1 ] && break
			done
			if [ "$ok" = 1 ]; then LO[$side]=$r; else HI[$side]=$r; fi
		done
		i=$((i + 1))
	done
}

# next_rate SIDE prints the side's next rate to try; nothing when done.
next_rate() {
	local lo=${LO[$1]} hi=${HI[$1]}
	if [ "$hi" = 0 ]; then
		local r=$((lo == 0 ? START : 2 * lo))
		[ "$r" -le "$MAX" ] && echo "$r"
		return 0
	fi
	# shellcheck disable=SC2017 # the midpoint, rounded down to 100 req/s
	[ "$(calc "int($hi - $lo > max(0.05 * $lo, 200))")" = 1 ] && echo $(((lo + hi) / 200 * 100))
	return 0
}
