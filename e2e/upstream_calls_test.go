package e2e

import (
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/resamania-oss/vault-plugin-secrets-resamania/internal/fakeresamania"
)

var pluginUserAgentPID = regexp.MustCompile(`^vault-plugin-secrets-resamania/\S+ \(pid (\d+)\)$`)

// attributedCall is one request the fake received, attributed to a node.
type attributedCall struct {
	fakeresamania.RecordedRequest
	pid  int
	node int // -1: a pid no node's log names
}

// upstreamCalls attributes every request the fake received to the node whose
// plugin process sent it: the pid in the User-Agent, looked up among the
// plugin pids each node's log names.
func (cs *clusterStack) upstreamCalls(t *testing.T) []attributedCall {
	t.Helper()
	owners := cs.cluster.PluginPIDOwners()
	var calls []attributedCall
	for _, r := range cs.fake.Requests() {
		ua := r.Header.Get("User-Agent")
		m := pluginUserAgentPID.FindStringSubmatch(ua)
		require.NotNil(t, m, "User-Agent %q does not name the plugin's pid", ua)
		pid, _ := strconv.Atoi(m[1])
		node, ok := owners[pid]
		if !ok {
			node = -1
		}
		calls = append(calls, attributedCall{RecordedRequest: r, pid: pid, node: node})
	}
	return calls
}

// describeCallsPerNode counts calls by node, for the log.
func describeCallsPerNode(calls []attributedCall) string {
	counts := make([]int, clusterSize)
	var unknown int
	for _, c := range calls {
		if c.node < 0 {
			unknown++
			continue
		}
		counts[c.node]++
	}
	var parts []string
	for i, n := range counts {
		parts = append(parts, fmt.Sprintf("node%d=%d", i, n))
	}
	if unknown > 0 {
		parts = append(parts, fmt.Sprintf("unknown=%d", unknown))
	}
	return strings.Join(parts, " ")
}

// requireCallsFrom: every upstream call came from node's plugin.
func requireCallsFrom(t *testing.T, calls []attributedCall, node int) {
	t.Helper()
	require.NotEmpty(t, calls)
	for _, c := range calls {
		require.Equal(t, node, c.node, "%s call at %s from pid %d: only the active node%d may call Resamania (%s)",
			c.GrantType, c.Time.Format(time.StampMilli), c.pid, node, describeCallsPerNode(calls))
	}
}

// requireNoRefreshTokenReused: every refresh was answered 200 (the fake
// answers a reused or lost refresh token with invalid_grant), no refresh
// token was sent twice, and every code exchange succeeded. It returns the
// number of refreshes.
func requireNoRefreshTokenReused(t *testing.T, calls []attributedCall) (refreshes int) {
	t.Helper()
	seen := map[string]bool{}
	for _, c := range calls {
		switch c.GrantType {
		case "refresh_token":
			refreshes++
			require.Equal(t, http.StatusOK, c.Status, "refresh at %s from node%d: a refresh token was reused or lost", c.Time.Format(time.StampMilli), c.node)
			rt := c.Form.Get("refresh_token")
			require.NotEmpty(t, rt)
			require.False(t, seen[rt], "refresh token sent twice (at %s, node%d)", c.Time.Format(time.StampMilli), c.node)
			seen[rt] = true
		case "authorization_code":
			require.Equal(t, http.StatusOK, c.Status, "code exchange at %s", c.Time.Format(time.StampMilli))
		}
	}
	return refreshes
}

// countGrants counts the calls of one grant type.
func countGrants(calls []attributedCall, grantType string) int {
	n := 0
	for _, c := range calls {
		if c.GrantType == grantType {
			n++
		}
	}
	return n
}
