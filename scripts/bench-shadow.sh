#!/usr/bin/env bash
# Shadow replay figures, end to end with bin/gonogo on loopback:
#
#   1. same version on both sides   primary and candidate are two `gonogo fixture
#                                   serve --version v1` with the same knobs; the conv
#                                   sample (fixtures/traffic) is replayed in order by
#                                   `gonogo shadow` below the fixture's knee and past
#                                   it; candidate/primary latency p50 and p99 (from
#                                   divergence.json, latency side by side) within 10 %,
#                                   the comparison valid (nothing dropped), and the
#                                   replay's wall time against its duration
#   2. mirroring overhead           the primary's latency p99 (run.json) at
#                                   BENCH_SHADOW_OVERHEAD_RATE req/s, alone (`gonogo
#                                   load`) and shadowed by a candidate that takes 2 s
#                                   per request (`gonogo shadow`) with each mirror
#                                   in-flight cap of BENCH_SHADOW_OVERHEAD_CAPS (so many
#                                   requests and connections the stalled candidate
#                                   holds), interleaved tries; the difference of the
#                                   best p99 of each side (target: 1 ms)
#
# Results go under BENCH_SHADOW_OUT: rows.tsv (section, figure, measured,
# target, verdict — the rows of scripts/bench.sh), summary.txt, and one
# directory per run. Traffic goes only to 127.0.0.1; every loop is bounded.
#
# Environment (defaults in brackets):
#   BENCH_SHADOW_OUT [results/bench/shadow]
#   BENCH_SHADOW_SCALE [0.1]          fixture --latency-scale of part 1 (the knee
#                                     scales with 1/scale)
#   BENCH_SHADOW_BELOW [42]           part 1 rate below the knee, req/s
#   BENCH_SHADOW_BELOW_S [10]         its duration, seconds
#   BENCH_SHADOW_PAST [130]           part 1 rate past the knee, req/s (the fixture at
#                                     scale 0.1 queues from about 85 req/s)
#   BENCH_SHADOW_PAST_S [4.5]         its duration, seconds (the sample has 600 rows)
#   BENCH_SHADOW_STREAM [0]           1: openai streaming (SSE) in part 1; the default
#                                     sends non-streaming requests, so that the CPU of
#                                     two servers streaming on a small machine does not
#                                     become what is measured
#   BENCH_SHADOW_OVERHEAD_RATE [1000] part 2 rate, req/s (kserve)
#   BENCH_SHADOW_OVERHEAD_S [5]       part 2 duration per try, seconds
#   BENCH_SHADOW_TRIES [3]            part 2 tries per side
#   BENCH_SHADOW_OVERHEAD_CAPS ["1000 64"]  part 2 mirror in-flight caps (--max-vus of
#                                     the shadowed runs; 1000 is the default)
#   BENCH_STRICT [0]                  1: exit 3 when a target is missed
set -euo pipefail
cd "$(dirname "$0")/.."

OUT=${BENCH_SHADOW_OUT:-results/bench/shadow}
SCALE=${BENCH_SHADOW_SCALE:-0.1}
BELOW=${BENCH_SHADOW_BELOW:-42}
BELOW_S=${BENCH_SHADOW_BELOW_S:-10}
PAST=${BENCH_SHADOW_PAST:-130}
PAST_S=${BENCH_SHADOW_PAST_S:-4.5}
STREAM=${BENCH_SHADOW_STREAM:-0}
OV_RATE=${BENCH_SHADOW_OVERHEAD_RATE:-1000}
OV_S=${BENCH_SHADOW_OVERHEAD_S:-5}
TRIES=${BENCH_SHADOW_TRIES:-3}
OV_CAPS=${BENCH_SHADOW_OVERHEAD_CAPS:-1000 64}
STRICT=${BENCH_STRICT:-0}
GONOGO=bin/gonogo
TRACE=fixtures/traffic/azure-conv-sample.csv

BENCH_NAME=bench-shadow
. "$(dirname "$0")/benchlib.sh"

# fixture LOG PORT ARGS... starts `gonogo fixture serve` on 127.0.0.1:PORT
# and waits (≤ 10 s) until it accepts; its pid is in BG_PID.
fixture() {
	local log=$1 port=$2
	shift 2
	start_bg "$log" "$GONOGO" fixture serve --addr "127.0.0.1:$port" "$@"
	wait_listen "$port" "$BG_PID" "$log"
}

