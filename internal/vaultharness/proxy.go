package vaultharness

import (
	"cmp"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"
)

// ProxyOptions configures StartProxy.
type ProxyOptions struct {
	// ConfigFile is the proxy's config, e.g. an example file symlinked into
	// the test's folder. The proxy runs in that folder, so relative paths in
	// the config resolve there, as when an operator runs it from the folder.
	ConfigFile string
	// ListenAddr is the address of the config's listener "tcp", host:port,
	// as the file writes it. The quoted string ("host:port") must occur once
	// in the file; comments may name the address unquoted. The harness runs
	// a copy of the file, written beside it, in which that string is a free
	// loopback port: the only change made to the config.
	ListenAddr string
	// LogLevel is the proxy's -log-level; default "debug", where its lease
	// cache says what it caches, renews and evicts.
	LogLevel string
	// Env is appended to the proxy's environment (KEY=VALUE). VAULT_ADDR is
	// the server's address.
	Env []string
}

// Proxy is one running `vault proxy` process.
type Proxy struct {
	ConfigFile string // the config run: ConfigFile with its listener's port replaced
	Addr       string // http://127.0.0.1:<port>, the listener
	LogPath    string // proxy stdout+stderr

	proc *child
}

// StartProxy runs `vault proxy -config=<copy of opts.ConfigFile>` in the
// config's folder with VAULT_ADDR set to s.Addr, and waits until its
// listener answers (sys/health, proxied to the server). Auto-auth may still
// be under way then: see WaitAutoAuth. The proxy is stopped in t.Cleanup.
func StartProxy(t testing.TB, s *Server, opts ProxyOptions) *Proxy {
	t.Helper()
	bin := Require(t)
	raw, err := os.ReadFile(opts.ConfigFile)
	if err != nil {
		t.Fatalf("vault proxy: %v", err)
	}
	quoted := `"` + opts.ListenAddr + `"`
	if n := strings.Count(string(raw), quoted); opts.ListenAddr == "" || n != 1 {
		t.Fatalf("vault proxy: %s holds the listener address %s %d times, want once", opts.ConfigFile, quoted, n)
	}
	dir, base := filepath.Dir(opts.ConfigFile), filepath.Base(opts.ConfigFile)
	p := &Proxy{LogPath: filepath.Join(t.TempDir(), "vault-proxy.log")}
	env := append(append(baseEnv(), s.Flavor.addrEnv(s.Addr, "")...), opts.Env...)
	args := []string{"proxy", "-log-level=" + cmp.Or(opts.LogLevel, "debug")}
	// Registered before the first start so a failed start is cleaned too,
	// and after the log's TempDir so it runs before that is removed.
	t.Cleanup(p.Stop)

	start := time.Now()
	err = retryOnPortClash(func() error {
		port, err := freePortPair() // one port is enough; the pair is the harness's probe
		if err != nil {
			return err
		}
		addr := fmt.Sprintf("127.0.0.1:%d", port)
		p.Addr = "http://" + addr
		p.ConfigFile = filepath.Join(dir, fmt.Sprintf("vaultharness-%d-%s", port, base))
		config := strings.Replace(string(raw), quoted, `"`+addr+`"`, 1)
		if err := os.WriteFile(p.ConfigFile, []byte(config), 0o600); err != nil {
			return err
		}
		p.proc, err = startChild(dir, bin, append(args, "-config="+filepath.Base(p.ConfigFile)), env, p.LogPath)
		if err != nil {
			return err
		}
		return waitUntil(StartTimeout, "vault proxy listening on "+addr, func() (bool, error) {
			if err := p.proc.exitErr(); err != nil {
				return true, err
			}
			_, err := health(p.Addr)
			return err == nil, err
		})
	}, p.Stop, p.Log)
	if err != nil {
		fatalAfterTails(t, tailOf(p.LogPath, 40), "vault proxy did not start: %v", err)
	}
	t.Logf("vault proxy at %s listening after %s; config %s; log %s", p.Addr, time.Since(start).Round(time.Millisecond), p.ConfigFile, p.LogPath)
	return p
}

// Stop stops the proxy: SIGTERM, a bounded wait, then SIGKILL. Safe to call
// more than once.
func (p *Proxy) Stop() {
	if p.proc != nil {
		p.proc.stop(StopTimeout)
	}
}

// Exited reports whether the proxy process has exited.
func (p *Proxy) Exited() bool { return p.proc.exited() }

// Log returns the proxy log so far.
func (p *Proxy) Log() string { return ReadLog(p.LogPath) }

// Client is an API client of the proxy that sends no Vault token, so the
// proxy uses its auto-auth token (api_proxy { use_auto_auth_token = true }),
// as an application behind it does. It makes no retries, so a test sees
// every answer.
func (p *Proxy) Client(t testing.TB, timeout time.Duration) *api.Client {
	t.Helper()
	c, err := newClient(p.Addr, "", 0, timeout)
	if err != nil {
		t.Fatalf("vault proxy client: %v", err)
	}
	c.ClearToken()
	return c
}

// WaitAutoAuth waits until the proxy has authenticated: a token lookup-self
// sent without a token succeeds (the default policy allows it, and it
// creates no lease). It fails the test after timeout or if the proxy exited.
func (p *Proxy) WaitAutoAuth(t testing.TB, timeout time.Duration) {
	t.Helper()
	c := p.Client(t, 5*time.Second)
	err := waitUntil(timeout, "vault proxy auto-auth", func() (bool, error) {
		if err := p.proc.exitErr(); err != nil {
			return true, err
		}
		_, err := c.Auth().Token().LookupSelf()
		return err == nil, err
	})
	if err != nil {
		fatalAfterTails(t, tailOf(p.LogPath, 40), "vault proxy: %v", err)
	}
}
