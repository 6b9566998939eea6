package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"
	"github.com/stretchr/testify/require"

	"github.com/resamania-oss/vault-plugin-secrets-resamania/internal/fakeresamania"
	"github.com/resamania-oss/vault-plugin-secrets-resamania/internal/testsupport"
	"github.com/resamania-oss/vault-plugin-secrets-resamania/internal/vaultharness"
)

// proxyListen is the listener address examples/proxy.hcl writes. The test
// runs the file with only that port changed, to a free one.
const proxyListen = "127.0.0.1:8100"

// Vault Proxy with the example files as they are, in front of tokens that
// live 30 s. With lease_mode=non_renewable (the control) the proxy passes
// every read through and each read is one more lease; with
// lease_mode=renewable it caches the token, so an application reading every
// 200 ms for three token lives creates one lease per token, not one per
// read, and is never handed an expired token.
func TestVaultProxyCachesRenewableTokens(t *testing.T) {
	t.Parallel() // most of it waits (token lives, the background tick)
	const (
		tokenLife = 30 * time.Second
		soak      = 3*tokenLife - 5*time.Second
	)
	st := newStack(t, stackOptions{vault: vaultharness.Options{Dev: true}, expiresIn: int(tokenLife.Seconds())})
	st.configure(t, "lease_mode=non_renewable")
	proxy := st.startExampleProxy(t)
	c := proxy.Client(t, 10*time.Second)

	// The control: 20 reads, 20 leases, none from the cache.
	auditFrom := len(vaultharness.ReadLog(st.audit))
	control := readThroughProxy(t, st, c, tokenLife, false, func(n int, _ time.Duration) bool { return n < 20 })
	controlLeases, _ := auditedTokenLeases(t, st.audit, auditFrom)
	controlLive := st.liveTokenLeases(t)
	t.Logf("non_renewable: %d reads, %d served by the proxy's cache, %d leases created (%d live), %d mints",
		control.reads, control.hits, controlLeases, controlLive, st.fake.TokenRequests(chain, fakeresamania.GrantClientCredentials))
	require.Zero(t, control.hits, "the proxy does not cache a non-renewable lease")
	require.Equal(t, control.reads, controlLeases, "one lease per read")
	require.Equal(t, control.reads, controlLive)

	// The control's leases go, so the list at the end shows the soak's alone.
	st.vault.MustCLI(t, "lease", "revoke", "-prefix", tokenPath)
	require.Zero(t, st.liveTokenLeases(t))
	st.configure(t, "lease_mode=renewable")
	mintsFrom := st.fake.TokenRequests(chain, fakeresamania.GrantClientCredentials)
	auditFrom = len(vaultharness.ReadLog(st.audit))

	got := readThroughProxy(t, st, c, tokenLife, true, func(_ int, elapsed time.Duration) bool {
		require.False(t, proxy.Exited(), "vault proxy exited:\n%s", proxy.Log())
		return elapsed < soak
	})
	leases, renewals := auditedTokenLeases(t, st.audit, auditFrom)
	live := st.liveTokenLeases(t)
	mints := st.fake.TokenRequests(chain, fakeresamania.GrantClientCredentials) - mintsFrom
	lives := int(soak/tokenLife) + 1 // token lives begun during the soak
	t.Logf("renewable: %d reads over %s, %d served by the proxy's cache, %d leases created (%d live at the end), %d renewals, %d mints, %d distinct tokens; oldest token served was %s old, the least life left %s",
		got.reads, soak, got.hits, leases, live, renewals, mints, len(got.tokens), got.oldestAge, got.minLeft)
	t.Logf("renewable: reads the cache did not answer:\n%s", strings.Join(got.misses, "\n"))
	t.Logf("proxy log: %d cache hits, %d renewals, %d evictions, %d failed renewals",
		strings.Count(proxy.Log(), "returning cached dynamic secret response"), strings.Count(proxy.Log(), "secret renewed"),
		strings.Count(proxy.Log(), "evicting index from cache"), strings.Count(proxy.Log(), "failed to renew secret"))

	require.Greater(t, got.reads, 250)
	require.GreaterOrEqual(t, len(got.tokens), lives-1, "the proxy passes on the plugin's new tokens")
	// A renewable read takes a token with 45% of its life left: at most one
	// mint per 55% of a token life, plus the first.
	require.LessOrEqual(t, mints, int(soak/(tokenLife*55/100))+1)
	require.Equal(t, got.reads-got.hits, leases, "every read the cache did not answer is one lease")
	// The proxy renews the lease at once and lets go at about 2/3 of what it
	// had left; a renewable read never hands out a token past 55% of its
	// life, so the read after that gets the next token, not a second lease.
	require.LessOrEqual(t, leases, len(got.tokens), "one lease per token, not one per read")
	require.GreaterOrEqual(t, renewals, leases-1, "the proxy renews what it caches")
	require.LessOrEqual(t, live, 2)
}

