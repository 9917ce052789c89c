package dataset

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// FileError is a dataset file that does not parse: the file, the line
// (0 when the problem is the file as a whole), the field of the row when
// one is to blame, and what is wrong.
type FileError struct {
	File  string
	Line  int
	Field string
	Msg   string
}

func (e *FileError) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	b.WriteString(": ")
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Message is one chat message.
type Message struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

// row is one usable record of a dataset file, before it becomes an Entry.
type row struct {
	line     int
	prompt   string
	messages []Message // instead of prompt
	inputLen int       // a prompt to generate, of this many tokens (with hashIDs: their blocks)
	hashIDs  []int64
	output   int    // intended output tokens; 0 when the answer decides
	answer   string // sharegpt: the first answer, whose length is the output
}

// maxRows bounds the rows a file may hold.
const maxRows = 1 << 24

// Roles of ShareGPT turns: the asker's and the answerer's names.
var (
	askers    = []string{"human", "user"}
	answerers = []string{"gpt", "chatgpt", "assistant", "bard", "bing", "model"}
)

// shareGPTConv is one element of a ShareGPT file.
type shareGPTConv struct {
	Conversations *[]struct {
		From  string `json:"from"`
		Value string `json:"value"`
	} `json:"conversations"`
}

// parseShareGPT reads a ShareGPT JSON array: from each conversation, the
// first turn of a human and the first answer after it. Conversations
// without such a pair are skipped and counted.
func parseShareGPT(name string, data []byte) (rows []row, skipped int, err error) {
	lines := lineCounter{data: data}
	dec := json.NewDecoder(bytes.NewReader(data))
	tok, err := dec.Token()
	if err != nil || tok != json.Delim('[') {
		return nil, 0, &FileError{File: name, Line: lines.at(skipSpace(data, 0)), Msg: "want a JSON array of conversations [{\"conversations\": [{\"from\": \"human\", \"value\": …}, …]}, …]"}
	}
	for i := 0; dec.More(); i++ {
		if i == maxRows {
			return nil, 0, &FileError{File: name, Msg: fmt.Sprintf("more than %d conversations", maxRows)}
		}
		start := skipSpace(data, int(dec.InputOffset()))
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, 0, jsonError(name, &lines, start, i, err)
		}
		line := lines.at(start)
		var c shareGPTConv
		if err := json.Unmarshal(raw, &c); err != nil {
			var te *json.UnmarshalTypeError
			if errors.As(err, &te) {
				field := shareGPTField(i, te.Field)
				return nil, 0, &FileError{File: name, Line: lines.at(start + int(te.Offset) - 1), Field: field, Msg: wantType(te)}
			}
			return nil, 0, &FileError{File: name, Line: line, Field: fmt.Sprintf("[%d]", i), Msg: err.Error()}
		}
		if c.Conversations == nil {
			return nil, 0, &FileError{File: name, Line: line, Field: fmt.Sprintf("[%d].conversations", i), Msg: "missing: is this a ShareGPT file? (want [{\"conversations\": [{\"from\", \"value\"}, …]}, …])"}
		}
		r := row{line: line}
		asked := false
		for _, turn := range *c.Conversations {
			from := strings.ToLower(turn.From)
			switch {
			case !asked && contains(askers, from):
				r.prompt, asked = turn.Value, true
			case asked && contains(answerers, from):
				r.answer = turn.Value
			default:
				continue
			}
			if r.answer != "" {
				break
			}
		}
		if !asked || strings.TrimSpace(r.prompt) == "" || strings.TrimSpace(r.answer) == "" {
			skipped++
			continue
		}
		rows = append(rows, r)
	}
	if _, err := dec.Token(); err != nil { // the closing ]
		return nil, 0, jsonError(name, &lines, skipSpace(data, int(dec.InputOffset())), -1, err)
	}
	if rest := skipSpace(data, int(dec.InputOffset())); rest < len(data) {
		return nil, 0, &FileError{File: name, Line: lines.at(rest), Msg: "text after the array"}
	}
	return rows, skipped, nil
}

