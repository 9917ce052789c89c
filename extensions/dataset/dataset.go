// Package dataset supplies the prompts of generative requests: prompt
// datasets in the common formats, random lengths in a range, shared-prefix
// workloads, and the word generator behind gonogo's own prompts.
//
// Formats (Spec.Format):
//   - sharegpt: a JSON array of {"conversations": [{"from", "value"}, …]}
//     as in the ShareGPT_V3 dump that vLLM's benchmark reads. The first
//     human turn is the prompt; the length of the first answer after it
//     (gpt, chatgpt, assistant) is the intended output length.
//     Conversations without such a pair are skipped.
//   - jsonl: one object a line, either {"prompt": "…"} or {"messages":
//     [{"role", "content"}, …]}, or a length to generate,
//     {"input_length": N} — with Mooncake's "hash_ids", a shared-prefix
//     prompt (below). The output length is "output_tokens", "max_tokens" or
//     "output_length" when given. Other members are ignored.
//   - random: Count prompts whose input and output lengths are drawn
//     uniformly from two ranges by the seed.
//
// Shared prefixes: a row's hash_ids name the blocks of BlockTokens tokens
// its prompt starts with (the last one cut to what input_length leaves).
// A block is a fixed text per hash id, so rows that share leading hash
// ids share a prefix of identical tokens, which a server's prefix cache
// rewards; tokens past the blocks are filler of the row's own.
//
// Lengths: a dataset is built for one tokenizer (nil for none) and one
// endpoint (chat or completions). Each Entry's InputTokens is what the
// client itself counts in what it sends: under a tokenizer, the tokens of
// the prompt (a chat request: of every message content, template tokens
// excluded); without one, its whitespace-separated words, which is how
// the gonogo model server counts. Generated prompts are made of words that
// are one token each under the tokenizer (Words), so they have exactly the
// length asked for; dataset text is counted as it is, and cut to
// Spec.MaxInputTokens with tokenize.Fit when it is longer.
//
// Order: the entries are the rows shuffled by Spec.Seed (the first
// Spec.Limit of them when a limit is set), and request n (its ID, from 1)
// gets entry (n−1) mod Len, so every target of a shadow run, and every run
// with the same seed, sends the same prompt for the same request.
package dataset

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"sync"

	"github.com/gonogo-dev/gonogo/extensions/tokenize"
)

// Dataset is a fixed list of prompts ready to send. It is read-only and
// safe for concurrent use.
type Dataset struct {
	// Spec is the spec it was built from, defaults filled.
	Spec Spec
	// Rows is the number of rows (conversations, lines) read.
	Rows int
	// Skipped counts the rows left out: conversations without a prompt and
	// an answer, empty answers, chat rows too long to cut.
	Skipped int
	entries []Entry
}

// Entry is one prompt as a request sends it.
type Entry struct {
	// Line is the entry's line in the dataset file (0 for random).
	Line int
	// Prompt is the prompt of a completions request.
	Prompt string
	// Messages are the messages of a chat request.
	Messages []Message
	// InputTokens is the prompt's length as the client counts it (see the
	// package comment).
	InputTokens int
	// OutputTokens is the intended output length; 0 leaves it to the
	// client's default.
	OutputTokens int
	// member is the request body's member: "prompt":"…" or
	// "messages":[…].
	member []byte
}

// AppendMember appends the entry's member of a request body,
// "prompt":"…" (completions) or "messages":[…] (chat), to b.
func (e *Entry) AppendMember(b []byte) []byte { return append(b, e.member...) }

// Len is the number of entries.
func (d *Dataset) Len() int { return len(d.entries) }

// Entry returns entry i (0 ≤ i < Len).
func (d *Dataset) Entry(i int) *Entry { return &d.entries[i] }

// Pick returns the entry of request id (from 1; 0 counts as 1).
func (d *Dataset) Pick(id uint64) *Entry {
	if id > 0 {
		id--
	}
	return &d.entries[id%uint64(len(d.entries))]
}

var (
	cacheMu sync.Mutex
	cache   = map[string]*Dataset{}
)

