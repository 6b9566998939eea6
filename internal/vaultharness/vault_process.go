package vaultharness

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"
)

// Process is one `vault server` (or `bao server`) process on 127.0.0.1 and how a test reaches
// it: address, root token, API client, CLI and log. A Server is one; a
// cluster Node holds one. Starting it again reuses its ports, config, data
// and log.
type Process struct {
	Addr       string      // http://127.0.0.1:<Port>
	Port       int         // API port; the cluster port is Port+1
	RootToken  string      // "root" in dev mode
	UnsealKey  string      // base64 unseal key; empty in dev mode
	LogPath    string      // stdout+stderr, appended across restarts
	ConfigPath string      // HCL config file passed with -config
	Client     *api.Client // authenticated with RootToken
	PluginDir  string      // plugin_directory, absolute; "" for none
	DataDir    string      // storage lives here; "" in dev mode
	Flavor     Flavor      // Vault or OpenBao: which binary runs, server and CLI

	name string   // "vault server", "bao server" or the node id, for messages
	bin  string   // the vault or bao binary
	env  []string // the environment of every start

	mu        sync.Mutex
	proc      *child       // nil when not started or stopped; guarded by mu
	audits    int          // file audit devices enabled, to give each a unique path; guarded by mu
	cliStderr bytes.Buffer // what every CLI call printed to stderr; guarded by mu
}

// listenOn sets the API port (the cluster listener takes the next one).
func (v *Process) listenOn(port int) {
	v.Port = port
	v.Addr = fmt.Sprintf("http://127.0.0.1:%d", port)
}

// connect builds the root-token API client once RootToken is known.
func (v *Process) connect() error {
	c, err := newClient(v.Addr, v.RootToken, 2, CLITimeout)
	if err != nil {
		return err
	}
	v.Client = c
	return nil
}

// Log returns the log so far (all starts of this process).
func (v *Process) Log() string { return ReadLog(v.LogPath) }

// WaitForLog waits until the log contains substr, failing the test after
// timeout or as soon as the process has gone, since nothing more is written
// then.
func (v *Process) WaitForLog(t testing.TB, substr string, timeout time.Duration) {
	t.Helper()
	err := waitUntil(timeout, "log line "+substr, func() (bool, error) {
		if strings.Contains(v.Log(), substr) {
			return true, nil
		}
		if err := v.gone(); err != nil && !strings.Contains(v.Log(), substr) {
			return true, err
		}
		return false, nil
	})
	if err != nil {
		fatalAfterTails(t, tailOf(v.LogPath, 40), "%s: %v", v.LogPath, err)
	}
}

// Health is sys/health's answer (any status), or an error when the server
// does not answer.
func (v *Process) Health() (*api.HealthResponse, error) { return health(v.Addr) }

// NewClientNoRetry returns a client of this server with the root token, no
// retries and the given timeout: what a test needs to see each failure as it
// happens, e.g. during a failover.
func (v *Process) NewClientNoRetry(t testing.TB, timeout time.Duration) *api.Client {
	t.Helper()
	c, err := newClient(v.Addr, v.RootToken, 0, timeout)
	if err != nil {
		t.Fatalf("vault client: %v", err)
	}
	return c
}