func shareGPTField(i int, field string) string {
	if field == "" {
		return fmt.Sprintf("[%d]", i)
	}
	return fmt.Sprintf("[%d].%s", i, field)
}

// jsonlRow is one line of a JSONL dataset; other members are ignored.
type jsonlRow struct {
	Prompt       *string         `json:"prompt"`
	Messages     json.RawMessage `json:"messages"`
	OutputTokens *int            `json:"output_tokens"`
	MaxTokens    *int            `json:"max_tokens"`
	OutputLength *int            `json:"output_length"`
	InputLength  *int            `json:"input_length"`
	InputTokens  *int            `json:"input_tokens"`
	HashIDs      []int64         `json:"hash_ids"`
}

// parseJSONL reads one JSON object a line (blank lines skipped): a
// prompt, chat messages, or a prompt length (input_length, with optional
// hash_ids), and an optional output length (output_tokens, max_tokens or
// output_length).
func parseJSONL(name string, data []byte, blockTokens int) ([]row, error) {
	var rows []row
	line := 0
	for len(data) > 0 {
		line++
		if line > maxRows {
			return nil, &FileError{File: name, Msg: fmt.Sprintf("more than %d lines", maxRows)}
		}
		text := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			text, data = data[:i], data[i+1:]
		} else {
			data = nil
		}
		text = bytes.TrimSpace(text)
		if len(text) == 0 {
			continue
		}
		r, err := parseJSONLRow(text, blockTokens)
		if err != nil {
			err.File, err.Line = name, line
			return nil, err
		}
		r.line = line
		rows = append(rows, r)
	}
	return rows, nil
}

// parseJSONLRow reads one line; the error has no file or line yet.
func parseJSONLRow(text []byte, blockTokens int) (row, *FileError) {
	var j jsonlRow
	if text[0] != '{' {
		return row{}, &FileError{Msg: "want a JSON object such as {\"prompt\": \"…\"}"}
	}
	if err := json.Unmarshal(text, &j); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return row{}, &FileError{Field: te.Field, Msg: wantType(te)}
		}
		return row{}, &FileError{Msg: "not valid JSON: " + err.Error()}
	}
	var r row
	var err *FileError
	count := func(field string, p *int) int {
		if p == nil || err != nil {
			return 0
		}
		if *p < 1 || *p > MaxTokens {
			err = &FileError{Field: field, Msg: fmt.Sprintf("want 1..%d tokens (got %d)", MaxTokens, *p)}
		}
		return *p
	}
	r.output = count("output_tokens", j.OutputTokens)
	if r.output == 0 {
		r.output = count("max_tokens", j.MaxTokens)
	}
	if r.output == 0 {
		r.output = count("output_length", j.OutputLength)
	}
	r.inputLen = count("input_length", j.InputLength)
	if r.inputLen == 0 {
		r.inputLen = count("input_tokens", j.InputTokens)
	}
	if err != nil {
		return row{}, err
	}
	hasMsgs := len(j.Messages) > 0 && string(j.Messages) != "null"
	switch {
	case j.Prompt != nil && hasMsgs:
		return row{}, &FileError{Field: "messages", Msg: "give prompt or messages, not both"}
	case (j.Prompt != nil || hasMsgs) && len(j.HashIDs) > 0:
		return row{}, &FileError{Field: "hash_ids", Msg: "hash_ids make the prompt: leave prompt and messages out"}
	case j.Prompt != nil:
		if strings.TrimSpace(*j.Prompt) == "" {
			return row{}, &FileError{Field: "prompt", Msg: "empty"}
		}
		r.prompt = *j.Prompt
		r.inputLen = 0 // the text decides
	case hasMsgs:
		msgs, ferr := parseMessages(j.Messages)
		if ferr != nil {
			return row{}, ferr
		}
		r.messages, r.inputLen = msgs, 0
	case len(j.HashIDs) > 0:
		r.hashIDs = j.HashIDs
		if r.inputLen == 0 {
			if len(j.HashIDs) > MaxTokens/blockTokens {
				return row{}, &FileError{Field: "hash_ids", Msg: fmt.Sprintf("%d blocks of %d tokens: more than %d tokens", len(j.HashIDs), blockTokens, MaxTokens)}
			}
			r.inputLen = len(j.HashIDs) * blockTokens
		}
	case r.inputLen == 0:
		return row{}, &FileError{Msg: "want prompt, messages or input_length (with hash_ids for shared prefixes)"}
	}
	return r, nil
}