// startExampleProxy runs examples/proxy.hcl, unchanged but for its
// listener's port, from a folder with the role-id and secret-id files of an
// AppRole role holding the policy of examples/proxy-policy.hcl, and waits
// until the proxy has signed in. The proxy's log is checked for secrets
// once it has stopped.
func (st *stack) startExampleProxy(t *testing.T) *vaultharness.Proxy {
	t.Helper()
	root, err := vaultharness.RepoRoot()
	require.NoError(t, err)
	dir := t.TempDir()
	for _, f := range []string{"proxy.hcl", "proxy-policy.hcl"} {
		require.NoError(t, os.Symlink(filepath.Join(root, "examples", f), filepath.Join(dir, f)))
	}
	// The example says which policy and lease mode it needs.
	example := vaultharness.ReadLog(filepath.Join(dir, "proxy.hcl"))
	policy := vaultharness.ReadLog(filepath.Join(dir, "proxy-policy.hcl"))
	rule := `path "resamania/token/mychain" { capabilities = ["read"] }`
	require.Contains(t, policy, rule)
	require.Contains(t, example, rule)
	require.Contains(t, example, "lease_mode=renewable")

	st.vault.MustCLI(t, "auth", "enable", "approle")
	st.vault.MustCLI(t, "policy", "write", "resamania-reader", filepath.Join(dir, "proxy-policy.hcl"))
	st.vault.MustCLI(t, "write", "auth/approle/role/resamania-proxy", "token_policies=resamania-reader")
	roleID := strings.TrimSpace(st.vault.MustCLI(t, "read", "-field=role_id", "auth/approle/role/resamania-proxy/role-id"))
	secretID := strings.TrimSpace(st.vault.MustCLI(t, "write", "-f", "-field=secret_id", "auth/approle/role/resamania-proxy/secret-id"))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "role-id"), []byte(roleID), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "secret-id"), []byte(secretID), 0o600))

	// Registered before the proxy's own cleanup, so it reads the whole log.
	var proxy *vaultharness.Proxy
	t.Cleanup(func() {
		if proxy != nil {
			testsupport.AssertNoSecret(t, proxy.LogPath, proxy.Log(), append(secretsToHide(st.fake), secretID))
		}
	})
	proxy = vaultharness.StartProxy(t, st.vault, vaultharness.ProxyOptions{ConfigFile: filepath.Join(dir, "proxy.hcl"), ListenAddr: proxyListen})
	proxy.WaitAutoAuth(t, 30*time.Second)
	return proxy
}

// proxyReads is what an application reading through the proxy saw.
type proxyReads struct {
	reads     int
	hits      int           // answered from the proxy's cache (X-Cache: HIT)
	tokens    []string      // distinct access tokens, in order of first sight
	oldestAge time.Duration // the age of the oldest token when it was served
	minLeft   time.Duration // the least life a token had left when it was served
	misses    []string      // the reads the cache did not answer: when, which token, its life left, the new lease
}

