package annotations

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gonogo-dev/gonogo"
	"github.com/gonogo-dev/gonogo/outputs"
	"github.com/gonogo-dev/gonogo/rundir"
)

var t0 = time.UnixMilli(1_700_000_000_123)

func events() []gonogo.Event {
	end := t0.Add(30 * time.Second)
	return []gonogo.Event{
		{Time: t0, End: &end, Kind: "fault", Source: "chaos", Target: "gpu", Message: "latency 200ms", Attrs: map[string]string{"p": "0.5", "delay": "200ms"}},
		{Time: t0.Add(time.Second), Kind: "marker", Source: "marker", Message: "deploy v2 started"},
		{Time: t0.Add(2 * time.Second), Kind: "flip", Source: "rollout"},
	}
}

func TestFromEvents(t *testing.T) {
	got := FromEvents("run-1", events())
	want := []Annotation{
		{Time: 1_700_000_000_123, TimeEnd: 1_700_000_030_123, Tags: []string{"gonogo", "fault", "source:chaos", "run:run-1", "target:gpu"},
			Text: "latency 200ms (target gpu) · delay=200ms p=0.5"},
		{Time: 1_700_000_001_123, TimeEnd: 1_700_000_001_123, Tags: []string{"gonogo", "marker", "source:marker", "run:run-1"}, Text: "deploy v2 started"},
		{Time: 1_700_000_002_123, TimeEnd: 1_700_000_002_123, Tags: []string{"gonogo", "flip", "source:rollout", "run:run-1"}, Text: "flip"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("FromEvents:\n%+v\nwant\n%+v", got, want)
	}
}

// TestWriteJSONShape checks the document's field names, Grafana's.
func TestWriteJSONShape(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteJSON(&buf, FromEvents("r", events()[:1])); err != nil {
		t.Fatal(err)
	}
	var raw []map[string]any
	if err := json.Unmarshal(buf.Bytes(), &raw); err != nil {
		t.Fatal(err)
	}
	if len(raw) != 1 || raw[0]["time"] != 1.700000000123e12 || raw[0]["timeEnd"] != 1.700000030123e12 || raw[0]["text"] == nil || raw[0]["tags"] == nil || len(raw[0]) != 4 {
		t.Errorf("document %s, want one {time, timeEnd, tags, text}", buf.String())
	}
	buf.Reset()
	if err := WriteJSON(&buf, nil); err != nil || strings.TrimSpace(buf.String()) != "[]" {
		t.Errorf("no annotations: %q, %v; want []", buf.String(), err)
	}
}

func TestWriteRead(t *testing.T) {
	dir := rundir.Dir(t.TempDir())
	want := FromEvents("r", events())
	if err := Write(dir, want); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(dir.Path(rundir.Annotations))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got, err := Read(f)
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("Read = %+v, %v; want %+v", got, err, want)
	}
	if _, err := Read(strings.NewReader(`[{"time":1,"dashboard":2}]`)); err == nil {
		t.Error("Read took an unknown field")
	}
}

// grafana is a loopback stand-in for Grafana's annotation API: it checks
// the request's shape and token, answers with codes[i] for the i-th
// annotation (200 once they run out) and keeps what it took.
type grafana struct {
	mu    sync.Mutex
	got   []Annotation
	tries int
	codes map[string]int // by text
	bad   []string
}

func (g *grafana) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.tries++
	fail := func(msg string) {
		g.bad = append(g.bad, msg)
		http.Error(w, `{"message":"`+msg+`"}`, http.StatusBadRequest)
	}
	switch {
	case r.Method != http.MethodPost || r.URL.Path != "/grafana/api/annotations":
		fail("want POST /grafana/api/annotations, got " + r.Method + " " + r.URL.Path)
		return
	case r.Header.Get("Authorization") != "Bearer glsa_s3cret":
		http.Error(w, `{"message":"Unauthorized"}`, http.StatusUnauthorized)
		return
	case r.Header.Get("Content-Type") != "application/json":
		fail("content type " + r.Header.Get("Content-Type"))
		return
	}
	b, _ := io.ReadAll(r.Body)
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var a Annotation
	if err := dec.Decode(&a); err != nil || a.Time == 0 || a.TimeEnd < a.Time || len(a.Tags) == 0 || a.Text == "" {
		fail("bad annotation " + string(b))
		return
	}
	if code := g.codes[a.Text]; code != 0 {
		http.Error(w, `{"message":"no"}`, code)
		return
	}
	g.got = append(g.got, a)
	w.Header().Set("Content-Type", "application/json")
	_, _ = io.WriteString(w, `{"message":"Annotation added","id":1}`)
}

