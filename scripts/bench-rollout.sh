#!/usr/bin/env bash
# Rollout proxy figures (issue 11), end to end with bin/gonogo on loopback.
# `gonogo rollout serve` runs a canary rollout of two backends, blue (stable)
# and green (canary), whose steps are `setWeight: 50` (which warms green)
# then `pause: {}`: it just serves. The bench then moves the weights by hand
# through the admin API, with a bearer token (`gonogo rollout set-weight`, or
# the same request by curl: BENCH_ROLLOUT_FLIP_CLIENT):
#
#   1. overhead      latency p99 of `gonogo load` (http, BENCH_ROLLOUT_RATE req/s)
#                    against scripts/benchserver, direct and through the rollout
#                    proxy with every request on blue (that same server: set-weight
#                    0), interleaved tries; the difference of the best p99 of each
#                    side (target: ≤ 1 ms); and the proxy's CPU time per request over
#                    its tries (from /proc, Linux; info)
#   2. rate          the highest open-model rate gonogo sustains direct and through
#                    the proxy, by the rule of scripts/bench.sh (achieved ≥ 99 %,
#                    successes ≥ 99.9 % of the scheduled arrivals, scheduling lag
#                    p99 ≤ BENCH_MAX_LAG_MS), the two searches interleaved; the
#                    ratio proxy/direct (target: ≥ 0.5 on this 2-core machine, where
#                    the load generator, the proxy and the server share the cores)
#   3. flips         streaming requests (openai, SSE) at BENCH_ROLLOUT_FLIP_RATE
#                    req/s for BENCH_ROLLOUT_FLIP_S seconds through the proxy, blue
#                    and green each a scripts/benchserver --mode sse streaming
#                    BENCH_ROLLOUT_CHUNKS chunks BENCH_ROLLOUT_GAP_MS apart, while
#                    BENCH_ROLLOUT_FLIPS set-weight calls alternate green 100 % and
#                    0 % at even times: every flip done while the load runs, 0
#                    failed requests, 0 truncated streams (the openai client classes
#                    a stream that ends without [DONE] as protocol). Whether the
#                    rate itself was carried (every scheduled stream sent, none
#                    dropped, achieved ≥ 99 %) is a row of its own, beside the same
#                    load sent direct to blue for reference: on a machine that
#                    cannot carry the rate, the figures say what rate was carried.
#   4. truth         BENCH_ROLLOUT_TRUTH_RUNS canary rollouts of v2 (as fast as v1:
#                    promoted, no false rollback) and of v2-slow (3× slower: rolled
#                    back), each against the simulated server under 80 req/s of
#                    sticky traffic, judged every second over 2 s windows; the time
#                    from the canary's first traffic to its rollback
#
# Results go under BENCH_ROLLOUT_OUT: rows.tsv (section, figure, measured,
# target, verdict — the rows of scripts/bench.sh), steps.tsv, one directory
# per run, the servers' and the controller's logs; the table is also written
# beside it, to BENCH_ROLLOUT_OUT.txt (results/bench/rollout.txt). Traffic goes
# only to 127.0.0.1; every loop is bounded; background processes are killed
# at exit.
#
# Environment (defaults in brackets):
#   BENCH_ROLLOUT_OUT [results/bench/rollout]  (emptied first)
#   BENCH_ROLLOUT_PARTS [overhead rate flips truth]  the parts to run
#   BENCH_ROLLOUT_TRUTH_RUNS [20]   part 4 rollouts of v2 and of v2-slow each
#   BENCH_ROLLOUT_RATE [5000]       part 1 rate, req/s
#   BENCH_ROLLOUT_S [10]            part 1 duration per try, seconds
#   BENCH_ROLLOUT_TRIES [3]         part 1 tries per side
#   BENCH_ROLLOUT_STEP_S [5]        part 2 seconds per step
#   BENCH_ROLLOUT_START [5000]      part 2 first rate; doubles until a rate fails, then bisects
#   BENCH_ROLLOUT_MAX [160000]      part 2 goes no higher
#   BENCH_ROLLOUT_FLIP_RATE [2000]  part 3 streaming requests per second
#   BENCH_ROLLOUT_FLIP_S [30]       part 3 run length, seconds (the flips fill all but its first and last second)
#   BENCH_ROLLOUT_FLIP_CLIENT [cli] part 3 flips by cli: `gonogo rollout set-weight W`; or api: curl
#                                   POSTs /v1/set-weight?weight=W with the bearer token, the request the
#                                   command sends, without starting a 50 MB binary (0.1 s of an idle 2-core
#                                   machine) per flip on the cores the proxy needs: on a busy machine, the
#                                   CLI's calls fall behind and fewer flips fit in the run
#   BENCH_ROLLOUT_FLIPS [100]       part 3 set-weight calls
#   BENCH_ROLLOUT_CHUNKS [10]       part 3 content chunks per stream
#   BENCH_ROLLOUT_GAP_MS [5]        part 3 milliseconds between chunks
#   BENCH_MAX_LAG_MS [10]           scheduling lag p99 a sustained step may have
#   BENCH_MAX_VUS [2000]            requests in flight at most
#   BENCH_TW_MAX [15000]            before a run, wait (≤ 60 s) for fewer TIME_WAIT sockets than this: an
#                                   overloaded proxy churns upstream connections (thousands a step); Linux
#                                   reuses loopback TIME_WAIT ports (tcp_tw_reuse=2), but a run should not
#                                   start with half the ephemeral range held
#   BENCH_STRICT [0]                1: exit 3 when a target is missed
#   BENCH_GONOGO [bin/gonogo]       the gonogo binary (load generator, controller, CLI)
# shellcheck disable=SC2154 # streamfig sets a run's figures by eval
set -euo pipefail
cd "$(dirname "$0")/.."
BENCH_NAME=bench-rollout
. scripts/benchlib.sh

