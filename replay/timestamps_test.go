package replay_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gonogo-dev/gonogo"
	"github.com/gonogo-dev/gonogo/replay"
	_ "github.com/gonogo-dev/gonogo/replay/csv" // replay.Open reads the Azure CSV
	"github.com/gonogo-dev/gonogo/scenarios"
)

var _ scenarios.Source = (*replay.Timestamps)(nil)

// modesDrain returns every offset of src and the requests that came with them.
func modesDrain(t *testing.T, src *replay.Timestamps) ([]time.Duration, []gonogo.Request) {
	t.Helper()
	var offs []time.Duration
	var reqs []gonogo.Request
	for {
		var req gonogo.Request
		off, ok := src.Next(&req)
		if !ok {
			break
		}
		if n := len(offs); n > 0 && off < offs[n-1] {
			t.Fatalf("arrival %d at %s, before the previous one at %s", n, off, offs[n-1])
		}
		offs = append(offs, off)
		reqs = append(reqs, req)
		if len(offs) > 10_000_000 {
			t.Fatal("the replay does not end")
		}
	}
	return offs, reqs
}

func modesSecs(offs []time.Duration) []float64 {
	s := make([]float64, len(offs))
	for i, o := range offs {
		s[i] = o.Seconds()
	}
	return s
}

func TestTimestampsOffsets(t *testing.T) {
	rows := modesRows(0, 0.5, 1, 2.5, 4, 7)
	for _, tc := range []struct {
		name string
		o    replay.TimestampOptions
		want []float64
	}{
		{"defaults", replay.TimestampOptions{}, []float64{0, 0.5, 1, 2.5, 4, 7}},
		{"speed 2", replay.TimestampOptions{Speed: 2}, []float64{0, 0.25, 0.5, 1.25, 2, 3.5}},
		{"window", replay.TimestampOptions{From: time.Second, To: 4 * time.Second}, []float64{0, 1.5}},
		{"window to the end, speed 10", replay.TimestampOptions{From: 2 * time.Second, Speed: 10}, []float64{0.05, 0.2, 0.5}},
		// The trace reaches To: each loop lasts To−From = 3 s.
		{"loop window", replay.TimestampOptions{From: time.Second, To: 4 * time.Second, Loop: 2}, []float64{0, 1.5, 3, 4.5}},
		// No To: a loop lasts until the last arrival plus the mean gap, 7 + 7/5.
		{"loop whole", replay.TimestampOptions{Loop: 2}, []float64{0, 0.5, 1, 2.5, 4, 7, 8.4, 8.9, 9.4, 10.9, 12.4, 15.4}},
		// To beyond the trace's end: as if there were none.
		{"loop past the end", replay.TimestampOptions{From: 4 * time.Second, To: time.Hour, Loop: 3}, []float64{0, 3, 6, 9, 12, 15}},
		{"scale 2", replay.TimestampOptions{Scale: 2, To: 1500 * time.Millisecond}, []float64{0, 0.000001, 0.5, 0.500001, 1, 1.000001}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := replay.NewTimestamps(&modesReader{rows: rows}, tc.o)
			offs, _ := modesDrain(t, src)
			got := modesSecs(offs)
			if len(got) != len(tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
			for i := range got {
				if math.Abs(got[i]-tc.want[i]) > 1e-9 {
					t.Fatalf("got %v, want %v", got, tc.want)
				}
			}
			if err := src.Err(); err != nil {
				t.Fatal(err)
			}
			if !src.Done() || src.Arrivals() != int64(len(got)) {
				t.Errorf("Done %v, Arrivals %d, want true, %d", src.Done(), src.Arrivals(), len(got))
			}
		})
	}
}