func newGrafana(t *testing.T, g *grafana, token string) *Grafana {
	t.Helper()
	srv := httptest.NewServer(g)
	t.Cleanup(srv.Close)
	tok := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tok, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := NewGrafana(outputs.Config{URL: srv.URL + "/grafana/", TokenFile: tok, Client: srv.Client()})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestGrafanaPosts(t *testing.T) {
	g := &grafana{}
	out := newGrafana(t, g, "glsa_s3cret")
	if strings.Contains(out.String(), "s3cret") {
		t.Errorf("String() = %s shows the token", out)
	}
	ctx := context.Background()
	if err := out.Push(ctx, &outputs.Snapshot{RunID: "r"}); err != nil || g.tries != 0 {
		t.Fatalf("a live snapshot: %v after %d posts, want nothing posted", err, g.tries)
	}
	if err := out.Push(ctx, &outputs.Snapshot{RunID: "r", Final: &outputs.Final{Events: events()}}); err != nil {
		t.Fatal(err)
	}
	if want := FromEvents("r", events()); !reflect.DeepEqual(g.got, want) || len(g.bad) > 0 {
		t.Errorf("Grafana took %+v (refused %v), want %+v", g.got, g.bad, want)
	}
}

func TestGrafanaFailures(t *testing.T) {
	for _, tc := range []struct {
		name   string
		token  string
		codes  map[string]int
		posted int
		tries  int
		want   string
	}{
		{"wrong token: stops at once", "glsa_wrong", nil, 0, 1, "0 of 3 posted: HTTP 401"},
		{"one refused, the others posted", "glsa_s3cret", map[string]int{"deploy v2 started": 400}, 2, 3, "2 of 3 posted: HTTP 400"},
		{"Grafana down: stops after the retries", "glsa_s3cret", map[string]int{"deploy v2 started": 503}, 1, 1 + outputs.DefaultAttempts, "1 of 3 posted: HTTP 503"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := &grafana{codes: tc.codes}
			out := newGrafana(t, g, tc.token)
			out.ep.Sender.Backoff = time.Millisecond
			err := out.Push(context.Background(), &outputs.Snapshot{RunID: "r", Final: &outputs.Final{Events: events()}})
			if err == nil || !strings.Contains(err.Error(), tc.want) || len(g.got) != tc.posted || g.tries != tc.tries {
				t.Errorf("err = %v, %d posted in %d tries; want %q, %d posted in %d tries", err, len(g.got), g.tries, tc.want, tc.posted, tc.tries)
			}
			if err != nil && strings.Contains(err.Error(), "glsa_") {
				t.Errorf("the error shows the token: %v", err)
			}
		})
	}
}

func TestNewGrafana(t *testing.T) {
	for in, want := range map[string]string{
		"http://127.0.0.1:3000":                  "http://127.0.0.1:3000/api/annotations",
		"http://127.0.0.1:3000/":                 "http://127.0.0.1:3000/api/annotations",
		"https://g.example/sub":                  "https://g.example/sub/api/annotations",
		"http://127.0.0.1:3000/api/annotations":  "http://127.0.0.1:3000/api/annotations",
		"http://127.0.0.1:3000/api/annotations/": "http://127.0.0.1:3000/api/annotations/",
	} {
		g, err := NewGrafana(outputs.Config{URL: in})
		if err != nil || g.ep.URL != want {
			t.Errorf("NewGrafana(%s): %v, %v; want %s", in, g, err, want)
		}
	}
	_, err := NewGrafana(outputs.Config{URL: "grafana:3000", URLFlag: "--grafana-url"})
	if !errors.Is(err, outputs.ErrInput) || !strings.Contains(err.Error(), "--grafana-url") {
		t.Errorf("err = %v, want ErrInput naming --grafana-url", err)
	}
}

// FuzzRead checks that Read never panics and that what WriteJSON writes
// reads back the same.
func FuzzRead(f *testing.F) {
	f.Add([]byte(`[{"time":1,"timeEnd":2,"tags":["gonogo"],"text":"x"}]`), int64(5), "fault", "msg")
	f.Add([]byte(`{`), int64(-1), "", "")
	f.Fuzz(func(t *testing.T, doc []byte, ms int64, kind, msg string) {
		_, _ = Read(bytes.NewReader(doc))
		kind = strings.ToValidUTF8(kind, "\uFFFD") // JSON would repair it
		e := gonogo.Event{Time: time.UnixMilli(ms), Kind: kind, Message: msg, Source: "run"}
		want := FromEvents("r", []gonogo.Event{e})
		var buf bytes.Buffer
		if err := WriteJSON(&buf, want); err != nil {
			t.Fatal(err)
		}
		got, err := Read(&buf)
		if err != nil || len(got) != 1 || got[0].Time != ms || !reflect.DeepEqual(got[0].Tags, want[0].Tags) {
			t.Fatalf("round trip: %+v, %v; want %+v", got, err, want)
		}
	})
}