OUT=${BENCH_ROLLOUT_OUT:-results/bench/rollout}
case $OUT in "" | / | . | ..) die "BENCH_ROLLOUT_OUT=$OUT: want a directory of its own" ;; esac
OUT=${OUT%/}
PARTS=" ${BENCH_ROLLOUT_PARTS:-overhead rate flips truth} "
TRUTH_RUNS=${BENCH_ROLLOUT_TRUTH_RUNS:-20}
RATE=${BENCH_ROLLOUT_RATE:-5000}
DUR=${BENCH_ROLLOUT_S:-10}
TRIES=${BENCH_ROLLOUT_TRIES:-3}
STEP_S=${BENCH_ROLLOUT_STEP_S:-5}
START=${BENCH_ROLLOUT_START:-5000}
MAX=${BENCH_ROLLOUT_MAX:-160000}
FLIP_RATE=${BENCH_ROLLOUT_FLIP_RATE:-2000}
FLIP_S=${BENCH_ROLLOUT_FLIP_S:-30}
FLIPS=${BENCH_ROLLOUT_FLIPS:-100}
FLIP_CLIENT=${BENCH_ROLLOUT_FLIP_CLIENT:-cli}
CHUNKS=${BENCH_ROLLOUT_CHUNKS:-10}
GAP_MS=${BENCH_ROLLOUT_GAP_MS:-5}
MAX_LAG_MS=${BENCH_MAX_LAG_MS:-10}
MAX_VUS=${BENCH_MAX_VUS:-2000}
TW_MAX=${BENCH_TW_MAX:-15000}
STRICT=${BENCH_STRICT:-0}
GONOGO=${BENCH_GONOGO:-bin/gonogo}
SERVER=bin/benchserver

for v in RATE DUR TRIES STEP_S START MAX FLIP_RATE FLIP_S FLIPS CHUNKS GAP_MS MAX_VUS TRUTH_RUNS; do
	case ${!v} in '' | *[!0-9]*) die "$v=${!v}: want a whole number" ;; esac
done
if [ "$TRIES" -lt 1 ] || [ "$TRIES" -gt 20 ]; then die "BENCH_ROLLOUT_TRIES=$TRIES: want 1…20"; fi
if [ "$FLIPS" -lt 1 ] || [ "$FLIPS" -gt 10000 ]; then die "BENCH_ROLLOUT_FLIPS=$FLIPS: want 1…10000"; fi
[ "$FLIP_S" -ge 3 ] || die "BENCH_ROLLOUT_FLIP_S=$FLIP_S: want at least 3 s"
case $FLIP_CLIENT in api | cli) ;; *) die "BENCH_ROLLOUT_FLIP_CLIENT=$FLIP_CLIENT: want api or cli" ;; esac

