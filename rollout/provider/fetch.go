package provider

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"unicode"
)

// errTooLarge is a body or file over its size limit.
var errTooLarge = errors.New("larger than the limit")

// fetch GETs u with an optional bearer token and returns the status code
// and at most MaxResponseBytes of body. Its error says what went wrong in
// words fit for a Detail, never with the token.
func fetch(ctx context.Context, client *http.Client, u, token string) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Accept", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return 0, nil, fmt.Errorf("no answer in time: %w", ctx.Err())
		}
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := readAtMost(resp.Body, MaxResponseBytes, "response")
	if err != nil {
		return resp.StatusCode, nil, err
	}
	return resp.StatusCode, body, nil
}

// readAtMost reads r to its end, or fails with errTooLarge past limit
// bytes; what names r in that error.
func readAtMost(r io.Reader, limit int64, what string) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s %w of %d bytes", what, errTooLarge, limit)
	}
	return b, nil
}

// clip makes text from a remote server fit for a Detail: the token (when
// the server echoed it) replaced, control characters as spaces, at most
// maxDetail runes.
func clip(s, token string) string {
	if token != "" {
		s = strings.ReplaceAll(s, token, "[token]")
	}
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, strings.ToValidUTF8(s, "?"))
	if r := []rune(s); len(r) > maxDetail {
		s = string(r[:maxDetail]) + "…"
	}
	return s
}
