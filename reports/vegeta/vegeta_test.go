package vegeta

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// vegetaBinary finds the vegeta command (scripts/test.sh installs it with
// go install); without it the test skips, unless GONOGO_REQUIRE_VEGETA=1.
func vegetaBinary(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("vegeta"); err == nil {
		return p
	}
	if gopath, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		p := filepath.Join(strings.TrimSpace(string(gopath)), "bin", "vegeta")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if os.Getenv("GONOGO_REQUIRE_VEGETA") == "1" {
		t.Fatal("vegeta is not installed (go install github.com/tsenart/vegeta/v12@v12.13.0)")
	}
	t.Skip("vegeta is not installed")
	return ""
}

// vegetaReport is the part of `vegeta report -type=json` compared.
type vegetaReport struct {
	Requests  int64 `json:"requests"`
	Latencies struct {
		Mean int64 `json:"mean"`
		Max  int64 `json:"max"`
	} `json:"latencies"`
	Success     float64          `json:"success"`
	StatusCodes map[string]int64 `json:"status_codes"`
}

// A real vegeta attack on a loopback server that answers in 10 ms and
// fails every 10th request with a 500: the import of its binary results
// and of their JSON and CSV encodings count what the server did, agree
// with vegeta's own report, and agree with one another.
func TestImportRealVegeta(t *testing.T) {
	bin := vegetaBinary(t)
	var served atomic.Int64
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := served.Add(1)
		time.Sleep(10 * time.Millisecond)
		if n%10 == 0 {
			http.Error(w, "boom", http.StatusInternalServerError)
			return
		}
		fmt.Fprintln(w, "ok")
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })

	dir := t.TempDir()
	results := filepath.Join(dir, "results.bin")
	attack := exec.Command(bin, "attack", "-rate", "50", "-duration", "2s", "-name", "smoke", "-output", results)
	attack.Stdin = strings.NewReader("GET http://" + ln.Addr().String() + "/\n")
	if out, err := attack.CombinedOutput(); err != nil {
		t.Fatalf("vegeta attack: %v\n%s", err, out)
	}
	for _, to := range []string{"json", "csv"} {
		out, err := exec.Command(bin, "encode", "--to", to, "--output", filepath.Join(dir, "results."+to), results).CombinedOutput()
		if err != nil {
			t.Fatalf("vegeta encode --to %s: %v\n%s", to, err, out)
		}
	}
	out, err := exec.Command(bin, "report", "-type", "json", results).Output()
	if err != nil {
		t.Fatal(err)
	}
	var rep vegetaReport
	if err := json.Unmarshal(out, &rep); err != nil {
		t.Fatal(err)
	}

	var first *Imported
	for _, name := range []string{"results.bin", "results.json", "results.csv"} {
		f, err := os.Open(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		imp, err := Import(f, Options{File: name})
		f.Close()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		s := imp.Summary().Overall
		total, failed := s.Requests.Total, s.Requests.FailedTotal()
		// vegeta's pacer may send one or two fewer than rate × duration on
		// a loaded machine: the server's count is the truth.
		if total < 95 || total > 100 || total != served.Load() || total != rep.Requests {
			t.Errorf("%s: %d requests, want about 100: what the server saw (%d) and vegeta reports (%d)", name, total, served.Load(), rep.Requests)
		}
		if want := served.Load() / 10; failed != want || s.Requests.Failed["http_5xx"] != want || rep.StatusCodes["500"] != want {
			t.Errorf("%s: failed %v, want %d of http_5xx (vegeta: %v)", name, s.Requests.Failed, want, rep.StatusCodes)
		}
		if imp.Stats.Attacks["smoke"] != total || imp.Target != "http://"+ln.Addr().String() {
			t.Errorf("%s: attacks %v target %q", name, imp.Stats.Attacks, imp.Target)
		}
		// vegeta's mean is over every result; gonogo keeps the failed
		// apart. HDR histograms keep 3 significant digits.
		mean := (s.LatencyService.Mean*float64(s.LatencyService.Count) + s.LatencyFailed.Mean*float64(s.LatencyFailed.Count)) / float64(total)
		want := float64(rep.Latencies.Mean) / 1e6
		if math.Abs(mean-want) > 0.002*want || s.LatencyService.P50 < 10 {
			t.Errorf("%s: mean latency %.3f ms, vegeta %.3f ms; p50 %.3f ms (the server takes 10)", name, mean, want, s.LatencyService.P50)
		}
		if s.Latency.P99 != s.LatencyService.P99 || s.SchedulingLag.Max != 0 {
			t.Errorf("%s: latency %v and service %v differ, or lag %v: no intended times in vegeta's results", name, s.Latency, s.LatencyService, s.SchedulingLag)
		}
		if first == nil {
			first = imp
			continue
		}
		a, b := first.Summary(), imp.Summary()
		if a.Overall.Latency.P99 != b.Overall.Latency.P99 || !a.Started.Equal(b.Started) || !a.Ended.Equal(b.Ended) {
			t.Errorf("%s differs from the binary results: p99 %v/%v, span %s–%s / %s–%s", name,
				a.Overall.Latency.P99, b.Overall.Latency.P99, a.Started, a.Ended, b.Started, b.Ended)
		}
	}
}

func TestImportBadInput(t *testing.T) {
	good := `{"attack":"a","seq":0,"code":200,"timestamp":"2026-12-01T10:00:00Z","latency":1000000,"bytes_out":0,"bytes_in":3,"error":"","body":null,"method":"GET","url":"http://x/","headers":null}`
	for _, c := range []struct {
		name, src, want string
	}{
		{"empty", "", "input is empty"},
		{"no results", "\n\n", "no results"},
		{"latency not a number", good + "\n" + strings.Replace(good, `"latency":1000000`, `"latency":"1ms"`, 1), "input:2: latency: "},
		{"negative latency", strings.Replace(good, `"latency":1000000`, `"latency":-5`, 1), "input:1: latency: negative"},
		{"no timestamp", strings.Replace(good, `"timestamp":"2026-12-01T10:00:00Z",`, "", 1), "input:1: timestamp: missing"},
		{"bad JSON", good + "\n{", "input:2: "},
		{"CSV short row", "1764583200000000000,200,1000000,0,3\n", "input:1: wrong number of fields"},
		{"CSV bad code", "1764583200000000000,2x0,1000000,0,3,,,a,0,GET,http://x/,\n", "input:1: code: want a whole number"},
		{"CSV bad body", "1764583200000000000,200,1000000,0,3,,!!,a,0,GET,http://x/,\n", "input:1: body: not base64"},
		{"gob garbage", "\x07garbage!", "input: result 1: not vegeta's binary results"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Import(bytes.NewReader([]byte(c.src)), Options{})
			if err == nil || !errors.Is(err, ErrInput) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want an input error with %q", err, c.want)
			}
		})
	}
}
