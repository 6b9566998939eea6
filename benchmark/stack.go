package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/resamania-oss/vault-plugin-secrets-resamania/internal/fakeresamania"
	"github.com/resamania-oss/vault-plugin-secrets-resamania/internal/vaultharness"
)

// What every chain of the benchmark is configured with.
const (
	clientID      = "123_bench"
	clientSecret  = "bench-client-secret"
	gatewayKey    = "bench-gateway-key"
	pluginVersion = "v0.1.0-bench"
	floorName     = "vault-plugin-secrets-floor"
	mount         = "resamania"
)

// plugins are the binaries every Vault of the run mounts, side by side in one
// plugin directory: the Resamania plugin and the floor.
type plugins struct {
	resamania *vaultharness.Plugin
	floor     *vaultharness.Plugin
}

// buildPlugins builds both with the go tool, the floor from
// benchmark/floorplugin, into t's temp dirs.
func buildPlugins(t *run) plugins {
	p := vaultharness.BuildPlugin(t, pluginVersion)
	f := vaultharness.BuildPluginPackage(t, "./benchmark/floorplugin", "")
	b, err := os.ReadFile(f.Path)
	if err != nil {
		t.Fatalf("floor plugin: %v", err)
	}
	path := filepath.Join(p.Dir, floorName)
	if err := os.WriteFile(path, b, 0o755); err != nil {
		t.Fatalf("floor plugin: %v", err)
	}
	return plugins{resamania: p, floor: &vaultharness.Plugin{Name: floorName, Dir: p.Dir, Path: path, SHA256: f.SHA256}}
}

// stack is one Vault (a dev server, or a raft cluster's active node) with the
// plugin mounted at resamania/, and a fake Resamania server.
type stack struct {
	t       *run
	vault   *vaultharness.Process
	fake    *fakeresamania.Server
	plugins plugins
	client  *http.Client // keep-alive connections to vault, for the benchmark's own calls
}

type stackOptions struct {
	nodes int  // 1: a dev server; more: a raft cluster of that many nodes
	floor bool // mount the floor plugin at floor/
	kv    bool // mount Vault's built-in KV v1 at kv/
}

func newStack(t *run, p plugins, opts stackOptions) *stack {
	fake := fakeresamania.Start(fakeresamania.Options{PathPrefix: "/bench", GatewayKey: gatewayKey})
	t.Cleanup(fake.Close)
	st := &stack{t: t, fake: fake, plugins: p, client: &http.Client{
		Timeout:   2 * time.Minute,
		Transport: &http.Transport{MaxIdleConnsPerHost: 512, DisableCompression: true},
	}}
	st.vault = vaultharness.StartStack(t, vaultharness.StackOptions{
		Nodes:   opts.nodes,
		Server:  vaultharness.Options{Dev: true, LogLevel: "info"},
		Cluster: vaultharness.ClusterOptions{LogLevel: "info"},
		Plugin:  p.resamania, Mount: mount,
	}).Vault
	if opts.floor {
		st.vault.RegisterAndEnable(t, p.floor, "floor")
	}
	if opts.kv {
		st.vault.MustCLI(t, "secrets", "enable", "-path=kv", "-version=1", "kv")
	}
	return st
}

// call sends one request to Vault's HTTP API with the root token and returns
// the body of a 2xx answer; a 404 of a LIST is an empty list.
func (st *stack) call(method, path string, body any) ([]byte, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, st.vault.Addr+"/v1/"+path, rd)
	if err != nil {
		return nil, err
	}
	req.Header.Set("X-Vault-Token", st.vault.RootToken)
	resp, err := st.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if method == "LIST" && resp.StatusCode == http.StatusNotFound {
		return []byte(`{"data":{"keys":[]}}`), nil
	}
	if resp.StatusCode/100 != 2 {
		return nil, fmt.Errorf("%s %s: HTTP %d: %s", method, path, resp.StatusCode, strings.TrimSpace(string(b)))
	}
	return b, nil
}

// list is a LIST's keys.
func (st *stack) list(path string) ([]string, error) {
	b, err := st.call("LIST", path, nil)
	if err != nil {
		return nil, err
	}
	var r struct {
		Data struct {
			Keys []string `json:"keys"`
		} `json:"data"`
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("LIST %s: %w", path, err)
	}
	return r.Data.Keys, nil
}

// chainConfig is what config/<chain> is written with. Bulk writes are not
// verified (verify_connection=false): the figures are of reads, and each
// read's upstream calls must be its own.
func (st *stack) chainConfig(extra map[string]any) map[string]any {
	cfg := map[string]any{"api_base_url": st.fake.URL(), "client_id": clientID, "client_secret": clientSecret, "api_key": gatewayKey, "verify_connection": false}
	for k, v := range extra {
		cfg[k] = v
	}
	return cfg
}

// addChains registers each chain's client at the fake (its tokens live
// expiresIn seconds) and writes the chains' configs, with workers writers.
// It returns how long the writes took.
func (st *stack) addChains(chains []string, expiresIn int, extra map[string]any, workers int) (time.Duration, error) {
	for _, c := range chains {
		st.fake.AddClient(fakeresamania.Client{ClientToken: c, ClientID: clientID, ClientSecret: clientSecret, ExpiresIn: expiresIn})
	}
	cfg := st.chainConfig(extra)
	start := time.Now()
	err := parallel(len(chains), workers, func(i int) error {
		_, err := st.call(http.MethodPut, mount+"/config/"+chains[i], cfg)
		return err
	})
	return time.Since(start), err
}

// pluginPID is the pid of the one live process of the Resamania plugin's
// binary (a dev server runs one).
func (st *stack) pluginPID() int {
	pids := processesOf(st.plugins.resamania.Path)
	if len(pids) != 1 {
		st.t.Fatalf("want one live process of %s, found %v", st.plugins.resamania.Path, pids)
	}
	return pids[0]
}

// parallel calls fn(0..n-1) from workers goroutines and returns the first
// error; after one, the rest are not called.
func parallel(n, workers int, fn func(i int) error) error {
	var next atomic.Int64
	var first error
	var once sync.Once
	var failed atomic.Bool
	var wg sync.WaitGroup
	for range min(workers, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !failed.Load() {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := fn(i); err != nil {
					once.Do(func() { first = err })
					failed.Store(true)
				}
			}
		}()
	}
	wg.Wait()
	return first
}

// names are prefix-00000, prefix-00001...
func names(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s-%05d", prefix, i)
	}
	return out
}
