package replay_test

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gonogo-dev/gonogo"
	"github.com/gonogo-dev/gonogo/mirror"
	"github.com/gonogo-dev/gonogo/replay"
	"github.com/gonogo-dev/gonogo/rundir"
)

func samplePair(id uint64) *gonogo.Pair {
	return &gonogo.Pair{
		ID: id, Row: int64(id), Tags: map[string]string{"region": "eu", "label": "3"}, InputTokens: 12,
		Request: `{"prompt":"a <b> & c"}`,
		Exchanges: []gonogo.Exchange{
			{Target: "primary", Status: 200, LatencyMicros: 1500, ServiceMicros: 1400, FromIntended: true, TTFTMicros: 300, OutputTokens: 4, Bytes: 90, Output: "kalo mimi nure sato"},
			{Target: "candidate", Status: 500, Class: gonogo.ErrHTTP5xx, Err: "HTTP 500: boom", LatencyMicros: 900, ServiceMicros: 850, FromIntended: true},
			{Target: "candidate-2", Dropped: true, Err: mirror.NotMirroredBusy},
		},
	}
}

func TestPairStoreRoundTrip(t *testing.T) {
	var buf bytes.Buffer
	w := replay.NewPairWriter(&buf)
	const writers, each = 4, 50
	var wg sync.WaitGroup
	for g := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				if err := w.WritePair(samplePair(uint64(g*each + i + 1))); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if w.Count() != writers*each {
		t.Errorf("Count = %d, want %d", w.Count(), writers*each)
	}
	if err := w.WritePair(samplePair(1)); !errors.Is(err, replay.ErrPairWriterClosed) {
		t.Errorf("WritePair after Close = %v, want ErrPairWriterClosed", err)
	}
	seen := map[uint64]bool{}
	err := replay.ReadPairs(bytes.NewReader(buf.Bytes()), func(p *gonogo.Pair) error {
		if want := samplePair(p.ID); !reflect.DeepEqual(p, want) {
			t.Fatalf("read back %+v, want %+v", p, want)
		}
		seen[p.ID] = true
		return nil
	})
	if err != nil || len(seen) != writers*each {
		t.Fatalf("read %d distinct pairs, err %v; want %d", len(seen), err, writers*each)
	}

	// The same lines uncompressed read the same.
	zr, _ := gzip.NewReader(bytes.NewReader(buf.Bytes()))
	plain, _ := io.ReadAll(zr)
	if bytes.Contains(plain, []byte(`\u003c`)) {
		t.Error("HTML escaping is on: request bodies lose readability")
	}
	n := 0
	if err := replay.ReadPairs(bytes.NewReader(plain), func(*gonogo.Pair) error { n++; return nil }); err != nil || n != writers*each {
		t.Errorf("plain NDJSON: %d pairs, err %v", n, err)
	}
}

func gz(s string) []byte {
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	io.WriteString(zw, s)
	zw.Close()
	return b.Bytes()
}

func TestReadPairsErrors(t *testing.T) {
	good := `{"id":1,"exchanges":[{"target":"primary","latency_us":5}]}` + "\n"
	full := gz(good + good + good)
	for _, tc := range []struct {
		name  string
		input []byte
		want  string // in the error; "" means no error
	}{
		{"empty", nil, ""},
		{"blank lines", []byte("\n" + good + "\n\n" + good), ""},
		{"last line without newline", []byte(good + strings.TrimSpace(good)), ""},
		{"corrupt line", []byte(good + good + "{\"id\":3,\"exch\n" + good), "line 3: "},
		{"not an object", []byte(good + "[1,2]\n"), "line 2: "},
		{"no exchanges", []byte(good + good + `{"time":"2024-01-01","latency":3}` + "\n"), "line 3: a pair without exchanges"},
		{"truncated gzip", full[:len(full)-12], "after line "},
		{"bad gzip header", []byte{0x1f, 0x8b, 0, 0, 0}, "gzip header"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := replay.ReadPairs(bytes.NewReader(tc.input), func(*gonogo.Pair) error { return nil })
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tc.want != "" && (err == nil || !errors.Is(err, replay.ErrPairs) || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("error %v, want one wrapping ErrPairs containing %q", err, tc.want)
			}
			if err != nil {
				t.Log(err)
			}
		})
	}
	stop := errors.New("enough")
	n := 0
	err := replay.ReadPairs(bytes.NewReader(full), func(*gonogo.Pair) error { n++; return stop })
	if err != stop || n != 1 {
		t.Errorf("fn error: got %v after %d pairs, want it as is after 1", err, n)
	}
}

