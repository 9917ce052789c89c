package flags

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/goccy/go-yaml"

	"github.com/gonogo-dev/gonogo/internal/input"
	"github.com/gonogo-dev/gonogo/rollout/route"
)

// Parse reads a rules file (see the package documentation) strictly: an
// unknown field, a rule naming an unknown variant, percentages that do not
// sum to 100, an attribute value that is not a scalar, a rule that can
// never apply, ... are each an *input.Error naming file, line and field.
// backends are the names the rollout routes to: a flag with a rollout rule
// must have a variant for each of them; nil skips that check. The Set has
// the salt ""; see WithSalt.
func Parse(file string, src []byte, backends []string) (*Set, error) {
	d := document{backends: backends}
	if err := input.ParseBlock(file, src, &d); err != nil {
		return nil, err
	}
	return d.set, nil
}

// document is a rules file as written.
type document struct {
	Flags map[string]*flagSpec `yaml:"flags"`

	backends []string
	set      *Set // built by Check
}

type flagSpec struct {
	Enabled        *bool             `yaml:"enabled"`
	Variants       map[string]string `yaml:"variants"`
	DefaultVariant string            `yaml:"defaultVariant"`
	Rules          []*ruleSpec       `yaml:"rules"`
}

type ruleSpec struct {
	Name    string         `yaml:"name"`
	Users   []string       `yaml:"users"`
	Match   map[string]any `yaml:"match"`
	Variant string         `yaml:"variant"`
	Split   yaml.MapSlice  `yaml:"split"`
	Rollout bool           `yaml:"rollout"`
}

// Check builds the Set, or says what is wrong first, flags in key order.
func (d *document) Check() (field, msg string) {
	if len(d.Flags) == 0 {
		return "flags", "want at least one flag"
	}
	s := &Set{flags: make(map[string]*flag, len(d.Flags))}
	for key := range d.Flags {
		s.keys = append(s.keys, key)
	}
	slices.Sort(s.keys)
	for _, key := range s.keys {
		at := "flags." + seg(key)
		if !validName(key) {
			return at, "flag key: want letters, digits, '.', '_' or '-', starting with a letter or digit"
		}
		f, field, msg := d.Flags[key].compile(key, at, d.backends)
		if msg != "" {
			return field, msg
		}
		s.flags[key] = f
	}
	d.set = s
	return "", ""
}

// compile checks one flag and builds it; at is its path.
func (fs *flagSpec) compile(key, at string, backends []string) (f *flag, field, msg string) {
	if fs == nil {
		return nil, at, "want a mapping with variants and defaultVariant"
	}
	if len(fs.Variants) == 0 {
		return nil, at + ".variants", "want at least one variant"
	}
	for _, name := range slices.Sorted(maps.Keys(fs.Variants)) {
		if !validName(name) {
			return nil, at + ".variants." + seg(name), "variant name: want letters, digits, '.', '_' or '-', starting with a letter or digit"
		}
		if fs.Variants[name] == "" {
			return nil, at + ".variants." + seg(name), "want a value"
		}
	}
	f = &flag{key: key, enabled: fs.Enabled == nil || *fs.Enabled, variants: fs.Variants}
	if fs.DefaultVariant == "" {
		return nil, at + ".defaultVariant", "missing"
	}
	if msg := f.known(fs.DefaultVariant); msg != "" {
		return nil, at + ".defaultVariant", msg
	}
	f.def, f.defValue = fs.DefaultVariant, fs.Variants[fs.DefaultVariant]
	f.needsKey = len(fs.Rules) > 0
	for i, rs := range fs.Rules {
		rat := fmt.Sprintf("%s.rules[%d]", at, i)
		if rs == nil {
			return nil, rat, "want a mapping"
		}
		r, field, msg := rs.compile(f, rat, backends)
		if msg != "" {
			return nil, field, msg
		}
		if r.name == "" {
			r.name = fmt.Sprintf("rules[%d]", i)
		}
		if i > 0 && f.rules[i-1].always() {
			return nil, rat, fmt.Sprintf("unreachable: %s before it applies to everyone", f.rules[i-1].name)
		}
		f.needsKey = f.needsKey && r.needsKey()
		f.rules = append(f.rules, r)
	}
	return f, "", ""
}

// compile checks one rule of f and builds it; at is its path.
func (rs *ruleSpec) compile(f *flag, at string, backends []string) (r rule, field, msg string) {
	r.name = rs.Name
	if rs.Users != nil {
		if len(rs.Users) == 0 {
			return r, at + ".users", "want at least one targeting key"
		}
		r.users = make(map[string]struct{}, len(rs.Users))
		for i, u := range rs.Users {
			if u == "" {
				return r, fmt.Sprintf("%s.users[%d]", at, i), "empty targeting key"
			}
			r.users[u] = struct{}{}
		}
	}
	if rs.Match != nil {
		if len(rs.Match) == 0 {
			return r, at + ".match", "want at least one attribute"
		}
		for _, attr := range slices.Sorted(maps.Keys(rs.Match)) {
			c, msg := matchCond(attr, rs.Match[attr])
			if msg != "" {
				return r, at + ".match." + seg(attr), msg
			}
			r.match = append(r.match, c)
		}
	}
	outcomes := 0
	if rs.Variant != "" {
		outcomes++
		if msg := f.known(rs.Variant); msg != "" {
			return r, at + ".variant", msg
		}
		r.variant, r.value = rs.Variant, f.variants[rs.Variant]
	}
	if rs.Split != nil {
		outcomes++
		split, field, msg := f.split(rs.Split, at+".split")
		if msg != "" {
			return r, field, msg
		}
		r.split = split
	}
	if rs.Rollout {
		outcomes++
		for _, b := range backends {
			if _, ok := f.variants[b]; !ok {
				return r, at + ".rollout", fmt.Sprintf("backend %q is not a variant of this flag (variants: %s)", b, strings.Join(slices.Sorted(maps.Keys(f.variants)), ", "))
			}
		}
		r.rollout = true
	}
	switch {
	case outcomes == 0:
		return r, at, "want one of variant, split or rollout: true"
	case outcomes > 1:
		return r, at, "want only one of variant, split or rollout: true"
	}
	return r, "", ""
}

