package main

import (
	"bufio"
	"bytes"
	"container/heap"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// The sse mode is a minimal HTTP/1.1 server of its own rather than
// net/http: on a 2-core machine that it shares with the load generator it
// must hold thousands of streams without distorting their gaps, so every
// scheduled chunk costs one write system call and nothing else.
//
// Each connection's goroutine reads a request (Content-Length bodies only),
// writes the response head with the first content chunk at once, and hands
// the stream to its scheduler (one per GOMAXPROCS, connections spread over
// them in turn). A scheduler keeps its streams in a heap
// ordered by their next deadline, chunk i being due i×gap after the first
// (deadlines from the stream's start, so a late write never shifts the
// later ones), sleeps until the earliest deadline on a thread of its own
// with the kernel's timer slack at its minimum (Go's timers wake up to 1 ms
// late on an idle process), and writes every chunk that is due as one HTTP
// chunk, so one TCP segment: a packet capture sees the gaps really sent.
// The last content chunk, the usage chunk, [DONE] and the end of the body
// go out in one write. Writes do not wait: a client whose socket buffer is
// full loses its connection (counted as "stalled").

// Limits of the request parser.
const (
	maxLine    = 8 << 10  // one request or header line
	maxHeaders = 100      // header lines per request
	maxBody    = 64 << 20 // request body bytes
	idleLimit  = 2 * time.Minute
)

// streamer serves the sse mode.
type streamer struct {
	chunks int
	gap    time.Duration
	head   []byte // response head and the first chunk's HTTP chunk
	more   []byte // one content chunk, as an HTTP chunk
	last   []byte // the last content chunk, usage, [DONE], end of body
	models []byte // the whole answer to GET /v1/models

	shards []*shard
	conns  atomic.Uint64 // connections accepted, to spread them over shards

	gaps    gapHist
	streams atomic.Int64 // streams written to their end
	stalled atomic.Int64 // connections closed because their socket was full
}

// shard is one scheduler: its streams, ordered by when their next chunk
// is due.
type shard struct {
	mu   sync.Mutex
	due  queue
	wake chan struct{} // a stream was added to an empty queue
}

// stream is one response in progress.
type stream struct {
	raw  syscall.RawConn
	next int       // index of the next chunk to write
	due  time.Time // when it is due
	prev time.Time // when the previous chunk was written
	done chan error

	out     []byte // what writeFn writes, and what came of it
	n       int
	werr    error
	writeFn func(fd uintptr) bool
}

// writeTo is a stream's RawConn.Write callback: one write of st.out,
// which never waits for room (see the file's comment).
func (st *stream) writeTo(fd uintptr) bool {
	st.n, st.werr = writeNow(fd, st.out)
	return true
}

func newStreamer(chunks int, gap time.Duration) *streamer {
	const (
		choice = `data: {"id":"cmpl-bench","object":"text_completion","created":1700000000,"model":"bench","choices":[{"index":0,"text":" tok","logprobs":null,`
		more   = choice + `"finish_reason":null,"stop_reason":null}]}` + "\n\n"
		final  = choice + `"finish_reason":"length","stop_reason":null}]}` + "\n\n"
	)
	usage := `data: {"id":"cmpl-bench","object":"text_completion","created":1700000000,"model":"bench","choices":[],` +
		`"usage":{"prompt_tokens":128,"total_tokens":` + strconv.Itoa(128+chunks) + `,"completion_tokens":` + strconv.Itoa(chunks) + "}}\n\n"
	last := append(httpChunk(final+usage+"data: [DONE]\n\n"), "0\r\n\r\n"...)
	first := httpChunk(more)
	if chunks == 1 {
		first = last
	}
	models := `{"object":"list","data":[{"id":"bench","object":"model","owned_by":"gonogo"}]}`
	shards := make([]*shard, runtime.GOMAXPROCS(0))
	for i := range shards {
		shards[i] = &shard{wake: make(chan struct{}, 1)}
	}
	return &streamer{
		shards: shards,
		chunks: chunks,
		gap:    gap,
		head:   append([]byte("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\nTransfer-Encoding: chunked\r\n\r\n"), first...),
		more:   httpChunk(more),
		last:   last,
		models: []byte("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " + strconv.Itoa(len(models)) + "\r\n\r\n" + models),
	}
}

// httpChunk frames s as one chunk of a chunked HTTP body.
func httpChunk(s string) []byte {
	return []byte(strconv.FormatInt(int64(len(s)), 16) + "\r\n" + s + "\r\n")
}

// serve accepts connections until ln is closed.
func (s *streamer) serve(ln net.Listener) error {
	for _, sh := range s.shards {
		go s.schedule(sh)
	}
	for {
		c, err := ln.Accept()
		if err != nil {
			return err
		}
		go s.conn(c)
	}
}

// conn answers the requests of one keep-alive connection in turn.
func (s *streamer) conn(c net.Conn) {
	defer c.Close()
	sc, ok := c.(syscall.Conn)
	if !ok {
		return
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return
	}
	br := bufio.NewReaderSize(c, maxLine)
	sh := s.shards[s.conns.Add(1)%uint64(len(s.shards))]
	st := &stream{raw: raw, done: make(chan error, 1)}
	st.writeFn = st.writeTo
	for {
		if c.SetReadDeadline(time.Now().Add(idleLimit)) != nil {
			return
		}
		get, keep, err := readRequest(br)
		if err != nil {
			if !errors.Is(err, io.EOF) {
				fmt.Fprintf(c, "HTTP/1.1 400 Bad Request\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s", len(err.Error()), err)
			}
			return
		}
		if get {
			if _, err := c.Write(s.models); err != nil {
				return
			}
		} else {
			st.prev = time.Now()
			if _, err := c.Write(s.head); err != nil {
				return
			}
			if s.chunks > 1 {
				st.next, st.due = 1, st.prev.Add(s.gap)
				sh.add(st)
				if err := <-st.done; err != nil {
					return
				}
			}
			s.streams.Add(1)
		}
		if !keep {
			return
		}
	}
}

// readRequest reads one request and discards its body. get is true for
// GET /v1/models; keep is false when the client asked to close.
func readRequest(br *bufio.Reader) (get, keep bool, err error) {
	line, err := readLine(br)
	if err != nil {
		return false, false, err
	}
	method, rest, _ := bytes.Cut(line, []byte(" "))
	target, proto, _ := bytes.Cut(rest, []byte(" "))
	switch string(proto) {
	case "HTTP/1.1":
		keep = true
	case "HTTP/1.0":
	default:
		return false, false, fmt.Errorf("bad request line %q", line)
	}
	get = string(method) == "GET" && string(target) == "/v1/models"
	var length int64
	for i := 0; ; i++ {
		if i == maxHeaders {
			return false, false, errors.New("too many header lines")
		}
		line, err := readLine(br)
		if err != nil {
			return false, false, err
		}
		if len(line) == 0 {
			break
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			return false, false, fmt.Errorf("bad header line %q", line)
		}
		value = bytes.TrimSpace(value)
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			length, err = strconv.ParseInt(string(value), 10, 64)
			if err != nil || length < 0 || length > maxBody {
				return false, false, fmt.Errorf("bad Content-Length %q", value)
			}
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			return false, false, errors.New("request bodies must have a Content-Length")
		case bytes.EqualFold(name, []byte("Connection")):
			keep = keep && !bytes.EqualFold(value, []byte("close"))
		}
	}
	if _, err := br.Discard(int(length)); err != nil {
		return false, false, fmt.Errorf("reading the body: %w", err)
	}
	return get, keep, nil
}

