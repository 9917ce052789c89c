package extensions_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gonogo-dev/gonogo"
	"github.com/gonogo-dev/gonogo/extensions"
	httpproto "github.com/gonogo-dev/gonogo/extensions/http"
	"github.com/gonogo-dev/gonogo/extensions/openai"
)

// testPKI is a CA made in the test, a server certificate for fakeHost and
// 127.0.0.1, and a client certificate, all written as PEM files.
type testPKI struct {
	pool                      *x509.CertPool
	server                    tls.Certificate
	caFile, certFile, keyFile string
}

const fakeHost = "gonogo-test.invalid"

func newPKI(t *testing.T) *testPKI {
	t.Helper()
	dir := t.TempDir()
	key := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	write := func(name, typ string, der []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	now := time.Now()
	caKey := key()
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "gonogo test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	leaf := func(serial int64, usage x509.ExtKeyUsage, dns []string, ips []net.IP) ([]byte, *ecdsa.PrivateKey) {
		k := key()
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "leaf"},
			NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage},
			DNSNames: dns, IPAddresses: ips,
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &k.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		return der, k
	}
	p := &testPKI{pool: x509.NewCertPool()}
	p.pool.AddCert(ca)
	srvDER, srvKey := leaf(2, x509.ExtKeyUsageServerAuth, []string{fakeHost}, []net.IP{net.IPv4(127, 0, 0, 1)})
	p.server = tls.Certificate{Certificate: [][]byte{srvDER}, PrivateKey: srvKey}
	cliDER, cliKey := leaf(3, x509.ExtKeyUsageClientAuth, nil, nil)
	cliKeyDER, err := x509.MarshalECPrivateKey(cliKey)
	if err != nil {
		t.Fatal(err)
	}
	p.caFile = write("ca.pem", "CERTIFICATE", caDER)
	p.certFile = write("client.pem", "CERTIFICATE", cliDER)
	p.keyFile = write("client-key.pem", "EC PRIVATE KEY", cliKeyDER)
	return p
}

// seen is what a test server saw of the requests it got.
type seen struct {
	mu                  sync.Mutex
	n                   int
	protoMajor          []int
	hosts, sni, peerCNs []string
	conns               atomic.Int64 // new connections
}

func (s *seen) handler(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.n++
	s.protoMajor = append(s.protoMajor, r.ProtoMajor)
	s.hosts = append(s.hosts, r.Host)
	if r.TLS != nil {
		s.sni = append(s.sni, r.TLS.ServerName)
		for _, c := range r.TLS.PeerCertificates {
			s.peerCNs = append(s.peerCNs, c.Subject.CommonName)
		}
	}
	s.mu.Unlock()
	w.Write([]byte("ok"))
}

func (s *seen) count(c net.Conn, st http.ConnState) {
	if st == http.StateNew {
		s.conns.Add(1)
	}
}

// doHTTP sends n requests with the http protocol client and returns the
// first failure, or "".
func doHTTP(t *testing.T, o extensions.Options, n int) string {
	t.Helper()
	o.Timeout = 5 * time.Second
	c, err := httpproto.New(o)
	if err != nil {
		t.Fatal(err)
	}
	for range n {
		var res gonogo.Result
		c.Do(context.Background(), &gonogo.Request{}, &res)
		if res.Err != "" {
			return res.Err
		}
		if res.Status != http.StatusOK {
			return http.StatusText(res.Status)
		}
	}
	return ""
}