rm -rf "$OUT" "$OUT.txt"
mkdir -p "$OUT/runs"
ROWS=$OUT/rows.tsv
MISSED=0
: >"$ROWS"
[ -x "$GONOGO" ] || CGO_ENABLED=0 go build -o "$GONOGO" ./cmd/gonogo
[ -x "$SERVER" ] || CGO_ENABLED=0 go build -o "$SERVER" ./scripts/benchserver
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
echo "gonogo: $GONOGO   cpus: $(nproc)   load average: $LOAD0"
if [ "$(calc "int(${LOAD0%% *} > $(nproc))")" = 1 ]; then
	echo "warning: the load average is above the CPU count: other work shares the cores, and the figures show it"
fi

# The admin API's bearer token: random, readable by this user only, at an
# absolute path (a relative one in a rollout file is the file's
# directory's); and the same as a header for curl (off its command line).
TOKEN=$(cd "$OUT" && pwd)/token
AUTH=$OUT/auth-header
(
	umask 077
	python3 -c 'import secrets; print(secrets.token_hex(16))' >"$TOKEN"
	echo "Authorization: Bearer $(cat "$TOKEN")" >"$AUTH"
)

# cpu_ticks PID prints the user+system CPU ticks of a process (0 without /proc).
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }

# tw_wait waits (≤ 60 s) until fewer than TW_MAX sockets are in TIME_WAIT:
# the connections a run closed must not exhaust the next run's ports.
tw_wait() {
	local i n
	for i in $(seq 1 60); do
		n=$(python3 -c '
n = 0
for f in ("/proc/net/tcp", "/proc/net/tcp6"):
    try:
        n += sum(1 for l in open(f).readlines()[1:] if l.split()[3] == "06")
    except OSError:
        pass
print(n)')
		[ "$n" -lt "$TW_MAX" ] && return 0
		sleep 1
	done
}

# ---- the controller -----------------------------------------------------------
# start_rollout NAME BLUE_URL GREEN_URL HEALTH starts `gonogo rollout serve` in
# front of the two backends and waits (≤ 60 s) until its first step has
# warmed green and given it traffic. The proxy's address is in PROXY, the
# admin API's in ADMIN, the controller's pid in CTRL.
start_rollout() {
	local name=$1 pport aport cfg="$OUT/$1.yaml" i step=""
	pport=$(free_port)
	aport=$(free_port)
	cat >"$cfg" <<EOF
# A rollout that only serves: its first step warms green and gives it
# traffic, its last holds until promoted; the bench moves the weights.
name: bench-$name
listen: 127.0.0.1:$pport
admin:
  listen: 127.0.0.1:$aport
  tokenFile: $TOKEN
backends:
  - name: blue
    url: $2
    role: stable
    health: $4
  - name: green
    url: $3
    role: canary
    health: $4
strategy:
  canary:
    steps:
      - setWeight: 50
      - pause: {}
EOF
	start_bg "$OUT/controller-$name.log" "$GONOGO" rollout serve --config "$cfg" \
		--store "$OUT/rollouts-$name.db" --out "$OUT/controller-$name"
	CTRL=$BG_PID
	wait_listen "$aport" "$CTRL" "$OUT/controller-$name.log"
	wait_listen "$pport" "$CTRL" "$OUT/controller-$name.log"
	PROXY=http://127.0.0.1:$pport
	ADMIN=http://127.0.0.1:$aport
	for i in $(seq 1 600); do
		step=$(status | python3 -c 'import json, sys; print(json.load(sys.stdin)["step"])' 2>/dev/null || true)
		[ "${step:-0}" -ge 1 ] && return 0
		kill -0 "$CTRL" 2>/dev/null || break
		sleep 0.1
	done
	cat "$OUT/controller-$name.log" >&2
	die "rollout $name: green not warmed and given traffic within 60 s (step ${step:-?})"
}

# status prints the controller's status (JSON).
status() { "$GONOGO" rollout status --admin "$ADMIN" --token-file "$TOKEN"; }

# set_weight PERCENT moves green to PERCENT % of the traffic (the CLI).
set_weight() {
	"$GONOGO" rollout set-weight "$1" --admin "$ADMIN" --token-file "$TOKEN" --reason bench >/dev/null
}

# flip PERCENT does the same by FLIP_CLIENT (api: curl, ≤ 10 s).
flip() {
	if [ "$FLIP_CLIENT" = cli ]; then
		set_weight "$1"
	else
		curl -fsS -o /dev/null --max-time 10 -X POST -H "@$AUTH" "$ADMIN/v1/set-weight?weight=$1&reason=bench"
	fi
}

# ---- one load run -----------------------------------------------------------
# run URL RATE SECONDS NAME runs one http load and prints "achieved
# ok_ratio lag_p99_ms latency_p99_ms sustained".
run() {
	tw_wait
	http_load "$1" "$2" "$3" "$OUT/runs/$4"
}

# ---- parts 1 and 2: a trivial upstream, direct and through the proxy --------
if [[ $PARTS == *" overhead "* || $PARTS == *" rate "* ]]; then
	bport=$(free_port)
	start_bg "$OUT/benchserver-blue.log" "$SERVER" --addr "127.0.0.1:$bport"
	wait_listen "$bport" "$BG_PID" "$OUT/benchserver-blue.log"
	gport=$(free_port)
	start_bg "$OUT/benchserver-green.log" "$SERVER" --addr "127.0.0.1:$gport"
	wait_listen "$gport" "$BG_PID" "$OUT/benchserver-green.log"
	start_rollout http "http://127.0.0.1:$bport" "http://127.0.0.1:$gport" /healthz
	# Every request on blue: the proxy forwards to the server measured direct.
	set_weight 0
	declare -A URL=([direct]="http://127.0.0.1:$bport/" [proxy]="$PROXY/")
fi

if [[ $PARTS == *" overhead "* ]]; then
	say "1. overhead: latency p99 at $RATE req/s for ${DUR}s, direct and through the rollout proxy (all on blue), $TRIES tries each, interleaved"
	declare -A BEST=([direct]=inf [proxy]=inf) CARRIED=([direct]=0 [proxy]=0)
	PROXY_TICKS=0 PROXY_REQS=0
	for t in $(seq 1 "$TRIES"); do
		for side in direct proxy; do
			c0=$(cpu_ticks "$CTRL")
			read -r a okr lag lat ok < <(run "${URL[$side]}" "$RATE" "$DUR" "overhead-$side-$t")
			if [ "$side" = proxy ]; then
				PROXY_TICKS=$(calc "$PROXY_TICKS + $(cpu_ticks "$CTRL") - $c0")
				PROXY_REQS=$(calc "$PROXY_REQS + $okr * $RATE * $DUR")
			fi
			echo "  $side try $t: achieved $a/s, ok $okr, lag p99 $lag ms, latency p99 $lat ms"
			BEST[$side]=$(calc "min(${BEST[$side]}, $lat)")
			if [ "$ok" = 1 ]; then CARRIED[$side]=1; fi
		done
	done
	over=$(calc "round(${BEST[proxy]} - ${BEST[direct]}, 3)")
	# A side none of whose tries sustained the rate (bench.sh's rule) is
	# named: its p99 is that of an overloaded run.
	note=""
	for side in direct proxy; do
		[ "${CARRIED[$side]}" = 1 ] || note="$note; no $side try sustained $RATE/s by the rule of part 2"
	done
	row rollout "rollout proxy: latency p99 added at $RATE req/s (best of $TRIES: ${BEST[direct]} → ${BEST[proxy]} ms$note)" "+$over ms" "<= 1 ms" \
		"$([ "$(calc "int($over <= 1)")" = 1 ] && echo PASS || echo FAIL)"
	row rollout "rollout proxy: CPU time per request at $RATE req/s" \
		"$(calc "round($PROXY_TICKS * 1e6 / $(getconf CLK_TCK) / max($PROXY_REQS, 1), 1)") µs" "(info)" "-"
fi

if [[ $PARTS == *" rate "* ]]; then
	say "2. rate: highest sustained open-model rate, direct and through the rollout proxy, ${STEP_S}s steps, interleaved"
	side_run() { run "${URL[$1]}" "$2" "$3" "$4"; }
	search_rates side_run
	if [ "${LO[direct]}" = 0 ]; then
		# Not even the lowest rate tried direct: the machine was too busy
		# for the figure to mean anything.
		row rollout "rollout proxy: max sustained rate, proxy / direct (${LO[proxy]} / ${LO[direct]} req/s)" \
			"n/a: no rate sustained direct" ">= 0.5" FAIL
	else
		ratio=$(calc "round(${LO[proxy]} / ${LO[direct]}, 3)")
		row rollout "rollout proxy: max sustained rate, proxy / direct (${LO[proxy]} / ${LO[direct]} req/s)" "$ratio" ">= 0.5" \
			"$([ "$(calc "int($ratio >= 0.5)")" = 1 ] && echo PASS || echo FAIL)"
	fi
fi

if [[ $PARTS == *" overhead "* || $PARTS == *" rate "* ]]; then
	stop_bg "$CTRL"
fi

# ---- part 3: flips under streaming load ---------------------------------------
# stream URL RATE NAME runs the streaming load of part 3 in the background;
# its pid is in LOADPID.
stream() {
	"$GONOGO" load --target "$1" --protocol openai --model bench --max-tokens "$CHUNKS" \
		--executor constant-arrival-rate --rate "$2" --duration "${FLIP_S}s" --max-vus "$MAX_VUS" \
		--quiet --history '' --no-preflight --out "$OUT/runs/$3" >"$OUT/runs/$3.log" 2>&1 &
	LOADPID=$!
	PIDS+=("$LOADPID")
}

# streamfig NAME RATE RC sets a streaming run's figures (shell
# assignments); ran=1 when the run ended normally (0, or 3 for a threshold
# such as dropped arrivals) and has requests; carried=1 when every
# scheduled stream was sent (none dropped) at ≥ 99 % of the rate.
streamfig() {
	eval "$(python3 - "$OUT/runs/$1/run.json" "$2" "$FLIP_S" "$3" <<'PY'
import json, math, sys
rate, secs, rc = float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
try:
    s = next(iter(json.load(open(sys.argv[1]))["scenarios"].values()))
except (OSError, ValueError, StopIteration):
    s = {}
q, r = s.get("requests", {}), s.get("rate", {})
failed = q.get("failed", {})
total, dropped, achieved = q.get("total", 0), q.get("dropped", 0), r.get("achieved", 0)
p99 = lambda m: s.get(m, {}).get("p99", math.inf)
ran = int(rc in (0, 3) and total > 0)
print(f'total={total} ok={q.get("ok", 0)} nfailed={sum(failed.values())} '
      f'classes="{" ".join(f"{k}={v}" for k, v in sorted(failed.items())) or "none"}" '
      f'protocol={failed.get("protocol", 0)} dropped={dropped} achieved={achieved:.1f} '
      f'completed={r.get("completed_per_sec", 0):.1f} lag_p99={p99("scheduling_lag")} lat_p99={p99("latency")} '
      f'scheduled={int(rate * secs)} ran={ran} carried={int(ran and dropped == 0 and achieved >= 0.99 * rate)}')
PY
)"
	echo "  exit $3; $total requests ($ok ok, $nfailed failed: $classes), $dropped dropped of $scheduled; achieved $achieved/s, completed $completed/s; lag p99 $lag_p99 ms, latency p99 $lat_p99 ms"
}

