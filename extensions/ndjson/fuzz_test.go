package ndjson

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"reflect"
	"testing"
	"time"

	"github.com/gonogo-dev/gonogo"
)

// readAll reads every sample of data.
func readAll(data []byte) ([]Sample, error) {
	var out []Sample
	err := Read(bytes.NewReader(data), func(s *Sample) bool { out = append(out, *s); return true })
	return out, err
}

// gzipLines compresses content, flushing a complete deflate block after
// every flushEvery-th line (0: never), as the Writer does every interval.
func gzipLines(t *testing.T, content []byte, flushEvery int) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	for i, line := range bytes.SplitAfter(content, []byte("\n")) {
		if _, err := zw.Write(line); err != nil {
			t.Fatal(err)
		}
		if flushEvery > 0 && (i+1)%flushEvery == 0 {
			if err := zw.Flush(); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// FuzzRead feeds arbitrary bytes to Read, both as they are and as the
// content of a gzip stream, whole and cut short: it must never panic, a
// cut-short stream must give a prefix of the whole stream's samples, and a
// stream that reads whole must, cut short, fail with an error wrapping
// io.ErrUnexpectedEOF.
func FuzzRead(f *testing.F) {
	for _, s := range []string{
		`{"id":1,"scenario":"s","tags":{"k":"v"},"at_ms":1.5,"lag_ms":0.25,"latency_ms":2,"service_ms":1.75,"status":200}` + "\n" +
			`{"id":2,"scenario":"s","at_ms":3,"dropped":true,"lag_ms":0,"latency_ms":0,"service_ms":0}` + "\n",
		`{"id":1}{"id":2}` + "\n\n" + `{"id":3}`,
		`{"id":-1}` + "\n",
		`{"tags":{"a":1}}` + "\n",
		"[1,2]\n",
		`{"id":1,"scenario":"\ud800"}` + "\n" + `{"id":`,
		"",
	} {
		f.Add([]byte(s), uint16(40), uint8(1))
	}
	f.Add([]byte{0x1f, 0x8b, 0x08, 0x00, 0, 0, 0, 0, 0, 0xff}, uint16(3), uint8(0))
	f.Fuzz(func(t *testing.T, content []byte, cut uint16, flushEvery uint8) {
		_, _ = readAll(content) // not gzip, or a gzip stream of its own

		file := gzipLines(t, content, int(flushEvery))
		all, err := readAll(file)
		complete := err == nil
		c := int(cut) % (len(file) + 1)
		got, err := readAll(file[:c])
		if len(got) > len(all) {
			t.Fatalf("cut at %d of %d: %d samples, more than the whole file's %d", c, len(file), len(got), len(all))
		}
		for i := range got {
			if !reflect.DeepEqual(got[i], all[i]) {
				t.Fatalf("cut at %d of %d: sample %d is %+v, whole file's %+v", c, len(file), i, got[i], all[i])
			}
		}
		if complete && c < len(file) && !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("cut at %d of %d bytes: err = %v, want one wrapping io.ErrUnexpectedEOF", c, len(file), err)
		}
	})
}

// FuzzReadCutShort writes samples with the Writer, flushing every few, and
// cuts the file anywhere, as a killed run leaves it: Read must give at least
// every sample written before the last flush that made it to disk, in
// order, and then an error wrapping io.ErrUnexpectedEOF; the whole file
// reads back without error.
func FuzzReadCutShort(f *testing.F) {
	f.Add("replay", "HTTP 503", uint8(10), uint8(3), uint16(0))
	f.Add("s", "", uint8(1), uint8(1), uint16(20))
	f.Add("a\"b\n", "\xff", uint8(40), uint8(7), uint16(300))
	f.Add("", "x", uint8(0), uint8(0), uint16(5))
	f.Fuzz(func(t *testing.T, scenario, errMsg string, n, flushEvery uint8, cut uint16) {
		t0 := time.Unix(1000, 0)
		var buf bytes.Buffer
		w := New(&buf, t0)
		type flush struct{ offset, samples int }
		var flushes []flush
		for i := range int(n) {
			req := &gonogo.Request{ID: uint64(i), Row: int64(i), Scenario: scenario, Tags: map[string]string{"e": errMsg},
				Intended: t0.Add(time.Duration(i) * time.Millisecond)}
			if i%5 == 4 {
				w.Drop(req)
			} else {
				w.Record(&gonogo.Result{Request: req, Sent: req.Intended, Done: req.Intended.Add(time.Duration(i) * time.Microsecond),
					Status: 500, Class: gonogo.ErrHTTP5xx, Err: errMsg})
			}
			if flushEvery > 0 && (i+1)%int(flushEvery) == 0 {
				if err := w.Flush(); err != nil {
					t.Fatal(err)
				}
				flushes = append(flushes, flush{buf.Len(), i + 1})
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		file := buf.Bytes()
		all, err := readAll(file)
		if err != nil || len(all) != int(n) {
			t.Fatalf("whole file: %d samples of %d, err %v", len(all), n, err)
		}
		c := int(cut) % (len(file) + 1)
		got, err := readAll(file[:c])
		if c < len(file) && !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("cut at %d of %d bytes: err = %v, want one wrapping io.ErrUnexpectedEOF", c, len(file), err)
		}
		want := 0
		for _, fl := range flushes {
			if fl.offset <= c {
				want = fl.samples
			}
		}
		if len(got) < want {
			t.Fatalf("cut at %d of %d bytes: %d samples, want at least the %d flushed before the cut", c, len(file), len(got), want)
		}
		for i, s := range got {
			if s.ID != uint64(i) || s.Dropped != (i%5 == 4) || !reflect.DeepEqual(s, all[i]) {
				t.Fatalf("cut at %d: sample %d is %+v, want %+v", c, i, s, all[i])
			}
		}
	})
}
