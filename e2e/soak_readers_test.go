package e2e

import (
	"context"
	"math/rand/v2"
	"net/url"
	"strconv"
	"sync"
	"time"
)

// The readers' mix: what share of reads goes to each kind.
const (
	soakReaders   = 12
	soakReadPause = 70 * time.Millisecond // per reader: about 150 reads a second in all
)

// readKind is one kind of read in the soak's mix.
type readKind string

const (
	readCached     readKind = "cached"          // a warm chain's token
	readMinimum    readKind = "minimum_seconds" // the same, asking for soakMinimumSeconds left
	readCredential readKind = "credential"      // a member credential's token
	readCold       readKind = "cold"            // a chain whose token is long gone: it must mint
	readFinal      readKind = "final"           // after the load: every credential, refreshed
)

// pickRead draws the next read: 45% cached, 10% minimum_seconds, 35%
// credential, 10% cold (a cached read when no cold chain is ready).
func (sk *soak) pickRead(rng *rand.Rand, cold *coldChains) (readKind, string) {
	warm := sk.chains[:len(sk.chains)-soakColdChains]
	switch n := rng.IntN(100); {
	case n < 45:
		return readCached, mount + "/token/" + warm[rng.IntN(len(warm))].name
	case n < 55:
		return readMinimum, mount + "/token/" + warm[rng.IntN(len(warm))].name
	case n < 90:
		return readCredential, sk.creds[rng.IntN(len(sk.creds))].path()
	default:
		if name, ok := cold.take(rng, time.Now()); ok {
			return readCold, mount + "/token/" + name
		}
		return readCached, mount + "/token/" + warm[rng.IntN(len(warm))].name
	}
}

// load runs the readers until ctx ends.
func (sk *soak) load(ctx context.Context) {
	cold := newColdChains(sk.chains)
	var wg sync.WaitGroup
	for r := range soakReaders {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(r), uint64(time.Now().UnixNano())))
			for ctx.Err() == nil {
				kind, path := sk.pickRead(rng, cold)
				sk.read(kind, path)
				select {
				case <-ctx.Done():
				case <-time.After(soakReadPause):
				}
			}
		})
	}
	wg.Wait()
}

// read sends one read and records what came back.
func (sk *soak) read(kind readKind, path string) {
	var q url.Values
	minLeft := time.Duration(0)
	if kind == readMinimum {
		q = url.Values{"minimum_seconds": {strconv.Itoa(soakMinimumSeconds)}}
		minLeft = soakMinimumSeconds * time.Second
	}
	sent := time.Now()
	secret, err := sk.client.Logical().ReadWithData(path, q)
	sk.reads.record(kind, sent, minLeft, secret, err)
}

// coldChains hands out the cold chains, each only once its last token has
// been dead for a while.
type coldChains struct {
	mu    sync.Mutex
	ready map[string]time.Time // chain -> when it may be read cold again
	life  map[string]time.Duration
}

func newColdChains(chains []soakChain) *coldChains {
	c := &coldChains{ready: map[string]time.Time{}, life: map[string]time.Duration{}}
	for _, ch := range chains {
		if ch.cold {
			c.ready[ch.name], c.life[ch.name] = time.Time{}, ch.life
		}
	}
	return c
}

func (c *coldChains) take(rng *rand.Rand, now time.Time) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var due []string
	for name, at := range c.ready {
		if !now.Before(at) {
			due = append(due, name)
		}
	}
	if len(due) == 0 {
		return "", false
	}
	name := due[rng.IntN(len(due))]
	// Twice its life: past the token's expiry and any refresh ahead's.
	c.ready[name] = now.Add(2*c.life[name] + time.Second)
	return name, true
}
