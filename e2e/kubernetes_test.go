package e2e

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/resamania-oss/vault-plugin-secrets-resamania/internal/fakeresamania"
	"github.com/resamania-oss/vault-plugin-secrets-resamania/internal/testsupport"
	"github.com/resamania-oss/vault-plugin-secrets-resamania/internal/vaultharness"
)

// The Vault Secrets Operator (VSO) 1.4.1 against a real Kubernetes API
// server (no kubelet: no pod runs) and the plugin in a real Vault or
// OpenBao, with examples/kubernetes/ applied and tokens that live 24 s.
// For three token lives every Secret holds a valid token the fake issued
// and gets the next before it expires, in each lease mode: the examples'
// lease_mode=none with allowStaticCreds (a chain token, a club token, a
// member credential), non_renewable and renewable leases, and
// lease_mode=none with refreshAfter. Resamania is asked for at most one
// token per refresh period of each; VSO restarts the Deployment that reads
// its token once exactly once per new token, and the one that re-reads its
// file never. Then a config update reaches the Secret at VSO's next read; a
// deleted chain fails the sync and leaves the last token in the Secret, and
// configured again, syncs again. No secret reaches a log, an event or a
// status.
func TestVaultSecretsOperatorKeepsTokensFresh(t *testing.T) {
	t.Parallel() // most of it waits for token lives
	start := time.Now()
	ks := newKubeStack(t)
	ks.waitForSecrets(t, time.Minute)
	t.Logf("every Secret synced %s after the VaultDynamicSecrets were created (%s after the test began)",
		time.Since(ks.synced).Round(time.Millisecond), time.Since(start).Round(time.Second))

	watch := 3 * kubeTokenLife
	seen := ks.watchSecrets(t, watch)
	end := time.Now()
	reads := auditedPaths(t, ks.audit)
	total := 0
	for _, s := range vsoSecrets {
		got := seen[s.name]
		mints := ks.mintsBetween(s.chain, s.grant, ks.synced, end)
		total += mints
		t.Logf("%s (%s): %d tokens over %s, least life left at any poll %s, %d token requests to Resamania since its creation %s before, %d reads of its path in Vault's audit log",
			s.name, s.chain, len(got.tokens), watch, got.leastLeft.Round(100*time.Millisecond), mints,
			end.Sub(ks.synced).Round(time.Second), reads[vdsVaultPath(s)])
		require.Empty(t, got.stale, "%s held an expired token at these polls", s.name)
		require.GreaterOrEqual(t, len(got.tokens), int(watch/kubeTokenLife)+1, "%s: a new token at least once per token life", s.name)
		for i := 1; i < len(got.tokens); i++ {
			prev, next := got.tokens[i-1], got.tokens[i]
			require.True(t, got.firstSeen[next].Before(got.expiry[prev]), "%s: token %d replaced only after its predecessor expired", s.name, i)
		}
		require.Positive(t, got.leastLeft, "%s: re-synced before its token expired", s.name)
		require.LessOrEqual(t, mints, int(end.Sub(ks.synced)/s.minMintGap)+1, "%s: at most one token request per %s", s.name, s.minMintGap)
	}
	t.Logf("Resamania: %d token requests in all for the %d Secrets; Vault: %d lease renewals", total, len(vsoSecrets), reads["sys/leases/renew"])

	ks.checkRestarts(t)
	ks.checkUpdateAndDelete(t)
	ks.checkNoSecretInObjects(t)
	t.Logf("the test took %s", time.Since(start).Round(time.Second))
}

// checkRestarts: the club token's Deployment (club-kiosk) restarted once
// per club token Resamania issued, its first included; the leased token's
// at least as often (VSO restarts on every leased read, new token or not);
// resamania-app, which re-reads its file, never.
func (ks *kubeStack) checkRestarts(t *testing.T) {
	t.Helper()
	club := ks.quietMoment(t, chain, fakeresamania.GrantClubCredentials)
	generation, restartedAt := ks.deploymentGeneration(t, "club-kiosk")
	require.Equal(t, club, ks.fake.TokenRequests(chain, fakeresamania.GrantClubCredentials), "a club token was issued while the Deployment was read")
	t.Logf("club-kiosk: %d restarts for %d club tokens; last restartedAt %s", generation-1, club, restartedAt)
	require.Equal(t, club, generation-1, "club-kiosk restarts once per new club token")
	_, err := time.Parse(time.RFC3339, restartedAt)
	require.NoError(t, err, "VSO's restartedAt annotation")

	leased, _ := ks.deploymentGeneration(t, "leased-kiosk")
	leasedMints := ks.fake.TokenRequests(leasedChain, fakeresamania.GrantClientCredentials)
	t.Logf("leased-kiosk: %d restarts for %d leased-chain tokens", leased-1, leasedMints)
	require.GreaterOrEqual(t, leased-1, leasedMints-1, "a leased token's Deployment restarts on each new token")

	app, _ := ks.deploymentGeneration(t, "resamania-app")
	require.Equal(t, 1, app, "resamania-app, which re-reads its file, is never restarted")
}