// Load builds the dataset spec describes for requests counted by tok
// (nil: words) to the chat endpoint (chat) or the completions one. Each
// distinct dataset is built once per process and shared (a shadow run's
// targets use one). A spec that is not valid gives an error naming its
// field; a file that does not parse, a *FileError naming its line.
func Load(spec Spec, tok tokenize.Tokenizer, chat bool) (*Dataset, error) {
	if field, msg := spec.Validate(); msg != "" {
		return nil, fmt.Errorf("dataset: %s: %s", field, msg)
	}
	key := fmt.Sprintf("%s|%s|%p|%t", spec.key(), tokenize.Name(tok), tok, chat)
	cacheMu.Lock()
	defer cacheMu.Unlock()
	if d, ok := cache[key]; ok {
		return d, nil
	}
	d, err := build(spec, tok, chat)
	if err != nil {
		return nil, err
	}
	cache[key] = d
	return d, nil
}

// builder holds what building entries needs.
type builder struct {
	spec   Spec
	tok    tokenize.Tokenizer
	chat   bool
	words  *Words
	blocks map[int64]string // hash id → its whole block
}

func build(spec Spec, tok tokenize.Tokenizer, chat bool) (*Dataset, error) {
	b := &builder{spec: spec, tok: tok, chat: chat, words: NewWords(tok), blocks: map[int64]string{}}
	d := &Dataset{Spec: spec}
	var rows []row
	switch spec.Format {
	case FormatRandom:
		rows = b.randomRows()
	default:
		data, err := os.ReadFile(spec.File)
		if err != nil {
			return nil, &FileError{File: spec.File, Msg: err.Error()}
		}
		if spec.Format == FormatShareGPT {
			rows, d.Skipped, err = parseShareGPT(spec.File, data)
		} else {
			rows, err = parseJSONL(spec.File, data, spec.BlockTokens)
		}
		if err != nil {
			return nil, err
		}
	}
	d.Rows = len(rows) + d.Skipped
	rng := rand.New(rand.NewPCG(uint64(spec.Seed), 0x5eed))
	rng.Shuffle(len(rows), func(i, j int) { rows[i], rows[j] = rows[j], rows[i] })
	want := len(rows)
	if spec.Limit > 0 {
		want = min(want, spec.Limit)
	}
	want = min(want, MaxEntries)
	for i := range rows {
		if len(d.entries) == want {
			break
		}
		e, ok, err := b.entry(&rows[i])
		if err != nil {
			return nil, err
		}
		if !ok {
			d.Skipped++
			continue
		}
		d.entries = append(d.entries, e)
	}
	if len(d.entries) == 0 {
		what := spec.File
		if what == "" {
			what = "random dataset"
		}
		return nil, &FileError{File: what, Msg: fmt.Sprintf("no usable prompt (%d rows read, %d skipped)", d.Rows, d.Skipped)}
	}
	return d, nil
}

// randomRows draws Random.Count lengths: the prompts are generated.
func (b *builder) randomRows() []row {
	r := b.spec.Random
	rng := rand.New(rand.NewPCG(uint64(b.spec.Seed), 0x7a2d))
	rows := make([]row, r.Count)
	for i := range rows {
		rows[i] = row{
			inputLen: r.Input.Min + rng.IntN(r.Input.Max-r.Input.Min+1),
			output:   r.Output.Min + rng.IntN(r.Output.Max-r.Output.Min+1),
		}
		rows[i].line = -(i + 1) // an identity for its text; Entry.Line stays 0
	}
	return rows
}

// entry builds the entry of r; ok is false when r is to be skipped.
func (b *builder) entry(r *row) (e Entry, ok bool, err error) {
	e = Entry{Line: max(r.line, 0), OutputTokens: r.output}
	limit := b.spec.MaxInputTokens
	if limit > 0 && r.inputLen > limit {
		r.inputLen = limit
	}
	switch {
	case r.inputLen > 0:
		text, err := b.generated(r)
		if err != nil {
			return e, false, err
		}
		e.Prompt = text
	case len(r.messages) > 0:
		e.Messages = r.messages
	default:
		e.Prompt = r.prompt
	}
	if e.OutputTokens == 0 && r.answer != "" {
		e.OutputTokens = b.count(r.answer)
		if e.OutputTokens == 0 {
			return e, false, nil
		}
	}
	// Cut what is too long; then shape it for the endpoint.
	if limit > 0 && r.inputLen == 0 {
		if e.Messages != nil {
			if e.Messages, ok = b.cutMessages(e.Messages, limit); !ok {
				return e, false, nil
			}
		} else if e.Prompt, err = b.cut(e.Prompt, limit); err != nil {
			return e, false, fmt.Errorf("%s:%d: %w", b.spec.File, e.Line, err)
		}
	}
	if b.chat && e.Messages == nil {
		e.Messages = []Message{{Role: "user", Content: e.Prompt}}
		e.Prompt = ""
	}
	if !b.chat && e.Messages != nil {
		contents := make([]string, len(e.Messages))
		for i, m := range e.Messages {
			contents[i] = m.Content
		}
		e.Prompt, e.Messages = strings.Join(contents, "\n"), nil
	}
	if r.inputLen > 0 && b.tok != nil && b.words.Exact() {
		e.InputTokens = r.inputLen // one-token words: exact by construction (NewWords checked it)
	} else {
		e.InputTokens = b.countAll(&e)
	}
	e.member, err = member(&e, b.chat)
	return e, err == nil, err
}