// split checks a split's percentages and turns them into cumulative
// bucket bounds in the order written.
func (f *flag) split(ms yaml.MapSlice, at string) (shares []share, field, msg string) {
	if len(ms) == 0 {
		return nil, at, "want at least one variant with a percentage"
	}
	total := 0
	for _, it := range ms {
		name, ok := it.Key.(string)
		if !ok {
			return nil, at, fmt.Sprintf("variant name: want a string (got %v)", it.Key)
		}
		iat := at + "." + seg(name)
		if msg := f.known(name); msg != "" {
			return nil, iat, msg
		}
		buckets, msg := percentBuckets(it.Value)
		if msg != "" {
			return nil, iat, msg
		}
		total += buckets
		shares = append(shares, share{upto: total, variant: name, value: f.variants[name]})
	}
	if total != route.Buckets {
		return nil, at, fmt.Sprintf("percentages sum to %s, want 100", strconv.FormatFloat(float64(total)*100/route.Buckets, 'f', -1, 64))
	}
	return shares, "", ""
}

// percentBuckets turns a percentage (0 to 100, up to 3 decimals) into a
// number of buckets out of route.Buckets.
func percentBuckets(v any) (int, string) {
	var pct float64
	switch n := v.(type) {
	case uint64:
		pct = float64(n)
	case int64:
		pct = float64(n)
	case float64:
		pct = n
	default:
		return 0, fmt.Sprintf("want a percentage (got %v)", v)
	}
	if math.IsNaN(pct) || pct < 0 || pct > 100 {
		return 0, fmt.Sprintf("want a percentage from 0 to 100 (got %v)", v)
	}
	scaled := pct * route.Buckets / 100
	whole := math.Round(scaled)
	if math.Abs(scaled-whole) > 1e-6 {
		return 0, fmt.Sprintf("at most 3 decimals (got %v)", v)
	}
	return int(whole), ""
}

// matchCond checks one attribute of a match: a scalar or a list of them.
func matchCond(attr string, v any) (cond, string) {
	c := cond{attr: attr}
	switch {
	case attr == "":
		return c, "empty attribute name"
	case attr == "targetingKey":
		return c, "the targeting key is matched with users, not match"
	}
	if _, isMap := v.(map[string]any); isMap {
		return c, "want a value or a list of values (any of); match has no operators"
	}
	list, isList := v.([]any)
	if !isList {
		list = []any{v}
	} else if len(list) == 0 {
		return c, "want at least one value"
	}
	for _, x := range list {
		text, ok := scalarText(x)
		if !ok {
			return c, "want a string, number, true or false, or a list of them"
		}
		c.values = append(c.values, text)
	}
	return c, ""
}

// scalarText is the text a scalar of a rules file or an evaluation
// context compares by: numbers in their shortest form, so 3, 3.0 and
// "3" are the same.
func scalarText(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case bool:
		return strconv.FormatBool(x), true
	case uint64:
		return strconv.FormatUint(x, 10), true
	case int64:
		return strconv.FormatInt(x, 10), true
	case float64:
		return floatText(x), true
	}
	return "", false
}

// floatText writes a number without exponent or trailing zeros.
func floatText(f float64) string {
	if f == math.Trunc(f) && math.Abs(f) < 1<<53 {
		return strconv.FormatInt(int64(f), 10)
	}
	return strconv.FormatFloat(f, 'f', -1, 64)
}

// known says what is wrong with naming variant in f; "" when nothing is.
func (f *flag) known(variant string) string {
	if _, ok := f.variants[variant]; ok {
		return ""
	}
	return fmt.Sprintf("unknown variant %q (variants: %s)", variant, strings.Join(slices.Sorted(maps.Keys(f.variants)), ", "))
}

// always says whether r applies to every evaluation, so that no rule
// after it is ever reached.
func (r *rule) always() bool {
	return r.users == nil && r.match == nil && r.split == nil && !r.rollout
}

// validName says whether s may name a flag or a variant.
func validName(s string) bool {
	for i, c := range s {
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		if !alnum && (i == 0 || c != '.' && c != '_' && c != '-') {
			return false
		}
	}
	return s != ""
}

// seg is key as one segment of a YAML path, quoted when it holds a dot.
func seg(key string) string {
	if strings.ContainsAny(key, ".'[]") {
		return "'" + key + "'"
	}
	return key
}
