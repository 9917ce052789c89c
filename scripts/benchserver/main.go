// Command benchserver is the trivial loopback HTTP server that
// scripts/bench.sh aims gonogo, vegeta and wrk at: every request, whatever
// its method or path, gets 200 and the 2-byte body "ok". It does no work of
// its own, so the figures measure the load generators, not the server.
//
//	go run ./scripts/benchserver --addr 127.0.0.1:18080
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
	flag.Parse()
	host, _, err := net.SplitHostPort(*addr)
	if err != nil {
		log.Fatalf("benchserver: --addr %q: %v", *addr, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		log.Fatalf("benchserver: --addr %q: only loopback addresses are allowed", *addr)
	}
	body := []byte("ok")
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
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
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatalf("benchserver: %v", err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	fmt.Fprintf(os.Stderr, "benchserver listening on http://%s\n", ln.Addr())
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		<-sig
		srv.Close()
	}()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Fatalf("benchserver: %v", err)
	}
}
