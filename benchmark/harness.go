package main

import (
	"context"
	"fmt"
	"log"
	"os"
	"slices"
	"sync"
	"testing"
)

// run is what vaultharness asks of a test (testing.TB), for a program that is
// no test: Fatalf ends the section that called it, Cleanup runs when the
// section ends, TempDir is removed then.
type run struct {
	testing.TB // nil: every method the harness calls is defined below

	name    string
	verbose bool

	mu       sync.Mutex
	cleanups []func() // guarded by mu; run last first
}

// fatal is what Fatalf panics with; section recovers it.
type fatal struct{ msg string }

func (r *run) Helper()      {}
func (r *run) Name() string { return r.name }
func (r *run) Failed() bool { return false }

func (r *run) Logf(format string, args ...any) {
	if r.verbose {
		log.Printf(r.name+": "+format, args...)
	}
}

func (r *run) Log(args ...any) { r.Logf("%s", fmt.Sprint(args...)) }

func (r *run) Fatalf(format string, args ...any) { panic(fatal{fmt.Sprintf(format, args...)}) }
func (r *run) Fatal(args ...any)                 { panic(fatal{fmt.Sprint(args...)}) }
func (r *run) Errorf(format string, args ...any) { r.Fatalf(format, args...) }
func (r *run) Error(args ...any)                 { r.Fatal(args...) }
func (r *run) FailNow()                          { r.Fatal("FailNow") }
func (r *run) Skipf(format string, args ...any)  { r.Fatalf("cannot run: "+format, args...) }
func (r *run) Skip(args ...any)                  { r.Fatal(append([]any{"cannot run: "}, args...)...) }
func (r *run) SkipNow()                          { r.Fatal("cannot run") }
func (r *run) Context() context.Context          { return context.Background() }

func (r *run) Cleanup(f func()) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cleanups = append(r.cleanups, f)
}

func (r *run) TempDir() string {
	dir, err := os.MkdirTemp("", "resamania-benchmark-")
	if err != nil {
		r.Fatalf("temp dir: %v", err)
	}
	r.Cleanup(func() { _ = os.RemoveAll(dir) })
	return dir
}

// close runs the cleanups, last registered first.
func (r *run) close() {
	r.mu.Lock()
	fns := slices.Clone(r.cleanups)
	r.cleanups = nil
	r.mu.Unlock()
	for _, f := range slices.Backward(fns) {
		f()
	}
}

// section runs fn in a run of its own and cleans up after it. A Fatalf (of
// fn or of the harness) ends fn and comes back as the error.
func section(name string, verbose bool, fn func(t *run)) (err error) {
	t := &run{name: name, verbose: verbose}
	defer t.close()
	defer func() {
		if p := recover(); p != nil {
			f, ok := p.(fatal)
			if !ok {
				panic(p)
			}
			err = fmt.Errorf("%s: %s", name, f.msg)
		}
	}()
	fn(t)
	return nil
}
