package openai

import (
	"fmt"
	"slices"
	"strconv"

	"github.com/gonogo-dev/gonogo"
	"github.com/gonogo-dev/gonogo/extensions"
	"github.com/gonogo-dev/gonogo/extensions/dataset"
	"github.com/gonogo-dev/gonogo/extensions/tokenize"
)

// prompts says where a client's prompts come from: a dataset
// (Options.Dataset), or words generated per request (dataset.Words),
// exact in number of tokens under Options.Tokenizer when it has one.
type prompts struct {
	data  *dataset.Dataset // nil: generated
	words *dataset.Words
	// open is the body up to the prompt member: {"model":"…", or {.
	open string
}

// setPrompts loads o's dataset and tokenizer into c. Their errors name
// the file (and line) and are bad options.
func (c *Client) setPrompts(o extensions.Options, open string) error {
	c.p = prompts{open: open, words: dataset.DefaultWords()}
	var tok tokenize.Tokenizer
	if o.Tokenizer != "" {
		t, err := tokenize.Load(o.Tokenizer)
		if err != nil {
			return fmt.Errorf("openai: %w: --tokenizer: %w", extensions.ErrBadOptions, err)
		}
		tok = t
		c.p.words = dataset.NewWords(tok)
	}
	if o.Dataset != nil {
		d, err := dataset.Load(*o.Dataset, tok, c.chat)
		if err != nil {
			return fmt.Errorf("openai: %w: %w", extensions.ErrBadOptions, err)
		}
		c.p.data = d
	}
	return nil
}

// promptTokens is the prompt length of req as the client counts it
// (Result.PromptTokens): a dataset entry's InputTokens, or the words of a
// generated prompt (one token each under a tokenizer that has such words,
// an estimate otherwise).
func (c *Client) promptTokens(req *gonogo.Request) int {
	if c.p.data != nil {
		return c.p.data.Pick(req.ID).InputTokens
	}
	if req.InputTokens > 0 {
		return req.InputTokens
	}
	return c.prompt
}

// appendBody appends the body Body returns to b: the prompt of req's
// dataset entry, or generated words; max_tokens and min_tokens are
// Request.OutputTokens, else the entry's output length, else
// Options.MaxTokens.
func (c *Client) appendBody(b []byte, req *gonogo.Request) []byte {
	in, out := c.prompt, c.maxTokens
	if req.InputTokens > 0 {
		in = req.InputTokens
	}
	if e := c.entry(req); e != nil {
		if req.OutputTokens == 0 && e.OutputTokens > 0 {
			out = e.OutputTokens
		}
		b = append(b, c.p.open...)
		b = e.AppendMember(b)
		b = append(b, `,"max_tokens":`...)
	} else {
		b = slices.Grow(b, len(c.head)+len(c.mid)+len(c.tail)+in*6+48)
		b = append(b, c.head...)
		b = c.p.words.Append(b, req.ID, in)
		b = append(b, c.mid...)
	}
	if req.OutputTokens > 0 {
		out = req.OutputTokens
	}
	b = strconv.AppendInt(b, int64(out), 10)
	b = append(b, `,"min_tokens":`...)
	b = strconv.AppendInt(b, int64(out), 10)
	b = append(b, c.tail...)
	return b
}

// entry is req's dataset entry; nil without a dataset.
func (c *Client) entry(req *gonogo.Request) *dataset.Entry {
	if c.p.data == nil {
		return nil
	}
	return c.p.data.Pick(req.ID)
}

// appendPrompt appends a prompt of n words (≈ n tokens) to b, as a client
// without a tokenizer generates it for request id.
func appendPrompt(b []byte, id uint64, n int) []byte {
	return dataset.DefaultWords().Append(b, id, n)
}
