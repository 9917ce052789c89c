package chaos

import (
	"bytes"
	"errors"
	"testing"
)

// FuzzReadLedger: any ledger file reads, or fails with its line named;
// pending entries are apply entries.
func FuzzReadLedger(f *testing.F) {
	f.Add([]byte(`{"op":"apply","id":"a","kind":"http.delay","undo":{"kind":"none"},"pid":1}` + "\n" + `{"op":"revert","id":"a","pid":1}` + "\n"))
	f.Add([]byte(`{"op":"apply","id":"b","undo":{"kind":"container.unpause","data":{"ids":["x"]}}}` + "\n" + `{"op":"ap`))
	f.Fuzz(func(t *testing.T, b []byte) {
		entries, err := readEntries("ledger", bytes.NewReader(b))
		if err != nil {
			if !errors.Is(err, ErrInput) {
				t.Fatalf("error of another kind: %v", err)
			}
			return
		}
		for _, e := range Pending(entries) {
			if e.Op != OpApply || e.Undo == nil {
				t.Fatalf("pending %+v", e)
			}
		}
	})
}
