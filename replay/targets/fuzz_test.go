package targets

import (
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/gonogo-dev/gonogo/replay"
)

// FuzzTargets parses arbitrary files: Parse never panics, fails only with
// one line naming the file and a line of the input, and what it accepts
// is drawable and sane (weights above 0 and finite, paths from /, unique
// names, one origin).
func FuzzTargets(f *testing.F) {
	for _, tt := range parseErrorCases {
		f.Add(tt.src)
	}
	f.Add("# weight=3\n# name: chat\nPOST http://127.0.0.1:8000/v1/chat?x=1\nContent-Type: application/json\n@b\n# weight=0.5\nGET /v1/models\nHEAD http://u:pw@127.0.0.1:8000/h\n")
	f.Add(`{"method":"POST","url":"https://h:1/a","header":{"X-A":["1"]},"body":"aGk=","weight":2,"name":"a"}` + "\n")
	dir := writeDir(f, map[string]string{"b": "body"})
	f.Fuzz(func(t *testing.T, src string) {
		file, err := Parse("t", strings.NewReader(src), dir)
		if err != nil {
			var re *replay.RowError
			lines := int64(strings.Count(src, "\n") + 2)
			if !errors.As(err, &re) || re.File != "t" || re.Line < 1 || re.Line > lines || strings.Contains(err.Error(), "\n") {
				t.Fatalf("error %q (%T) is not one line naming t and a line of the input", err, err)
			}
			return
		}
		names := map[string]bool{}
		for _, tg := range file.Targets {
			if !(tg.Weight > 0) || math.IsInf(tg.Weight, 0) || !strings.HasPrefix(tg.Path, "/") || names[tg.Name] {
				t.Fatalf("accepted a bad target %+v", tg)
			}
			names[tg.Name] = true
			if strings.Contains(tg.URL, "://") && !strings.HasPrefix(strings.ToLower(tg.URL), strings.SplitN(file.Origin, "://", 2)[0]) {
				t.Fatalf("target %+v outside the origin %s", tg, file.Origin)
			}
		}
		r := NewReader(file, 1)
		var row replay.Row
		for range 8 {
			if err := r.Next(&row); err != nil || row.Request == nil {
				t.Fatalf("draw: %v", err)
			}
		}
	})
}