ROWS=$OUT/rows.tsv
MISSED=0
now() { date +%s.%N; }

rm -rf "$OUT"
mkdir -p "$OUT"
: >"$ROWS"

say "build"
make --no-print-directory build
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
echo "cpus: $(nproc)   load average: $LOAD0"

# ---- 1. same version on both sides -----------------------------------------
say "1. primary and candidate both v1 (--latency-scale $SCALE), conv sample in order"
p1=$(free_port)
fixture "$OUT/fixture-primary.log" "$p1" --version v1 --latency-scale "$SCALE"
fp=$BG_PID
p2=$(free_port)
fixture "$OUT/fixture-candidate.log" "$p2" --version v1 --latency-scale "$SCALE"
fc=$BG_PID
stream=(--no-stream)
[ "$STREAM" = 1 ] && stream=()
for point in "below:$BELOW:$BELOW_S" "past:$PAST:$PAST_S"; do
	IFS=: read -r name rate secs <<<"$point"
	dir=$OUT/same-$name
	t0=$(now)
	rc=0
	"$GONOGO" shadow --trace "$TRACE" --primary "http://127.0.0.1:$p1" --candidate "http://127.0.0.1:$p2" \
		--protocol openai "${stream[@]}" --rate "$rate" --duration "${secs}s" --quiet --history '' \
		--out "$dir" >"$dir.log" 2>&1 || rc=$?
	wall=$(calc "round($(now) - $t0, 1)")
	[ "$rc" = 0 ] || { tail -5 "$dir.log" >&2; die "gonogo shadow ($name the knee) exited $rc"; }
	# Figures: candidate/primary p50 and p99 from divergence.json, the
	# comparison's validity, the candidate's counts from run.json.
	eval "$(python3 - "$dir" <<'PY'
import json, sys
d = sys.argv[1]
div = json.load(open(f"{d}/divergence.json"))
run = json.load(open(f"{d}/run.json"))
lat = {t["target"]: t for t in div["latency"]}
p, c = lat["primary"]["latency_ms"], lat["candidate"]["latency_ms"]
ttft = ""
if lat["primary"].get("ttft_ms") and lat["candidate"].get("ttft_ms"):
    ttft = f'{lat["candidate"]["ttft_ms"]["p50"] / lat["primary"]["ttft_ms"]["p50"]:.3f}'
m = run.get("mirrors", {}).get("candidate", {})
print(f'pp50={p["p50"]} pp99={p["p99"]} cp50={c["p50"]} cp99={c["p99"]} n={p["count"]} '
      f'r50={c["p50"] / p["p50"]:.3f} r99={c["p99"] / p["p99"]:.3f} ttft_r50="{ttft}" '
      f'invalid={len(div.get("latency_invalid") or [])} sent={m.get("sent", 0)} dropped={m.get("dropped", 0)}')
PY
)"
	ok=$(calc "int(0.9 <= $r50 <= 1.1 and 0.9 <= $r99 <= 1.1 and $invalid == 0)")
	echo "  $name the knee: $rate req/s for ${secs}s, $n requests: primary p50 $pp50 p99 $pp99 ms, candidate p50 $cp50 p99 $cp99 ms; ratios p50 $r50 p99 $r99${ttft_r50:+, ttft p50 $ttft_r50}; candidate sent $sent dropped $dropped; wall ${wall}s"
	row shadow "same version, $name the knee ($rate req/s, $n req): candidate/primary latency p50, p99" \
		"$r50, $r99 (primary $pp50 / $pp99 ms; candidate $cp50 / $cp99 ms)" "within 10 %, valid" \
		"$([ "$ok" = 1 ] && echo PASS || echo FAIL)"
	if [ -n "$ttft_r50" ]; then
		row shadow "same version, $name the knee: candidate/primary ttft p50" "$ttft_r50" "(info)" "-"
	fi
	row shadow "same version, $name the knee: candidate sent / dropped; latency comparison" \
		"$sent / $dropped; $([ "$invalid" = 0 ] && echo valid || echo INVALID)" "(info)" "-"
	row shadow "same version, $name the knee: wall time of a ${secs}s replay" "${wall} s (primary p99 $pp99 ms)" "(info)" "-"
done
stop_bg "$fp"
stop_bg "$fc"