func TestTimestampsFillsPayload(t *testing.T) {
	rec := &gonogo.Recorded{Method: "POST", Path: "/v1/completions", Body: []byte(`{}`)}
	rows := []replay.Row{
		{Line: 7, Offset: 0, InputTokens: 11, OutputTokens: 22, Tags: map[string]string{"user": "a"}, Request: rec},
		{Line: 9, Offset: time.Second, InputTokens: 33, OutputTokens: 44},
	}
	_, reqs := modesDrain(t, replay.NewTimestamps(&modesReader{rows: rows}, replay.TimestampOptions{}))
	if len(reqs) != 2 {
		t.Fatalf("%d requests, want 2", len(reqs))
	}
	if r := reqs[0]; r.Row != 7 || r.InputTokens != 11 || r.OutputTokens != 22 || r.Tags["user"] != "a" || r.Recorded != rec {
		t.Errorf("first request %+v", r)
	}
	if r := reqs[1]; r.Row != 9 || r.InputTokens != 33 || r.OutputTokens != 44 || r.Tags != nil || r.Recorded != nil {
		t.Errorf("second request %+v", r)
	}
}

func TestTimestampsStreams(t *testing.T) {
	r := &modesReader{rows: modesRows(0, 1, 2, 3, 4, 5, 6, 7, 8, 9)}
	src := replay.NewTimestamps(r, replay.TimestampOptions{})
	for i := 1; i <= 4; i++ {
		src.Next(nil)
		if r.i != i {
			t.Fatalf("after %d arrivals the reader has given %d rows, want %d", i, r.i, i)
		}
	}
}

func TestTimestampsReopen(t *testing.T) {
	rows := modesRows(0, 1, 2)
	first := &modesReader{rows: rows}
	var opened []*modesReader
	src := replay.NewTimestamps(first, replay.TimestampOptions{Loop: 3, Reopen: func() (replay.Reader, io.Closer, error) {
		r := &modesReader{rows: rows}
		opened = append(opened, r)
		return r, r, nil
	}})
	offs, _ := modesDrain(t, src)
	if got := modesSecs(offs); len(got) != 9 || got[3] != 3 || got[8] != 8 {
		t.Fatalf("offsets %v, want 0…8 s", got)
	}
	if len(opened) != 2 || opened[0].closed != 1 || opened[1].closed != 1 || first.closed != 0 {
		t.Errorf("reopened %d readers; want 2, each closed once, and the caller's left open", len(opened))
	}

	boom := errors.New("boom")
	src = replay.NewTimestamps(&modesReader{rows: rows}, replay.TimestampOptions{Loop: 2, Reopen: func() (replay.Reader, io.Closer, error) { return nil, nil, boom }})
	if offs, _ := modesDrain(t, src); len(offs) != 3 || !errors.Is(src.Err(), boom) {
		t.Errorf("%d arrivals, Err %v; want 3 and boom", len(offs), src.Err())
	}
}

func TestTimestampsReaderErrorEndsReplay(t *testing.T) {
	rowErr := &replay.RowError{File: "t.csv", Line: 4, Field: "ContextTokens", Err: errors.New("not a number")}
	skips := replay.Skips{}
	skips.Add(&replay.RowError{File: "t.csv", Line: 3, Err: errors.New("short row")})
	src := replay.NewTimestamps(&modesReader{rows: modesRows(0, 1), err: rowErr, skips: skips}, replay.TimestampOptions{Loop: 2})
	offs, _ := modesDrain(t, src)
	var re *replay.RowError
	if len(offs) != 2 || !errors.As(src.Err(), &re) || re.Line != 4 {
		t.Errorf("%d arrivals, Err %v; want 2 and the row error", len(offs), src.Err())
	}
	if got := src.Skipped(); got.Count != 1 || got.First[0].Line != 3 {
		t.Errorf("Skipped %+v", got)
	}
}

