package vaultharness

import (
	"bytes"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"
)

// DevRootToken is the root token of every dev-mode server.
const DevRootToken = "root"

// Options configures StartServer.
type Options struct {
	// Dev runs `vault server -dev` (in-memory storage, root token "root",
	// kv-v2 at secret/). Otherwise the server uses file storage and is
	// initialised (1 key share) and unsealed by the harness.
	Dev bool
	// PluginDir becomes plugin_directory. Empty means no plugin directory.
	PluginDir string
	// DataDir holds file storage (DataDir/storage) and the saved root token
	// and unseal key (DataDir/vaultharness-init.json). Starting a server on a
	// DataDir used before is a restart that keeps the data. Empty means a
	// fresh t.TempDir(). Ignored in dev mode.
	DataDir string
	// LogLevel is Vault's log level; default "trace".
	LogLevel string
	// ExtraEnv is appended to the server's environment (KEY=VALUE).
	ExtraEnv []string
}

// Server is one running `vault server` process on 127.0.0.1.
type Server struct {
	Addr       string      // http://127.0.0.1:<Port>
	Port       int         // API port; the cluster port is Port+1
	RootToken  string      // "root" in dev mode
	UnsealKey  string      // base64 unseal key; empty in dev mode
	LogPath    string      // server stdout+stderr, appended across restarts
	ConfigPath string      // HCL config file passed with -config
	Client     *api.Client // authenticated with RootToken
	Dev        bool
	PluginDir  string
	DataDir    string

	bin      string
	logLevel string
	extraEnv []string

	mu        sync.Mutex
	proc      *process
	audits    int          // file audit devices enabled, to give each a unique path
	cliStderr bytes.Buffer // what every CLI call printed to stderr; guarded by mu
}

// StartServer starts a Vault server on a free loopback port and waits until
// it is initialised, unsealed and active. The server is stopped in t.Cleanup.
func StartServer(t testing.TB, opts Options) *Server {
	t.Helper()
	bin := Require(t)
	s := &Server{
		Dev:       opts.Dev,
		PluginDir: opts.PluginDir,
		DataDir:   opts.DataDir,
		bin:       bin,
		logLevel:  opts.LogLevel,
		extraEnv:  opts.ExtraEnv,
	}
	if s.logLevel == "" {
		s.logLevel = "trace"
	}
	if s.PluginDir != "" {
		abs, err := filepath.Abs(s.PluginDir)
		if err != nil {
			t.Fatalf("plugin dir: %v", err)
		}
		s.PluginDir = abs
	}
	if s.Dev {
		s.DataDir = ""
	} else if s.DataDir == "" {
		s.DataDir = t.TempDir()
	}
	dir := t.TempDir()
	s.LogPath = filepath.Join(dir, "vault-server.log")
	s.ConfigPath = filepath.Join(dir, "vault-server.hcl")
	// Registered before the first start so a failed start is cleaned too,
	// and after the TempDirs so it runs before they are removed.
	t.Cleanup(s.Stop)

	var err error
	for attempt := 1; attempt <= 3; attempt++ {
		if s.Port, err = freePortPair(); err != nil {
			t.Fatalf("vault server: %v", err)
		}
		start := time.Now()
		err = s.launch()
		if err == nil {
			t.Logf("vault server (dev=%v) at %s healthy after %s; log %s", s.Dev, s.Addr, time.Since(start).Round(time.Millisecond), s.LogPath)
			return s
		}
		s.Stop()
		// Another process may have taken the port between the probe and
		// Vault's bind; only that case is worth another try.
		if !strings.Contains(ReadLog(s.LogPath), "address already in use") {
			break
		}
	}
	t.Fatalf("vault server did not start: %v\n--- %s (tail) ---\n%s", err, s.LogPath, logTail(s.LogPath, 60))
	return nil
}

// launch starts the process on s.Port and brings it to active, initialising
// and unsealing file storage as needed.
func (s *Server) launch() error {
	s.Addr = fmt.Sprintf("http://127.0.0.1:%d", s.Port)
	if err := writeServerConfig(s.ConfigPath, s); err != nil {
		return err
	}
	args := []string{"server", "-config=" + s.ConfigPath}
	if s.Dev {
		args = append(args,
			"-dev",
			"-dev-root-token-id="+DevRootToken,
			"-dev-listen-address="+fmt.Sprintf("127.0.0.1:%d", s.Port),
			"-dev-no-store-token", // never write ~/.vault-token
			"-log-level="+s.logLevel,
		)
	}
	env := append(baseEnv(), s.extraEnv...)
	p, err := startProcess(s.bin, args, env, s.LogPath)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.proc = p
	s.mu.Unlock()

	deadline := time.Now().Add(StartTimeout)
	if s.Dev {
		s.RootToken = DevRootToken
	} else if err := s.initAndUnseal(p, deadline); err != nil {
		return err
	}
	if err := waitUntil(time.Until(deadline), "an active, unsealed server", func() (bool, error) {
		if p.exited() {
			return true, errExited(p)
		}
		h, err := health(s.Addr)
		return isActive(h), err
	}); err != nil {
		return err
	}
	client, err := newClient(s.Addr, s.RootToken, 2, CLITimeout)
	if err != nil {
		return err
	}
	s.Client = client
	return nil
}

// Stop stops the server: SIGTERM, a bounded wait, then SIGKILL of its
// process group (plugins included). Safe to call more than once.
func (s *Server) Stop() {
	s.mu.Lock()
	p := s.proc
	s.proc = nil
	s.mu.Unlock()
	if p != nil {
		p.stop(StopTimeout)
	}
}

// Restart stops the server and starts it again on the same port. With file
// storage the data is kept and the server is unsealed again with the saved
// key; a dev server comes back empty (same root token "root").
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	s.Stop()
	start := time.Now()
	if err := s.launch(); err != nil {
		s.Stop()
		t.Fatalf("vault server restart: %v\n--- %s (tail) ---\n%s", err, s.LogPath, logTail(s.LogPath, 60))
	}
	t.Logf("vault server at %s restarted in %s", s.Addr, time.Since(start).Round(time.Millisecond))
}

// Log returns the server log so far (all starts of this Server).
func (s *Server) Log() string { return ReadLog(s.LogPath) }

// WaitForLog waits until the server log contains substr, failing the test
// after timeout or when the server has exited.
func (s *Server) WaitForLog(t testing.TB, substr string, timeout time.Duration) {
	t.Helper()
	s.mu.Lock()
	p := s.proc
	s.mu.Unlock()
	waitForLog(t, p, s.LogPath, substr, timeout)
}

// storagePath is where file storage lives inside a data dir; the saved init
// material sits beside it, not inside, so Vault never lists it as a key.
func storagePath(dataDir string) string { return filepath.Join(dataDir, "storage") }
