package runner

import (
	"net/url"
	"strings"
)

// Redacted replaces a credential wherever gonogo would store it.
const Redacted = "REDACTED"

// secretHeaders are the headers whose values are credentials, lower case.
var secretHeaders = []string{"authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key", "api-key", "openai-api-key"}

// secretWords mark a header or flag name as naming a credential.
var secretWords = []string{"token", "secret", "password", "passwd", "apikey", "api-key", "api_key", "credential"}

// isSecretName reports whether a header or flag name carries a
// credential.
func isSecretName(name string) bool {
	n := strings.ToLower(strings.TrimLeft(name, "-"))
	for _, h := range secretHeaders {
		if n == h {
			return true
		}
	}
	for _, w := range secretWords {
		if strings.Contains(n, w) {
			return true
		}
	}
	return false
}

// RedactHeader returns a "Name: value" header with its value replaced
// when the name carries a credential.
func RedactHeader(h string) string {
	name, _, ok := strings.Cut(h, ":")
	if ok && isSecretName(strings.TrimSpace(name)) {
		return name + ": " + Redacted
	}
	return h
}

// RedactURL replaces the password of a URL's user info and the values of
// query parameters that carry credentials; anything that does not parse
// as a URL with a scheme comes back unchanged.
func RedactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.Scheme == "" {
		return s
	}
	changed := false
	if u.User != nil {
		if _, ok := u.User.Password(); ok {
			u.User = url.UserPassword(u.User.Username(), Redacted)
			changed = true
		}
	}
	if q := u.Query(); len(q) > 0 {
		for k := range q {
			if isSecretName(k) {
				q.Set(k, Redacted)
				changed = true
			}
		}
		if changed {
			u.RawQuery = q.Encode()
		}
	}
	if !changed {
		return s
	}
	return u.String()
}

// headerFlags take a "Name: value" header as their value.
var headerFlags = map[string]bool{"-H": true, "--header": true}

// RedactArgs returns a command line with its credentials replaced: the
// values of header flags whose header carries one (-H "Authorization:
// Bearer …"), of flags whose name says they hold one (--token, --api-key),
// and passwords in URLs. Everything else is kept as typed, so that the
// command re-runs as it was given once the credentials are supplied.
func RedactArgs(args []string) []string {
	out := make([]string, len(args))
	for i := 0; i < len(args); i++ {
		a := args[i]
		out[i] = RedactURL(a)
		if !strings.HasPrefix(a, "-") || a == "-" || a == "--" {
			continue
		}
		name, val, inline := strings.Cut(a, "=")
		switch {
		case headerFlags[name] && inline:
			out[i] = name + "=" + RedactHeader(val)
		case headerFlags[name] && i+1 < len(args):
			i++
			out[i] = RedactHeader(args[i])
		case isSecretName(name) && inline:
			out[i] = name + "=" + Redacted
		case isSecretName(name) && i+1 < len(args) && !strings.HasPrefix(args[i+1], "-"):
			i++
			out[i] = Redacted
		}
	}
	return out
}

// CommandLine is a command line as one string a shell reads back into the
// same arguments: every argument that holds anything but letters, digits
// and -_./:=,@+% is single-quoted.
func CommandLine(args []string) string {
	parts := make([]string, len(args))
	for i, a := range args {
		parts[i] = shellQuote(a)
	}
	return strings.Join(parts, " ")
}

func shellQuote(s string) string {
	if s == "" {
		return "''"
	}
	safe := true
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("-_./:=,@+%", c)) {
			safe = false
			break
		}
	}
	if safe {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
