package e2e

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/resamania-oss/vault-plugin-secrets-resamania/internal/vaultharness"
)

// clusterReadResult is one read by a failover reader.
type clusterReadResult struct {
	node       int
	path       string
	start, end time.Time
	token      string
	err        error
}

// clusterReaders keeps reading paths through every node until stopped.
type clusterReaders struct {
	mu      sync.Mutex
	results []clusterReadResult // guarded by mu
	stop    chan struct{}
	wg      sync.WaitGroup
}

// startClusterReaders starts one reader per node and path, each reading,
// recording the result and pausing, until halt (or the test's cleanup).
func startClusterReaders(t *testing.T, c *vaultharness.Cluster, paths []string, pause time.Duration) *clusterReaders {
	p := &clusterReaders{stop: make(chan struct{})}
	for _, n := range c.Nodes {
		client := n.Process.NewClientNoRetry(t, clusterReadTimeout)
		for _, path := range paths {
			p.wg.Add(1)
			go func() {
				defer p.wg.Done()
				for {
					select {
					case <-p.stop:
						return
					default:
					}
					r := clusterReadResult{node: n.Index, path: path, start: time.Now()}
					sec, err := client.Logical().Read(path)
					r.end, r.err = time.Now(), err
					if err == nil && sec != nil {
						r.token, _ = sec.Data["access_token"].(string)
					}
					if err == nil && r.token == "" {
						r.err = fmt.Errorf("read %s: no access_token in %v", path, sec)
					}
					p.mu.Lock()
					p.results = append(p.results, r)
					p.mu.Unlock()
					select {
					case <-p.stop:
						return
					case <-time.After(pause):
					}
				}
			}()
		}
	}
	t.Cleanup(p.halt)
	return p
}

func (p *clusterReaders) halt() {
	select {
	case <-p.stop:
	default:
		close(p.stop)
	}
	p.wg.Wait()
}

func (p *clusterReaders) snapshot() []clusterReadResult {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.results)
}

// waitGoodRead waits until a read through node that started after since has
// succeeded.
func (p *clusterReaders) waitGoodRead(t *testing.T, node int, since time.Time, timeout time.Duration) {
	t.Helper()
	require.Eventually(t, func() bool {
		for _, r := range p.snapshot() {
			if r.node == node && r.err == nil && r.start.After(since) {
				return true
			}
		}
		return false
	}, timeout, 50*time.Millisecond, "reads through the restarted node%d", node)
}

// waitReadsResumed waits until every path has been read well through every
// survivor by a read that started after the kill was done, and returns, by
// "node<i> <path>", how long after the kill that first good read ended.
func (p *clusterReaders) waitReadsResumed(t *testing.T, survivors []int, paths int, killAt, killDone time.Time) map[string]time.Duration {
	t.Helper()
	resumed := map[string]time.Duration{}
	require.Eventually(t, func() bool {
		for _, r := range p.snapshot() {
			key := fmt.Sprintf("node%d %s", r.node, r.path)
			if r.err == nil && r.start.After(killDone) && slices.Contains(survivors, r.node) {
				if _, ok := resumed[key]; !ok {
					resumed[key] = r.end.Sub(killAt)
				}
			}
		}
		return len(resumed) == len(survivors)*paths
	}, clusterFailoverSLO, 50*time.Millisecond, "reads did not resume through every surviving node")
	return resumed
}

// resumedAfterKill is how long after the kill reads of path through node resumed;
// the whole SLO when they never did (the killed node).
func resumedAfterKill(resumed map[string]time.Duration, node int, path string) time.Duration {
	if d, ok := resumed[fmt.Sprintf("node%d %s", node, path)]; ok {
		return d
	}
	return clusterFailoverSLO
}

// requireErrorsOnlyDuringFailover: every failed read was in flight at the
// kill or started before reads resumed on its node and path, or hit the
// killed node while it was down; none says a credential was lost. It
// returns the number of failed reads.
func requireErrorsOnlyDuringFailover(t *testing.T, results []clusterReadResult, resumed map[string]time.Duration, killAt time.Time, killed int) (failed int) {
	t.Helper()
	for _, r := range results {
		if r.err == nil {
			continue
		}
		failed++
		require.NotContains(t, r.err.Error(), "sign in again", "node%d %s: a credential was lost", r.node, r.path)
		inWindow := !r.end.Before(killAt) && r.start.Before(killAt.Add(resumedAfterKill(resumed, r.node, r.path)))
		deadNode := r.node == killed && !r.end.Before(killAt)
		require.True(t, inWindow || deadNode, "node%d %s failed outside the failover window (at %s, kill at %s): %v",
			r.node, r.path, r.start.Format(time.StampMilli), killAt.Format(time.StampMilli), r.err)
	}
	return failed
}