// readLine returns one line without its line end.
func readLine(br *bufio.Reader) ([]byte, error) {
	line, err := br.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		return nil, fmt.Errorf("line longer than %d bytes", maxLine)
	}
	if err != nil {
		if len(line) > 0 && errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return bytes.TrimRight(line, "\r\n"), nil
}

// add queues st for its next chunk.
func (sh *shard) add(st *stream) {
	sh.mu.Lock()
	heap.Push(&sh.due, st)
	if len(sh.due) == 1 {
		select {
		case sh.wake <- struct{}{}:
		default:
		}
	}
	sh.mu.Unlock()
}

// schedule writes the chunks of sh's streams when they are due. It never
// returns.
func (s *streamer) schedule(sh *shard) {
	runtime.LockOSThread()
	preciseTimers()
	var batch []*stream
	for {
		sh.mu.Lock()
		if len(sh.due) == 0 {
			sh.mu.Unlock()
			<-sh.wake
			continue
		}
		now := time.Now()
		if wait := sh.due[0].due.Sub(now); wait > 0 {
			sh.mu.Unlock()
			sleep(wait)
			continue
		}
		for len(sh.due) > 0 && !sh.due[0].due.After(now) {
			batch = append(batch, heap.Pop(&sh.due).(*stream))
		}
		sh.mu.Unlock()
		keep := batch[:0]
		for _, st := range batch {
			if s.write(st) {
				keep = append(keep, st)
			}
		}
		sh.mu.Lock()
		for _, st := range keep {
			heap.Push(&sh.due, st)
		}
		sh.mu.Unlock()
		clear(batch)
		batch = batch[:0]
	}
}

