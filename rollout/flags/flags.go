// Package flags holds gonogo's feature-flag rules for ML model selection:
// which model variant a user gets, evaluated per request by the rollout
// proxy and served to applications over the OpenFeature Remote Evaluation
// Protocol (OFREP), so that an app using an OpenFeature SDK and the proxy
// give a user the same answer.
//
// # Rules file
//
//	flags:
//	  model:                         # flag key: letters, digits, '.', '_', '-'
//	    enabled: true                # default true; false is the kill switch
//	    variants: {stable: v1, canary: v2, small: v1-distilled}
//	    defaultVariant: stable
//	    rules:                       # in order, the first that applies wins
//	      - name: internal users
//	        users: [alice, bob]      # targeting keys
//	        variant: canary
//	      - name: free tier gets the small model
//	        match: {tier: free}      # every attribute must match
//	        variant: small
//	      - name: eu canary
//	        match: {region: [eu-west, eu-north]}   # a list matches any of its values
//	        split: {canary: 10, stable: 90}
//	      - name: everyone else follows the rollout
//	        rollout: true
//
// A variant maps a name to its value (a string: a model version, a backend
// URL, what the app needs). Variant names that are backend names route
// the proxy. A rule has conditions and one outcome:
//
//   - users: the targeting key is one of these (internal users, testers).
//   - match: a segment by attributes of the evaluation context; every
//     attribute listed must be present and equal one of the values given.
//     Numbers and booleans compare by their text (3, 3.0 and "3" are the
//     same; true and "true" are the same).
//   - A rule with neither applies to everyone.
//
// and exactly one of
//
//   - variant: that variant; reason TARGETING_MATCH.
//   - split: percentages per variant, with up to 3 decimals, summing to
//     100. The targeting key's sticky bucket, route.Bucket(salt, key) in
//     [0, route.Buckets), is mapped cumulatively in the order the variants
//     are listed: {a: 30, b: 70} gives a to buckets below 30 000 and b to
//     the rest. The salt is the rollout's sticky salt (Set.WithSalt), so a
//     split {canary: 10, stable: 90} agrees with a router that puts the
//     lowest 10 % of buckets on canary, and every split of a Set buckets a
//     user alike. Reason SPLIT.
//   - rollout: true: the variant the live rollout's current split gives
//     the targeting key (a Splitter), so an app asking over OFREP gets the
//     backend the proxy routes that user to. Reason SPLIT.
//
// # Decisions
//
// Evaluate decides in this order:
//
//   - unknown flag: reason ERROR, error FLAG_NOT_FOUND, no variant.
//   - enabled: false (kill switch): defaultVariant, reason DISABLED.
//   - no rules: defaultVariant, reason STATIC.
//   - the first rule that applies. A rule with users, split or rollout
//     cannot apply without a targeting key; a rollout rule cannot apply
//     without a Splitter or when it gives "" (no live rollout). A Splitter
//     that gives a name that is not a variant of the flag is an error:
//     defaultVariant, reason ERROR, error GENERAL.
//   - no rule applies: defaultVariant, reason DEFAULT; except that when
//     the targeting key is missing and every rule of the flag needs it,
//     the answer is defaultVariant with reason ERROR and error
//     TARGETING_KEY_MISSING, so that an app learns it forgot the key.
//
// # OFREP
//
// Set.Handler serves POST /ofrep/v1/evaluate/flags/{key} (one flag) and
// POST /ofrep/v1/evaluate/flags (every flag, with an ETag; If-None-Match
// gets 304 while the answer is the same). A body that is not JSON is 400
// PARSE_ERROR; a context that is not an object, or a targetingKey that is
// not a string, is 400 INVALID_CONTEXT; an unknown flag is 404
// FLAG_NOT_FOUND; a missing targeting key that the flag needs is 400
// TARGETING_KEY_MISSING; GENERAL is 500. Context attributes that are
// objects, lists or null are ignored: rules match flat attributes only.
// GET /ofrep/v1/configuration tells providers that values are strings,
// that client providers may poll the bulk evaluation (ETag) at most every
// MinPollingInterval, and that server providers must not cache (a rollout
// rule follows the live weights).
package flags

import (
	"slices"

	"github.com/gonogo-dev/gonogo/rollout/route"
)

// Reasons of a Decision, as OpenFeature names them.
const (
	ReasonStatic         = "STATIC"
	ReasonTargetingMatch = "TARGETING_MATCH"
	ReasonSplit          = "SPLIT"
	ReasonDefault        = "DEFAULT"
	ReasonDisabled       = "DISABLED"
	ReasonError          = "ERROR"
)

