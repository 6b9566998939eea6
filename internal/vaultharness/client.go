package vaultharness

import (
	"time"

	"github.com/hashicorp/vault/api"
)

// newClient builds an API client for addr. It ignores VAULT_AGENT_ADDR and
// VAULT_NAMESPACE from the environment: requests must go to this server.
func newClient(addr, token string, maxRetries int, timeout time.Duration) (*api.Client, error) {
	cfg := api.DefaultConfig()
	cfg.Error = nil // a bad VAULT_* variable in the test environment is irrelevant here
	cfg.Address = addr
	cfg.AgentAddress = ""
	cfg.MaxRetries = maxRetries
	cfg.Timeout = timeout
	c, err := api.NewClient(cfg)
	if err != nil {
		return nil, err
	}
	c.SetToken(token)
	c.ClearNamespace()
	return c, nil
}

// health asks sys/health once. The api client maps every status code to a
// response body (uninitialised, sealed, standby), so an error here means the
// listener is not answering yet.
func health(addr string) (*api.HealthResponse, error) {
	c, err := newClient(addr, "", 0, 2*time.Second)
	if err != nil {
		return nil, err
	}
	return c.Sys().Health()
}

// isActive reports an initialised, unsealed, active (not standby) node.
func isActive(h *api.HealthResponse) bool {
	return h != nil && h.Initialized && !h.Sealed && !h.Standby && !h.PerformanceStandby
}

// isUnsealed reports an initialised, unsealed node, active or standby.
func isUnsealed(h *api.HealthResponse) bool { return h != nil && h.Initialized && !h.Sealed }

// answering accepts any sys/health answer: the listener is up.
func answering(*api.HealthResponse) bool { return true }