// readThroughProxy reads the chain's token, whose tokens live tokenLife,
// with c (a client of the proxy without a Vault token) every 200 ms while
// more(reads so far, time since the first) holds. Every token served must be
// valid at the fake when it arrives, under a lease that is renewable or not
// as wanted.
func readThroughProxy(t *testing.T, st *stack, c *api.Client, tokenLife time.Duration, renewable bool, more func(n int, elapsed time.Duration) bool) proxyReads {
	t.Helper()
	var got proxyReads
	seen := map[string]bool{}
	start := time.Now()
	for got.reads == 0 || more(got.reads, time.Since(start)) {
		resp, err := c.Logical().ReadRaw(tokenPath)
		require.NoError(t, err, "read %d through the proxy", got.reads+1)
		hit := resp.Header.Get("X-Cache") == "HIT"
		sec, err := api.ParseSecret(resp.Body)
		resp.Body.Close()
		require.NoError(t, err)
		now := time.Now()
		got.reads++
		if hit {
			got.hits++
		}

		require.NotNil(t, sec)
		tok, _ := sec.Data["access_token"].(string)
		require.True(t, st.fake.AccessTokenValid(tok), "read %d (cache hit %v) returned an expired or unknown token at %s", got.reads, hit, now.Format(time.RFC3339Nano))
		require.NotEmpty(t, sec.LeaseID)
		require.Equal(t, renewable, sec.Renewable)
		expiresAt, err := time.Parse(time.RFC3339, sec.Data["expires_at"].(string))
		require.NoError(t, err)
		left := expiresAt.Sub(now)
		if got.reads == 1 || left < got.minLeft {
			got.minLeft = left
		}
		got.oldestAge = max(got.oldestAge, tokenLife-left)
		if !seen[tok] {
			seen[tok] = true
			got.tokens = append(got.tokens, tok)
		}
		if !hit {
			got.misses = append(got.misses, fmt.Sprintf("at %5.1fs token %d (%s left): lease of %ds",
				now.Sub(start).Seconds(), slices.Index(got.tokens, tok)+1, left.Round(100*time.Millisecond), sec.LeaseDuration))
		}
		time.Sleep(200 * time.Millisecond)
	}
	return got
}

// auditedTokenLeases counts, in the audit log from byte offset from on, the
// distinct leases the chain's token reads created and the renewals Vault
// answered. The audit log holds every lease, also those that have ended.
func auditedTokenLeases(t *testing.T, auditLog string, from int) (leases, renewals int) {
	t.Helper()
	text := vaultharness.ReadLog(auditLog)
	require.GreaterOrEqual(t, len(text), from)
	ids := map[string]bool{}
	sc := bufio.NewScanner(strings.NewReader(text[from:]))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var e struct {
			Type    string `json:"type"`
			Error   string `json:"error"`
			Request struct {
				Path string `json:"path"`
			} `json:"request"`
			Response struct {
				Secret struct {
					LeaseID string `json:"lease_id"`
				} `json:"secret"`
			} `json:"response"`
		}
		require.NoError(t, json.Unmarshal(sc.Bytes(), &e), sc.Text())
		switch {
		case e.Type != "response" || e.Error != "":
		case e.Request.Path == tokenPath && e.Response.Secret.LeaseID != "":
			ids[e.Response.Secret.LeaseID] = true
		case e.Request.Path == "sys/leases/renew":
			renewals++
		}
	}
	require.NoError(t, sc.Err())
	return len(ids), renewals
}

// liveTokenLeases is the number of the chain's token leases Vault holds now
// (`vault list sys/leases/lookup/<token path>/`): leases that have ended are
// gone from it.
func (st *stack) liveTokenLeases(t *testing.T) int {
	t.Helper()
	stdout, stderr, err := st.vault.CLI(t, "list", "-format=json", "sys/leases/lookup/"+tokenPath+"/")
	if err != nil && (strings.TrimSpace(stdout) == "{}" || strings.Contains(stderr, "No value found")) {
		return 0
	}
	require.NoError(t, err, stderr)
	var keys []string
	require.NoError(t, json.Unmarshal([]byte(stdout), &keys), stdout)
	return len(keys)
}
