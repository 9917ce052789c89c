package main

import (
	"bytes"
	"cmp"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gonogo-dev/gonogo/extensions/ndjson"
	"github.com/gonogo-dev/gonogo/fixtures/modelserver"
	"github.com/gonogo-dev/gonogo/fixtures/modelserver/modelservertest"
	"github.com/gonogo-dev/gonogo/internal/numfmt"
)

// A load run with --samples --traceparent lists its slowest requests, the
// slowest of samples.ndjson.gz in order with their trace ids, in its text
// summary and in the Markdown and HTML reports; --trace-url links the ids
// in the HTML report, and a bad --trace-url is exit 2 naming the flag.
func TestReportSlowestRequests(t *testing.T) {
	_, url := modelservertest.Start(t, modelserver.DefaultConfig())
	dir := t.TempDir()
	out := filepath.Join(dir, "run")
	o := quiet()
	if code := run(context.Background(), o, []string{"load", "--target", url, "--protocol", "kserve",
		"--model", modelserver.DefaultClassifierModel, "--rate", "50", "--duration", "2s",
		"--out", out, "--history", "", "-q", "--samples", "--traceparent"}); code != 0 {
		t.Fatalf("load: exit %d\n%s", code, o.Err)
	}

	// The truth: the slowest requests of the samples file.
	f, err := os.Open(filepath.Join(out, "samples.ndjson.gz"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var all []ndjson.Sample
	if err := ndjson.Read(f, func(s *ndjson.Sample) bool {
		if !s.Dropped {
			all = append(all, *s)
		}
		return true
	}); err != nil {
		t.Fatal(err)
	}
	if len(all) < ndjson.SlowestN {
		t.Fatalf("%d samples, want at least %d", len(all), ndjson.SlowestN)
	}
	slices.SortStableFunc(all, func(a, b ndjson.Sample) int { return cmp.Compare(b.LatencyMs, a.LatencyMs) })
	slowest := all[:ndjson.SlowestN]

	const jaeger = "http://127.0.0.1:16686/trace/"
	html, md := filepath.Join(dir, "r.html"), filepath.Join(dir, "r.md")
	o = quiet()
	if code := run(context.Background(), o, []string{"report", out, "--history", "", "--html", html, "--markdown", md,
		"--trace-url", jaeger + "{trace_id}"}); code != 0 {
		t.Fatalf("report: exit %d\n%s", code, o.Err)
	}
	for _, c := range []struct {
		file, mark string
		id         func(string) string // how the file writes a trace id
	}{
		{filepath.Join(out, "summary.txt"), "\nslowest requests\n", func(id string) string { return id }},
		{md, "#### Slowest requests", func(id string) string { return "`" + id + "`" }},
		{html, `<table id="slowest">`, func(id string) string { return `<a href="` + jaeger + id + `">` + id + `</a>` }},
	} {
		b, err := os.ReadFile(c.file)
		if err != nil {
			t.Fatal(err)
		}
		s := string(b)
		i := strings.Index(s, c.mark)
		if i < 0 {
			t.Errorf("%s: no %q", c.file, c.mark)
			continue
		}
		s = s[i:]
		// Each row holds its latency, then its trace id, slowest first.
		for _, r := range slowest {
			lat, id := numfmt.Unit(r.LatencyMs, "ms"), c.id(r.TraceID)
			j, k := strings.Index(s, lat), strings.Index(s, id)
			if r.TraceID == "" || j < 0 || k < j {
				t.Errorf("%s: request %d (%s, trace %q) missing or out of order in\n%s", c.file, r.ID, lat, r.TraceID, s)
				break
			}
			s = s[k+len(id):]
		}
	}

	for _, bad := range []string{"http://jaeger/trace/", "ftp://jaeger/{trace_id}", "/trace/{trace_id}", "http://{trace_id}/"} {
		o := quiet()
		if code := run(context.Background(), o, []string{"report", out, "--history", "", "--html", html, "--trace-url", bad}); code != exitUsage ||
			!strings.Contains(o.Err.(*bytes.Buffer).String(), "--trace-url") {
			t.Errorf("--trace-url %q: exit %d, want %d naming the flag\n%s", bad, code, exitUsage, o.Err)
		}
	}
}
