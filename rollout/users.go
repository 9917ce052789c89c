package rollout

import (
	"encoding/json"
	"sync"
)

// MaxTrackedUsers bounds the distinct sticky users counted per step for
// the sample-ratio check; past it new users are not counted (the check
// still has that many).
const MaxTrackedUsers = 200_000

// userCounter counts distinct sticky users per backend since its last
// reset: the sample-ratio check's unit when requests carry a user key,
// since one user's many requests are not independent draws.
type userCounter struct {
	mu    sync.Mutex
	seen  map[string]string // key → backend
	count map[string]int64
}

func newUserCounter() *userCounter {
	return &userCounter{seen: map[string]string{}, count: map[string]int64{}}
}

func (u *userCounter) add(key, backend string) {
	u.mu.Lock()
	if _, ok := u.seen[key]; !ok && len(u.seen) < MaxTrackedUsers {
		u.seen[key] = backend
		u.count[backend]++
	}
	u.mu.Unlock()
}

// reset starts counting again.
func (u *userCounter) reset() {
	u.mu.Lock()
	u.seen, u.count = map[string]string{}, map[string]int64{}
	u.mu.Unlock()
}

// counts returns the counts so far.
func (u *userCounter) counts() map[string]int64 {
	u.mu.Lock()
	defer u.mu.Unlock()
	c := make(map[string]int64, len(u.count))
	for k, v := range u.count {
		c[k] = v
	}
	return c
}

// bodyField returns a top-level string (or number) field of a JSON
// object body, "" when there is none.
func bodyField(body []byte, field string) string {
	var m map[string]json.RawMessage
	if json.Unmarshal(body, &m) != nil {
		return ""
	}
	raw, ok := m[field]
	if !ok {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var n json.Number
	if json.Unmarshal(raw, &n) == nil {
		return n.String()
	}
	return ""
}