// quietMoment waits until the last token of chain and grant was issued at
// least 1.5 s ago (VSO has written it and restarted its target) and its
// successor is at least 1.5 s away, and returns how many were issued.
func (ks *kubeStack) quietMoment(t *testing.T, chainName, grant string) int {
	t.Helper()
	deadline := time.Now().Add(kubeTokenLife)
	for time.Now().Before(deadline) {
		var last time.Time
		n := 0
		for _, r := range ks.fake.Requests() {
			if r.ClientToken == chainName && r.GrantType == grant {
				n, last = n+1, r.Time
			}
		}
		since, next := time.Since(last), last.Add(staticMintGap).Sub(time.Now())
		if since > 1500*time.Millisecond && next > 1500*time.Millisecond {
			return n
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("no quiet moment between two tokens of %s in %s", chainName, kubeTokenLife)
	return 0
}

// checkUpdateAndDelete: a config update that changes how tokens are minted
// (the leased chain's scope) reaches its Secret at VSO's next read; a
// deleted chain (the refreshAfter one) fails VSO's next sync, which says so
// in the VaultDynamicSecret's status and leaves the last token in the
// Secret; configured again, VSO's retry syncs a new token.
func (ks *kubeStack) checkUpdateAndDelete(t *testing.T) {
	t.Helper()
	const scope = "kube-e2e"
	before := ks.kube.SecretData(t, appNamespace, "resamania-refresh-token")["access_token"]
	ks.configureChain(t, leasedChain, "scope="+scope)
	updated := time.Now()
	ks.vault.MustCLI(t, "delete", mount+"/config/"+refreshChain)
	deleted := time.Now()

	var failure string
	require.Eventually(t, func() bool {
		failure = syncFailure(ks.kube.MustGet(t, vdsPath("resamania-refresh-token")))
		return failure != ""
	}, 20*time.Second, watchPoll, "the deleted chain's VaultDynamicSecret never reported a failed sync")
	t.Logf("deleted chain: VSO reported %s after the delete: %s", time.Since(deleted).Round(100*time.Millisecond), failure)
	require.Contains(t, failure, refreshChain, "the failure names the chain")
	require.Equal(t, before, ks.kube.SecretData(t, appNamespace, "resamania-refresh-token")["access_token"],
		"a failed sync leaves the last token in the Secret")

	leaseHorizon := (kubeTokenLife * 9 / 10) * 77 / 100 // VSO reads again at most 77 % into a lease
	require.Eventually(t, func() bool {
		return ks.kube.SecretData(t, appNamespace, "resamania-leased-token")["scope"] == scope
	}, leaseHorizon+3*time.Second, watchPoll, "the leased chain's new scope never reached its Secret")
	tok := ks.kube.SecretData(t, appNamespace, "resamania-leased-token")["access_token"]
	exp, _ := ks.fake.AccessTokenExpiry(tok)
	require.True(t, exp.Add(-kubeTokenLife).After(updated.Add(-time.Second)), "the token with the new scope was minted after the update")
	t.Logf("config update: the new scope reached the Secret %s after the write", time.Since(updated).Round(100*time.Millisecond))

	ks.configureChain(t, refreshChain, "lease_mode=none")
	reconfigured := time.Now()
	require.Eventually(t, func() bool {
		return ks.kube.SecretData(t, appNamespace, "resamania-refresh-token")["access_token"] != before
	}, 40*time.Second, watchPoll, "the chain configured again never synced")
	t.Logf("deleted chain configured again: a new token in the Secret %s later", time.Since(reconfigured).Round(100*time.Millisecond))
}

// syncFailure is the message of a VaultDynamicSecret's SecretSynced
// condition when it is False, "" otherwise.
func syncFailure(vds map[string]any) string {
	conds, _ := vaultharness.Nested(vds, "status", "conditions").([]any)
	for _, c := range conds {
		m, _ := c.(map[string]any)
		if m["type"] == "SecretSynced" && m["status"] == "False" {
			msg, _ := m["message"].(string)
			return msg
		}
	}
	return ""
}

// checkNoSecretInObjects: the events VSO recorded and the statuses of the
// VaultDynamicSecrets hold no secret (the Secrets themselves hold tokens).
func (ks *kubeStack) checkNoSecretInObjects(t *testing.T) {
	t.Helper()
	secrets := append(secretsToHide(ks.fake), ks.secretID)
	for _, path := range []string{
		vaultharness.ResourcePath("v1", "Event", appNamespace, ""),
		vaultharness.ResourcePath("secrets.hashicorp.com/v1beta1", "VaultDynamicSecret", appNamespace, ""),
		vaultharness.ResourcePath("secrets.hashicorp.com/v1beta1", "VaultAuth", appNamespace, ""),
	} {
		status, body, err := ks.kube.Do("GET", path, "", nil)
		require.NoError(t, err)
		require.Equal(t, 200, status, "%s: %s", path, body)
		require.Contains(t, string(body), `"items":[{`, "%s lists nothing: the scan would prove nothing", path)
		testsupport.AssertNoSecret(t, path, string(body), secrets)
	}
}

// mintsBetween counts the token requests of chain and grant sent to the
// fake between from and to.
func (ks *kubeStack) mintsBetween(chainName, grant string, from, to time.Time) int {
	n := 0
	for _, r := range ks.fake.Requests() {
		if r.ClientToken == chainName && r.GrantType == grant && !r.Time.Before(from) && !r.Time.After(to) {
			n++
		}
	}
	return n
}

// vdsVaultPath is the Vault path a VaultDynamicSecret reads.
func vdsVaultPath(s vsoSecret) string {
	switch s.grant {
	case fakeresamania.GrantClubCredentials:
		return clubsPrefix + "1234"
	case fakeresamania.GrantRefreshToken:
		return credsPrefix + member
	}
	return mount + "/token/" + s.chain
}

// auditedPaths counts the successful requests of each path in the audit log, any operation.
func auditedPaths(t *testing.T, auditLog string) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, line := range strings.Split(strings.TrimSpace(vaultharness.ReadLog(auditLog)), "\n") {
		var e struct {
			Type    string `json:"type"`
			Error   string `json:"error"`
			Request struct {
				Path string `json:"path"`
			} `json:"request"`
		}
		require.NoError(t, json.Unmarshal([]byte(line), &e), line)
		if e.Type == "response" && e.Error == "" {
			out[e.Request.Path]++
		}
	}
	return out
}
