package container

import (
	"bufio"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// runFill starts Fill in the background and returns once it wrote its
// ready line; done receives its result.
func runFill(t *testing.T, o FillOptions) (done <-chan error, readyAt time.Time) {
	t.Helper()
	pr, pw := io.Pipe()
	o.Out = pw
	ch := make(chan error, 1)
	go func() {
		err := Fill(context.Background(), o)
		pw.Close()
		ch <- err
	}()
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), ReadyLine) {
				ready <- sc.Text()
			}
		}
		close(ready)
	}()
	select {
	case line, ok := <-ready:
		if !ok {
			t.Fatalf("Fill ended without a ready line: %v", <-ch)
		}
		t.Logf("filler: %s", line)
	case <-time.After(10 * time.Second):
		t.Fatal("no ready line within 10s")
	}
	return ch, time.Now()
}

func TestFillDiskStopFile(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "fill.bin")
	stop := filepath.Join(dir, "stop")
	const size = 3<<20 + 5 // not a whole number of chunks
	done, _ := runFill(t, FillOptions{DiskPath: file, DiskBytes: size, For: time.Minute, StopFile: stop})
	fi, err := os.Stat(file)
	if err != nil {
		t.Fatalf("the fill file: %v", err)
	}
	if fi.Size() != size {
		t.Errorf("fill file size %d, want %d", fi.Size(), size)
	}
	stopped := time.Now()
	if err := os.WriteFile(stop, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Fill: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Fill did not end within 5s of its stop file")
	}
	if took := time.Since(stopped); took > time.Second {
		t.Errorf("Fill ended %v after its stop file appeared; it polls every %v", took, fillPoll)
	}
	for _, p := range []string{file, stop} {
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s left behind (stat: %v)", p, err)
		}
	}
	if _, err := os.Stat(dir); err != nil {
		t.Errorf("Fill removed %s, a directory not its own: %v", dir, err)
	}
}

func TestFillEndsByItself(t *testing.T) {
	const hold = 300 * time.Millisecond
	start := time.Now()
	done, _ := runFill(t, FillOptions{MemoryBytes: 1 << 20, For: hold})
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Fill did not end by itself")
	}
	if took := time.Since(start); took < hold || took > hold+2*time.Second {
		t.Errorf("Fill held %v, want about %v", took, hold)
	}
}

// rssBytes reads this process's resident set from /proc.
func rssBytes(t *testing.T) int64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		t.Skipf("no /proc/self/statm: %v", err)
	}
	f := strings.Fields(string(b))
	pages, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return pages * int64(os.Getpagesize())
}

func TestFillMemoryIsResident(t *testing.T) {
	const size = 64 << 20
	before := rssBytes(t)
	stop := filepath.Join(t.TempDir(), "stop")
	done, _ := runFill(t, FillOptions{MemoryBytes: size, For: time.Minute, StopFile: stop})
	during := rssBytes(t)
	if grew := during - before; grew < size*9/10 {
		t.Errorf("resident memory grew %d bytes while Fill held %d, want at least 90%%", grew, size)
	}
	os.WriteFile(stop, nil, 0o644)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestFillRemovesItsOwnDirectory(t *testing.T) {
	base := t.TempDir()
	own := filepath.Join(base, FillDirPrefix+"0123")
	if err := os.Mkdir(own, 0o755); err != nil {
		t.Fatal(err)
	}
	stop := filepath.Join(own, "stop")
	done, _ := runFill(t, FillOptions{MemoryBytes: 4096, For: time.Minute, StopFile: stop})
	os.WriteFile(stop, nil, 0o644)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(own); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the filler's directory %s is left (stat: %v)", own, err)
	}
}

func TestFillNeverOverwrites(t *testing.T) {
	file := filepath.Join(t.TempDir(), "precious")
	if err := os.WriteFile(file, []byte("data"), 0o644); err != nil {
		t.Fatal(err)
	}
	err := Fill(context.Background(), FillOptions{DiskPath: file, DiskBytes: 1 << 20, For: time.Second})
	if !errors.Is(err, os.ErrExist) {
		t.Errorf("Fill over an existing file: %v, want os.ErrExist", err)
	}
	if b, _ := os.ReadFile(file); string(b) != "data" {
		t.Errorf("the existing file now holds %q", b)
	}
}

func TestFillContextEnds(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() { done <- Fill(ctx, FillOptions{MemoryBytes: 4096, For: time.Hour, Out: pw}); pw.Close() }()
	bufio.NewReader(pr).ReadString('\n')
	go io.Copy(io.Discard, pr)
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Fill after its context ended: %v, want nil (a release is no failure)", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Fill did not end with its context")
	}
}

