package main

import (
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// loadResult is one duration-bounded run of readers in a loop.
type loadResult struct {
	Reads      int     `json:"reads"`
	Errors     int     `json:"errors"`
	Seconds    float64 `json:"seconds"`
	PerSecond  float64 `json:"per_second"`
	P50ms      float64 `json:"p50_ms"`
	P99ms      float64 `json:"p99_ms"`
	FirstError string  `json:"first_error,omitempty"`
}

// load runs clients readers at once, each in a loop of GETs over its own
// keep-alive connection, until d has passed, and times every read. Reader w
// reads pathOf(w). A read is an error unless Vault answers 200.
func (st *stack) load(clients int, d time.Duration, pathOf func(w int) string) loadResult {
	lat := make([][]time.Duration, clients)
	errs := make([]int, clients)
	var firstErr atomic.Pointer[string]
	start := time.Now()
	deadline := start.Add(d)
	var wg sync.WaitGroup
	for w := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			lat[w] = make([]time.Duration, 0, 4096)
			req, err := http.NewRequest(http.MethodGet, st.vault.Addr+"/v1/"+pathOf(w), nil)
			if err != nil {
				panic(err) // a path the benchmark wrote itself
			}
			req.Header.Set("X-Vault-Token", st.vault.RootToken)
			for time.Now().Before(deadline) {
				t0 := time.Now()
				if err := send(st.client, req); err != nil {
					errs[w]++
					msg := err.Error()
					firstErr.CompareAndSwap(nil, &msg)
					time.Sleep(10 * time.Millisecond)
					continue
				}
				lat[w] = append(lat[w], time.Since(t0))
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	all := slices.Concat(lat...)
	slices.Sort(all)
	r := loadResult{Reads: len(all), Seconds: elapsed.Seconds(), PerSecond: float64(len(all)) / elapsed.Seconds()}
	for _, n := range errs {
		r.Errors += n
	}
	if p := firstErr.Load(); p != nil {
		r.FirstError = *p
	}
	if len(all) > 0 {
		r.P50ms = ms(all[(len(all)-1)*50/100])
		r.P99ms = ms(all[(len(all)-1)*99/100])
	}
	return r
}

// send sends req with c and reads the whole answer, which must be a 200.
func send(c *http.Client, req *http.Request) error {
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s %s: HTTP %d", req.Method, req.URL.Path, resp.StatusCode)
	}
	return nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// median of xs (the mean of the middle two for an even count); 0 for none.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if n := len(s); n%2 == 0 {
		return (s[n/2-1] + s[n/2]) / 2
	}
	return s[len(s)/2]
}
