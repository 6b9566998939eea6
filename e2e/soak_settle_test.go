package e2e

import (
	"encoding/json"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/resamania-oss/vault-plugin-secrets-resamania/internal/fakeresamania"
	"github.com/resamania-oss/vault-plugin-secrets-resamania/internal/vaultharness"
)

// soakLeaseWait bounds the wait for Vault to revoke the load's expired leases.
const soakLeaseWait = 45 * time.Second

// settled is what the soak finds once the load has stopped and every
// window and token of the load is over.
type settled struct {
	liveLeases  int // leases under the mount when the load's should all have ended
	liveRefresh int // refresh tokens the fake server still honours
}

// settle stops the faults and the limits, waits until every window the
// gateway closed has ended and every token of the load has expired, counts
// the leases left, then reads every credential once more: each read must
// refresh with the refresh token the plugin stored last.
func (sk *soak) settle(t *testing.T) settled {
	t.Helper()
	loadEnd := time.Now()
	sk.fake.ClearFaults()
	sk.fake.SetGatewayLimits(fakeresamania.GatewayLimits{})
	until := loadEnd.Add(soakLongestLife*time.Second + 2*time.Second)
	for _, r := range sk.fake.Requests() {
		if r.GatewayReset.After(until) {
			until = r.GatewayReset
		}
	}
	time.Sleep(time.Until(until.Add(time.Second)))

	var out settled
	deadline := time.Now().Add(soakLeaseWait)
	for {
		out.liveLeases = sk.countLeases(t, "sys/leases/lookup/"+mount+"/")
		if out.liveLeases == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Second)
	}
	for _, c := range sk.creds {
		sk.read(readFinal, c.path())
	}
	for _, ch := range sk.chains {
		out.liveRefresh += sk.fake.LiveRefreshTokens(ch.name)
	}
	return out
}

// countLeases counts the leases under a sys/leases/lookup prefix.
func (sk *soak) countLeases(t *testing.T, prefix string) int {
	t.Helper()
	s, err := sk.client.Logical().List(prefix)
	require.NoError(t, err)
	if s == nil {
		return 0
	}
	keys, _ := s.Data["keys"].([]any)
	n := 0
	for _, k := range keys {
		if key := k.(string); strings.HasSuffix(key, "/") {
			n += sk.countLeases(t, prefix+key)
		} else {
			n++
		}
	}
	return n
}

// soakSnapshot is the stack's footprint at one moment.
type soakSnapshot struct {
	at            time.Time
	goroutines    int // the test process's: the readers, the fake server and their connections
	pluginPID     int // the plugin process running now (a reload starts a new one)
	pluginRSSkB   int
	pluginThreads int
	// pluginGoroutines is the plugin's own count, from the mount's metrics.
	pluginGoroutines int
}

func (sk *soak) snapshot(t *testing.T) soakSnapshot {
	t.Helper()
	s := soakSnapshot{at: time.Now(), goroutines: runtime.NumGoroutine()}
	pids := sk.vault.PluginPIDs()
	for i := len(pids) - 1; i >= 0; i-- {
		if vaultharness.ProcessAlive(pids[i]) {
			s.pluginPID = pids[i]
			break
		}
	}
	require.NotZero(t, s.pluginPID, "no live plugin process in the server's log")
	var err error
	s.pluginRSSkB, err = vaultharness.ProcStatusField(s.pluginPID, "VmRSS")
	require.NoError(t, err)
	s.pluginThreads, err = vaultharness.ProcStatusField(s.pluginPID, "Threads")
	require.NoError(t, err)
	s.pluginGoroutines = sk.pluginGoroutines(t)
	return s
}

// pluginGoroutines reads resamania_plugin_goroutines from the metrics path.
func (sk *soak) pluginGoroutines(t *testing.T) int {
	t.Helper()
	m, err := sk.client.Logical().Read(mount + "/metrics")
	require.NoError(t, err)
	series, _ := m.Data["resamania_plugin_goroutines"].([]any)
	require.Len(t, series, 1, "the metrics read has resamania_plugin_goroutines: %v", m.Data)
	n, err := series[0].(map[string]any)["value"].(json.Number).Int64()
	require.NoError(t, err)
	return int(n)
}