# flips RATE NAME starts a controller in front of the two sse servers,
# sends the streaming load at RATE through its proxy and flips green
# between 100 % and 0 % FLIPS times meanwhile. Flip k (1…FLIPS) is due at
# 1 s + k × (FLIP_S − 2 s) / FLIPS after the load started, odd ones to
# green, even ones to blue; a call behind its time goes at once; a flip
# counts (flipped) when its call succeeded and the load still ran when it
# returned. It leaves the load's figures set (streamfig).
flips() {
	local rate=$1 name=$2 t0 span_us due now t1 rc=0 k=0 took=()
	tw_wait
	start_rollout "$name" "${SSE_URL[blue]}" "${SSE_URL[green]}" /v1/models
	set_weight 0
	stream "$PROXY/" "$rate" "$name"
	t0=${EPOCHREALTIME/./}
	span_us=$(((FLIP_S - 2) * 1000000))
	flipped=0 refused=0
	while [ "$k" -lt "$FLIPS" ] && kill -0 "$LOADPID" 2>/dev/null; do
		k=$((k + 1))
		due=$((t0 + 1000000 + k * span_us / FLIPS))
		now=${EPOCHREALTIME/./}
		if [ "$now" -lt "$due" ]; then
			sleep "$(printf '%d.%06d' $(((due - now) / 1000000)) $(((due - now) % 1000000)))"
		fi
		t1=${EPOCHREALTIME/./}
		if flip $((k % 2 == 1 ? 100 : 0)) 2>>"$OUT/flips-refused.log"; then
			kill -0 "$LOADPID" 2>/dev/null && flipped=$((flipped + 1))
		else
			refused=$((refused + 1))
		fi
		took+=($(((${EPOCHREALTIME/./} - t1) / 1000)))
	done
	wait "$LOADPID" || rc=$?
	echo "  controller: $(status | python3 -c 'import json, sys; d = json.load(sys.stdin); print("phase", d["phase"], "step", d["step"], "requests routed", {b: sum(v.values()) for b, v in d["routed"].items()})')"
	stop_bg "$CTRL"
	flip_ms=$(calc "(lambda v: 'median %d ms, max %d ms' % (median(v), max(v)) if v else 'none')([${took[*]/%/,}])")
	echo "  flips: $k calls, $flipped done while the load ran, $refused refused (see $OUT/flips-refused.log); call time $flip_ms"
	streamfig "$name" "$rate" "$rc"
}