// Error codes of a Decision whose reason is ReasonError, as OpenFeature
// names them.
const (
	ErrorFlagNotFound        = "FLAG_NOT_FOUND"
	ErrorTargetingKeyMissing = "TARGETING_KEY_MISSING"
	ErrorGeneral             = "GENERAL"
)

// Splitter gives the variant (backend name) the live rollout assigns a
// targeting key; "" when no rollout is live.
type Splitter interface {
	Split(key string) string
}

// Context is what a flag is evaluated for: the targeting key (a user id)
// and flat attributes (tier, region, ...).
type Context struct {
	Key   string
	Attrs map[string]string
}

// Decision is the outcome of one evaluation: the variant and its value,
// why (Reason*), the name of the rule that decided ("" when none did),
// and, when Reason is ReasonError, the error code (Error*).
type Decision struct {
	Flag, Variant, Value, Reason, Rule string
	ErrorCode                          string
}

// Set is a parsed rules file: immutable, safe for concurrent use. Reload
// by parsing again and swapping the *Set.
type Set struct {
	salt  string
	flags map[string]*flag
	keys  []string // sorted
}

type flag struct {
	key      string
	enabled  bool
	def      string
	defValue string
	variants map[string]string
	rules    []rule
	needsKey bool // there are rules and every one needs a targeting key
}

type rule struct {
	name    string
	users   map[string]struct{} // nil: no users condition
	match   []cond
	variant string // with value: a fixed outcome
	value   string
	split   []share // cumulative, in listed order
	rollout bool
}

// cond is one attribute of a match: present and equal to one of values.
type cond struct {
	attr   string
	values []string
}

// share is a split's variant up to (not including) bucket upto.
type share struct {
	upto           int
	variant, value string
}

// WithSalt returns a Set with the same rules whose splits bucket targeting
// keys with salt, which must be the rollout's sticky salt. A Set from
// Parse has the salt "".
func (s *Set) WithSalt(salt string) *Set {
	c := *s
	c.salt = salt
	return &c
}

// Flags returns the flag keys, sorted.
func (s *Set) Flags() []string { return slices.Clone(s.keys) }

// Evaluate decides the variant of flag for c, asking split for rollout
// rules (split may be nil). It allocates nothing beyond what split does.
func (s *Set) Evaluate(flag string, c Context, split Splitter) Decision {
	f := s.flags[flag]
	if f == nil {
		return Decision{Flag: flag, Reason: ReasonError, ErrorCode: ErrorFlagNotFound}
	}
	if !f.enabled {
		return f.fallback(ReasonDisabled, "")
	}
	if len(f.rules) == 0 {
		return f.fallback(ReasonStatic, "")
	}
	for i := range f.rules {
		r := &f.rules[i]
		if !r.applies(c) {
			continue
		}
		switch {
		case r.split != nil:
			b := route.Bucket(s.salt, c.Key)
			for _, sh := range r.split {
				if b < sh.upto {
					return Decision{Flag: f.key, Variant: sh.variant, Value: sh.value, Reason: ReasonSplit, Rule: r.name}
				}
			}
		case r.rollout:
			if split == nil {
				continue
			}
			v := split.Split(c.Key)
			if v == "" {
				continue
			}
			value, ok := f.variants[v]
			if !ok {
				d := f.fallback(ReasonError, ErrorGeneral)
				d.Rule = r.name
				return d
			}
			return Decision{Flag: f.key, Variant: v, Value: value, Reason: ReasonSplit, Rule: r.name}
		default:
			return Decision{Flag: f.key, Variant: r.variant, Value: r.value, Reason: ReasonTargetingMatch, Rule: r.name}
		}
	}
	if c.Key == "" && f.needsKey {
		return f.fallback(ReasonError, ErrorTargetingKeyMissing)
	}
	return f.fallback(ReasonDefault, "")
}

// fallback is the default variant for reason.
func (f *flag) fallback(reason, code string) Decision {
	return Decision{Flag: f.key, Variant: f.def, Value: f.defValue, Reason: reason, ErrorCode: code}
}

// needsKey says whether r cannot apply without a targeting key.
func (r *rule) needsKey() bool { return r.users != nil || r.split != nil || r.rollout }

// applies says whether r's conditions hold for c (its outcome may still
// not apply: a rollout without a live split).
func (r *rule) applies(c Context) bool {
	if c.Key == "" && r.needsKey() {
		return false
	}
	if r.users != nil {
		if _, ok := r.users[c.Key]; !ok {
			return false
		}
	}
	for _, m := range r.match {
		v, ok := c.Attrs[m.attr]
		if !ok || !slices.Contains(m.values, v) {
			return false
		}
	}
	return true
}