func TestTimestampsBadOptions(t *testing.T) {
	for _, o := range []replay.TimestampOptions{
		{Speed: -1}, {Speed: math.NaN()}, {Scale: -0.5}, {Loop: -1}, {From: -time.Second},
		{From: 2 * time.Second, To: time.Second},
	} {
		src := replay.NewTimestamps(&modesReader{rows: modesRows(0, 1)}, o)
		if _, ok := src.Next(nil); ok || !errors.Is(src.Err(), replay.ErrOption) || !errors.Is(o.Validate(), replay.ErrOption) {
			t.Errorf("%+v: Err %v, want ErrOption and no arrivals", o, src.Err())
		}
	}
}

// A window that holds no row of the trace is an error that says where the
// rows are, from Start before any arrival (and from Next without Start);
// a window that holds one is not.
func TestTimestampsWindowOutsideTrace(t *testing.T) {
	tests := []struct {
		name     string
		secs     []float64
		from, to time.Duration
		start    bool
		want     string // "" for a replay that sends something
	}{
		{"past the end", []float64{0, 1, 2.25}, 10 * time.Second, 0, true, "--from 10s is past the end of the trace: its 3 rows span 0s–2.3s"},
		{"past the end, no Start", []float64{0, 1, 2.25}, 10 * time.Second, 20 * time.Second, false, "--from 10s is past the end of the trace: its 3 rows span 0s–2.3s"},
		{"just after the last row", []float64{0, 1, 2}, 2*time.Second + 1, 0, true, "--from 2.000000001s is past the end of the trace: its 3 rows span 0s–2s"},
		{"one row", []float64{0}, time.Minute, 0, true, "--from 1m0s is past the end of the trace: its only row is at 0s"},
		{"between two rows", []float64{0, 1, 5}, 2 * time.Second, 3 * time.Second, true, "--from 2s --to 3s selects no row of the trace: the rows around it are at 1s and 5s"},
		{"at the last row", []float64{0, 1, 2}, 2 * time.Second, 0, true, ""},
		{"whole trace", []float64{0, 1, 2}, 0, 0, true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := replay.NewTimestamps(&modesReader{rows: modesRows(tt.secs...)}, replay.TimestampOptions{From: tt.from, To: tt.to, Loop: 2})
			var err error
			if tt.start {
				err = src.Start()
			}
			offs, _ := modesDrain(t, src)
			if !tt.start {
				err = src.Err()
			}
			if tt.want == "" {
				if err != nil || len(offs) == 0 {
					t.Errorf("Start = %v, %d arrivals; want nil and some", err, len(offs))
				}
				return
			}
			var we *replay.WindowError
			if err == nil || err.Error() != tt.want || !errors.As(err, &we) || !errors.Is(err, replay.ErrOption) {
				t.Errorf("err = %v\nwant  %s (a *WindowError, ErrOption)", err, tt.want)
			}
			if len(offs) != 0 || src.Err() != err {
				t.Errorf("%d arrivals, Err %v after Start %v", len(offs), src.Err(), err)
			}
		})
	}
}

// Start reads no further than the window's first row: the arrivals after
// it are the same as without Start.
func TestTimestampsStartKeepsArrivals(t *testing.T) {
	o := replay.TimestampOptions{From: time.Second, Scale: 2}
	plain, _ := modesDrain(t, replay.NewTimestamps(&modesReader{rows: modesRows(0, 1, 1.5, 3)}, o))
	started := replay.NewTimestamps(&modesReader{rows: modesRows(0, 1, 1.5, 3)}, o)
	if err := started.Start(); err != nil {
		t.Fatal(err)
	}
	if err := started.Start(); err != nil { // twice is once
		t.Fatal(err)
	}
	got, _ := modesDrain(t, started)
	if fmt.Sprint(got) != fmt.Sprint(plain) || len(got) != 6 {
		t.Errorf("arrivals after Start %v, without %v", got, plain)
	}
}

