package tokenize

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"

	"github.com/dlclark/regexp2/v2"
)

// Pre-tokenizer split patterns: text is cut into pieces by one of these
// before the BPE merge, and no token spans two pieces. The strings are
// those of the built-in vocabularies, so that a file loaded with one of
// them encodes as that vocabulary does.
const (
	// SplitCL100k is cl100k_base's pattern, which Llama 3 uses too.
	SplitCL100k = `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
	// SplitO200k is o200k_base's pattern.
	SplitO200k = `[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+`
)

// Limits of a tokenizer file.
const (
	// MaxRank bounds a token's rank (Llama 3 has 128 000 tokens, o200k
	// 200 000).
	MaxRank = 1 << 22
	// MaxTokenBytes bounds one token's length.
	MaxTokenBytes = 1024
	// maxLine bounds a line: a token's base64, a space, a rank.
	maxLine = 4*MaxTokenBytes/3 + 32
)

// BPE is a byte-level BPE tokenizer over the ranks of a tiktoken file:
// lower ranks merge first, as tiktoken does.
type BPE struct {
	name   string
	ranks  map[string]int
	tokens []string // by rank; "" where no token has the rank
	split  *regexp2.Regexp
}

var _ Tokenizer = (*BPE)(nil)

// LoadFile reads a tiktoken file (base64 token, space, rank per line) and
// splits text as cl100k_base does (SplitCL100k). A file that does not
// parse gives a *FileError naming the line.
func LoadFile(path string) (*BPE, error) { return LoadFileSplit(path, SplitCL100k) }

// LoadFileSplit is LoadFile with the pre-tokenizer pattern split.
func LoadFileSplit(path, split string) (*BPE, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, &FileError{File: path, Msg: err.Error()}
	}
	defer f.Close()
	ranks, err := ParseRanks(path, f)
	if err != nil {
		return nil, err
	}
	return NewBPE(path, ranks, split)
}

// ParseRanks reads a tiktoken file from r: lines "BASE64 RANK", blank
// lines skipped. name is the file's name in errors (*FileError). Every
// token and every rank must be unique, and the 256 single bytes must all
// be tokens, so that any text can be encoded.
func ParseRanks(name string, r io.Reader) (map[string]int, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), maxLine)
	ranks := map[string]int{}
	seen := map[int]int{} // rank → line
	line := 0
	for sc.Scan() {
		line++
		text := bytes.TrimRight(sc.Bytes(), "\r")
		if len(bytes.TrimSpace(text)) == 0 {
			continue
		}
		b64, num, ok := bytes.Cut(text, []byte(" "))
		if !ok {
			return nil, &FileError{File: name, Line: line, Msg: "want 'BASE64 RANK' (no space)"}
		}
		tok, err := base64.StdEncoding.DecodeString(string(b64))
		if err != nil {
			return nil, &FileError{File: name, Line: line, Msg: fmt.Sprintf("token: not standard base64 (%v)", err)}
		}
		if len(tok) == 0 || len(tok) > MaxTokenBytes {
			return nil, &FileError{File: name, Line: line, Msg: fmt.Sprintf("token: %d bytes; want 1..%d", len(tok), MaxTokenBytes)}
		}
		rank, err := strconv.Atoi(string(num))
		if err != nil || rank < 0 || rank >= MaxRank {
			return nil, &FileError{File: name, Line: line, Msg: fmt.Sprintf("rank %q: want a whole number 0..%d", clipString(string(num), 24), MaxRank-1)}
		}
		if prev, dup := ranks[string(tok)]; dup {
			return nil, &FileError{File: name, Line: line, Msg: fmt.Sprintf("token %q is listed twice (rank %d before)", clipString(string(tok), 24), prev)}
		}
		if prev, dup := seen[rank]; dup {
			return nil, &FileError{File: name, Line: line, Msg: fmt.Sprintf("rank %d is given twice (line %d before)", rank, prev)}
		}
		ranks[string(tok)], seen[rank] = rank, line
	}
	if err := sc.Err(); err != nil {
		if err == bufio.ErrTooLong {
			return nil, &FileError{File: name, Line: line + 1, Msg: fmt.Sprintf("line longer than %d bytes", maxLine)}
		}
		return nil, &FileError{File: name, Msg: err.Error()}
	}
	if len(ranks) == 0 {
		return nil, &FileError{File: name, Msg: "no tokens: want lines 'BASE64 RANK'"}
	}
	for c := range 256 {
		if _, ok := ranks[string([]byte{byte(c)})]; !ok {
			return nil, &FileError{File: name, Msg: fmt.Sprintf("byte 0x%02x has no token: a byte-level BPE vocabulary lists all 256 single bytes", c)}
		}
	}
	return ranks, nil
}

// NewBPE builds a tokenizer named name from ranks (as ParseRanks returns
// them) and a pre-tokenizer pattern.
func NewBPE(name string, ranks map[string]int, split string) (*BPE, error) {
	re, err := regexp2.Compile(split, regexp2.None)
	if err != nil {
		return nil, fmt.Errorf("tokenize: split pattern: %w", err)
	}
	maxRank := 0
	for _, r := range ranks {
		maxRank = max(maxRank, r)
	}
	tokens := make([]string, maxRank+1)
	for t, r := range ranks {
		tokens[r] = t
	}
	return &BPE{name: name, ranks: ranks, tokens: tokens, split: re}, nil
}

// Name is the path the tokenizer was loaded from.
func (b *BPE) Name() string { return b.name }

// Encode returns the ids of text: each piece of the split is one token
// when it is one, else the result of merging its bytes pairwise, lowest
// rank first and leftmost first among equals.
func (b *BPE) Encode(text string) []int {
	var out []int
	b.pieces(text, func(p string) { out = b.appendPiece(out, p) })
	return out
}

// Count returns len(Encode(text)).
func (b *BPE) Count(text string) int {
	n := 0
	var buf []int
	b.pieces(text, func(p string) {
		if _, ok := b.ranks[p]; ok {
			n++
			return
		}
		buf = b.appendPiece(buf[:0], p)
		n += len(buf)
	})
	return n
}

// Decode returns the bytes of ids, skipping ids with no token.
func (b *BPE) Decode(ids []int) string {
	var sb strings.Builder
	for _, id := range ids {
		if id >= 0 && id < len(b.tokens) {
			sb.WriteString(b.tokens[id])
		}
	}
	return sb.String()
}

// pieces calls fn with every piece of the split of text, in order. Text
// the pattern does not cover (it covers everything; kept for safety)
// goes as pieces too, so that no byte is lost.
func (b *BPE) pieces(text string, fn func(string)) {
	if text == "" {
		return
	}
	runes := []rune(text)
	m, err := b.split.FindRunesMatch(runes)
	pos := 0 // in runes
	for err == nil && m != nil {
		if m.RuneIndex > pos {
			fn(string(runes[pos:m.RuneIndex]))
		}
		if m.RuneLength > 0 {
			fn(string(runes[m.RuneIndex : m.RuneIndex+m.RuneLength]))
		}
		pos = m.RuneIndex + m.RuneLength
		m, err = b.split.FindNextMatch(m)
	}
	if pos < len(runes) {
		fn(string(runes[pos:]))
	}
}

// appendPiece appends the ids of one piece.
func (b *BPE) appendPiece(out []int, piece string) []int {
	if r, ok := b.ranks[piece]; ok {
		return append(out, r)
	}
	for _, p := range b.merge(piece) {
		out = append(out, b.ranks[piece[p.start:p.end]])
	}
	return out
}

// span is one part of a piece during the merge.
type span struct{ start, end int }

// node is a part boundary in merge's linked list; rank is the rank of the
// token this part and the next would make (noMerge when none).
type node struct {
	prev, next int
	rank       int
}

const noMerge = math.MaxInt

// merge splits piece into the parts that the BPE merge leaves: starting
// from single bytes, it repeatedly joins the adjacent pair whose join is
// the token of lowest rank (the leftmost among equals) until no adjacent
// pair is a token. A heap keeps it O(n log n) for long pieces; a stale
// heap entry (its node's rank changed) is skipped.
func (b *BPE) merge(piece string) []span {
	n := len(piece)
	nodes := make([]node, n+1) // node n is the end sentinel
	for i := range nodes {
		nodes[i] = node{prev: i - 1, next: i + 1, rank: noMerge}
	}
	rankAt := func(i int) int {
		j := nodes[i].next
		if j >= n {
			return noMerge
		}
		k := nodes[j].next
		if r, ok := b.ranks[piece[i:k]]; ok {
			return r
		}
		return noMerge
	}
	h := make(mergeHeap, 0, n)
	for i := 0; i+1 < n; i++ {
		if r := rankAt(i); r != noMerge {
			nodes[i].rank = r
			h = append(h, cand{r, i})
		}
	}
	h.init()
	for len(h) > 0 {
		c := h.pop()
		i := c.at
		if nodes[i].rank != c.rank {
			continue // stale
		}
		j := nodes[i].next
		k := nodes[j].next
		nodes[j].rank = noMerge
		nodes[i].next = k
		nodes[k].prev = i
		for _, x := range [2]int{i, nodes[i].prev} {
			if x < 0 {
				continue
			}
			nodes[x].rank = rankAt(x)
			if nodes[x].rank != noMerge {
				h.push(cand{nodes[x].rank, x})
			}
		}
	}
	var out []span
	for i := 0; i < n; i = nodes[i].next {
		out = append(out, span{i, nodes[i].next})
	}
	return out
}

// cand is a pair that may merge: the part at at with its successor.
type cand struct{ rank, at int }

// mergeHeap is a min-heap of candidates by rank, then position.
type mergeHeap []cand

func (h mergeHeap) less(a, b int) bool {
	if h[a].rank != h[b].rank {
		return h[a].rank < h[b].rank
	}
	return h[a].at < h[b].at
}

func (h mergeHeap) init() {
	for i := len(h)/2 - 1; i >= 0; i-- {
		h.down(i)
	}
}

func (h *mergeHeap) push(c cand) {
	*h = append(*h, c)
	for i := len(*h) - 1; i > 0; {
		p := (i - 1) / 2
		if !h.less(i, p) {
			break
		}
		(*h)[i], (*h)[p] = (*h)[p], (*h)[i]
		i = p
	}
}

func (h *mergeHeap) pop() cand {
	old := *h
	top := old[0]
	old[0] = old[len(old)-1]
	*h = old[:len(old)-1]
	h.down(0)
	return top
}

func (h mergeHeap) down(i int) {
	for {
		c := 2*i + 1
		if c >= len(h) {
			return
		}
		if r := c + 1; r < len(h) && h.less(r, c) {
			c = r
		}
		if !h.less(c, i) {
			return
		}
		h[i], h[c] = h[c], h[i]
		i = c
	}
}

func clipString(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
