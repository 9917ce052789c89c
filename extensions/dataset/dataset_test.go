package dataset

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gonogo-dev/gonogo/extensions/tokenize"
)

const (
	shareGPTSample = "../../fixtures/datasets/sharegpt-sample.json"
	promptsSample  = "../../fixtures/datasets/prompts-sample.jsonl"
	mooncakeSample = "../../fixtures/datasets/mooncake-sample.jsonl"
)

func mustTok(t testing.TB, name string) tokenize.Tokenizer {
	t.Helper()
	tok, err := tokenize.Load(name)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// sampleAnswers reads the ShareGPT sample with encoding/json: prompt →
// first answer, the reference the reader is held to.
func sampleAnswers(t *testing.T) map[string]string {
	t.Helper()
	data, err := os.ReadFile(shareGPTSample)
	if err != nil {
		t.Fatal(err)
	}
	var convs []struct {
		Conversations []struct{ From, Value string }
	}
	if err := json.Unmarshal(data, &convs); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, c := range convs {
		var q string
		for _, turn := range c.Conversations {
			if turn.From == "human" && q == "" {
				q = turn.Value
			} else if turn.From == "gpt" && q != "" {
				out[q] = turn.Value
				break
			}
		}
	}
	return out
}

func TestShareGPT(t *testing.T) {
	tok := mustTok(t, tokenize.CL100kBase)
	d, err := Load(Spec{File: shareGPTSample}, tok, false)
	if err != nil {
		t.Fatal(err)
	}
	answers := sampleAnswers(t)
	if d.Len() != len(answers) || d.Skipped != 2 || d.Rows != len(answers)+2 {
		t.Fatalf("Len %d Skipped %d Rows %d; want %d, 2, %d", d.Len(), d.Skipped, d.Rows, len(answers), len(answers)+2)
	}
	lines := strings.Split(readFile(t, shareGPTSample), "\n")
	for i := range d.Len() {
		e := d.Entry(i)
		a, ok := answers[e.Prompt]
		if !ok {
			t.Fatalf("entry %d prompt %.40q is no first human turn of the sample", i, e.Prompt)
		}
		if e.InputTokens != tok.Count(e.Prompt) || e.OutputTokens != tok.Count(a) {
			t.Errorf("entry %d: tokens %d/%d, want %d/%d", i, e.InputTokens, e.OutputTokens, tok.Count(e.Prompt), tok.Count(a))
		}
		if e.Line < 1 || e.Line > len(lines) || strings.TrimSpace(lines[e.Line-1]) != "{" || !strings.Contains(lines[e.Line], `"id": "sample-`) {
			t.Errorf("entry %d: line %d is not where its conversation opens", i, e.Line)
		}
		var body map[string]any
		if err := json.Unmarshal([]byte("{"+string(e.AppendMember(nil))+"}"), &body); err != nil || body["prompt"] != e.Prompt {
			t.Errorf("entry %d: member %s does not carry the prompt (%v)", i, e.AppendMember(nil), err)
		}
	}
}

func TestShareGPTChat(t *testing.T) {
	d, err := Load(Spec{File: shareGPTSample, Seed: 3}, nil, true)
	if err != nil {
		t.Fatal(err)
	}
	for i := range d.Len() {
		e := d.Entry(i)
		if len(e.Messages) != 1 || e.Messages[0].Role != "user" || e.Prompt != "" {
			t.Fatalf("entry %d: %+v, want one user message", i, e)
		}
		if e.InputTokens != len(strings.Fields(e.Messages[0].Content)) {
			t.Errorf("entry %d: InputTokens %d, want the words of the message", i, e.InputTokens)
		}
		var body struct{ Messages []Message }
		if err := json.Unmarshal([]byte("{"+string(e.AppendMember(nil))+"}"), &body); err != nil || !slices.Equal(body.Messages, e.Messages) {
			t.Errorf("entry %d: member %s (%v)", i, e.AppendMember(nil), err)
		}
	}
}

func TestJSONL(t *testing.T) {
	tok := mustTok(t, tokenize.O200kBase)
	for _, chat := range []bool{false, true} {
		d, err := Load(Spec{File: promptsSample}, tok, chat)
		if err != nil {
			t.Fatal(err)
		}
		if d.Len() != 12 || d.Skipped != 0 {
			t.Fatalf("chat %t: Len %d Skipped %d", chat, d.Len(), d.Skipped)
		}
		lines := strings.Split(strings.TrimSpace(readFile(t, promptsSample)), "\n")
		for i := range d.Len() {
			e := d.Entry(i)
			var src struct {
				Prompt       string
				Messages     []Message
				OutputTokens int `json:"output_tokens"`
				MaxTokens    int `json:"max_tokens"`
			}
			if err := json.Unmarshal([]byte(lines[e.Line-1]), &src); err != nil {
				t.Fatal(err)
			}
			if want := max(src.OutputTokens, src.MaxTokens); e.OutputTokens != want {
				t.Errorf("line %d: OutputTokens %d, want %d", e.Line, e.OutputTokens, want)
			}
			want := 0
			switch {
			case chat && src.Messages != nil:
				if !slices.Equal(e.Messages, src.Messages) {
					t.Errorf("line %d: messages %v", e.Line, e.Messages)
				}
				for _, m := range src.Messages {
					want += tok.Count(m.Content)
				}
			case chat:
				if len(e.Messages) != 1 || e.Messages[0].Content != src.Prompt {
					t.Errorf("line %d: messages %v", e.Line, e.Messages)
				}
				want = tok.Count(src.Prompt)
			case src.Messages != nil:
				joined := src.Messages[0].Content + "\n" + src.Messages[1].Content
				if e.Prompt != joined {
					t.Errorf("line %d: prompt %q, want the contents joined", e.Line, e.Prompt)
				}
				want = tok.Count(joined)
			default:
				want = tok.Count(src.Prompt)
			}
			if e.InputTokens != want {
				t.Errorf("chat %t line %d: InputTokens %d, want %d", chat, e.Line, e.InputTokens, want)
			}
		}
	}
}

// TestRandomExact checks that random prompts have exactly the drawn
// number of tokens under each built-in, re-encoded, and that the drawn
// lengths cover their ranges.
func TestRandomExact(t *testing.T) {
	spec := Spec{Random: &Random{Input: Range{100, 400}, Output: Range{50, 200}, Count: 300}, Seed: 5}
	for _, name := range []string{"", tokenize.CL100kBase, tokenize.O200kBase, tokenize.R50kBase} {
		var tok tokenize.Tokenizer
		if name != "" {
			tok = mustTok(t, name)
		}
		d, err := Load(spec, tok, false)
		if err != nil {
			t.Fatal(err)
		}
		if d.Len() != 300 {
			t.Fatalf("%s: Len %d", name, d.Len())
		}
		minIn, maxIn, minOut, maxOut := 1<<30, 0, 1<<30, 0
		prompts := map[string]bool{}
		for i := range d.Len() {
			e := d.Entry(i)
			got := len(strings.Fields(e.Prompt))
			if tok != nil {
				got = tok.Count(e.Prompt)
			}
			if got != e.InputTokens {
				t.Fatalf("%s entry %d: %d tokens re-encoded, InputTokens %d", name, i, got, e.InputTokens)
			}
			minIn, maxIn = min(minIn, e.InputTokens), max(maxIn, e.InputTokens)
			minOut, maxOut = min(minOut, e.OutputTokens), max(maxOut, e.OutputTokens)
			prompts[e.Prompt] = true
		}
		if minIn < 100 || maxIn > 400 || minOut < 50 || maxOut > 200 {
			t.Fatalf("%s: lengths outside the ranges: in %d..%d out %d..%d", name, minIn, maxIn, minOut, maxOut)
		}
		// 300 uniform draws from 301 values come within 15 of both ends
		// with probability > 0.999.
		if minIn > 115 || maxIn < 385 || minOut > 65 || maxOut < 185 {
			t.Fatalf("%s: lengths do not cover the ranges: in %d..%d out %d..%d", name, minIn, maxIn, minOut, maxOut)
		}
		if len(prompts) != 300 {
			t.Fatalf("%s: %d distinct prompts of 300", name, len(prompts))
		}
	}
}

func TestSeedOrder(t *testing.T) {
	spec := Spec{File: promptsSample, Seed: 11}
	a, _ := Load(spec, nil, false)
	spec2 := spec
	b, _ := build(func() Spec { s := spec2; s.Validate(); return s }(), nil, false)
	spec.Seed = 12
	c, _ := Load(spec, nil, false)
	order := func(d *Dataset) []int {
		var out []int
		for id := uint64(1); id <= 24; id++ {
			out = append(out, d.Pick(id).Line)
		}
		return out
	}
	if !slices.Equal(order(a), order(b)) {
		t.Fatalf("the same seed gives two orders: %v %v", order(a), order(b))
	}
	if slices.Equal(order(a), order(c)) {
		t.Fatalf("seeds 11 and 12 give the same order %v", order(a))
	}
	first := order(a)[:12]
	sorted := slices.Sorted(slices.Values(first))
	if !slices.Equal(sorted, []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}) {
		t.Fatalf("the first 12 requests do not get every entry once: %v", first)
	}
	if !slices.Equal(order(a)[12:], first) {
		t.Fatalf("request 13 on does not repeat the order")
	}
	lim, err := Load(Spec{File: shareGPTSample, Limit: 5, Seed: 11}, nil, false)
	if err != nil || lim.Len() != 5 {
		t.Fatalf("limit 5: %v, %v", lim.Len(), err)
	}
}

