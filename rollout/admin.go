package rollout

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/gonogo-dev/gonogo/analyze/abtest"
	"github.com/gonogo-dev/gonogo/internal/input"
	"github.com/gonogo-dev/gonogo/rollout/route"
	"github.com/gonogo-dev/gonogo/store"
)

// ReadToken reads a bearer token from a file: its first line, trimmed. An
// empty token is refused.
func ReadToken(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", &input.Error{File: path, Msg: err.Error()}
	}
	tok, _, _ := strings.Cut(string(b), "\n")
	tok = strings.TrimSpace(tok)
	if tok == "" {
		return "", &input.Error{File: path, Msg: "empty token"}
	}
	return tok, nil
}

// Status is what GET /v1/status answers.
type Status struct {
	Rollout  string             `json:"rollout"`
	Phase    string             `json:"phase"`
	Step     int                `json:"step"`
	Steps    int                `json:"steps"`
	StepName string             `json:"step_name,omitempty"`
	Paused   bool               `json:"paused"`
	Weights  map[string]float64 `json:"weights"`
	Message  string             `json:"message,omitempty"`
	Revision int64              `json:"revision"`
	Updated  time.Time          `json:"updated"`
	// Routed counts the requests routed per backend and reason since the
	// controller started.
	Routed   map[string]map[string]int64 `json:"routed"`
	InFlight map[string]int64            `json:"in_flight"`
	Last     *Judgement                  `json:"last_judgement,omitempty"`
	// Experiment is the experiment step's last readout (without the
	// detail over time, by segment and cohort: gonogo ab report has it).
	Experiment *abtest.Readout `json:"experiment,omitempty"`
}

// Status returns the rollout's status.
func (c *Controller) Status() Status {
	c.mu.Lock()
	st := cloneState(c.st)
	last, ab := c.last, c.ab
	c.mu.Unlock()
	s := Status{Rollout: st.Rollout, Phase: st.Phase, Step: st.Step, Steps: len(c.steps), Paused: st.Paused,
		Weights: map[string]float64{}, Message: st.Message, Revision: st.Revision, Updated: st.Updated,
		Routed: c.proxy.reasonCounts(), InFlight: map[string]int64{}, Last: last, Experiment: ab}
	if st.Step < len(c.steps) && !Terminal(st.Phase) {
		s.StepName = describe(c.steps[st.Step])
	}
	for name, w := range st.Weights {
		s.Weights[name] = pct(w)
	}
	for _, b := range c.backends {
		s.InFlight[b.name] = b.inflight.Load()
	}
	return s
}

// AdminHandler serves the admin API: /v1/status, /v1/events and the
// commands (POST /v1/promote[?full=true], /v1/pause, /v1/resume,
// /v1/abort, /v1/undo, /v1/set-weight?weight=20), POST /v1/outcomes when
// the rollout runs an experiment, OFREP under /ofrep/ when it routes by
// flags — all behind the bearer token — and
// /metrics and /healthz without it. A refused call is logged, its token
// never.
func (c *Controller) AdminHandler(token string) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", c.metrics.handler())
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok\n") })
	api := http.NewServeMux()
	api.HandleFunc("GET /v1/status", func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, http.StatusOK, c.Status()) })
	api.HandleFunc("GET /v1/events", c.events)
	api.HandleFunc("POST /v1/{op}", c.command)
	if c.cfg.Experiment != nil {
		api.HandleFunc("POST /v1/outcomes", c.outcomes)
	}
	if c.proxy.flags != nil {
		api.Handle("/ofrep/", c.proxy.flags.Handler(liveSplitter{c.proxy}))
	}
	auth := []byte("Bearer " + token)
	mux.Handle("/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got := []byte(r.Header.Get("Authorization"))
		if subtle.ConstantTimeCompare(got, auth) != 1 {
			why := "wrong token"
			if len(got) == 0 {
				why = "no token"
			}
			c.logf("admin: refused %s %s from %s: %s", r.Method, r.URL.Path, r.RemoteAddr, why)
			w.Header().Set("WWW-Authenticate", `Bearer realm="gonogo rollout"`)
			writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "unauthorized"})
			return
		}
		api.ServeHTTP(w, r)
	}))
	return mux
}

func (c *Controller) events(w http.ResponseWriter, r *http.Request) {
	after, _ := strconv.ParseInt(r.URL.Query().Get("after"), 10, 64)
	evs, err := c.db.Events(r.Context(), c.cfg.Name, after, 1000)
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": err.Error()})
		return
	}
	out := make([]Event, len(evs))
	for i, e := range evs {
		out[i] = eventOf(e)
	}
	writeJSON(w, http.StatusOK, out)
}

// Event is one stored transition as the admin API shows it: weights in
// percent.
type Event struct {
	Seq      int64              `json:"seq"`
	Revision int64              `json:"revision"`
	Time     time.Time          `json:"time"`
	Kind     string             `json:"kind"`
	Actor    string             `json:"actor"`
	Step     int                `json:"step"`
	Weights  map[string]float64 `json:"weights"`
	Reason   string             `json:"reason,omitempty"`
	Attrs    map[string]string  `json:"attrs,omitempty"`
}

func eventOf(e store.Event) Event {
	w := make(map[string]float64, len(e.Weights))
	for name, b := range e.Weights {
		w[name] = pct(b)
	}
	return Event{Seq: e.Seq, Revision: e.Revision, Time: e.Time, Kind: e.Kind, Actor: e.Actor, Step: e.Step, Weights: w, Reason: e.Reason, Attrs: e.Attrs}
}

func (c *Controller) command(w http.ResponseWriter, r *http.Request) {
	cmd := Command{Op: r.PathValue("op"), Actor: "admin", Reason: r.URL.Query().Get("reason")}
	q := r.URL.Query()
	cmd.Full = q.Get("full") == "true" || q.Get("full") == "1"
	if cmd.Op == "set-weight" {
		v, err := strconv.ParseFloat(q.Get("weight"), 64)
		if err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "set-weight: want ?weight=PERCENT"})
			return
		}
		cmd.Weight = v
	}
	if by := q.Get("by"); by != "" && len(by) <= 64 {
		cmd.Actor = "admin:" + by
	}
	st, err := c.Do(cmd)
	switch {
	case errors.Is(err, ErrBadCommand):
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
	case errors.Is(err, ErrEnded), errors.Is(err, ErrNotEnded), errors.Is(err, ErrNotWarm):
		writeJSON(w, http.StatusConflict, map[string]string{"error": err.Error()})
	case err != nil:
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": err.Error()})
	default:
		_ = st
		writeJSON(w, http.StatusOK, c.Status())
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// pct is a weight in buckets as a percentage (0.001 % resolution).
func pct(b int) float64 { return float64(b) / (route.Buckets / 100) }
