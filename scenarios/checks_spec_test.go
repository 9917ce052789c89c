package scenarios

import (
	"errors"
	"strings"
	"testing"
)

func TestChecksParse(t *testing.T) {
	src := `
checks:
  - name: ok
    status: 2xx
  - name: has-choices
    json: choices[0].text exists
scenarios:
  a:
    executor: constant-vus
    vus: 1
    duration: 1s
    checks:
      - {name: done, sse: done}
  b:
    executor: constant-vus
    vus: 1
    duration: 1s
`
	f, err := Parse("t.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	a, b := f.Scenarios["a"].CheckSet(), f.Scenarios["b"].CheckSet()
	if got := strings.Join(a.Names(), ","); got != "ok,has-choices,done" {
		t.Errorf("scenario a checks %s, want the file's then its own", got)
	}
	if got := strings.Join(b.Names(), ","); got != "ok,has-choices" {
		t.Errorf("scenario b checks %s, want the file's", got)
	}
	none, err := Parse("t.yaml", []byte("scenarios:\n  a: {executor: constant-vus, vus: 1, duration: 1s}\n"))
	if err != nil || none.Scenarios["a"].CheckSet() != nil {
		t.Fatalf("a file without checks: %v, %v", none.Scenarios["a"].CheckSet(), err)
	}
}

func TestChecksErrorsNameFileLineAndField(t *testing.T) {
	const sc = "scenarios:\n  a:\n    executor: constant-vus\n    vus: 1\n    duration: 1s\n"
	for _, tc := range []struct {
		name, src string
		wantLine  int
		wantIn    []string
	}{
		{"bad regex", "checks:\n  - name: x\n    body: '~ ('\n" + sc, 3, []string{"checks[0].body", "regular expression"}},
		{"bad path", "checks:\n  - name: x\n    status: 2xx\n  - name: y\n    json: 'a[ exists'\n" + sc, 5, []string{"checks[1].json", "not closed"}},
		{"unquoted negation", "checks:\n  - name: x\n    body: !~ sorry\n" + sc, 3, []string{"checks[0].body", "quote"}},
		{"no name", "checks:\n  - status: 2xx\n" + sc, 2, []string{"checks[0].name", "missing"}},
		{"unknown kind", "checks:\n  - name: x\n    stauts: 2xx\n" + sc, 3, []string{"stauts"}},
		{"scenario check", sc + "    checks:\n      - {name: x, length: 'chars > 1'}\n", 7, []string{"scenarios.a.checks[0].length", "bytes or tokens"}},
		{"duplicate across", "checks:\n  - {name: x, status: 2xx}\n" + sc + "    checks:\n      - {name: x, sse: done}\n", 9, []string{"scenarios.a.checks[0].name", "every scenario"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("t.yaml", []byte(tc.src))
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("error %v (%T), want *ValidationError", err, err)
			}
			if ve.Line != tc.wantLine {
				t.Errorf("line = %d, want %d (%v)", ve.Line, tc.wantLine, err)
			}
			for _, w := range tc.wantIn {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}
