package vaultharness

import (
	"cmp"
	"fmt"
	"path/filepath"
	"testing"
	"time"
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
	// ExtraConfig is HCL appended to the server's config file, e.g.
	// OpenBao's declarative `plugin "secret" "<name>" {...}` block.
	ExtraConfig string
}

// Server is one running `vault server` on its own: a dev server, or file
// storage that the harness initialises and unseals.
type Server struct {
	*Process
	Dev bool

	logLevel    string
	extraConfig string
}

// StartServer starts a Vault server on a free loopback port and waits until
// it is initialised, unsealed and active. The server is stopped in t.Cleanup.
func StartServer(t testing.TB, opts Options) *Server {
	t.Helper()
	bin := Require(t)
	flavor := SelectedFlavor(t)
	dir := t.TempDir()
	s := &Server{Dev: opts.Dev, logLevel: cmp.Or(opts.LogLevel, "trace"), extraConfig: opts.ExtraConfig, Process: &Process{
		name:       flavor.Command() + " server",
		bin:        bin,
		Flavor:     flavor,
		env:        append(baseEnv(), opts.ExtraEnv...),
		LogPath:    filepath.Join(dir, "vault-server.log"),
		ConfigPath: filepath.Join(dir, "vault-server.hcl"),
		PluginDir:  absPluginDir(t, opts.PluginDir),
		DataDir:    opts.DataDir,
	}}
	if s.Dev {
		s.DataDir = ""
	} else if s.DataDir == "" {
		s.DataDir = t.TempDir()
	}
	// Registered before the first start so a failed start is cleaned too,
	// and after the TempDirs so it runs before they are removed.
	t.Cleanup(s.Stop)

	start := time.Now()
	err := retryOnPortClash(func() error {
		port, err := freePortPair()
		if err != nil {
			return err
		}
		s.listenOn(port)
		return s.launch()
	}, s.Stop, s.Log)
	if err != nil {
		fatalAfterTails(t, tailOf(s.LogPath, 60), "%s did not start: %v", s.name, err)
	}
	t.Logf("%s (dev=%v) at %s healthy after %s; log %s", s.name, s.Dev, s.Addr, time.Since(start).Round(time.Millisecond), s.LogPath)
	return s
}

// launch writes the config, starts the process on s.Port and brings it to
// active, initialising and unsealing file storage as needed.
func (s *Server) launch() error {
	cfg := serverConfig{Port: s.Port, PluginDir: s.PluginDir, LogLevel: s.logLevel, Dev: s.Dev, Flavor: s.Flavor, Extra: s.extraConfig}
	var devFlags []string
	if s.Dev {
		devFlags = []string{
			"-dev",
			"-dev-root-token-id=" + DevRootToken,
			"-dev-listen-address=" + fmt.Sprintf("127.0.0.1:%d", s.Port),
			"-dev-no-store-token", // never write ~/.vault-token
			"-log-level=" + s.logLevel,
		}
	} else {
		cfg.Storage = fileStorage(s.DataDir)
	}
	if err := writeConfig(s.ConfigPath, cfg); err != nil {
		return err
	}
	if err := s.start(devFlags...); err != nil {
		return err
	}
	deadline := time.Now().Add(StartTimeout)
	if s.Dev {
		s.RootToken = DevRootToken
	} else if err := s.initOrUnseal(deadline); err != nil {
		return err
	}
	if _, err := s.waitHealth(deadline, "active and unsealed", isActive); err != nil {
		return err
	}
	return s.connect()
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
		fatalAfterTails(t, tailOf(s.LogPath, 60), "%s restart: %v", s.name, err)
	}
	t.Logf("%s at %s restarted in %s", s.name, s.Addr, time.Since(start).Round(time.Millisecond))
}
