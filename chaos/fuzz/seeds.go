package fuzz

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/gonogo-dev/gonogo/chaos"
	"github.com/gonogo-dev/gonogo/replay"
	_ "github.com/gonogo-dev/gonogo/replay/requestlog" // the request log reader
)

// Bounds of ReadSeeds.
const (
	// MaxSeeds is the number of seed requests kept from a request log.
	MaxSeeds = 1000
	// maxSeedRows bounds the rows read to find them.
	maxSeedRows = 100000
)

// inputError is bad input that keeps its own message and error chain and
// also matches chaos.ErrInput.
type inputError struct{ err error }

func (e *inputError) Error() string   { return e.err.Error() }
func (e *inputError) Unwrap() []error { return []error{e.err, chaos.ErrInput} }

// ReadSeeds reads the protocol's requests from a request log (JSON lines,
// replay/requestlog; gzip accepted): POST /…/completions for OpenAI, POST
// /v2/models/{name}/infer for KServe, up to MaxSeeds of them, without
// their headers. Other requests are passed over. A file that cannot be
// read, a malformed line (the error names file, line and field) or a log
// without such requests is an error matching chaos.ErrInput.
func ReadSeeds(path, protocol string) ([]Seed, error) {
	r, closer, err := replay.Open(path, replay.Options{Format: replay.FormatRequestLog, Strict: true})
	if err != nil {
		return nil, &inputError{err}
	}
	defer closer.Close()
	var (
		seeds []Seed
		row   replay.Row
		rows  int
	)
	for rows < maxSeedRows && len(seeds) < MaxSeeds {
		err := r.Next(&row)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, &inputError{err}
		}
		rows++
		req := row.Request
		if req == nil || !strings.EqualFold(req.Method, "POST") {
			continue
		}
		if (protocol == ProtocolKServe && isInferPath(req.Path)) || (protocol == ProtocolOpenAI && isOpenAIPath(req.Path)) {
			seeds = append(seeds, Seed{Method: "POST", Path: req.Path, Body: req.Body, Line: row.Line})
		}
	}
	if len(seeds) == 0 {
		want := "POST /v1/completions or /v1/chat/completions"
		if protocol == ProtocolKServe {
			want = "POST /v2/models/{name}/infer"
		}
		return nil, &chaos.InputError{File: path, Msg: fmt.Sprintf("no %s request (%s) among its %d requests", protocol, want, rows)}
	}
	return seeds, nil
}
