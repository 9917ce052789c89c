package tracefmt

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/gonogo-dev/gonogo/replay"
)

func ns(t *testing.T, layout, s string) int64 {
	t.Helper()
	tm, err := time.Parse(layout, s)
	if err != nil {
		t.Fatal(err)
	}
	return tm.UnixNano()
}

func TestTimeParser(t *testing.T) {
	base := ns(t, time.RFC3339Nano, "2023-11-16T18:17:03.97996Z")
	tests := []struct {
		name, format, in string
		want             int64
		resolved         string
	}{
		{"azure datetime 7 digits", "", "2023-11-16 18:17:03.9799600", base, replay.TimeDateTime},
		{"datetime 9 digits", "", "2023-11-16 18:17:03.979960000", base, replay.TimeDateTime},
		{"datetime no fraction", "", "2023-11-16 18:17:03", base - 979960000, replay.TimeDateTime},
		{"rfc3339 Z", "", "2023-11-16T18:17:03.97996Z", base, replay.TimeDateTime},
		{"rfc3339 zone", "", "2023-11-16T19:17:03.97996+01:00", base, replay.TimeDateTime},
		{"rfc3339 zone hhmm", "", "2023-11-16T13:47:03.97996-0430", base, replay.TimeDateTime},
		{"rfc3339 no zone", "rfc3339", "2023-11-16T18:17:03.97996", base, replay.TimeRFC3339},
		{"fraction beyond ns dropped", "datetime", "2023-11-16 18:17:03.9799600009", base, replay.TimeDateTime},
		{"epoch s auto", "", "1700158623", 1700158623e9, replay.TimeEpochS},
		{"epoch s decimal exact", "", "1700158623.9799601", 1700158623979960100, replay.TimeEpochS},
		{"epoch ms auto", "", "1700158623979", 1700158623979e6, replay.TimeEpochMS},
		{"epoch ms decimal", "", "1700158623979.5", 1700158623979500000, replay.TimeEpochMS},
		{"epoch us auto", "", "1700158623979960", 1700158623979960e3, replay.TimeEpochUS},
		{"epoch ns auto", "", "1700158623979960123", 1700158623979960123, replay.TimeEpochNS},
		{"small number is offset seconds", "", "12.5", 12500000000, replay.TimeOffsetS},
		{"offset-ms", "offset-ms", "1500", 1500000000, replay.TimeOffsetMS},
		{"offset-s explicit big", "offset-s", "1700158623", 1700158623e9, replay.TimeOffsetS},
		{"epoch-ms explicit small", "epoch-ms", "5", 5e6, replay.TimeEpochMS},
		{"exponent", "epoch-s", "1.5e3", 1500e9, replay.TimeEpochS},
		{"go layout", "02/01/2006 15:04:05", "16/11/2023 18:17:03", base - 979960000, "02/01/2006 15:04:05"},
		{"spaces trimmed", "", "  42 ", 42e9, replay.TimeOffsetS},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := NewTimeParser(tt.format)
			if err != nil {
				t.Fatal(err)
			}
			got, err := p.Parse(tt.in)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.in, err)
			}
			if got != tt.want {
				t.Errorf("Parse(%q) = %d, want %d (diff %v)", tt.in, got, tt.want, time.Duration(got-tt.want))
			}
			if p.Format() != tt.resolved {
				t.Errorf("format = %q, want %q", p.Format(), tt.resolved)
			}
		})
	}
}

func TestTimeParserErrors(t *testing.T) {
	tests := []struct{ format, in, want string }{
		{"", "", "empty"},
		{"", "yesterday", "too short"},
		{"", "yesterday, 10 o'clock", "not a date-time"},
		{"", "2023-13-01 00:00:00", "out of range"},
		{"", "2023-02-29 00:00:00", "out of range"},
		{"", "2023-11-16 24:00:00", "out of range"},
		{"", "2023-11-16 18:17:03.", "empty fraction"},
		{"", "2023-11-16 18:17:03 PST", "unexpected"},
		{"", "1000-01-01 00:00:00", "year out of range"},
		{"", "-5", "negative"},
		{"epoch-s", "12a", "not a number"},
		{"epoch-s", "99999999999999999999", "out of range"},
		{"epoch-ns", "9999999999999999999", "out of range"},
		{"epoch-s", "NaN", "not a number"},
		{"02/01/2006", "2023-11-16", "does not match layout"},
	}
	for _, tt := range tests {
		p, err := NewTimeParser(tt.format)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.Parse(tt.in); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Parse(%q, %q) error = %v, want one containing %q", tt.format, tt.in, err, tt.want)
		}
	}
	if _, err := NewTimeParser("epoch-minutes"); !errors.Is(err, replay.ErrFormat) {
		t.Errorf("NewTimeParser(epoch-minutes) = %v, want ErrFormat", err)
	}
}