func TestFillOptionsCheck(t *testing.T) {
	cases := []struct {
		name string
		o    FillOptions
		want string
	}{
		{"nothing", FillOptions{For: time.Second}, "nothing to fill"},
		{"no for", FillOptions{MemoryBytes: 1}, "--for"},
		{"too long", FillOptions{MemoryBytes: 1, For: 25 * time.Hour}, "at most"},
		{"negative", FillOptions{MemoryBytes: -1, For: time.Second}, "negative"},
		{"disk without size", FillOptions{DiskPath: "/x", For: time.Second}, "size is required"},
		{"relative disk", FillOptions{DiskPath: "x", DiskBytes: 1, For: time.Second}, "absolute"},
		{"ok", FillOptions{MemoryBytes: 1, DiskPath: "/x", DiskBytes: 1, For: time.Second}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.o.Check()
			if c.want == "" {
				if err != nil {
					t.Fatalf("Check: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("Check = %v, want it to mention %q", err, c.want)
			}
		})
	}
}

func TestFillArgs(t *testing.T) {
	o := FillOptions{MemoryBytes: 64 << 20, DiskPath: "/data/a:b", DiskBytes: 1000, For: 90 * time.Second, StopFile: "/s"}
	got := strings.Join(FillArgs(o), " ")
	want := "chaos fill --memory 67108864 --disk /data/a:b:1000 --for 1m30s --stop /s"
	if got != want {
		t.Fatalf("FillArgs = %q, want %q", got, want)
	}
	p, n, err := ParseDiskFill("/data/a:b:1000")
	if err != nil || p != "/data/a:b" || n != 1000 {
		t.Errorf("ParseDiskFill of FillArgs' --disk = %q, %d, %v", p, n, err)
	}
}

func TestParseDiskFill(t *testing.T) {
	cases := []struct {
		in   string
		path string
		n    int64
		ok   bool
	}{
		{"/data/fill:1GiB", "/data/fill", 1 << 30, true},
		{"/fill.bin:4096", "/fill.bin", 4096, true},
		{"/fill.bin", "", 0, false},
		{":1MiB", "", 0, false},
		{"/x:0", "", 0, false},
		{"/x:lots", "", 0, false},
	}
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			p, n, err := ParseDiskFill(c.in)
			if (err == nil) != c.ok {
				t.Fatalf("ParseDiskFill(%q) = %q, %d, %v; want ok=%v", c.in, p, n, err, c.ok)
			}
			if c.ok && (p != c.path || n != c.n) {
				t.Errorf("ParseDiskFill(%q) = %q, %d; want %q, %d", c.in, p, n, c.path, c.n)
			}
		})
	}
}

// FuzzParseDiskFill checks that a disk fill that parses is written back by
// FillArgs to the same path and size.
func FuzzParseDiskFill(f *testing.F) {
	for _, s := range []string{"/data/fill:1GiB", "/a:b:1", ":", "/x:0", "/x:1e3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, n, err := ParseDiskFill(s)
		if err != nil {
			return
		}
		if n <= 0 || p == "" {
			t.Fatalf("ParseDiskFill(%q) = %q, %d", s, p, n)
		}
		args := FillArgs(FillOptions{DiskPath: p, DiskBytes: n, For: time.Second})
		p2, n2, err := ParseDiskFill(args[3])
		if err != nil || p2 != p || n2 != n {
			t.Fatalf("ParseDiskFill(%q) = %q, %d; written %q, read back %q, %d, %v", s, p, n, args[3], p2, n2, err)
		}
	})
}

func TestCheckStatic(t *testing.T) {
	text := filepath.Join(t.TempDir(), "script")
	os.WriteFile(text, []byte("#!/bin/sh\necho hi\n"), 0o755)
	if err := checkStatic(text); err == nil || !strings.Contains(err.Error(), "not a Linux executable") {
		t.Errorf("checkStatic(a script) = %v", err)
	}
	for _, dyn := range []string{"/bin/ls", "/usr/bin/env"} {
		if _, err := os.Stat(dyn); err != nil {
			continue
		}
		if err := checkStatic(dyn); err == nil || !strings.Contains(err.Error(), "CGO_ENABLED=0") {
			t.Errorf("checkStatic(%s) = %v, want it refused as dynamically linked", dyn, err)
		}
		break
	}
}
