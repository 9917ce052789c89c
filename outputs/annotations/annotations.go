// Package annotations turns a run's events — its start and end, the
// stages of its scenarios, the faults a chaos experiment injected and
// removed, the flips, steps and rollbacks of a rollout (the deployment
// markers), people's markers, failed gates, and the verdict — into Grafana
// annotations, in the shape of Grafana's annotation HTTP API:
//
//	{"time": 1700000000000, "timeEnd": 1700000030000, "tags": ["gonogo", "fault", …], "text": "…"}
//
// with times in milliseconds since the epoch; a span (a fault that
// lasted, a stage) is a region from time to timeEnd, an instant has
// timeEnd equal to time. Every run writes them to annotations.json in its
// results directory (Write), so that a dashboard can load them or a
// script post them; the "grafana" output (--grafana-url) posts each one
// to Grafana's POST /api/annotations, with a service account token as
// bearer token, as an organisation annotation that dashboards show
// through a tag query (tags: gonogo, run:ID).
package annotations

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"

	"github.com/gonogo-dev/gonogo"
	"github.com/gonogo-dev/gonogo/outputs"
	"github.com/gonogo-dev/gonogo/rundir"
)

// Annotation is one Grafana annotation, as POST /api/annotations takes it.
type Annotation struct {
	// Time and TimeEnd are in milliseconds since the epoch; TimeEnd equals
	// Time for an instant.
	Time    int64    `json:"time"`
	TimeEnd int64    `json:"timeEnd"`
	Tags    []string `json:"tags"`
	Text    string   `json:"text"`
}

// Tag is the tag of every annotation gonogo writes.
const Tag = "gonogo"

// FromEvents turns events into annotations, in the events' order. Tags:
// "gonogo", the event's kind, "source:SOURCE", "run:RUNID" and, when the
// event acted on something, "target:TARGET". Text: the message, the target
// and the attributes (key=value, sorted).
func FromEvents(runID string, events []gonogo.Event) []Annotation {
	out := make([]Annotation, 0, len(events))
	for _, e := range events {
		a := Annotation{Time: e.Time.UnixMilli(), TimeEnd: e.Time.UnixMilli(), Tags: []string{Tag}}
		if e.End != nil {
			a.TimeEnd = e.End.UnixMilli()
		}
		if e.Kind != "" {
			a.Tags = append(a.Tags, e.Kind)
		}
		if e.Source != "" {
			a.Tags = append(a.Tags, "source:"+e.Source)
		}
		if runID != "" {
			a.Tags = append(a.Tags, "run:"+runID)
		}
		if e.Target != "" {
			a.Tags = append(a.Tags, "target:"+e.Target)
		}
		a.Text = text(e)
		out = append(out, a)
	}
	return out
}

// text is an event in one line: "MESSAGE (target T) · k=v k=v".
func text(e gonogo.Event) string {
	var b strings.Builder
	b.WriteString(e.Message)
	if b.Len() == 0 {
		b.WriteString(e.Kind)
	}
	if e.Target != "" {
		b.WriteString(" (target " + e.Target + ")")
	}
	for i, k := range slices.Sorted(maps.Keys(e.Attrs)) {
		if i == 0 {
			b.WriteString(" ·")
		}
		b.WriteString(" " + k + "=" + e.Attrs[k])
	}
	return b.String()
}

// WriteJSON writes anns as an indented JSON array ([] when empty).
func WriteJSON(w io.Writer, anns []Annotation) error {
	if anns == nil {
		anns = []Annotation{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(anns)
}

// Write writes anns to annotations.json in dir, atomically.
func Write(dir rundir.Dir, anns []Annotation) error {
	return dir.WriteAtomic(rundir.Annotations, func(w io.Writer) error { return WriteJSON(w, anns) })
}

// Read reads an annotations.json document.
func Read(r io.Reader) ([]Annotation, error) {
	var anns []Annotation
	dec := json.NewDecoder(io.LimitReader(r, 256<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&anns); err != nil {
		return nil, fmt.Errorf("annotations: %w", err)
	}
	return anns, nil
}

// Name is the registered name of the Grafana output.
const Name = "grafana"

// MaxPosts bounds the annotations one run posts to Grafana; the rest stay
// in annotations.json.
const MaxPosts = 1000

func init() {
	outputs.Register(Name, func(cfg outputs.Config) (outputs.Output, error) { return NewGrafana(cfg) })
}

// Grafana posts the run's annotations to Grafana when the run ends, one
// POST /api/annotations each. Live snapshots are ignored. Create it with
// NewGrafana.
type Grafana struct{ ep *outputs.Endpoint }

var (
	_ outputs.Output = (*Grafana)(nil)
	_ fmt.Stringer   = (*Grafana)(nil)
)

// NewGrafana checks cfg: URL is Grafana's base URL (http://HOST:3000, or
// with its sub-path; a URL that already ends in /api/annotations is taken
// as it is) and TokenFile a service account token, sent as bearer token.
// Errors wrap outputs.ErrInput.
func NewGrafana(cfg outputs.Config) (*Grafana, error) {
	ep, err := cfg.Endpoint(http.Header{"Content-Type": {"application/json"}, "Accept": {"application/json"}}, func(p string) string {
		if strings.HasSuffix(strings.TrimSuffix(p, "/"), "/api/annotations") {
			return p
		}
		return strings.TrimSuffix(p, "/") + "/api/annotations"
	})
	if err != nil {
		return nil, err
	}
	return &Grafana{ep}, nil
}

// String says what the output is, without credentials.
func (g *Grafana) String() string { return Name + " " + g.ep.Shown }

// Push posts the annotations of the final snapshot, in order, at most
// MaxPosts. An annotation Grafana refuses (400, 409, 422) is skipped; a
// refused token, a wrong URL or a failure that outlived its retries
// (Grafana down) stops the posting. The error says how many were posted.
func (g *Grafana) Push(ctx context.Context, s *outputs.Snapshot) error {
	if s.Final == nil {
		return nil
	}
	anns := FromEvents(s.RunID, s.Final.Events)
	var (
		posted int
		errs   []error
	)
	for i, a := range anns {
		if i == MaxPosts {
			errs = append(errs, fmt.Errorf("annotations: only the first %d of %d posted", MaxPosts, len(anns)))
			break
		}
		body, err := json.Marshal(a)
		if err != nil {
			return err
		}
		err = g.ep.Post(ctx, g.ep.URL, body)
		if err == nil {
			posted++
			continue
		}
		errs = append(errs, err)
		if !refusedOnly(err) || ctx.Err() != nil {
			break
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("annotations: %d of %d posted: %w", posted, len(anns), errs[0])
}

// refusedOnly says whether err refused one annotation only (a 4xx other
// than auth, a wrong URL or throttling), so that the next may go through.
func refusedOnly(err error) bool {
	var se *outputs.StatusError
	if !errors.As(err, &se) || se.Code/100 != 4 {
		return false
	}
	switch se.Code {
	case http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound, http.StatusTooManyRequests:
		return false
	}
	return true
}

// Close does nothing.
func (g *Grafana) Close() error { return nil }
