package resamania

import (
	"context"
	"sort"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/vault/sdk/logical"
	"github.com/stretchr/testify/require"

	"github.com/resamania-oss/vault-plugin-secrets-resamania/internal/fakeresamania"
	"github.com/resamania-oss/vault-plugin-secrets-resamania/internal/testsupport"
)

// Sentinels: values that must never show up in a log, an error or a config read.
const (
	testChain    = "mychain"
	testClientID = "123_abcdef"
	testSecret   = "SENTINEL-client-secret-7f3a"
	testAPIKey   = "SENTINEL-gateway-key-91bc"
)

// testEnv is a backend on InmemStorage with a fake Resamania server, both on
// one test clock, and the backend's trace-level log captured.
type testEnv struct {
	t       testing.TB
	b       *backend
	storage logical.Storage
	clock   *testsupport.Clock
	fake    *fakeresamania.Server
	logs    *testsupport.SyncBuffer
}

func getTestBackend(tb testing.TB) *testEnv {
	return getTestBackendWith(tb, fakeresamania.Options{})
}

func getTestBackendWith(tb testing.TB, opts fakeresamania.Options) *testEnv {
	tb.Helper()
	clock := testsupport.NewClock()
	opts.Now = clock.Now
	fake := fakeresamania.Start(opts)
	tb.Cleanup(fake.Close)
	fake.AddClient(fakeresamania.Client{ClientToken: testChain, ClientID: testClientID, ClientSecret: testSecret, ExpiresIn: 3600})

	logs := &testsupport.SyncBuffer{}
	config := logical.TestBackendConfig()
	config.StorageView = &logical.InmemStorage{}
	config.Logger = hclog.New(&hclog.LoggerOptions{Level: hclog.Trace, Output: logs})
	b := newBackend(clock.Now)
	require.NoError(tb, b.Setup(context.Background(), config))
	env := &testEnv{t: tb, b: b, storage: config.StorageView, clock: clock, fake: fake, logs: logs}
	tb.Cleanup(env.assertNoSecretLogged)
	return env
}

// reloadBackend is a new mount over the same storage, as after a plugin
// reload: nothing in memory, set up and initialised as Vault does.
func reloadBackend(t *testing.T, env *testEnv) {
	t.Helper()
	reloaded := newBackend(env.clock.Now)
	config := logical.TestBackendConfig()
	config.StorageView = env.storage
	config.Logger = env.b.Logger()
	require.NoError(t, reloaded.Setup(t.Context(), config))
	require.NoError(t, reloaded.Initialize(t.Context(), &logical.InitializationRequest{Storage: env.storage}))
	env.b = reloaded
}

func (e *testEnv) request(op logical.Operation, path string, data map[string]any) (*logical.Response, error) {
	return e.b.HandleRequest(context.Background(), &logical.Request{
		Operation:  op,
		Path:       path,
		Data:       data,
		Storage:    e.storage,
		MountPoint: "resamania/",
	})
}

// configure writes a valid config for testChain pointing at the fake server.
// It is not verified unless extra says so, so that every upstream call a test
// counts is one its reads made; verify_connection has tests of its own.
func (e *testEnv) configure(extra map[string]any) {
	e.t.Helper()
	data := map[string]any{"api_base_url": e.fake.URL(), "client_id": testClientID, "client_secret": testSecret, "verify_connection": false}
	for k, v := range extra {
		data[k] = v
	}
	resp, err := e.request(logical.CreateOperation, "config/"+testChain, data)
	require.NoError(e.t, err)
	require.False(e.t, resp.IsError(), "config write failed: %v", resp)
}

func (e *testEnv) readToken(data map[string]any) *logical.Response {
	e.t.Helper()
	resp, err := e.request(logical.ReadOperation, "token/"+testChain, data)
	require.NoError(e.t, err)
	require.NotNil(e.t, resp)
	require.False(e.t, resp.IsError(), "token read failed: %v", resp.Error())
	return resp
}

// dumpStorage returns every key and value, to prove a rejected request changed nothing.
func (e *testEnv) dumpStorage() map[string]string {
	e.t.Helper()
	out := map[string]string{}
	var walk func(prefix string)
	walk = func(prefix string) {
		keys, err := e.storage.List(context.Background(), prefix)
		require.NoError(e.t, err)
		sort.Strings(keys)
		for _, k := range keys {
			if strings.HasSuffix(k, "/") {
				walk(prefix + k)
				continue
			}
			entry, err := e.storage.Get(context.Background(), prefix+k)
			require.NoError(e.t, err)
			out[prefix+k] = string(entry.Value)
		}
	}
	walk("")
	return out
}

// assertNoSecretLogged fails the test when any secret the test used or the
// fake server issued appears in the backend's log.
func (e *testEnv) assertNoSecretLogged() {
	secrets := append([]string{testSecret, testAPIKey}, e.fake.IssuedSecrets()...)
	testsupport.AssertNoSecret(e.t, "the backend's log", e.logs.String(), secrets)
}

func TestFactoryBuildsBackend(t *testing.T) {
	config := logical.TestBackendConfig()
	config.StorageView = &logical.InmemStorage{}
	b, err := Factory(context.Background(), config)
	require.NoError(t, err)
	require.Equal(t, logical.TypeLogical, b.Type())
	keys, err := config.StorageView.List(context.Background(), "")
	require.NoError(t, err)
	require.Empty(t, keys, "Factory must not write storage")
}
