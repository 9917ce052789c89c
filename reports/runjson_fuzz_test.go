package reports

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gonogo-dev/gonogo/rundir"
)

// FuzzReadRunJSON feeds arbitrary bytes as a run.json: ReadRunJSON must
// never panic, its errors name the file, and what it accepts survives a
// round trip: WriteRunJSON of it reads back as the same run.
func FuzzReadRunJSON(f *testing.F) {
	golden, err := os.ReadFile(filepath.Join("testdata", "run.golden.json"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(golden)
	for _, s := range []string{
		`{"schema":1}`,
		`{"schema":1,"status":"running","started":"2026-03-01T12:00:00+02:00","ended":"2026-03-01T10:00:01.5Z","scenarios":null,"files":null}`,
		`{"schema":1,"tags":{"version=v2":{"requests":{"total":3,"ok":3,"failed":null}}},"labels":{"a":"b"}}`,
		`{"schema":1,"mirrors":{"c":{"sent":1,"dropped":-1}},"capacity":{"window":"10s","at":{}}}`,
		`{"schema":1,"thresholds":[{"metric":"latency","expr":"p(99)<500","observed":1e308,"pass":true}]}`,
		`{"schema":1,"overall":{"tokens_per_sec":0,"goodput":{"k":1},"errors":[{"class":"timeout","message":"\u00ff","count":2}]}}`,
		`{"schema":2}`,
		`{"schema":null}`,
		`{"schema":1,"started":"0000-01-01T00:30:00+01:00"}`,
		`[]`,
		`{"schema":1,"duration_s":"1"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		path := filepath.Join(dir, rundir.Run)
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		run, err := ReadRunJSON(dir)
		if err != nil {
			if !strings.Contains(err.Error(), path) {
				t.Fatalf("error %q does not name %s", err, path)
			}
			return
		}
		if run.Schema != SchemaVersion {
			t.Fatalf("accepted schema %d", run.Schema)
		}
		want, err := run.marshal()
		if err != nil {
			// A time read with an offset may fall outside years 0–9999
			// once in UTC; nothing else may fail to encode.
			if !strings.Contains(err.Error(), "year outside of range") {
				t.Fatalf("the run read does not encode: %v", err)
			}
			return
		}
		if err := WriteRunJSON(dir, run); err != nil {
			t.Fatalf("write back: %v", err)
		}
		back, err := ReadRunJSON(dir)
		if err != nil {
			t.Fatalf("read back: %v", err)
		}
		got, err := back.marshal()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("round trip changed the run:\n%s\nto\n%s", want, got)
		}
		if back.Partial() != run.Partial() || back.Status != run.Status || !back.Started.Equal(run.Started) || !back.Ended.Equal(run.Ended) {
			t.Fatalf("round trip changed status or times: %q %v %v → %q %v %v", run.Status, run.Started, run.Ended, back.Status, back.Started, back.Ended)
		}
		if entries, err := os.ReadDir(dir); err != nil || len(entries) != 1 {
			t.Fatalf("write back left %v (err %v), want only %s", entries, err, rundir.Run)
		}
	})
}