func TestTransportTLS(t *testing.T) {
	pki := newPKI(t)
	s := &seen{}
	ts := httptest.NewUnstartedServer(http.HandlerFunc(s.handler))
	ts.TLS = &tls.Config{Certificates: []tls.Certificate{pki.server}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pki.pool}
	ts.StartTLS()
	defer ts.Close()
	_, port, _ := net.SplitHostPort(ts.Listener.Addr().String())

	withCert, err := extensions.LoadTLS(extensions.TLSFiles{CA: pki.caFile, Cert: pki.certFile, Key: pki.keyFile})
	if err != nil {
		t.Fatal(err)
	}
	noCert, err := extensions.LoadTLS(extensions.TLSFiles{CA: pki.caFile})
	if err != nil {
		t.Fatal(err)
	}
	insecure, err := extensions.LoadTLS(extensions.TLSFiles{Cert: pki.certFile, Key: pki.keyFile, InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	named, err := extensions.LoadTLS(extensions.TLSFiles{CA: pki.caFile, Cert: pki.certFile, Key: pki.keyFile, ServerName: fakeHost})
	if err != nil {
		t.Fatal(err)
	}
	resolve := map[string]string{net.JoinHostPort(fakeHost, port): net.JoinHostPort("127.0.0.1", port)}
	for _, tc := range []struct {
		name    string
		target  string
		tr      extensions.TransportOptions
		wantErr bool
		wantSNI string
	}{
		{"CA and client certificate", ts.URL, extensions.TransportOptions{TLS: withCert}, false, ""},
		{"no client certificate", ts.URL, extensions.TransportOptions{TLS: noCert}, true, ""},
		{"no CA", ts.URL, extensions.TransportOptions{}, true, ""},
		{"skip verify, with client certificate", ts.URL, extensions.TransportOptions{TLS: insecure}, false, ""},
		{"server name sent as SNI", ts.URL, extensions.TransportOptions{TLS: named}, false, fakeHost},
		{"resolved fake host keeps SNI", "https://" + net.JoinHostPort(fakeHost, port), extensions.TransportOptions{TLS: withCert, Resolve: resolve}, false, fakeHost},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := s.n
			msg := doHTTP(t, extensions.Options{Target: tc.target, Transport: tc.tr}, 2)
			if (msg != "") != tc.wantErr {
				t.Fatalf("error %q, want error %v", msg, tc.wantErr)
			}
			if tc.wantErr {
				return
			}
			s.mu.Lock()
			defer s.mu.Unlock()
			if s.n-before != 2 {
				t.Fatalf("server got %d requests, want 2", s.n-before)
			}
			if got := s.peerCNs[len(s.peerCNs)-1]; got != "leaf" {
				t.Errorf("client certificate CN %q, want leaf", got)
			}
			if got := s.sni[len(s.sni)-1]; got != tc.wantSNI {
				t.Errorf("SNI %q, want %q", got, tc.wantSNI)
			}
		})
	}
}

func TestLoadTLSBadFiles(t *testing.T) {
	pki := newPKI(t)
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "not.pem")
	os.WriteFile(notPEM, []byte("hello"), 0o600)
	missing := filepath.Join(dir, "missing.pem")
	for _, tc := range []struct {
		name      string
		f         extensions.TLSFiles
		wantField string
		wantFile  string
	}{
		{"missing CA", extensions.TLSFiles{CA: missing}, "ca", missing},
		{"CA not PEM", extensions.TLSFiles{CA: notPEM}, "ca", notPEM},
		{"missing cert", extensions.TLSFiles{Cert: missing, Key: pki.keyFile}, "cert", missing},
		{"missing key", extensions.TLSFiles{Cert: pki.certFile, Key: missing}, "key", missing},
		{"cert not PEM", extensions.TLSFiles{Cert: notPEM, Key: pki.keyFile}, "cert", notPEM},
		{"cert without key", extensions.TLSFiles{Cert: pki.certFile}, "key", ""},
		{"key without cert", extensions.TLSFiles{Key: pki.keyFile}, "cert", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := extensions.LoadTLS(tc.f)
			var fe *extensions.TLSFileError
			if !errors.As(err, &fe) || !errors.Is(err, extensions.ErrBadOptions) {
				t.Fatalf("err %v, want a TLSFileError wrapping ErrBadOptions", err)
			}
			if fe.Field != tc.wantField || fe.File != tc.wantFile {
				t.Errorf("field %q file %q, want %q %q", fe.Field, fe.File, tc.wantField, tc.wantFile)
			}
		})
	}
	if c, err := extensions.LoadTLS(extensions.TLSFiles{}); c != nil || err != nil {
		t.Errorf("empty TLSFiles: %v, %v; want nil, nil", c, err)
	}
}