// modesTraceOffsets returns the code trace's offsets in [from, to), re-based
// to from and divided by speed, as the replay should send them.
func modesTraceOffsets(rows []replay.Row, from, to time.Duration, speed float64) []time.Duration {
	var offs []time.Duration
	for _, r := range rows {
		if r.Offset >= from && (to == 0 || r.Offset < to) {
			offs = append(offs, time.Duration(float64(r.Offset-from)/speed))
		}
	}
	return offs
}

func TestTimestampsWindowAndLoopOnTrace(t *testing.T) {
	rows := modesAzureCode(t)
	from, to := 600*time.Second, 1200*time.Second
	want := modesTraceOffsets(rows, from, to, 1)
	once, _ := modesDrain(t, replay.NewTimestamps(&modesReader{rows: rows}, replay.TimestampOptions{From: from, To: to}))
	twice, _ := modesDrain(t, replay.NewTimestamps(&modesReader{rows: rows}, replay.TimestampOptions{From: from, To: to, Loop: 2}))
	t.Logf("window [%s, %s): %d trace rows, replayed %d; looped twice %d", from, to, len(want), len(once), len(twice))
	if len(once) != len(want) || len(twice) != 2*len(want) {
		t.Fatalf("window replayed %d, looped %d; want %d and %d", len(once), len(twice), len(want), 2*len(want))
	}
	for i := range want {
		if once[i] != want[i] || twice[i] != want[i] || twice[len(want)+i] != want[i]+(to-from) {
			t.Fatalf("arrival %d at %s (loop 2: %s), want %s", i, once[i], twice[len(want)+i], want[i])
		}
	}
}

func TestTimestampsScaleOnTrace(t *testing.T) {
	rows := modesAzureCode(t)
	base := modesBins(modesTraceOffsets(rows, 0, 0, 1), time.Second)
	n := float64(len(rows))
	for _, tc := range []struct {
		scale float64
		tol   float64 // relative tolerance of the total
	}{
		{3, 0}, {1.5, 0.03}, {0.25, 0.05},
	} {
		offs, _ := modesDrain(t, replay.NewTimestamps(&modesReader{rows: rows}, replay.TimestampOptions{Scale: tc.scale, Seed: 7}))
		bins := modesBins(offs, time.Second)
		got := float64(len(offs))
		r := modesPearson(bins, base)
		t.Logf("scale %g: %d arrivals (trace %d, ratio %.4f), per-second Pearson r vs trace %.4f", tc.scale, len(offs), len(rows), got/n, r)
		if math.Abs(got/n-tc.scale) > tc.tol*tc.scale {
			t.Errorf("scale %g: %g arrivals, want %g ± %g%%", tc.scale, got, n*tc.scale, tc.tol*100)
		}
		if tc.scale == math.Trunc(tc.scale) {
			if len(bins) != len(base) {
				t.Fatalf("scale %g: %d bins, want %d", tc.scale, len(bins), len(base))
			}
			for i := range bins {
				if bins[i] != tc.scale*base[i] {
					t.Fatalf("scale %g: second %d has %g arrivals, want %g", tc.scale, i, bins[i], tc.scale*base[i])
				}
			}
		}
		// Per minute, the count is k·n plus a binomial(n, f) share: allow 4σ.
		whole, frac := math.Modf(tc.scale)
		minGot, minBase := modesBins(offs, time.Minute), modesBins(modesTraceOffsets(rows, 0, 0, 1), time.Minute)
		var worst float64
		for i, nb := range minBase {
			var g float64
			if i < len(minGot) {
				g = minGot[i]
			}
			dev := math.Abs(g-tc.scale*nb) / math.Max(math.Sqrt(nb*frac*(1-frac)), 1e-9)
			if frac == 0 && g != whole*nb || frac > 0 && dev > 4 {
				t.Errorf("scale %g: minute %d has %g arrivals, want %g", tc.scale, i, g, tc.scale*nb)
			}
			if frac > 0 {
				worst = max(worst, dev)
			}
		}
		t.Logf("scale %g: worst per-minute deviation from %g×trace %.2fσ (binomial σ)", tc.scale, tc.scale, worst)
		if tc.scale >= 1 && r < 0.95 {
			t.Errorf("scale %g: per-second r %.4f, want ≥ 0.95", tc.scale, r)
		}
	}
	a, _ := modesDrain(t, replay.NewTimestamps(&modesReader{rows: rows}, replay.TimestampOptions{Scale: 0.5, Seed: 3}))
	b, _ := modesDrain(t, replay.NewTimestamps(&modesReader{rows: rows}, replay.TimestampOptions{Scale: 0.5, Seed: 3}))
	if len(a) != len(b) {
		t.Errorf("same seed, %d and %d arrivals", len(a), len(b))
	}
}