# ---- 2. mirroring overhead on the primary ------------------------------------
say "2. mirroring overhead: kserve at $OV_RATE req/s for ${OV_S}s, alone and with a candidate taking 2 s per request"
rows=$(calc "int($OV_RATE * $OV_S) + 100")
python3 - "$OUT/overhead.csv" "$rows" <<'PY'
import sys
with open(sys.argv[1], "w") as f:
    f.write("TIMESTAMP,ContextTokens,GeneratedTokens\n")
    for i in range(int(sys.argv[2])):
        f.write(f"2023-11-16 18:{i // 60000 % 60:02d}:{i // 1000 % 60:02d}.{i % 1000:03d}0000,100,10\n")
PY
p1=$(free_port)
fixture "$OUT/fixture-fast.log" "$p1" --version v1
fp=$BG_PID
p2=$(free_port)
fixture "$OUT/fixture-stalling.log" "$p2" --version v1 --latency-scale 1000 # infer: 2 ms × 1000
fc=$BG_PID
# primary_figures DIR prints the primary's latency p99 and p50 (ms) and its counts.
primary_figures() {
	python3 - "$1/run.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))["overall"]
q = s.get("requests", {})
print(f'p99={s["latency"]["p99"]} p50={s["latency"]["p50"]} total={q.get("total", 0)} ok={q.get("ok", 0)} dropped={q.get("dropped", 0)}')
PY
}
# Sides: the primary alone, then shadowed with each mirror in-flight cap
# (--max-vus, which --mirror-max-in-flight follows): a stalled candidate
# holds that many requests, and connections, open.
declare -A P99
SIDES=(alone)
for cap in $OV_CAPS; do SIDES+=("cap$cap"); done
for try in $(seq 1 "$TRIES"); do
	for side in "${SIDES[@]}"; do
		dir=$OUT/overhead-$side-$try
		common=(--protocol kserve --model resnet --trace "$OUT/overhead.csv" --rate "$OV_RATE" --duration "${OV_S}s" --quiet --history '' --out "$dir")
		rc=0
		if [ "$side" = alone ]; then
			"$GONOGO" load --target "http://127.0.0.1:$p1" --replay sequential "${common[@]}" >"$dir.log" 2>&1 || rc=$?
		else
			"$GONOGO" shadow --primary "http://127.0.0.1:$p1" --candidate "http://127.0.0.1:$p2" --max-vus "${side#cap}" \
				"${common[@]}" >"$dir.log" 2>&1 || rc=$?
		fi
		[ "$rc" = 0 ] || { tail -5 "$dir.log" >&2; die "overhead run $side $try exited $rc"; }
		eval "$(primary_figures "$dir")"
		echo "  try $try $side: primary p50 $p50 p99 $p99 ms ($ok of $total ok, $dropped dropped by the engine)"
		P99[$side]="${P99[$side]:-}${P99[$side]:+,}$p99"
	done
done
stop_bg "$fp"
stop_bg "$fc"
best_alone=$(calc "min([${P99[alone]}])")
for cap in $OV_CAPS; do
	best=$(calc "min([${P99[cap$cap]}])")
	delta=$(calc "round($best - $best_alone, 3)")
	cand=$(python3 - "$OUT/overhead-cap$cap-$TRIES/run.json" <<'PY'
import json, sys
m = json.load(open(sys.argv[1])).get("mirrors", {}).get("candidate", {})
print(f'sent {m.get("sent", 0)}, dropped {m.get("dropped", 0)}')
PY
)
	row shadow "mirroring overhead, --max-vus $cap: primary p99 at $OV_RATE req/s alone / with a candidate taking 2 s (best of $TRIES)" \
		"$best_alone / $best ms (tries: ${P99[alone]} / ${P99[cap$cap]}); candidate $cand (last try)" "(info)" "-"
	row shadow "mirroring overhead, --max-vus $cap: primary p99 shadowed - alone" "$delta ms" "<= 1 ms" \
		"$([ "$(calc "int($delta <= 1)")" = 1 ] && echo PASS || echo FAIL)"
done

# ---- summary ---------------------------------------------------------------
say "summary"
row host "CPUs; load average (1, 5, 15 min) at start / end" "$(nproc); $LOAD0 / $(cut -d' ' -f1-3 /proc/loadavg)" "(info)" "-"
column -t -s $'\t' "$ROWS" | tee "$OUT/summary.txt"
if [ "$STRICT" = 1 ] && [ "$MISSED" -gt 0 ]; then
	exit 3
fi
