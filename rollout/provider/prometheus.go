package provider

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// promProvider runs an instant query against Prometheus's HTTP API
// (GET /api/v1/query) and judges its one sample.
type promProvider struct {
	name      string
	endpoint  string // address + /api/v1/query
	query     string
	cond      condition
	timeout   time.Duration
	tokenFile string
	client    *http.Client
}

var _ Provider = (*promProvider)(nil)

// newProm builds the provider of a checked PromSpec.
func newProm(name string, s PromSpec, client *http.Client) *promProvider {
	cond, _ := parseCondition(s.Condition) // Check parsed it
	timeout := s.Timeout
	if timeout == 0 {
		timeout = DefaultTimeout
	}
	return &promProvider{
		name:      name,
		endpoint:  strings.TrimSuffix(s.Address, "/") + "/api/v1/query",
		query:     s.Query,
		cond:      cond,
		timeout:   timeout,
		tokenFile: s.TokenFile,
		client:    client,
	}
}

// Measure runs the query once and judges its value by the condition.
func (p *promProvider) Measure(ctx context.Context) Measurement {
	m := Measurement{Name: p.name, Status: Inconclusive, Time: time.Now()}
	var token string
	if p.tokenFile != "" {
		t, err := readToken(p.tokenFile)
		if err != nil {
			m.Detail = "prometheus: " + err.Error()
			return m
		}
		token = t
	}
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	q := url.Values{
		"query":   {p.query},
		"timeout": {strconv.FormatFloat(p.timeout.Seconds(), 'f', -1, 64)},
	}
	code, body, err := fetch(ctx, p.client, p.endpoint+"?"+q.Encode(), token)
	if err != nil {
		m.Detail = "prometheus: " + clip(err.Error(), token)
		return m
	}
	m.Value, m.Status, m.Detail = judgeProm(code, body, p.cond, token)
	return m
}

// promResponse is the envelope of every Prometheus API answer.
type promResponse struct {
	Status    string `json:"status"`
	ErrorType string `json:"errorType"`
	Error     string `json:"error"`
	Data      struct {
		ResultType string          `json:"resultType"`
		Result     json.RawMessage `json:"result"`
	} `json:"data"`
}

// promSeries is one series of an instant vector; Value is
// [unix time, "value"]. A native histogram sample has no Value.
type promSeries struct {
	Metric map[string]string `json:"metric"`
	Value  []json.RawMessage `json:"value"`
}

// judgeProm judges a /api/v1/query answer (HTTP status code and body):
// the sample's value and pass or fail by cond, or 0 and inconclusive with
// the reason. token is scrubbed from what the server wrote.
func judgeProm(code int, body []byte, cond condition, token string) (float64, Status, string) {
	v, reason := promValue(code, body, token)
	switch {
	case reason != "":
		return 0, Inconclusive, reason
	case math.IsNaN(v):
		return 0, Inconclusive, "query returned NaN"
	case cond.holds(v):
		return v, Pass, fmt.Sprintf("value %s meets %s", formatValue(v), cond)
	default:
		return v, Fail, fmt.Sprintf("value %s fails %s", formatValue(v), cond)
	}
}

// promValue extracts the one sample's value of a /api/v1/query answer, or
// says why there is none.
func promValue(code int, body []byte, token string) (float64, string) {
	var r promResponse
	if err := json.Unmarshal(body, &r); err != nil {
		if code/100 != 2 {
			return 0, fmt.Sprintf("prometheus answered HTTP %d", code)
		}
		return 0, "prometheus: malformed response: " + clip(err.Error(), token)
	}
	if r.Status == "error" || code/100 != 2 {
		msg := r.Error
		if msg == "" {
			msg = "no error message"
		}
		if r.ErrorType != "" {
			msg = r.ErrorType + ": " + msg
		}
		return 0, fmt.Sprintf("prometheus answered HTTP %d: %s", code, clip(msg, token))
	}
	if r.Status != "success" {
		return 0, fmt.Sprintf("prometheus: status %q, want success", clip(r.Status, token))
	}
	switch r.Data.ResultType {
	case "vector":
		var series []promSeries
		if err := json.Unmarshal(r.Data.Result, &series); err != nil {
			return 0, "prometheus: malformed vector: " + clip(err.Error(), token)
		}
		switch len(series) {
		case 0:
			return 0, "no data (the query returned no series)"
		case 1:
			if series[0].Value == nil {
				return 0, "query returned a histogram sample, want a number"
			}
			return sampleValue(series[0].Value, token)
		default:
			return 0, clip(fmt.Sprintf("query returned %d series, want one: %s", len(series), seriesNames(series)), token)
		}
	case "scalar":
		var pair []json.RawMessage
		if err := json.Unmarshal(r.Data.Result, &pair); err != nil {
			return 0, "prometheus: malformed scalar: " + clip(err.Error(), token)
		}
		return sampleValue(pair, token)
	case "matrix", "string":
		return 0, fmt.Sprintf("query returned a %s, want an instant vector or a scalar", r.Data.ResultType)
	default:
		return 0, fmt.Sprintf("prometheus: unknown result type %q", clip(r.Data.ResultType, token))
	}
}

// sampleValue parses [unix time, "value"]; the value may be NaN or ±Inf.
func sampleValue(pair []json.RawMessage, token string) (float64, string) {
	if len(pair) != 2 {
		return 0, fmt.Sprintf("prometheus: malformed sample: %d elements, want [time, value]", len(pair))
	}
	var s string
	if err := json.Unmarshal(pair[1], &s); err != nil {
		return 0, "prometheus: malformed sample value: " + clip(string(pair[1]), token)
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, "prometheus: malformed sample value: " + clip(strconv.Quote(s), token)
	}
	return v, ""
}

// seriesNames names the first few series by their labels:
// {code="200"}, {code="500"}, ….
func seriesNames(series []promSeries) string {
	const most = 3
	var names []string
	for i, s := range series {
		if i == most {
			names = append(names, "…")
			break
		}
		labels := make([]string, 0, len(s.Metric))
		for k, v := range s.Metric {
			labels = append(labels, k+"="+strconv.Quote(v))
		}
		slices.Sort(labels)
		names = append(names, "{"+strings.Join(labels, ", ")+"}")
	}
	return strings.Join(names, ", ")
}

// formatValue writes v in the fewest digits that read back exactly.
func formatValue(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