// modesNoopClient answers at once.
type modesNoopClient struct{}

func (modesNoopClient) Do(_ context.Context, _ *gonogo.Request, res *gonogo.Result) {
	res.Done = time.Now()
	res.Status = 200
}

// modesSentSink keeps every actual send time.
type modesSentSink struct {
	mu      sync.Mutex
	sent    []time.Time
	lags    []time.Duration
	dropped int
}

func (s *modesSentSink) Record(res *gonogo.Result) {
	s.mu.Lock()
	s.sent = append(s.sent, res.Sent)
	s.lags = append(s.lags, res.SchedulingLag())
	s.mu.Unlock()
}

func (s *modesSentSink) Drop(*gonogo.Request) {
	s.mu.Lock()
	s.dropped++
	s.mu.Unlock()
}

// modesReplayThroughEngine replays the code trace's window [0, to) at speed
// through the engine and compares the per-bin send counts with the
// trace's own, time-compressed.
func modesReplayThroughEngine(t *testing.T, to time.Duration, speed float64, bin time.Duration) {
	rows := modesAzureCode(t)
	f := &scenarios.File{Scenarios: map[string]*scenarios.Scenario{
		"replay": {Executor: scenarios.ConstantArrivalRate, Rate: 1, Duration: time.Hour, MaxVUs: 5000, PreAllocatedVUs: 200},
	}}
	if err := f.Validate(); err != nil {
		t.Fatal(err)
	}
	src := replay.NewTimestamps(&modesReader{rows: rows}, replay.TimestampOptions{Speed: speed, To: to})
	sink := &modesSentSink{}
	eng := scenarios.NewEngine(sink)
	began := time.Now()
	eng.Run(context.Background(), []scenarios.Plan{{Scenario: f.Scenarios["replay"], Client: modesNoopClient{}, Source: src}})
	wall := time.Since(began)
	if err := src.Err(); err != nil {
		t.Fatal(err)
	}
	start := eng.Start()
	got := make([]time.Duration, len(sink.sent))
	for i, s := range sink.sent {
		got[i] = s.Sub(start)
	}
	want := modesTraceOffsets(rows, 0, to, speed)
	gotBins, wantBins := modesBins(got, bin), modesBins(want, bin)
	r := modesPearson(gotBins, wantBins)
	var moved float64
	for i := range max(len(gotBins), len(wantBins)) {
		var g, w float64
		if i < len(gotBins) {
			g = gotBins[i]
		}
		if i < len(wantBins) {
			w = wantBins[i]
		}
		moved += math.Abs(g - w)
	}
	slices.Sort(sink.lags)
	lagP99, lagMax := sink.lags[len(sink.lags)*99/100], sink.lags[len(sink.lags)-1]
	t.Logf("speed %g, trace window [0, %s), %s bins: wall %.2fs, sent %d (trace %d), dropped %d, bins %d/%d, Pearson r %.5f, arrivals in another bin %.0f (%.2f%%), scheduling lag p99 %s max %s",
		speed, to, bin, wall.Seconds(), len(got), len(want), sink.dropped, len(gotBins), len(wantBins), r, moved/2, 100*moved/2/float64(len(want)), lagP99, lagMax)
	if len(got) != len(want) || sink.dropped != 0 {
		t.Errorf("sent %d, dropped %d; want %d and 0", len(got), sink.dropped, len(want))
	}
	if r < 0.99 {
		t.Errorf("Pearson r of per-bin counts %.5f, want ≥ 0.99", r)
	}
}