// A pair longer than the reader's buffer (a 1 MiB output) reads back whole.
func TestReadPairsLongLine(t *testing.T) {
	var buf bytes.Buffer
	w := replay.NewPairWriter(&buf)
	p := samplePair(1)
	p.Exchanges[0].Output = strings.Repeat("word ", 1<<18)
	for range 3 {
		if err := w.WritePair(p); err != nil {
			t.Fatal(err)
		}
	}
	w.Close()
	n := 0
	err := replay.ReadPairs(&buf, func(q *gonogo.Pair) error {
		n++
		if q.Exchanges[0].Output != p.Exchanges[0].Output {
			t.Fatalf("pair %d: output of %d bytes, want %d", n, len(q.Exchanges[0].Output), len(p.Exchanges[0].Output))
		}
		return nil
	})
	if err != nil || n != 3 {
		t.Fatalf("%d pairs, err %v", n, err)
	}
}

// TestPairStoreConstantMemory writes 200 000 small pairs to a file and
// streams them back, checking the heap does not grow with the count. (A
// million take about 5 s on a 2-core machine, over the unit-test budget:
// write 1.6 s, read 3.3 s, heap flat.)
func TestPairStoreConstantMemory(t *testing.T) {
	n := 200_000
	if raceEnabled {
		n = 50_000
	}
	path := filepath.Join(t.TempDir(), rundir.Pairs)
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	var ms runtime.MemStats
	heap := func() uint64 { runtime.ReadMemStats(&ms); return ms.HeapInuse }
	runtime.GC()
	before := heap()
	var peak uint64
	start := time.Now()
	w := replay.NewPairWriter(f)
	p := &gonogo.Pair{Tags: map[string]string{"region": "eu"}, InputTokens: 8, Exchanges: []gonogo.Exchange{
		{Target: "primary", Status: 200, LatencyMicros: 1200, Output: "kalo mimi"},
		{Target: "candidate", Status: 200, LatencyMicros: 1300, Output: "kalo mimo"},
	}}
	for i := 1; i <= n; i++ {
		p.ID, p.Row = uint64(i), int64(i)
		if err := w.WritePair(p); err != nil {
			t.Fatal(err)
		}
		if i%100_000 == 0 {
			peak = max(peak, heap())
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	wrote := time.Since(start)
	st, _ := os.Stat(path)

	f, err = os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	start = time.Now()
	var got int
	var last uint64
	err = replay.ReadPairs(bufio.NewReader(f), func(q *gonogo.Pair) error {
		got++
		if q.ID != last+1 || len(q.Exchanges) != 2 {
			t.Fatalf("pair %d: id %d with %d exchanges", got, q.ID, len(q.Exchanges))
		}
		last = q.ID
		if got%100_000 == 0 {
			peak = max(peak, heap())
		}
		return nil
	})
	read := time.Since(start)
	if err != nil || got != n {
		t.Fatalf("read %d pairs, err %v; want %d", got, err, n)
	}
	runtime.GC()
	after := heap()
	t.Logf("%d pairs: write %v, read %v, file %d KiB; heap in use before %d KiB, peak %d KiB, after %d KiB",
		n, wrote.Round(time.Millisecond), read.Round(time.Millisecond), st.Size()>>10, before>>10, peak>>10, after>>10)
	const slack = 4 << 20
	if after > before+slack {
		t.Errorf("heap grew from %d KiB to %d KiB", before>>10, after>>10)
	}
	if peak > before+2*slack {
		t.Errorf("heap peaked at %d KiB (from %d KiB)", peak>>10, before>>10)
	}
}

// FuzzReadPairs: any input gives pairs or an error, never a panic, and a
// pair written from arbitrary strings reads back equal.
func FuzzReadPairs(f *testing.F) {
	f.Add([]byte(`{"id":1,"exchanges":[{"target":"primary","latency_us":5}]}`+"\n"), "text", "<b>\u00e9\n")
	f.Add(gz(`{"id":1,"exchanges":[{"target":"primary"}]}`), "", "\x00\xff")
	f.Fuzz(func(t *testing.T, raw []byte, out, req string) {
		_ = replay.ReadPairs(bytes.NewReader(raw), func(*gonogo.Pair) error { return nil })
		var buf bytes.Buffer
		w := replay.NewPairWriter(&buf)
		p := &gonogo.Pair{ID: 1, Request: req, Exchanges: []gonogo.Exchange{{Target: "primary", Output: out}}}
		if err := w.WritePair(p); err != nil {
			t.Fatal(err)
		}
		w.Close()
		var got *gonogo.Pair
		if err := replay.ReadPairs(&buf, func(q *gonogo.Pair) error { got = q; return nil }); err != nil {
			t.Fatal(err)
		}
		if got == nil || got.Request != validUTF8(req) || got.Exchanges[0].Output != validUTF8(out) {
			t.Fatalf("round trip of %q / %q gave %+v", req, out, got)
		}
	})
}

// validUTF8 is s as JSON keeps it: each invalid byte becomes U+FFFD.
func validUTF8(s string) string {
	var b strings.Builder
	for _, r := range s {
		b.WriteRune(r)
	}
	return b.String()
}
