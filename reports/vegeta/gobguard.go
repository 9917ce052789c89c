package vegeta

import (
	"fmt"
	"io"
)

// maxGobMessage bounds one gob message (a result with its body): the gob
// decoder allocates what a message's length says before reading it, so an
// unchecked length of a damaged file would make it allocate up to 1 GiB.
const maxGobMessage = 64 << 20

// gobGuard passes a gob stream through, refusing a message whose length
// is above maxGobMessage. A gob stream is a sequence of messages, each a
// length (gob's unsigned integer: one byte below 128, else the negated
// count of the big-endian bytes that follow) and that many bytes.
type gobGuard struct {
	r    io.Reader
	left int64  // bytes of the current message still to pass
	head []byte // the length being read
}

func (g *gobGuard) Read(p []byte) (int, error) {
	n, err := g.r.Read(p)
	for i := 0; i < n; {
		if g.left > 0 {
			skip := min(g.left, int64(n-i))
			g.left -= skip
			i += int(skip)
			continue
		}
		g.head = append(g.head, p[i])
		i++
		size, done, bad := gobLength(g.head)
		if bad {
			return i, fmt.Errorf("a message length of %d bytes", len(g.head))
		}
		if !done {
			continue
		}
		g.head = g.head[:0]
		if size > maxGobMessage {
			return i, fmt.Errorf("a message of %d bytes (at most %d)", size, maxGobMessage)
		}
		g.left = int64(size)
	}
	return n, err
}

// gobLength decodes a gob unsigned integer from b: its value and whether
// b holds all of it; bad when its byte count is above 8.
func gobLength(b []byte) (v uint64, done, bad bool) {
	if b[0] < 0x80 {
		return uint64(b[0]), true, false
	}
	count := 256 - int(b[0]) // the negated count, as a byte
	if count > 8 {
		return 0, false, true
	}
	if len(b) < count+1 {
		return 0, false, false
	}
	for _, c := range b[1 : count+1] {
		v = v<<8 | uint64(c)
	}
	return v, true, false
}