if [[ $PARTS == *" flips "* ]]; then
	say "3. flips: $FLIPS set-weight calls ($FLIP_CLIENT; green 100 % / 0 %) during ${FLIP_S}s of streaming at $FLIP_RATE req/s through the rollout proxy ($CHUNKS chunks ${GAP_MS} ms apart per stream)"
	declare -A SSE SSE_URL
	for b in blue green; do
		port=$(free_port)
		start_bg "$OUT/sse-$b.log" "$SERVER" --addr "127.0.0.1:$port" --mode sse --chunks "$CHUNKS" --gap "${GAP_MS}ms"
		SSE[$b]=$BG_PID
		SSE_URL[$b]=http://127.0.0.1:$port
		wait_listen "$port" "$BG_PID" "$OUT/sse-$b.log"
	done

	echo "direct to blue, for reference:"
	tw_wait
	rc=0
	stream "${SSE_URL[blue]}/" "$FLIP_RATE" flips-direct
	wait "$LOADPID" || rc=$?
	streamfig flips-direct "$FLIP_RATE" "$rc"
	row rollout "flips: reference, the same streaming load direct to blue (achieved; dropped; failed; lag p99)" \
		"$achieved/s; $dropped dropped; $nfailed failed; $lag_p99 ms" "(info)" "-"

	echo "through the rollout proxy, flipping:"
	flips "$FLIP_RATE" "flips-$FLIP_RATE"
	row rollout "flips: set-weight calls ($FLIP_CLIENT) done while the streaming load ran (green 100 % / 0 %, alternating; calls $flip_ms)" \
		"$flipped of $FLIPS" "$FLIPS" "$([ "$flipped" = "$FLIPS" ] && echo PASS || echo FAIL)"
	row rollout "flips: streaming rate carried through the proxy (achieved; dropped of $scheduled; lag p99 $lag_p99 ms)" \
		"$achieved/s; $dropped dropped" ">= 99 % of $FLIP_RATE/s, 0 dropped" "$([ "$carried" = 1 ] && echo PASS || echo FAIL)"
	row rollout "flips: failed requests ($total streams sent; by class: $classes)" "$nfailed" "0" \
		"$([ "$ran" = 1 ] && [ "$nfailed" = 0 ] && echo PASS || echo FAIL)"
	row rollout "flips: truncated streams (ended without [DONE]: class protocol)" "$protocol" "0" \
		"$([ "$ran" = 1 ] && [ "$protocol" = 0 ] && echo PASS || echo FAIL)"

	# When the proxy did not carry the rate, the same at half of it says
	# whether flips lose streams where it does (information, not the target).
	half=$((FLIP_RATE / 2))
	if [ "$carried" != 1 ] && [ "$half" -ge 1 ]; then
		echo "through the rollout proxy at $half req/s (it did not carry $FLIP_RATE), flipping:"
		flips "$half" "flips-$half"
		row rollout "flips at $half req/s: rate carried; flips done; failed; truncated" \
			"$([ "$carried" = 1 ] && echo yes || echo "no ($achieved/s, $dropped dropped)"); $flipped of $FLIPS; $nfailed; $protocol" "(info)" "-"
	fi
	for b in blue green; do
		stop_bg "${SSE[$b]}"
		echo "$b server: $(grep -h 'sse:' "$OUT/sse-$b.log" | sed 's/.*sse: //')"
	done