func TestTimestampsEngineFast(t *testing.T) {
	// 5 s of wall time: 300 s of trace at speed 60, in 250 ms bins (15 s
	// of trace each). Finer bins measure the machine more than the engine:
	// with other test packages on both cores, sends lag by tens of
	// milliseconds and cross 100 ms bins.
	modesReplayThroughEngine(t, 300*time.Second, 60, 250*time.Millisecond)
}

func TestTimestampsEngine60s(t *testing.T) {
	if testing.Short() {
		t.Skip("60 s of wall time")
	}
	modesReplayThroughEngine(t, 600*time.Second, 10, time.Second)
}

func TestTimestampsCopiesStayInTheirSecond(t *testing.T) {
	rows := []replay.Row{{Line: 2, Offset: 999_999_500 * time.Nanosecond}, {Line: 3, Offset: time.Second}}
	offs, _ := modesDrain(t, replay.NewTimestamps(&modesReader{rows: rows}, replay.TimestampOptions{Scale: 3}))
	want := []time.Duration{999_999_500, 999_999_999, 999_999_999, time.Second, time.Second + time.Microsecond, time.Second + 2*time.Microsecond}
	if len(offs) != len(want) {
		t.Fatalf("offsets %v, want %v", offs, want)
	}
	for i := range want {
		if offs[i] != want[i] {
			t.Fatalf("offsets %v, want %v", offs, want)
		}
	}
}

// The modes over the real CSV reader (replay.Open), looping by reopening
// the file, give what the test loader gives.
func TestModesOverOpen(t *testing.T) {
	rows := modesAzureCode(t)
	path := modesAzurePath(t, "AzureLLMInferenceTrace_code.csv")
	open := func() (replay.Reader, io.Closer, error) { return replay.Open(path, replay.Options{}) }
	r, c, err := open()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	from, to := 600*time.Second, 1200*time.Second
	src := replay.NewTimestamps(r, replay.TimestampOptions{From: from, To: to, Loop: 2, Speed: 10, Reopen: open})
	got, reqs := modesDrain(t, src)
	if err := src.Close(); err != nil {
		t.Fatal(err)
	}
	want := modesTraceOffsets(rows, from, to, 10)
	t.Logf("replay.Open, window [%s, %s) at speed 10, twice: %d arrivals (want %d), skipped %d, duration %s", from, to, len(got), 2*len(want), src.Skipped().Count, src.Duration())
	if len(got) != 2*len(want) || src.Duration() != 2*(to-from)/10 {
		t.Fatalf("%d arrivals over %s, want %d over %s", len(got), src.Duration(), 2*len(want), 2*(to-from)/10)
	}
	for i := range want {
		// The CSV reader and the test loader may round 100 ns timestamps differently.
		if d := got[i] - want[i]; d < -time.Microsecond || d > time.Microsecond {
			t.Fatalf("arrival %d at %s, want %s", i, got[i], want[i])
		}
	}
	if r0 := reqs[0]; r0.Row < 2 || r0.InputTokens == 0 || r0.OutputTokens == 0 {
		t.Errorf("first request %+v", r0)
	}

	r2, c2, err := open()
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	d, err := replay.NewDistribution(r2, replay.DistributionOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if d.Rows() != len(rows) || math.Abs(d.MeanRate()-2.5664) > 0.0001 {
		t.Errorf("distribution over replay.Open: %d rows, mean rate %.4f/s; want %d, 2.5664", d.Rows(), d.MeanRate(), len(rows))
	}
}
