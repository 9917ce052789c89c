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