// TestSharedPrefix checks Mooncake rows: each prompt has input_length
// tokens, and two rows sharing their first k hash ids share their first
// k blocks of tokens exactly, and no more.
func TestSharedPrefix(t *testing.T) {
	type src struct {
		InputLength int     `json:"input_length"`
		Output      int     `json:"output_length"`
		HashIDs     []int64 `json:"hash_ids"`
	}
	lines := strings.Split(strings.TrimSpace(readFile(t, mooncakeSample)), "\n")
	for _, name := range []string{tokenize.CL100kBase, tokenize.O200kBase} {
		tok := mustTok(t, name)
		d, err := Load(Spec{File: mooncakeSample}, tok, false)
		if err != nil {
			t.Fatal(err)
		}
		ids := make([][]int, d.Len())
		rows := make([]src, d.Len())
		for i := range d.Len() {
			e := d.Entry(i)
			if err := json.Unmarshal([]byte(lines[e.Line-1]), &rows[i]); err != nil {
				t.Fatal(err)
			}
			ids[i] = tok.Encode(e.Prompt)
			if len(ids[i]) != rows[i].InputLength || e.InputTokens != rows[i].InputLength || e.OutputTokens != rows[i].Output {
				t.Fatalf("%s line %d: %d tokens encoded, InputTokens %d, want %d", name, e.Line, len(ids[i]), e.InputTokens, rows[i].InputLength)
			}
		}
		shared := 0
		for i := range rows {
			for j := i + 1; j < len(rows); j++ {
				k := 0
				for k < len(rows[i].HashIDs) && k < len(rows[j].HashIDs) && rows[i].HashIDs[k] == rows[j].HashIDs[k] {
					k++
				}
				common := 0
				for common < len(ids[i]) && common < len(ids[j]) && ids[i][common] == ids[j][common] {
					common++
				}
				want := min(512*k, len(ids[i]), len(ids[j]))
				// A different next block may start with the same word by
				// chance: a few tokens more in common are no error.
				if common < want || common > want+3 {
					t.Fatalf("%s: lines %d and %d share %d hash ids, %d tokens; want %d", name, d.Entry(i).Line, d.Entry(j).Line, k, common, want)
				}
				if k > 0 {
					shared++
				}
			}
		}
		if shared == 0 {
			t.Fatal("no two rows share a prefix: the test tests nothing")
		}
	}
}