// A failed first value must not settle the auto format.
func TestTimeParserAutoSettlesOnSuccess(t *testing.T) {
	p, _ := NewTimeParser("")
	if _, err := p.Parse("garbage"); err == nil {
		t.Fatal("garbage parsed")
	}
	if _, err := p.Parse("1700158623"); err != nil {
		t.Fatal(err)
	}
	if p.Format() != replay.TimeEpochS {
		t.Errorf("format = %q, want epoch-s", p.Format())
	}
	// Settled: later values keep the unit even when small.
	if got, _ := p.Parse("5"); got != 5e9 {
		t.Errorf("Parse(5) = %d", got)
	}
}

func TestDaysFromCivil(t *testing.T) {
	for d := time.Date(1678, 1, 1, 0, 0, 0, 0, time.UTC); d.Year() < 2262; d = d.AddDate(0, 0, 17) {
		want := d.Unix() / 86400
		if got := daysFromCivil(d.Year(), int(d.Month()), d.Day()); got != want {
			t.Fatalf("daysFromCivil(%s) = %d, want %d", d.Format(time.DateOnly), got, want)
		}
	}
}

func TestParseTokens(t *testing.T) {
	good := map[string]int{"0": 0, "12": 12, " 7 ": 7, "12.0": 12, "1e3": 1000}
	for in, want := range good {
		if got, err := ParseTokens(in); err != nil || got != want {
			t.Errorf("ParseTokens(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "-1", "1.5", "abc", "NaN", "99999999999"} {
		if _, err := ParseTokens(in); err == nil {
			t.Errorf("ParseTokens(%q) succeeded", in)
		}
	}
}

func TestClock(t *testing.T) {
	var c Clock
	steps := []struct {
		ns      int64
		want    time.Duration
		wantErr bool
	}{{100, 0, false}, {150, 50, false}, {150, 50, false}, {120, 0, true}, {200, 100, false}}
	for i, s := range steps {
		got, err := c.Offset(s.ns)
		if (err != nil) != s.wantErr || (err == nil && got != s.want) {
			t.Fatalf("step %d: Offset(%d) = %v, %v", i, s.ns, got, err)
		}
		if err == nil {
			c.Accept(s.ns, int64(i+1))
		} else if !strings.Contains(err.Error(), "earlier than line 3") {
			t.Errorf("error %q does not name the previous line", err)
		}
	}
}

func TestLines(t *testing.T) {
	in := "\ufeffa\r\n\nb\n" + strings.Repeat("x", MaxLineBytes+10) + "\nc"
	l := NewLines(strings.NewReader(in))
	type got struct {
		s   string
		n   int64
		err error
	}
	var gots []got
	for {
		b, n, err := l.Next()
		if err == io.EOF {
			break
		}
		gots = append(gots, got{string(b), n, err})
	}
	want := []got{{"a", 1, nil}, {"", 2, nil}, {"b", 3, nil}, {"", 4, ErrLineTooLong}, {"c", 5, nil}}
	if len(gots) != len(want) {
		t.Fatalf("got %d lines, want %d", len(gots), len(want))
	}
	for i := range want {
		if gots[i].s != want[i].s || gots[i].n != want[i].n || !errors.Is(gots[i].err, want[i].err) {
			t.Errorf("line %d = %q %d %v, want %q %d %v", i, gots[i].s, gots[i].n, gots[i].err, want[i].s, want[i].n, want[i].err)
		}
	}
	_ = bytes.MinRead
}

// FuzzTimeParser checks that parsing never panics and that date-times agree
// with the time package wherever both accept them.
func FuzzTimeParser(f *testing.F) {
	for _, s := range []string{"2023-11-16 18:17:03.9799600", "2023-11-16T19:17:03.97996+01:00", "1700158623.9799601", "1e3", "-0", "."} {
		f.Add(s, "")
	}
	f.Add("12", "offset-ms")
	f.Fuzz(func(t *testing.T, s, format string) {
		p, err := NewTimeParser(format)
		if err != nil {
			return
		}
		ns, err := p.Parse(s)
		if err != nil || p.Format() != replay.TimeDateTime || format != "" {
			return
		}
		ts := strings.Replace(strings.TrimSpace(s), " ", "T", 1)
		for _, layout := range []string{"2006-01-02T15:04:05.999999999Z07:00", "2006-01-02T15:04:05.999999999"} {
			if tm, err := time.Parse(layout, ts); err == nil && tm.UnixNano() != ns {
				t.Fatalf("Parse(%q) = %d, time.Parse = %d", s, ns, tm.UnixNano())
			}
		}
	})
}
