package resamania

import (
	"context"
	"testing"
	"time"

	"github.com/hashicorp/vault/sdk/logical"
)

// BenchmarkTokenRead times, side by side in one loop, a token read served from
// the cache and one that mints from the fake server, and reports both and
// their ratio, with the allocations of a cached read.
func BenchmarkTokenRead(b *testing.B) {
	env := getTestBackend(b)
	env.configure(nil)
	read := func() {
		resp, err := env.b.HandleRequest(context.Background(), &logical.Request{
			Operation: logical.ReadOperation, Path: "token/" + testChain, Storage: env.storage, MountPoint: "resamania/"})
		if err != nil || resp.IsError() {
			b.Fatalf("read: %v %v", err, resp.Error())
		}
	}
	read() // warm
	var cached, minted time.Duration
	n := 0
	for b.Loop() {
		start := time.Now()
		read()
		cached += time.Since(start)

		env.b.tokens.forget(tokenStoragePrefix + testChain)
		_ = env.storage.Delete(context.Background(), tokenStoragePrefix+testChain)
		start = time.Now()
		read()
		minted += time.Since(start)
		n++
	}
	allocs := testing.AllocsPerRun(200, read)
	b.ReportMetric(float64(cached.Nanoseconds())/float64(n), "cached-ns/read")
	b.ReportMetric(float64(minted.Nanoseconds())/float64(n), "minted-ns/read")
	b.ReportMetric(float64(minted)/float64(cached), "cached-speedup-x")
	b.ReportMetric(allocs, "cached-allocs/read")
}
