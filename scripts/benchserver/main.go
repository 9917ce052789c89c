// Command benchserver is the loopback HTTP server that scripts/bench.sh and
// scripts/bench-stream.sh aim load generators at. It does no work of its
// own, so the figures measure the load generators, not the server.
//
// With --mode ok (the default) every request, whatever its method or path,
// gets 200 and the 2-byte body "ok".
//
// With --h2c (mode ok) it also speaks prior-knowledge cleartext HTTP/2 on
// the same port, for scripts/bench-h2.sh; HTTP/1.1 clients are served as
// before.
//
// With --mode sse it is an OpenAI-compatible completion server that streams
// exactly --chunks content chunks --gap apart (see sse.go): GET /v1/models
// lists the model "bench"; every other request is answered with a
// server-sent event stream. On exit it prints the gaps it really sent:
//
//	benchserver: sse: 20000 streams, 0 stalled, 980000 gaps: min 19.99 ms p50 20.00 ms p99 20.03 ms max 20.61 ms
//
//	go run ./scripts/benchserver --addr 127.0.0.1:18080
//	go run ./scripts/benchserver --addr 127.0.0.1:18081 --mode sse --chunks 50 --gap 20ms
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:18080", "listen address (loopback only)")
	mode := flag.String("mode", "ok", `"ok": 200 "ok" to everything; "sse": OpenAI-style streamed completions`)
	chunks := flag.Int("chunks", 50, "sse: content chunks per stream (1…100000)")
	gap := flag.Duration("gap", 20*time.Millisecond, "sse: time between consecutive content chunks (0…1m)")
	h2c := flag.Bool("h2c", false, "ok: also serve prior-knowledge cleartext HTTP/2 (h2c)")
	flag.Parse()
	host, _, err := net.SplitHostPort(*addr)
	if err != nil {
		log.Fatalf("benchserver: --addr %q: %v", *addr, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		log.Fatalf("benchserver: --addr %q: only loopback addresses are allowed", *addr)
	}
	switch *mode {
	case "ok", "sse":
	default:
		log.Fatalf("benchserver: --mode %q: want ok or sse", *mode)
	}
	if *mode == "sse" && *h2c {
		log.Fatalf("benchserver: --h2c is for --mode ok")
	}
	if *mode == "sse" && !sseSupported {
		log.Fatalf("benchserver: --mode sse needs Linux")
	}
	if *mode == "sse" && (*chunks < 1 || *chunks > 100000) {
		log.Fatalf("benchserver: --chunks %d: want 1…100000", *chunks)
	}
	if *mode == "sse" && (*gap < 0 || *gap > time.Minute) {
		log.Fatalf("benchserver: --gap %v: want 0…1m", *gap)
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatalf("benchserver: %v", err)
	}
	fmt.Fprintf(os.Stderr, "benchserver listening on http://%s (mode %s)\n", ln.Addr(), *mode)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		<-sig
		ln.Close()
	}()
	if *mode == "sse" {
		s := newStreamer(*chunks, *gap)
		err = s.serve(ln)
		fmt.Fprintf(os.Stderr, "benchserver: sse: %s\n", s.summary())
	} else {
		srv := &http.Server{Handler: okHandler(), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
		if *h2c {
			srv.Protocols = new(http.Protocols)
			srv.Protocols.SetHTTP1(true)
			srv.Protocols.SetUnencryptedHTTP2(true)
			// Streams per connection: the client opens more connections
			// only when these are in use.
			srv.HTTP2 = &http.HTTP2Config{MaxConcurrentStreams: 1000}
		}
		err = srv.Serve(ln)
	}
	if err != nil && !errors.Is(err, net.ErrClosed) {
		log.Fatalf("benchserver: %v", err)
	}
}

// okHandler answers every request with 200 "ok".
func okHandler() http.Handler {
	body := []byte("ok")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Read whatever body came so the connection can be reused.
		if r.Body != nil {
			io.Copy(io.Discard, r.Body)
		}
		hd := w.Header()
		hd["Content-Type"] = []string{"text/plain"}
		hd["Content-Length"] = []string{"2"}
		w.WriteHeader(http.StatusOK)
		w.Write(body)
	})
}