// count counts text as the client does: tokens under the tokenizer, else
// whitespace-separated words.
func (b *builder) count(text string) int {
	if b.tok != nil {
		return b.tok.Count(text)
	}
	return len(strings.Fields(text))
}

// countAll counts an entry's prompt, or the sum over its messages.
func (b *builder) countAll(e *Entry) int {
	if e.Messages == nil {
		return b.count(e.Prompt)
	}
	n := 0
	for _, m := range e.Messages {
		n += b.count(m.Content)
	}
	return n
}

// cut returns text cut to at most n tokens (words without a tokenizer).
func (b *builder) cut(text string, n int) (string, error) {
	if b.count(text) <= n {
		return text, nil
	}
	if b.tok == nil {
		f := strings.Fields(text)
		return strings.Join(f[:n], " "), nil
	}
	return tokenize.Fit(b.tok, text, n)
}

// cutMessages cuts the last message so that all of them fit n tokens;
// ok is false when the others alone do not.
func (b *builder) cutMessages(msgs []Message, n int) ([]Message, bool) {
	used := 0
	for _, m := range msgs[:len(msgs)-1] {
		used += b.count(m.Content)
	}
	if used >= n {
		return nil, false
	}
	last := msgs[len(msgs)-1]
	text, err := b.cut(last.Content, n-used)
	if err != nil {
		return nil, false
	}
	out := append([]Message(nil), msgs...)
	out[len(out)-1].Content = text
	return out, true
}

// generated makes the prompt of a row that gives a length: its hash_ids'
// blocks, then filler of its own, r.inputLen tokens in all.
func (b *builder) generated(r *row) (string, error) {
	var out []byte
	left := r.inputLen
	for _, h := range r.hashIDs {
		if left <= 0 {
			break
		}
		n := min(b.spec.BlockTokens, left)
		block, err := b.block(h, n)
		if err != nil {
			return "", err
		}
		if len(out) > 0 {
			out = append(out, ' ')
		}
		out = append(out, block...)
		left -= n
	}
	if left > 0 {
		if len(out) > 0 {
			out = append(out, ' ')
		}
		id := mix(uint64(b.spec.Seed)<<20 ^ uint64(int64(r.line)))
		text, err := b.text(id, left)
		if err != nil {
			return "", err
		}
		out = append(out, text...)
	}
	return string(out), nil
}

// block returns the first n tokens of the block of hash id h: the same
// text for the same id, whichever row asks.
func (b *builder) block(h int64, n int) (string, error) {
	full, ok := b.blocks[h]
	if !ok {
		var err error
		if full, err = b.text(mix(uint64(h)^0xb10c), b.spec.BlockTokens); err != nil {
			return "", err
		}
		b.blocks[h] = full
	}
	if n == b.spec.BlockTokens {
		return full, nil
	}
	if b.tok == nil || b.words.Exact() {
		// Words texts from one id are prefixes of each other.
		return b.words.Text(mix(uint64(h)^0xb10c), n), nil
	}
	return tokenize.Fit(b.tok, full, n)
}

// text makes a text of n tokens from the words at id: exact by
// construction when the words are (or when there is no tokenizer: n
// words), else cut to n tokens with tokenize.Fit.
func (b *builder) text(id uint64, n int) (string, error) {
	if b.tok == nil || b.words.Exact() {
		return b.words.Text(id, n), nil
	}
	return tokenize.Fit(b.tok, b.words.Text(id, 2*n+16), n)
}

// member renders the body member of e.
func member(e *Entry, chat bool) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	var err error
	if chat {
		buf.WriteString(`"messages":`)
		err = enc.Encode(e.Messages)
	} else {
		buf.WriteString(`"prompt":`)
		err = enc.Encode(e.Prompt)
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), err
}

// mix is the SplitMix64 finaliser.
func mix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}
