// Package tracetest holds what the trace readers' tests share.
package tracetest

import (
	"io"

	"github.com/gonogo-dev/gonogo/replay"
)

// ReadAll reads every row of a reader built by open, returning the rows,
// the skipped rows, and the error that ended the reading (nil at io.EOF).
func ReadAll(open func() (replay.Reader, error)) ([]replay.Row, replay.Skips, error) {
	r, err := open()
	if err != nil {
		return nil, replay.Skips{}, err
	}
	var rows []replay.Row
	for {
		var row replay.Row
		err := r.Next(&row)
		if err == io.EOF {
			return rows, r.Skipped(), nil
		}
		if err != nil {
			return rows, r.Skipped(), err
		}
		rows = append(rows, row)
	}
}