fi

# ---- 4. truth: v2 promoted, v2-slow rolled back, again and again -------------
if [[ $PARTS == *" truth "* ]]; then
	say "truth: $TRUTH_RUNS canaries of v2 and of v2-slow (rollout/rollout_test.go, TestRolloutTruthRepeated)"
	rc=0
	GONOGO_ROLLOUT_REPEAT=$TRUTH_RUNS go test -count=1 -v -timeout 30m -run '^TestRolloutTruthRepeated$' ./rollout/ >"$OUT/truth.log" 2>&1 || rc=$?
	line=$(grep '^rollout truth:' "$OUT/truth.log" || true)
	echo "${line:-no figures: see $OUT/truth.log}"
	promoted=$(sed -n 's/.*v2 promoted in \([0-9]*\) of.*/\1/p' <<<"$line")
	rolled=$(sed -n 's/.*v2-slow rolled back in \([0-9]*\) of.*/\1/p' <<<"$line")
	caught=$(sed -n 's/.*caught \(.*\) after its first traffic (\(median [^;]*\);.*/\1, \2/p' <<<"$line")
	row rollout "truth: v2 canaries promoted, no false rollback (interval 1 s, window 2 s)" "${promoted:-0} of $TRUTH_RUNS" "$TRUTH_RUNS of $TRUTH_RUNS" \
		"$([ "$rc" = 0 ] && [ "${promoted:-0}" = "$TRUTH_RUNS" ] && echo PASS || echo FAIL)"
	row rollout "truth: v2-slow canaries rolled back; time from first canary traffic to rollback" "${rolled:-0} of $TRUTH_RUNS; ${caught:-n/a}" "$TRUTH_RUNS of $TRUTH_RUNS" \
		"$([ "$rc" = 0 ] && [ "${rolled:-0}" = "$TRUTH_RUNS" ] && echo PASS || echo FAIL)"