func TestTransportHTTP2(t *testing.T) {
	pki := newPKI(t)
	cfg, err := extensions.LoadTLS(extensions.TLSFiles{CA: pki.caFile})
	if err != nil {
		t.Fatal(err)
	}
	s := &seen{}
	tlsSrv := httptest.NewUnstartedServer(http.HandlerFunc(s.handler))
	tlsSrv.TLS = &tls.Config{Certificates: []tls.Certificate{pki.server}}
	tlsSrv.EnableHTTP2 = true
	tlsSrv.StartTLS()
	defer tlsSrv.Close()

	h2c := httptest.NewUnstartedServer(http.HandlerFunc(s.handler))
	h2c.Config.Protocols = new(http.Protocols)
	h2c.Config.Protocols.SetHTTP1(true)
	h2c.Config.Protocols.SetUnencryptedHTTP2(true)
	h2c.Start()
	defer h2c.Close()

	for _, tc := range []struct {
		name   string
		target string
		tr     extensions.TransportOptions
		want   int
	}{
		{"https default is HTTP/1.1", tlsSrv.URL, extensions.TransportOptions{TLS: cfg}, 1},
		{"https --http2", tlsSrv.URL, extensions.TransportOptions{TLS: cfg, HTTP2: true}, 2},
		{"http default is HTTP/1.1 (wire)", h2c.URL, extensions.TransportOptions{}, 1},
		{"http --h2c", h2c.URL, extensions.TransportOptions{H2C: true}, 2},
		{"http --http2 alone stays HTTP/1.1", h2c.URL, extensions.TransportOptions{HTTP2: true}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(s.protoMajor)
			if msg := doHTTP(t, extensions.Options{Target: tc.target, Transport: tc.tr}, 3); msg != "" {
				t.Fatal(msg)
			}
			s.mu.Lock()
			defer s.mu.Unlock()
			for i, got := range s.protoMajor[before:] {
				if got != tc.want {
					t.Errorf("request %d: ProtoMajor %d, want %d", i, got, tc.want)
				}
			}
		})
	}

	// openai falls back from its wire client too.
	t.Run("openai --h2c", func(t *testing.T) {
		c, err := openai.New(extensions.Options{Target: h2c.URL, Timeout: 5 * time.Second, Transport: extensions.TransportOptions{H2C: true}})
		if err != nil {
			t.Fatal(err)
		}
		before := len(s.protoMajor)
		var res gonogo.Result
		c.Do(context.Background(), &gonogo.Request{}, &res) // "ok" is no completion; the server's view is what counts
		s.mu.Lock()
		defer s.mu.Unlock()
		if got := s.protoMajor[before:]; len(got) != 1 || got[0] != 2 {
			t.Errorf("server saw ProtoMajor %v, want [2]", got)
		}
	})
}