// parseMessages reads chat messages: each needs a role and a content, a
// string or an array of parts whose text parts are joined by "\n".
func parseMessages(raw json.RawMessage) ([]Message, *FileError) {
	var items []struct {
		Role    *string         `json:"role"`
		Content json.RawMessage `json:"content"`
	}
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, &FileError{Field: "messages", Msg: "want a list of {\"role\", \"content\"}"}
	}
	if len(items) == 0 {
		return nil, &FileError{Field: "messages", Msg: "empty"}
	}
	msgs := make([]Message, len(items))
	for i, it := range items {
		at := fmt.Sprintf("messages[%d]", i)
		if it.Role == nil || *it.Role == "" {
			return nil, &FileError{Field: at + ".role", Msg: "missing"}
		}
		text, ok := contentText(it.Content)
		if !ok {
			return nil, &FileError{Field: at + ".content", Msg: "want a string or a list of {\"type\": \"text\", \"text\": …} parts"}
		}
		msgs[i] = Message{Role: *it.Role, Content: text}
	}
	total := 0
	for _, m := range msgs {
		total += len(strings.TrimSpace(m.Content))
	}
	if total == 0 {
		return nil, &FileError{Field: "messages", Msg: "no message has text"}
	}
	return msgs, nil
}

// contentText reads a message content: a string, or the text parts of an
// array joined by "\n".
func contentText(raw json.RawMessage) (string, bool) {
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return s, true
	}
	var parts []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	if err := json.Unmarshal(raw, &parts); err != nil {
		return "", false
	}
	var texts []string
	for _, p := range parts {
		if p.Type == "text" {
			texts = append(texts, p.Text)
		}
	}
	return strings.Join(texts, "\n"), true
}

// wantType says what a JSON type error wanted.
func wantType(te *json.UnmarshalTypeError) string {
	want := "a " + te.Type.Kind().String()
	switch te.Type.Kind().String() {
	case "int", "int64":
		want = "a whole number"
	case "string":
		want = "a string"
	case "slice":
		want = "a list"
	case "struct", "map", "ptr":
		want = "an object"
	}
	return fmt.Sprintf("want %s (got %s)", want, te.Value)
}

// jsonError turns a decoding error at start (element i, -1 for none)
// into a FileError with its line.
func jsonError(name string, lines *lineCounter, start, i int, err error) *FileError {
	var se *json.SyntaxError
	off := start
	if errors.As(err, &se) {
		off = int(se.Offset) - 1
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return &FileError{File: name, Line: lines.at(len(lines.data) - 1), Msg: "file ends inside the array"}
	}
	fe := &FileError{File: name, Line: lines.at(max(off, 0)), Msg: "not valid JSON: " + err.Error()}
	if i >= 0 {
		fe.Field = fmt.Sprintf("[%d]", i)
	}
	return fe
}

// lineCounter maps byte offsets to line numbers, counting forward from
// the last offset asked (offsets asked in order cost one pass in all).
type lineCounter struct {
	data   []byte
	off    int
	line   int // line of off, from 1
	inited bool
}

func (l *lineCounter) at(off int) int {
	off = min(max(off, 0), len(l.data))
	if !l.inited || off < l.off {
		l.off, l.line, l.inited = 0, 1, true
	}
	l.line += bytes.Count(l.data[l.off:off], []byte{'\n'})
	l.off = off
	return l.line
}

// skipSpace returns the offset of the first byte at or after off that is
// neither JSON white space nor a comma.
func skipSpace(data []byte, off int) int {
	for off < len(data) {
		switch data[off] {
		case ' ', '\t', '\r', '\n', ',':
			off++
		default:
			return off
		}
	}
	return off
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
