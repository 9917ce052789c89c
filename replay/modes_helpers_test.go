package replay_test

// Test-only helpers of the replay-mode tests: an in-memory reader and a
// loader of the Azure LLM inference trace (fixtures/traces in the
// repository).

import (
	"encoding/csv"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"gonum.org/v1/gonum/stat"

	"github.com/gonogo-dev/gonogo/replay"
	"github.com/gonogo-dev/gonogo/replay/internal/tracetest"
)

// modesReader reads rows from memory; err, when set, comes after the last
// row instead of io.EOF.
type modesReader struct {
	rows   []replay.Row
	i      int
	err    error
	skips  replay.Skips
	closed int
}

var _ replay.Reader = (*modesReader)(nil)

func (r *modesReader) Next(row *replay.Row) error {
	if r.i >= len(r.rows) {
		if r.err != nil {
			return r.err
		}
		return io.EOF
	}
	*row = r.rows[r.i]
	r.i++
	return nil
}

func (r *modesReader) Skipped() replay.Skips { return r.skips }

func (r *modesReader) Close() error { r.closed++; return nil }

// modesRows makes rows at the given offsets (seconds), numbered from line 2
// as under a CSV header.
func modesRows(secs ...float64) []replay.Row {
	rows := make([]replay.Row, len(secs))
	for i, s := range secs {
		rows[i] = replay.Row{Line: int64(i + 2), Offset: time.Duration(s * float64(time.Second)), InputTokens: 100 + i, OutputTokens: 10 + i}
	}
	return rows
}

var modesAzure struct {
	mu   sync.Mutex
	rows map[string][]replay.Row
	errs map[string]error
}

// modesAzureCode loads the Azure 2023 "code" trace.
func modesAzureCode(t testing.TB) []replay.Row {
	t.Helper()
	return modesAzureTrace(t, "code")
}

// modesAzureTrace loads AzureLLMInferenceTrace_<name>.csv once per test
// binary.
func modesAzureTrace(t testing.TB, name string) []replay.Row {
	t.Helper()
	modesAzure.mu.Lock()
	defer modesAzure.mu.Unlock()
	if modesAzure.rows == nil {
		modesAzure.rows, modesAzure.errs = map[string][]replay.Row{}, map[string]error{}
	}
	rows, ok := modesAzure.rows[name]
	err := modesAzure.errs[name]
	if !ok && err == nil {
		rows, err = modesLoadAzure(modesAzurePath(t, "AzureLLMInferenceTrace_"+name+".csv"))
		modesAzure.rows[name], modesAzure.errs[name] = rows, err
	}
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

// modesAzurePath is the path of fixtures/traces/azure-llm-2023/<file>.
func modesAzurePath(t testing.TB, file string) string {
	t.Helper()
	return tracetest.Traces(t, filepath.Join("azure-llm-2023", file))
}

// modesLoadAzure reads an Azure trace with encoding/csv and time.Parse,
// independently of the readers under test.
func modesLoadAzure(path string) ([]replay.Row, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	cr := csv.NewReader(f)
	cr.ReuseRecord = true
	if _, err := cr.Read(); err != nil { // header
		return nil, err
	}
	var rows []replay.Row
	var t0 time.Time
	for line := int64(2); ; line++ {
		rec, err := cr.Read()
		if err == io.EOF {
			return rows, nil
		}
		if err != nil {
			return nil, err
		}
		ts, err := time.Parse("2006-01-02 15:04:05.0000000", rec[0])
		if err != nil {
			return nil, err
		}
		in, err := strconv.Atoi(rec[1])
		if err != nil {
			return nil, err
		}
		out, err := strconv.Atoi(rec[2])
		if err != nil {
			return nil, err
		}
		if line == 2 {
			t0 = ts
		}
		rows = append(rows, replay.Row{Line: line, Offset: ts.Sub(t0), InputTokens: in, OutputTokens: out})
	}
}

// modesBins counts offsets in bins of width w.
func modesBins(offs []time.Duration, w time.Duration) []float64 {
	var bins []float64
	for _, o := range offs {
		i := int(o / w)
		for len(bins) <= i {
			bins = append(bins, 0)
		}
		bins[i]++
	}
	return bins
}

// modesPearson correlates two bin series, padding the shorter with zeros.
func modesPearson(a, b []float64) float64 {
	n := max(len(a), len(b))
	a = append(append([]float64(nil), a...), make([]float64, n-len(a))...)
	b = append(append([]float64(nil), b...), make([]float64, n-len(b))...)
	return stat.Correlation(a, b, nil)
}

// modesKS is the two-sample Kolmogorov–Smirnov distance.
func modesKS(a, b []float64) float64 {
	a = append([]float64(nil), a...)
	b = append([]float64(nil), b...)
	sort.Float64s(a)
	sort.Float64s(b)
	return stat.KolmogorovSmirnov(a, nil, b, nil)
}

// modesRanks gives x's ranks, ties sharing their mean rank.
func modesRanks(x []float64) []float64 {
	idx := make([]int, len(x))
	for i := range idx {
		idx[i] = i
	}
	sort.Slice(idx, func(i, j int) bool { return x[idx[i]] < x[idx[j]] })
	r := make([]float64, len(x))
	for i := 0; i < len(idx); {
		j := i
		for j < len(idx) && x[idx[j]] == x[idx[i]] {
			j++
		}
		mean := float64(i+j-1)/2 + 1
		for k := i; k < j; k++ {
			r[idx[k]] = mean
		}
		i = j
	}
	return r
}

// modesSpearman is Spearman's rank correlation.
func modesSpearman(x, y []float64) float64 {
	return stat.Correlation(modesRanks(x), modesRanks(y), nil)
}

// modesCV is the coefficient of variation, σ/μ.
func modesCV(x []float64) float64 {
	m, v := stat.MeanVariance(x, nil)
	return math.Sqrt(v) / m
}
