package container

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// FillDirPrefix starts the name of the directory, at the root of a
// container, that a fill fault copies its filler into; the filler removes
// its own binary and that directory when it ends, and nothing else.
const FillDirPrefix = ".gonogo-fill-"

// ReadyLine starts the line Fill writes once it holds all it takes.
const ReadyLine = "ready"

// fillPoll is how often Fill looks for its stop file.
const fillPoll = 100 * time.Millisecond

// fillChunk is the size of one write of a disk fill.
const fillChunk = 1 << 20

// FillOptions say what Fill takes and for how long.
type FillOptions struct {
	// MemoryBytes of memory are allocated and every page of it written,
	// so that it is resident (0: none).
	MemoryBytes int64
	// DiskPath is the file Fill writes DiskBytes bytes to ("": none); it
	// must not exist (Fill never overwrites) and is removed at the end.
	DiskPath  string
	DiskBytes int64
	// For is how long Fill holds what it took before it releases it and
	// returns by itself.
	For time.Duration
	// StopFile ends Fill early once it exists ("": only For and ctx end
	// it). The container injector writes it through the engine's archive
	// API, which needs no shell in the container.
	StopFile string
	// Out gets the ready line once everything is taken, and warnings.
	Out io.Writer
}

// Check says what is wrong with o; nil when nothing.
func (o *FillOptions) Check() error {
	switch {
	case o.MemoryBytes < 0 || o.DiskBytes < 0:
		return errors.New("sizes must not be negative")
	case o.MemoryBytes == 0 && o.DiskPath == "":
		return errors.New("nothing to fill: give --memory N or --disk PATH:N")
	case o.DiskPath != "" && o.DiskBytes == 0:
		return fmt.Errorf("--disk %s: a size is required (PATH:N)", o.DiskPath)
	case o.DiskPath != "" && !filepath.IsAbs(o.DiskPath):
		return fmt.Errorf("--disk %s: want an absolute path", o.DiskPath)
	case o.For <= 0:
		return errors.New("--for: a positive duration is required, so that the fill ends by itself")
	case o.For > MaxFillFor:
		return fmt.Errorf("--for: at most %v", MaxFillFor)
	}
	return nil
}

// ParseDiskFill reads a disk fill written "PATH:N": the file and its size
// (ParseBytes), split at the last colon.
func ParseDiskFill(s string) (path string, size int64, err error) {
	i := strings.LastIndex(s, ":")
	if i <= 0 {
		return "", 0, fmt.Errorf("want PATH:SIZE, e.g. /data/fill:1GiB (got %q)", s)
	}
	b, err := ParseBytes(s[i+1:])
	if err != nil {
		return "", 0, err
	}
	if b <= 0 {
		return "", 0, fmt.Errorf("want a positive size (got %q)", s)
	}
	return s[:i], int64(b), nil
}

// FillArgs is the command line, after the program name, that runs o with
// `gonogo chaos fill`: what the injector execs in a container.
func FillArgs(o FillOptions) []string {
	args := []string{"chaos", "fill"}
	if o.MemoryBytes > 0 {
		args = append(args, "--memory", strconv.FormatInt(o.MemoryBytes, 10))
	}
	if o.DiskPath != "" {
		args = append(args, "--disk", o.DiskPath+":"+strconv.FormatInt(o.DiskBytes, 10))
	}
	args = append(args, "--for", o.For.String())
	if o.StopFile != "" {
		args = append(args, "--stop", o.StopFile)
	}
	return args
}

// Fill takes what o says — memory, allocated and touched page by page; a
// file of DiskBytes — writes the ready line, holds it until o.For passes,
// o.StopFile appears or ctx ends, then releases it (the file removed) and
// returns. A disk that fills up before DiskBytes is written is the fault
// working: Fill warns and holds what it wrote. When it ends, Fill removes
// the stop file, and, when the stop file sits in a directory named
// FillDirPrefix… that also holds Fill's own binary (where the container
// injector puts them), that binary and the then empty directory.
func Fill(ctx context.Context, o FillOptions) (err error) {
	if err := o.Check(); err != nil {
		return err
	}
	out := o.Out
	if out == nil {
		out = io.Discard
	}
	deadline := time.NewTimer(o.For)
	defer deadline.Stop()
	defer cleanupFill(o.StopFile)

	var mem []byte
	if o.MemoryBytes > 0 {
		mem = make([]byte, o.MemoryBytes)
		page := os.Getpagesize()
		for i := 0; i < len(mem); i += page {
			mem[i] = 1
		}
	}
	var wrote int64
	if o.DiskPath != "" {
		if wrote, err = fillFile(ctx, o.DiskPath, o.DiskBytes, out); err != nil {
			return err
		}
		defer os.Remove(o.DiskPath)
	}
	var took []string
	if o.MemoryBytes > 0 {
		took = append(took, Bytes(o.MemoryBytes).String()+" of memory")
	}
	if o.DiskPath != "" {
		took = append(took, fmt.Sprintf("a file of %s at %s", Bytes(wrote), o.DiskPath))
	}
	fmt.Fprintf(out, "%s: holding %s for %v\n", ReadyLine, strings.Join(took, " and "), o.For)

	tick := time.NewTicker(fillPoll)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			runtime.KeepAlive(mem)
			return nil
		case <-deadline.C:
			runtime.KeepAlive(mem)
			return nil
		case <-tick.C:
			if o.StopFile == "" {
				continue
			}
			if _, err := os.Lstat(o.StopFile); err == nil {
				runtime.KeepAlive(mem)
				return nil
			}
		}
	}
}

// fillFile writes size bytes to a new file at path and syncs it; a full
// disk ends the writing early with a warning. It returns what it wrote.
func fillFile(ctx context.Context, path string, size int64, out io.Writer) (int64, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return 0, fmt.Errorf("fill: %w", err)
	}
	chunk := make([]byte, fillChunk)
	for i := range chunk {
		chunk[i] = 0xa5 // not zeros: nothing may store them sparsely
	}
	var wrote int64
	for wrote < size {
		if ctx.Err() != nil {
			break
		}
		n := min(int64(len(chunk)), size-wrote)
		m, werr := f.Write(chunk[:n])
		wrote += int64(m)
		if errors.Is(werr, syscall.ENOSPC) {
			fmt.Fprintf(out, "warning: the disk filled up after %s of %s\n", Bytes(wrote), Bytes(size))
			break
		}
		if werr != nil {
			f.Close()
			os.Remove(path)
			return 0, fmt.Errorf("fill: %w", werr)
		}
	}
	if err := f.Sync(); err != nil && !errors.Is(err, syscall.ENOSPC) {
		f.Close()
		os.Remove(path)
		return 0, fmt.Errorf("fill: %w", err)
	}
	if err := f.Close(); err != nil && !errors.Is(err, syscall.ENOSPC) {
		os.Remove(path)
		return 0, fmt.Errorf("fill: %w", err)
	}
	return wrote, nil
}

// cleanupFill removes the stop file and, in a directory of the container
// injector's, Fill's own binary and the directory once empty.
func cleanupFill(stopFile string) {
	if stopFile == "" {
		return
	}
	os.Remove(stopFile)
	dir := filepath.Dir(stopFile)
	if !strings.HasPrefix(filepath.Base(dir), FillDirPrefix) {
		return
	}
	if exe, err := os.Executable(); err == nil && filepath.Dir(exe) == dir {
		os.Remove(exe)
	}
	os.Remove(dir) // fails, harmlessly, unless empty
}
