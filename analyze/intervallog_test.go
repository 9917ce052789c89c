package analyze

import (
	"bytes"
	"strconv"
	"testing"
	"time"
)

func formatFloat(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }

func FuzzReadIntervalLog(f *testing.F) {
	var buf bytes.Buffer
	r, err := NewRecorder(Config{Start: t0, IntervalLog: &buf})
	if err != nil {
		f.Fatal(err)
	}
	for i := range 20 {
		r.Record(result("a b", t0, 0, time.Duration(i+1)*time.Millisecond))
	}
	_ = r.Close(t0.Add(time.Second))
	f.Add(buf.String())
	f.Add("Tag=x,0.0,1.0,0.0,\n")
	f.Add("#[StartTime: 1000.5 (seconds since epoch)]\n#[BaseTime: 0]\n1.0,1.0,1.0,HISTFAAAAA\n")
	f.Fuzz(func(t *testing.T, s string) {
		ivs, err := ReadIntervalLog(bytes.NewBufferString(s))
		if err != nil {
			return
		}
		for _, iv := range ivs {
			if iv.Histogram == nil || iv.End.Before(iv.Start) {
				t.Fatalf("bad interval %+v", iv)
			}
		}
	})
}
