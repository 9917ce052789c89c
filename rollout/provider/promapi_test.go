package provider

import (
	"context"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeProm answers /api/v1/query with a fixed status code and body, and
// records the last request.
type fakeProm struct {
	mu    sync.Mutex
	code  int
	body  string
	last  *http.Request
	calls int
}

func (f *fakeProm) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.last, f.calls = r.Clone(context.Background()), f.calls+1
	if r.URL.Path != "/api/v1/query" {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(f.code)
	_, _ = w.Write([]byte(f.body))
}

func newPromProvider(t *testing.T, spec PromSpec) Provider {
	t.Helper()
	p, err := New(Spec{Name: "q", Prometheus: &spec})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

const (
	vectorOne = `{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1712345678.123,"0.012"]}]}}`
	scalarOne = `{"status":"success","data":{"resultType":"scalar","result":[1712345678.123,"42"]}}`
)

func TestPrometheusAnswers(t *testing.T) {
	tests := []struct {
		name       string
		code       int
		body       string
		condition  string
		wantStatus Status
		wantValue  float64
		wantDetail string
	}{
		{"vector passes", 200, vectorOne, "< 0.05", Pass, 0.012, "value 0.012 meets < 0.05"},
		{"vector fails", 200, vectorOne, ">= 0.05", Fail, 0.012, "value 0.012 fails >= 0.05"},
		{"scalar passes", 200, scalarOne, "== 42", Pass, 42, "meets == 42"},
		{"scalar fails", 200, scalarOne, "!= 42", Fail, 42, "fails != 42"},
		{"equal threshold with <=", 200, scalarOne, "<= 42", Pass, 42, "meets"},
		{"equal threshold with <", 200, scalarOne, "< 42", Fail, 42, "fails"},
		{"labelled series", 200, `{"status":"success","data":{"resultType":"vector","result":[{"metric":{"job":"a"},"value":[1,"3"]}]}}`, "> 2", Pass, 3, "meets > 2"},
		{"+Inf is a value", 200, `{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"+Inf"]}]}}`, "< 0.5", Fail, math.Inf(1), "value +Inf fails"},
		{"warnings do not matter", 200, `{"status":"success","warnings":["partial"],"data":{"resultType":"scalar","result":[1,"1"]}}`, "== 1", Pass, 1, "meets"},

		{"empty vector", 200, `{"status":"success","data":{"resultType":"vector","result":[]}}`, "< 0.05", Inconclusive, 0, "no data"},
		{"empty vector never passes", 200, `{"status":"success","data":{"resultType":"vector","result":[]}}`, "!= 1", Inconclusive, 0, "no data"},
		{"several series", 200, `{"status":"success","data":{"resultType":"vector","result":[{"metric":{"code":"500"},"value":[1,"1"]},{"metric":{"code":"200"},"value":[1,"2"]}]}}`, "< 1", Inconclusive, 0, `query returned 2 series, want one: {code="500"}, {code="200"}`},
		{"NaN vector", 200, `{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"NaN"]}]}}`, "!= 0", Inconclusive, 0, "NaN"},
		{"NaN scalar", 200, `{"status":"success","data":{"resultType":"scalar","result":[1,"NaN"]}}`, "< 1", Inconclusive, 0, "NaN"},
		{"matrix", 200, `{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[1,"1"],[2,"2"]]}]}}`, "< 1", Inconclusive, 0, "matrix, want an instant vector or a scalar"},
		{"string", 200, `{"status":"success","data":{"resultType":"string","result":[1,"hi"]}}`, "< 1", Inconclusive, 0, "string"},
		{"histogram sample", 200, `{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"histogram":[1,{"count":"2"}]}]}}`, "< 1", Inconclusive, 0, "histogram"},
		{"bad data error", 400, `{"status":"error","errorType":"bad_data","error":"1:5: parse error: unclosed left parenthesis"}`, "< 1", Inconclusive, 0, "HTTP 400: bad_data: 1:5: parse error: unclosed left parenthesis"},
		{"execution error", 422, `{"status":"error","errorType":"execution","error":"query processing would load too many samples"}`, "< 1", Inconclusive, 0, "execution: query processing"},
		{"error status with 200", 200, `{"status":"error","errorType":"timeout","error":"query timed out"}`, "< 1", Inconclusive, 0, "timeout: query timed out"},
		{"503 without JSON", 503, `Service Unavailable`, "< 1", Inconclusive, 0, "prometheus answered HTTP 503"},
		{"malformed JSON", 200, `{"status":"success","data":`, "< 1", Inconclusive, 0, "malformed response"},
		{"HTML page", 200, `<html>login</html>`, "< 1", Inconclusive, 0, "malformed response"},
		{"unknown status", 200, `{"status":"partial"}`, "< 1", Inconclusive, 0, `status "partial"`},
		{"unknown result type", 200, `{"status":"success","data":{"resultType":"tensor","result":[]}}`, "< 1", Inconclusive, 0, "unknown result type"},
		{"sample of three", 200, `{"status":"success","data":{"resultType":"scalar","result":[1,"2",3]}}`, "< 1", Inconclusive, 0, "3 elements"},
		{"number instead of string", 200, `{"status":"success","data":{"resultType":"scalar","result":[1,2]}}`, "< 1", Inconclusive, 0, "malformed sample value"},
		{"not a number", 200, `{"status":"success","data":{"resultType":"scalar","result":[1,"abc"]}}`, "< 1", Inconclusive, 0, "malformed sample value"},
		{"vector not a list", 200, `{"status":"success","data":{"resultType":"vector","result":{}}}`, "< 1", Inconclusive, 0, "malformed vector"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(&fakeProm{code: tt.code, body: tt.body})
			defer srv.Close()
			p := newPromProvider(t, PromSpec{Address: srv.URL, Query: "up", Condition: tt.condition})
			before := time.Now()
			m := p.Measure(context.Background())
			if m.Status != tt.wantStatus {
				t.Errorf("status = %s, want %s (%s)", m.Status, tt.wantStatus, m.Detail)
			}
			if m.Value != tt.wantValue {
				t.Errorf("value = %v, want %v", m.Value, tt.wantValue)
			}
			if !strings.Contains(m.Detail, tt.wantDetail) {
				t.Errorf("detail = %q, want it to contain %q", m.Detail, tt.wantDetail)
			}
			if m.Name != "q" || m.Time.Before(before) || m.Time.After(time.Now()) {
				t.Errorf("name %q, time %v", m.Name, m.Time)
			}
		})
	}
}

func TestPrometheusRequest(t *testing.T) {
	fp := &fakeProm{code: 200, body: scalarOne}
	srv := httptest.NewServer(http.StripPrefix("/prom", fp))
	defer srv.Close()
	query := `sum(rate(modelserver_requests_total{code!~"2.."}[30s])) / sum(rate(modelserver_requests_total[30s]))`
	p := newPromProvider(t, PromSpec{Address: srv.URL + "/prom/", Query: query, Condition: "> 0", Timeout: 1500 * time.Millisecond})
	if m := p.Measure(context.Background()); m.Status != Pass {
		t.Fatalf("measure: %+v", m)
	}
	fp.mu.Lock()
	defer fp.mu.Unlock()
	r := fp.last
	if r.Method != http.MethodGet || r.URL.Path != "/api/v1/query" {
		t.Errorf("request %s %s, want GET /prom/api/v1/query", r.Method, r.URL.Path)
	}
	if got := r.URL.Query().Get("query"); got != query {
		t.Errorf("query = %q, want %q", got, query)
	}
	if got := r.URL.Query().Get("timeout"); got != "1.5" {
		t.Errorf("timeout = %q, want 1.5 (seconds)", got)
	}
	if got := r.Header.Get("Authorization"); got != "" {
		t.Errorf("Authorization = %q without a token file", got)
	}
}

// TestPrometheusToken checks that the token is sent, re-read at every
// measurement, and never shown, even when the server echoes it.
func TestPrometheusToken(t *testing.T) {
	const secret1, secret2 = "s3cr3t-one", "s3cr3t-two"
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte(secret1+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var (
		mu   sync.Mutex
		seen []string
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth := r.Header.Get("Authorization")
		mu.Lock()
		seen = append(seen, auth)
		mu.Unlock()
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(`{"status":"error","errorType":"unauthorized","error":"bad header ` + auth + `"}`))
	}))
	defer srv.Close()
	p := newPromProvider(t, PromSpec{Address: srv.URL, Query: "up", Condition: "== 1", TokenFile: tokenFile})
	m1 := p.Measure(context.Background())
	if err := os.WriteFile(tokenFile, []byte(secret2), 0o600); err != nil {
		t.Fatal(err)
	}
	m2 := p.Measure(context.Background())
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 2 || seen[0] != "Bearer "+secret1 || seen[1] != "Bearer "+secret2 {
		t.Errorf("Authorization headers = %q, want the token of each moment", seen)
	}
	for _, m := range []Measurement{m1, m2} {
		if m.Status != Inconclusive || !strings.Contains(m.Detail, "HTTP 401") {
			t.Errorf("measure = %+v, want inconclusive HTTP 401", m)
		}
		if strings.Contains(m.Detail, "s3cr3t") {
			t.Errorf("detail shows the token: %q", m.Detail)
		}
	}
	if err := os.Remove(tokenFile); err != nil {
		t.Fatal(err)
	}
	if m := p.Measure(context.Background()); m.Status != Inconclusive || !strings.Contains(m.Detail, "token") {
		t.Errorf("without the token file: %+v", m)
	}
}

func TestPrometheusUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	p := newPromProvider(t, PromSpec{Address: "http://" + addr, Query: "up", Condition: "== 1"})
	m := p.Measure(context.Background())
	if m.Status != Inconclusive || !strings.Contains(m.Detail, "refused") {
		t.Errorf("measure = %+v, want inconclusive, connection refused", m)
	}
}

// TestPrometheusTimeout checks that a Prometheus that does not answer
// makes the measurement inconclusive at the timeout, not later.
func TestPrometheusTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	p := newPromProvider(t, PromSpec{Address: srv.URL, Query: "up", Condition: "== 1", Timeout: 200 * time.Millisecond})
	start := time.Now()
	m := p.Measure(context.Background())
	took := time.Since(start)
	if m.Status != Inconclusive || !strings.Contains(m.Detail, "no answer in time") {
		t.Errorf("measure = %+v, want inconclusive, no answer in time", m)
	}
	if took > 5*time.Second {
		t.Errorf("measure took %v with a 200ms timeout", took)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if m := p.Measure(ctx); m.Status != Inconclusive {
		t.Errorf("with a cancelled context: %+v", m)
	}
}

func TestPrometheusResponseLimit(t *testing.T) {
	big := `{"status":"success","data":{"resultType":"scalar","result":[1,"1"]},"pad":"` + strings.Repeat("x", MaxResponseBytes) + `"}`
	srv := httptest.NewServer(&fakeProm{code: 200, body: big})
	defer srv.Close()
	m := newPromProvider(t, PromSpec{Address: srv.URL, Query: "up", Condition: "== 1"}).Measure(context.Background())
	if m.Status != Inconclusive || !strings.Contains(m.Detail, "larger than the limit") {
		t.Errorf("measure = %+v, want inconclusive, too large", m)
	}
}

func TestPrometheusNoRedirect(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://192.0.2.1/api/v1/query", http.StatusFound)
	}))
	defer srv.Close()
	m := newPromProvider(t, PromSpec{Address: srv.URL, Query: "up", Condition: "== 1"}).Measure(context.Background())
	if m.Status != Inconclusive || !strings.Contains(m.Detail, "HTTP 302") {
		t.Errorf("measure = %+v, want inconclusive HTTP 302", m)
	}
}

func TestClipDetail(t *testing.T) {
	long := strings.Repeat("é", 2*maxDetail)
	if got := []rune(clip(long, "")); len(got) != maxDetail+1 {
		t.Errorf("clip kept %d runes, want %d", len(got), maxDetail+1)
	}
	if got := clip("a\nb\x00c tok", "tok"); got != "a b c [token]" {
		t.Errorf("clip = %q", got)
	}
}
