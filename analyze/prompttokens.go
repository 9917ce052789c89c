package analyze

import "github.com/gonogo-dev/gonogo"

// PromptTokenStats compares the prompt lengths the client sent with
// those the server reported (run.json "prompt_tokens"), over the
// successful requests for which both are known.
type PromptTokenStats struct {
	// Requests is the number of requests compared.
	Requests int64 `json:"requests"`
	// IntendedMean is the mean prompt length the client counted
	// (gonogo.Result.PromptTokens); ReportedMean the mean the server
	// reported (usage.prompt_tokens).
	IntendedMean float64 `json:"intended_mean"`
	ReportedMean float64 `json:"reported_mean"`
	// MeanDiff is the mean of reported − intended: what the server adds
	// (a chat template, a BOS token) or counts differently (another
	// tokenizer).
	MeanDiff float64 `json:"mean_diff"`
	// Exact counts the requests whose reported length equals the intended
	// one; ExactShare is Exact / Requests.
	Exact      int64   `json:"exact"`
	ExactShare float64 `json:"exact_share"`
	// CachedMean is the mean of the prompt tokens the server's prefix
	// cache served (usage.prompt_tokens_details.cached_tokens), and
	// CachedShare their share of the reported prompt tokens; absent when
	// the server reported none.
	CachedMean  float64 `json:"cached_mean,omitempty"`
	CachedShare float64 `json:"cached_share,omitempty"`
	// Unreported counts the successful requests with a known intended
	// length whose server reported no prompt tokens.
	Unreported int64 `json:"unreported,omitempty"`
}

// promptCounts are the sums behind PromptTokenStats.
type promptCounts struct {
	n, exact, unreported       int64
	intended, reported, cached int64
}

// promptSample is one result's prompt lengths.
type promptSample struct {
	intended, reported, cached int64
}

func (p *promptSample) fill(res *gonogo.Result) {
	p.intended, p.reported, p.cached = int64(res.PromptTokens), int64(res.ReportedPromptTokens), int64(res.CachedPromptTokens)
}

// add counts one successful result.
func (c *promptCounts) add(p *promptSample) {
	switch {
	case p.intended <= 0:
	case p.reported <= 0:
		c.unreported++
	default:
		c.n++
		c.intended += p.intended
		c.reported += p.reported
		c.cached += max(p.cached, 0)
		if p.intended == p.reported {
			c.exact++
		}
	}
}

// stats returns the digest of c; nil when nothing was compared or
// unreported.
func (c *promptCounts) stats() *PromptTokenStats {
	if c.n == 0 && c.unreported == 0 {
		return nil
	}
	st := &PromptTokenStats{Requests: c.n, Exact: c.exact, Unreported: c.unreported}
	if c.n > 0 {
		n := float64(c.n)
		st.IntendedMean = roundTo(float64(c.intended)/n, 3)
		st.ReportedMean = roundTo(float64(c.reported)/n, 3)
		st.MeanDiff = roundTo(float64(c.reported-c.intended)/n, 3)
		st.ExactShare = roundTo(float64(c.exact)/n, 6)
		if c.cached > 0 {
			st.CachedMean = roundTo(float64(c.cached)/n, 3)
			st.CachedShare = roundTo(float64(c.cached)/float64(c.reported), 6)
		}
	}
	return st
}
