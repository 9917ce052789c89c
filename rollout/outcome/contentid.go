package outcome

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"math"
	"strconv"
)

// ContentIDs gives each event without an id one made from what it says —
// its user, metric, value and time — and from how many identical events
// came before it in the same file or body: "~" + 24 hex digits of the
// SHA-256 of the content, then "." and the occurrence. Importing a file
// twice then changes nothing, as for events with ids, while two
// identical events in one file (two purchases in the same second) both
// count. An event whose time is the reader's now is unlike any other
// import's. The zero value is ready; one ContentIDs per file or body.
type ContentIDs struct {
	seen map[[12]byte]uint32 // occurrences by content
}

// Assign sets e.ID when it has none.
func (c *ContentIDs) Assign(e *Event) {
	if e.ID != "" {
		return
	}
	h := sha256.New()
	var num [8]byte
	for _, s := range []string{e.User, e.Metric} {
		binary.LittleEndian.PutUint64(num[:], uint64(len(s)))
		h.Write(num[:])
		h.Write([]byte(s))
	}
	binary.LittleEndian.PutUint64(num[:], math.Float64bits(e.Value+0)) // +0: -0 as 0
	h.Write(num[:])
	binary.LittleEndian.PutUint64(num[:], uint64(e.Time.UnixNano()))
	h.Write(num[:])
	var key [12]byte
	copy(key[:], h.Sum(nil))
	if c.seen == nil {
		c.seen = map[[12]byte]uint32{}
	}
	k := c.seen[key]
	c.seen[key] = k + 1
	e.ID = "~" + hex.EncodeToString(key[:]) + "." + strconv.FormatUint(uint64(k), 10)
}
