package rollout

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Client calls a rollout's admin API (gonogo rollout status, promote, …).
type Client struct {
	// URL is the admin API's base URL, e.g. http://127.0.0.1:8081.
	URL   string
	Token string
	HTTP  *http.Client
}

// Status fetches the rollout's status.
func (c *Client) Status(ctx context.Context) (*Status, error) {
	return c.call(ctx, http.MethodGet, "/v1/status", nil)
}

// Do sends a command; the answer is the status after it.
func (c *Client) Do(ctx context.Context, cmd Command) (*Status, error) {
	q := url.Values{}
	if cmd.Full {
		q.Set("full", "true")
	}
	if cmd.Op == "set-weight" {
		q.Set("weight", strconv.FormatFloat(cmd.Weight, 'f', -1, 64))
	}
	if cmd.Reason != "" {
		q.Set("reason", cmd.Reason)
	}
	if cmd.Actor != "" {
		q.Set("by", cmd.Actor)
	}
	return c.call(ctx, http.MethodPost, "/v1/"+url.PathEscape(cmd.Op), q)
}

func (c *Client) call(ctx context.Context, method, path string, q url.Values) (*Status, error) {
	u := strings.TrimRight(c.URL, "/") + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.Token)
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		var e struct{ Error string }
		_ = json.Unmarshal(body, &e)
		if e.Error == "" {
			e.Error = strings.TrimSpace(string(body))
		}
		return nil, &APIError{Status: resp.StatusCode, Msg: e.Error}
	}
	var st Status
	if err := json.Unmarshal(body, &st); err != nil {
		return nil, fmt.Errorf("admin API: %w", err)
	}
	return &st, nil
}

// APIError is a refusal of the admin API.
type APIError struct {
	Status int
	Msg    string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("admin API: %d %s: %s", e.Status, http.StatusText(e.Status), e.Msg)
}

// ExitCode is the exit code a finished rollout's phase maps to: 0
// promoted, 3 rolled back or aborted, 4 anything else (interrupted).
func ExitCode(phase string) int {
	switch phase {
	case PhasePromoted:
		return 0
	case PhaseRolledBack, PhaseAborted:
		return 3
	}
	return 4
}