fi

# ---- figures ------------------------------------------------------------------
say "figures"
row host "CPUs; load average (1, 5, 15 min) at start / end" "$(nproc); $LOAD0 / $(cut -d' ' -f1-3 /proc/loadavg)" "(info)" "-"
python3 - "$ROWS" "$OUT.txt" <<'PY'
import csv, os, sys, time
rows = [r for r in csv.reader(open(sys.argv[1]), delimiter="\t") if r]
head = ["section", "figure", "measured", "target", "verdict"]
w = [max(len(r[i]) for r in rows + [head]) for i in range(5)]
fmt = lambda r: "  ".join(c.ljust(w[i]) for i, c in enumerate(r)).rstrip()
text = "\n".join([fmt(head), fmt(["-" * x for x in w])] + [fmt(r) for r in rows]) + "\n"
sys.stdout.write(text)
with open(sys.argv[2], "w") as f:
    f.write(f"gonogo bench-rollout, {time.strftime('%Y-%m-%d %H:%M:%S %Z')}, {os.cpu_count()} CPUs\n\n" + text)
PY
echo
echo "results: $OUT.txt, $OUT/rows.tsv"
if [ "$MISSED" -gt 0 ]; then
	echo "$MISSED target(s) missed"
	if [ "$STRICT" = 1 ]; then exit 3; fi
fi