func TestTransportProxyResolveKeepAlive(t *testing.T) {
	// A forward proxy: requests arrive in absolute form for a host that
	// does not exist; it answers them itself and counts them.
	var proxied atomic.Int64
	var proxyHost atomic.Value
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.IsAbs() {
			proxied.Add(1)
			proxyHost.Store(r.Host)
		}
		w.Write([]byte("ok"))
	}))
	defer proxy.Close()
	pu, _ := url.Parse(proxy.URL)
	const upstream = "upstream.gonogo-test.invalid:9"
	if msg := doHTTP(t, extensions.Options{Target: "http://" + upstream, Transport: extensions.TransportOptions{Proxy: pu}}, 4); msg != "" {
		t.Fatalf("through the proxy: %s", msg)
	}
	if got := proxied.Load(); got != 4 {
		t.Errorf("proxy counted %d requests, want 4", got)
	}
	if got := proxyHost.Load(); got != upstream {
		t.Errorf("proxy saw Host %v, want %s", got, upstream)
	}

	s := &seen{}
	ts := httptest.NewUnstartedServer(http.HandlerFunc(s.handler))
	ts.Config.ConnState = s.count
	ts.Start()
	defer ts.Close()
	_, port, _ := net.SplitHostPort(ts.Listener.Addr().String())
	fake := net.JoinHostPort(fakeHost, port)
	resolve := extensions.TransportOptions{Resolve: map[string]string{fake: ts.Listener.Addr().String()}}
	for _, tc := range []struct {
		name      string
		tr        extensions.TransportOptions
		wantConns int64
	}{
		{"resolve, wire client", resolve, 1},
		{"resolve, net/http (max idle conns)", extensions.TransportOptions{Resolve: resolve.Resolve, MaxIdleConns: 2}, 1},
		{"no keep-alive", extensions.TransportOptions{Resolve: resolve.Resolve, NoKeepAlive: true}, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before, conns := s.n, s.conns.Load()
			if msg := doHTTP(t, extensions.Options{Target: "http://" + fake, Transport: tc.tr}, 3); msg != "" {
				t.Fatal(msg)
			}
			s.mu.Lock()
			defer s.mu.Unlock()
			for _, h := range s.hosts[before:] {
				if h != fake {
					t.Errorf("Host %q, want %q", h, fake)
				}
			}
			if got := s.conns.Load() - conns; got != tc.wantConns {
				t.Errorf("%d new connections for 3 requests, want %d", got, tc.wantConns)
			}
		})
	}
}

func TestParseResolve(t *testing.T) {
	for _, tc := range []struct {
		in, from, to string
		ok           bool
	}{
		{"example.com:443:127.0.0.1", "example.com:443", "127.0.0.1:443", true},
		{"example.com:80:::1", "example.com:80", "[::1]:80", true},
		{"example.com:80:[::1]", "example.com:80", "[::1]:80", true},
		{"[::2]:80:127.0.0.1", "[::2]:80", "127.0.0.1:80", true},
		{"example.com:443", "", "", false},
		{"example.com:http:127.0.0.1", "", "", false},
		{"example.com:0:127.0.0.1", "", "", false},
		{"example.com:443:localhost", "", "", false},
		{":443:127.0.0.1", "", "", false},
		{"", "", "", false},
	} {
		t.Run(tc.in, func(t *testing.T) {
			from, to, err := extensions.ParseResolve(tc.in)
			if (err == nil) != tc.ok {
				t.Fatalf("err %v, want ok %v", err, tc.ok)
			}
			if from != tc.from || to != tc.to {
				t.Errorf("got %q → %q, want %q → %q", from, to, tc.from, tc.to)
			}
			if err != nil && !errors.Is(err, extensions.ErrBadOptions) {
				t.Errorf("err %v does not wrap ErrBadOptions", err)
			}
		})
	}
}

func FuzzParseResolve(f *testing.F) {
	for _, s := range []string{"example.com:443:127.0.0.1", "h:80:::1", "[::2]:80:[::1]", "a:b:c", ":::", "[:]:"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		from, to, err := extensions.ParseResolve(s)
		if err != nil {
			return
		}
		// Both sides are host:port with the same port, the target an IP.
		fh, fp, err1 := net.SplitHostPort(from)
		th, tp, err2 := net.SplitHostPort(to)
		if err1 != nil || err2 != nil || fp != tp || fh == "" || net.ParseIP(th) == nil {
			t.Fatalf("ParseResolve(%q) = %q, %q", s, from, to)
		}
	})
}