// write writes st's next chunk and reports whether more are to come;
// otherwise it has told st's connection the stream is over.
func (s *streamer) write(st *stream) bool {
	b, last := s.more, st.next == s.chunks-1
	if last {
		b = s.last
	}
	now := time.Now()
	s.gaps.add(now.Sub(st.prev))
	st.prev = now
	st.out = b
	err := st.raw.Write(st.writeFn)
	n, werr := st.n, st.werr
	switch {
	case err == nil && werr == nil && n == len(b):
	case errors.Is(werr, syscall.EAGAIN) || (err == nil && werr == nil):
		s.stalled.Add(1)
		st.done <- errors.New("client stalled")
		return false
	default:
		st.done <- errors.Join(err, werr)
		return false
	}
	if last {
		st.done <- nil
		return false
	}
	st.next++
	st.due = st.due.Add(s.gap)
	return true
}

// queue is a min-heap of streams by due time.
type queue []*stream

func (q queue) Len() int           { return len(q) }
func (q queue) Less(i, j int) bool { return q[i].due.Before(q[j].due) }
func (q queue) Swap(i, j int)      { q[i], q[j] = q[j], q[i] }
func (q *queue) Push(x any)        { *q = append(*q, x.(*stream)) }
func (q *queue) Pop() any {
	old := *q
	st := old[len(old)-1]
	old[len(old)-1] = nil
	*q = old[:len(old)-1]
	return st
}

// summary says how many streams were served and the gaps they got.
func (s *streamer) summary() string {
	return fmt.Sprintf("%d streams, %d stalled, %s", s.streams.Load(), s.stalled.Load(), s.gaps.summary())
}

// gapHist counts the gaps between consecutive chunk writes of a stream, in
// 10 µs buckets up to 100 ms (longer ones in the last bucket).
type gapHist struct {
	buckets [10000]atomic.Int64
}

const gapBucket = 10 * time.Microsecond

func (h *gapHist) add(d time.Duration) {
	i := min(max(int(d/gapBucket), 0), len(h.buckets)-1)
	h.buckets[i].Add(1)
}

// summary returns the number of gaps and their min, p50, p99 and max (each
// the upper end of its bucket).
func (h *gapHist) summary() string {
	var n int64
	counts := make([]int64, len(h.buckets))
	for i := range h.buckets {
		counts[i] = h.buckets[i].Load()
		n += counts[i]
	}
	if n == 0 {
		return "no gaps"
	}
	at := func(q float64) float64 {
		want := int64(q*float64(n-1)) + 1
		var seen int64
		for i, c := range counts {
			if seen += c; seen >= want {
				return float64(time.Duration(i+1)*gapBucket) / float64(time.Millisecond)
			}
		}
		return float64(time.Duration(len(counts))*gapBucket) / float64(time.Millisecond)
	}
	return fmt.Sprintf("%d gaps: min %.2f ms p50 %.2f ms p99 %.2f ms max %.2f ms", n, at(0), at(0.5), at(0.99), at(1))
}