func TestMaxInputTokens(t *testing.T) {
	tok := mustTok(t, tokenize.CL100kBase)
	d, err := Load(Spec{File: shareGPTSample, MaxInputTokens: 12}, tok, true)
	if err != nil {
		t.Fatal(err)
	}
	cut := 0
	for i := range d.Len() {
		e := d.Entry(i)
		if got := tok.Count(e.Messages[0].Content); got > 12 || got != e.InputTokens {
			t.Fatalf("entry %d: %d tokens, InputTokens %d, want ≤ 12 and equal", i, got, e.InputTokens)
		}
		if e.InputTokens == 12 {
			cut++
		}
	}
	if cut == 0 {
		t.Fatal("no prompt was cut")
	}
}

func TestFileErrors(t *testing.T) {
	cases := []struct {
		name, format, text string
		line               int
		field, msg         string
	}{
		{"jsonl not json", "jsonl", "{\"prompt\": \"a\"}\n{oops\n", 2, "", "not valid JSON"},
		{"jsonl not an object", "jsonl", "\n\n[1, 2]\n", 3, "", "want a JSON object"},
		{"jsonl prompt type", "jsonl", "{\"prompt\": 5}\n", 1, "prompt", "want a string"},
		{"jsonl output type", "jsonl", "{\"prompt\": \"a\", \"output_tokens\": \"x\"}\n", 1, "output_tokens", "whole number"},
		{"jsonl output range", "jsonl", "{\"prompt\": \"a\", \"max_tokens\": 0}\n", 1, "max_tokens", "want 1.."},
		{"jsonl nothing", "jsonl", "{\"id\": 3}\n", 1, "", "want prompt, messages or input_length"},
		{"jsonl both", "jsonl", "{\"prompt\": \"a\", \"messages\": [{\"role\": \"user\", \"content\": \"b\"}]}\n", 1, "messages", "not both"},
		{"jsonl role", "jsonl", "{\"messages\": [{\"content\": \"b\"}]}\n", 1, "messages[0].role", "missing"},
		{"jsonl content", "jsonl", "{\"messages\": [{\"role\": \"user\", \"content\": 4}]}\n", 1, "messages[0].content", "want a string"},
		{"jsonl empty prompt", "jsonl", "{\"prompt\": \"  \"}\n", 1, "prompt", "empty"},
		{"jsonl hash ids with prompt", "jsonl", "{\"prompt\": \"a\", \"hash_ids\": [1]}\n", 1, "hash_ids", "leave prompt"},
		{"jsonl hash id type", "jsonl", "{\"input_length\": 9, \"hash_ids\": [\"a\"]}\n", 1, "hash_ids", "want a whole number"},
		{"sharegpt not array", "sharegpt", "\n{\"conversations\": []}", 2, "", "want a JSON array"},
		{"sharegpt no conversations", "sharegpt", "[\n  {\"id\": 1}\n]", 2, "[0].conversations", "missing"},
		{"sharegpt value type", "sharegpt", "[\n {\"conversations\": [\n  {\"from\": \"human\",\n   \"value\": 7}]}\n]", 4, "[0].conversations.value", "want a string"},
		{"sharegpt syntax", "sharegpt", "[\n {\"conversations\": []},\n {\"conversations\": [}\n]", 3, "[1]", "not valid JSON"},
		{"sharegpt cut", "sharegpt", "[\n {\"conversations\": []},\n", 2, "", "file ends"},
		{"sharegpt trailing", "sharegpt", "[]\n\nx", 3, "", "after the array"},
		{"sharegpt nothing usable", "sharegpt", "[{\"conversations\": [{\"from\": \"human\", \"value\": \"hi\"}]}]", 0, "", "no usable prompt"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "d."+tc.format)
			if err := os.WriteFile(path, []byte(tc.text), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := Load(Spec{File: path, Format: tc.format}, nil, false)
			var fe *FileError
			if !errors.As(err, &fe) {
				t.Fatalf("err = %v, want a *FileError", err)
			}
			if fe.Line != tc.line || fe.Field != tc.field || !strings.Contains(fe.Msg, tc.msg) || fe.File != path {
				t.Fatalf("err = %v; want line %d field %q and %q", err, tc.line, tc.field, tc.msg)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	r := &Random{Input: Range{1, 5}, Output: Range{1, 2}}
	cases := []struct {
		spec         Spec
		field, msg   string
		wantFormat   string
		wantRandomN  int
		wantBlockLen int
	}{
		{spec: Spec{File: "a.json"}, wantFormat: FormatShareGPT, wantBlockLen: 512},
		{spec: Spec{File: "a.JSONL"}, wantFormat: FormatJSONL},
		{spec: Spec{File: "a.ndjson", BlockTokens: 16}, wantFormat: FormatJSONL, wantBlockLen: 16},
		{spec: Spec{Random: &Random{Input: Range{1, 5}, Output: Range{1, 2}}}, wantFormat: FormatRandom, wantRandomN: DefaultRandomCount},
		{spec: Spec{File: "a.txt"}, field: "format", msg: "cannot tell"},
		{spec: Spec{}, field: "file", msg: "missing"},
		{spec: Spec{File: "a", Format: "csv"}, field: "format", msg: "unknown dataset format"},
		{spec: Spec{Format: "jsonl"}, field: "file", msg: "missing"},
		{spec: Spec{Format: "random"}, field: "random", msg: "missing"},
		{spec: Spec{Format: "random", Random: &Random{Output: Range{1, 2}}}, field: "random.input", msg: "missing"},
		{spec: Spec{Format: "random", Random: &Random{Input: Range{1, 2}}}, field: "random.output", msg: "missing"},
		{spec: Spec{File: "a.jsonl", Random: r}, field: "random", msg: "is for format random"},
		{spec: Spec{File: "a.jsonl", Limit: -1}, field: "limit", msg: "want"},
		{spec: Spec{File: "a.jsonl", MaxInputTokens: -3}, field: "maxInputTokens", msg: "want"},
		{spec: Spec{Format: "random", Random: &Random{Input: Range{1, 2}, Output: Range{1, 2}, Count: -1}}, field: "random.count", msg: "want"},
	}
	for i, tc := range cases {
		s := tc.spec
		field, msg := s.Validate()
		if field != tc.field || !strings.Contains(msg, tc.msg) || (tc.msg == "") != (msg == "") {
			t.Errorf("case %d: Validate = %q, %q; want %q, %q", i, field, msg, tc.field, tc.msg)
			continue
		}
		if msg == "" {
			if s.Format != tc.wantFormat || s.Seed != 1 {
				t.Errorf("case %d: format %q seed %d", i, s.Format, s.Seed)
			}
			if tc.wantRandomN > 0 && s.Random.Count != tc.wantRandomN {
				t.Errorf("case %d: count %d", i, s.Random.Count)
			}
			if tc.wantBlockLen > 0 && s.BlockTokens != tc.wantBlockLen {
				t.Errorf("case %d: blockTokens %d", i, s.BlockTokens)
			}
		}
	}
}

func TestParseRandom(t *testing.T) {
	r, err := ParseRandom("input=100-400,output=50-200,count=20")
	if err != nil || r.Input != (Range{100, 400}) || r.Output != (Range{50, 200}) || r.Count != 20 {
		t.Fatalf("ParseRandom = %+v, %v", r, err)
	}
	r, err = ParseRandom("output=7, input=64")
	if err != nil || r.Input != (Range{64, 64}) || r.Output != (Range{7, 7}) {
		t.Fatalf("ParseRandom = %+v, %v", r, err)
	}
	for _, bad := range []string{"", "input=1-2", "input=2-1,output=1", "input=0-3,output=1", "input=a,output=1", "inputs=1,output=1", "input=1,output=1,count=0", "input"} {
		if _, err := ParseRandom(bad); err == nil {
			t.Errorf("ParseRandom(%q) accepted", bad)
		}
	}
}

func TestWordsDefault(t *testing.T) {
	w := DefaultWords()
	a, b := w.Text(1, 50), w.Text(2, 50)
	if len(strings.Fields(a)) != 50 || a == b || strings.HasPrefix(a, " ") || strings.HasSuffix(a, " ") {
		t.Fatalf("Text = %q / %q", a, b)
	}
	if !strings.HasPrefix(w.Text(1, 60), a) {
		t.Fatal("a longer text from the same id does not extend the shorter")
	}
	if got := len(strings.Fields(w.Text(3, 3*corpusWords+5))); got != 3*corpusWords+5 {
		t.Fatalf("a text longer than the corpus has %d words", got)
	}
	if w.Exact() {
		t.Fatal("the default words claim to be exact under no tokenizer")
	}
	if !NewWords(mustTok(t, tokenize.CL100kBase)).Exact() {
		t.Fatal("the words are not exact under cl100k_base")
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
