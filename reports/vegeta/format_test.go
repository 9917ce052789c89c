package vegeta

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// decodeAll reads every result of src.
func decodeAll(src []byte, f Format) ([]Result, Format, error) {
	d, err := NewDecoder(bytes.NewReader(src), "input", f)
	if err != nil {
		return nil, "", err
	}
	var out []Result
	for {
		var r Result
		switch err := d.Decode(&r); {
		case err == io.EOF:
			return out, d.Format(), nil
		case err != nil:
			return out, d.Format(), err
		}
		out = append(out, r)
	}
}

// The samples vegeta wrote (testdata/README.md) decode, each format told
// from its first bytes, to the same results: CSV carries no headers.
func TestSampleFormats(t *testing.T) {
	var want []Result
	for _, c := range []struct {
		file   string
		format Format
	}{{"sample.bin", Gob}, {"sample.json", JSON}, {"sample.csv", CSV}} {
		src, err := os.ReadFile(filepath.Join("testdata", c.file))
		if err != nil {
			t.Fatal(err)
		}
		got, f, err := decodeAll(src, "")
		if err != nil || f != c.format {
			t.Fatalf("%s: format %s, %v", c.file, f, err)
		}
		for i := range got {
			got[i].Headers = nil
			got[i].Timestamp = got[i].Timestamp.UTC()
		}
		if want == nil {
			want = got
			if len(want) != 6 || want[2].Code != 503 || want[2].Error != "503 Service Unavailable" || want[1].Method != "POST" {
				t.Fatalf("%s: %+v", c.file, want)
			}
			continue
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s:\n%+v\nwant (from sample.bin)\n%+v", c.file, got, want)
		}
	}
}

// FuzzDecode: any input decodes or fails with an input error naming
// where; nothing panics. (Import records what decodes: a recorder per
// input would make the fuzzer crawl.)
func FuzzDecode(f *testing.F) {
	for _, name := range []string{"sample.bin", "sample.json", "sample.csv"} {
		src, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(src)
	}
	f.Add([]byte("1,200,5,0,0,,,,0,GET,http://x/,\n"))
	f.Fuzz(func(t *testing.T, src []byte) {
		_, _, err := decodeAll(src, "")
		if err != nil && (!errors.Is(err, ErrInput) || !strings.Contains(err.Error(), "input")) {
			t.Fatalf("error %v: not an input error naming the input", err)
		}
	})
}
