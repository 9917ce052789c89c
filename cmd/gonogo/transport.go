package main

import (
	"errors"
	"fmt"
	"io"
	"net/url"

	"github.com/spf13/pflag"

	"github.com/gonogo-dev/gonogo/extensions"
	"github.com/gonogo-dev/gonogo/scenarios"
)

// transportFlags are the connection flags (TLS, HTTP/2, keep-alive, proxy,
// --resolve); requestFlags registers them, so `load`, `sweep`
// and `shadow` share them.
type transportFlags struct {
	tlsCA, tlsCert, tlsKey, tlsServerName string
	insecure                              bool
	http2, h2c                            bool
	noKeepAlive                           bool
	maxConns, maxIdleConns                int
	proxy                                 string
	resolve                               []string
}

func (t *transportFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&t.tlsCA, "tls-ca", "", "PEM CA bundle to verify the server's certificate with")
	fs.StringVar(&t.tlsCert, "tls-cert", "", "PEM client certificate (with --tls-key)")
	fs.StringVar(&t.tlsKey, "tls-key", "", "PEM key of --tls-cert")
	fs.StringVar(&t.tlsServerName, "tls-server-name", "", "server name to verify and send as SNI (default the target's host)")
	fs.BoolVar(&t.insecure, "insecure-skip-verify", false, "accept any server certificate (prints a warning)")
	fs.BoolVar(&t.http2, "http2", false, "offer HTTP/2 by ALPN on https targets")
	fs.BoolVar(&t.h2c, "h2c", false, "prior-knowledge cleartext HTTP/2 on http targets")
	fs.BoolVar(&t.noKeepAlive, "no-keepalive", false, "open a new connection for every request")
	fs.IntVar(&t.maxConns, "max-conns", 0, "cap on connections per host (default unlimited)")
	fs.IntVar(&t.maxIdleConns, "max-idle-conns", 0, "cap on idle connections kept per host (default --max-conns, or 4096)")
	fs.StringVar(&t.proxy, "proxy", "", "send requests through this HTTP proxy, e.g. http://127.0.0.1:3128")
	fs.StringArrayVar(&t.resolve, "resolve", nil, "HOST:PORT:ADDR: dial ADDR for HOST:PORT, keeping HOST in Host and SNI (repeatable)")
}

// apply sets o's MaxConns and Transport from the flags. A file that is
// missing or not PEM is a usage error naming the flag and the file.
func (t *transportFlags) apply(fs *pflag.FlagSet, o *extensions.Options) error {
	for _, n := range []struct {
		flag string
		v    int
	}{{"max-conns", t.maxConns}, {"max-idle-conns", t.maxIdleConns}} {
		if fs.Changed(n.flag) && n.v <= 0 {
			return usageError("--%s: must be > 0 (got %d)", n.flag, n.v)
		}
	}
	o.MaxConns = t.maxConns
	tr := extensions.TransportOptions{HTTP2: t.http2, H2C: t.h2c, NoKeepAlive: t.noKeepAlive, MaxIdleConns: t.maxIdleConns}
	cfg, err := extensions.LoadTLS(extensions.TLSFiles{
		CA: t.tlsCA, Cert: t.tlsCert, Key: t.tlsKey, ServerName: t.tlsServerName, InsecureSkipVerify: t.insecure,
	})
	if err != nil {
		var fe *extensions.TLSFileError
		if errors.As(err, &fe) {
			flag := map[string]string{"ca": "--tls-ca", "cert": "--tls-cert", "key": "--tls-key"}[fe.Field]
			if fe.File == "" {
				return usageError("%s: %v", flag, fe.Err)
			}
			return usageError("%s %s: %v", flag, fe.File, fe.Err)
		}
		return usageError("tls: %v", err)
	}
	tr.TLS = cfg
	if t.proxy != "" {
		u, err := url.Parse(t.proxy)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return usageError("--proxy %q: want http://HOST:PORT", t.proxy)
		}
		tr.Proxy = u
	}
	for _, r := range t.resolve {
		from, to, err := extensions.ParseResolve(r)
		if err != nil {
			return usageError("--resolve %q: want HOST:PORT:ADDR with ADDR an IP address", r)
		}
		if tr.Resolve == nil {
			tr.Resolve = map[string]string{}
		}
		tr.Resolve[from] = to
	}
	o.Transport = tr
	return nil
}

// warn prints the one-line warnings the connection flags call for.
func (t *transportFlags) warn(w io.Writer) {
	if t.insecure {
		fmt.Fprintln(w, "warning: --insecure-skip-verify: server certificates are not verified")
	}
}

// applySeed sets --seed, when given, on every scenario of file (arrival
// draws) and on the datasets of their request blocks; the prompt flags put
// it on --dataset. The flag itself is
// registered by promptFlags.
func applySeed(fs *pflag.FlagSet, file *scenarios.File) error {
	if fs.Lookup("seed") == nil || !fs.Changed("seed") {
		return nil
	}
	seed, err := fs.GetInt64("seed")
	if err != nil || seed <= 0 {
		return usageError("--seed: must be > 0 (got %s)", fs.Lookup("seed").Value)
	}
	for _, s := range file.Scenarios {
		s.Seed = seed
		if s.Request != nil && s.Request.Dataset != nil {
			d := *s.Request.Dataset
			d.Seed = seed
			s.Request.Dataset = &d
		}
	}
	return nil
}
