package resamania

import (
	"context"
	"errors"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/vault/sdk/helper/consts"
	"github.com/hashicorp/vault/sdk/helper/license"
	"github.com/hashicorp/vault/sdk/helper/pluginutil"
	"github.com/hashicorp/vault/sdk/helper/wrapping"
	"github.com/hashicorp/vault/sdk/logical"
	"github.com/hashicorp/vault/sdk/rotation"
	"github.com/stretchr/testify/require"

	"github.com/resamania-oss/vault-plugin-secrets-resamania/internal/fakeresamania"
)

// systemViewCalls is every SystemView method the plugin (its own code and the
// sdk's framework under it) calls on the server over the workload of
// TestNoVaultOnlySystemViewCall: a config write, token reads in every lease
// mode with a renewal and a revocation, club and contact tokens, a member's
// sign-in, read and status, the metrics, a chain list, a background tick, an
// invalidation and the mount's cleanup. Two questions, both asked by the
// framework before a request to a path that forwards from standbys (and by
// the plugin, whether this node owns storage), both answered from memory
// most of the time (cachedSystemView). OpenBao implements both; docs/operations.md's
// "Vault and OpenBao" section points here.
var systemViewCalls = []string{"LocalMount", "ReplicationState"}

// vaultOnlySystemViewCalls are the SystemView methods HashiCorp's sdk has and
// OpenBao's server does not implement (it answers them "unimplemented"):
// workload identity tokens, the rotation manager, plugin downloads, and the
// cluster id. The plugin must never need them.
var vaultOnlySystemViewCalls = []string{"ClusterID", "DeregisterRotationJob", "DownloadExtractVerifyPlugin",
	"GenerateIdentityToken", "GetRotationInformation", "RegisterRotationJob"}

// errUnimplemented is what OpenBao's gRPC server answers a method it lacks.
var errUnimplemented = errors.New("rpc error: code = Unimplemented desc = unknown method")

// openBaoLikeSystemView is the test SystemView that records every call and
// answers the Vault-only methods as OpenBao does.
type openBaoLikeSystemView struct {
	logical.StaticSystemView

	mu    sync.Mutex
	calls map[string]int // guarded by mu
}

func (s *openBaoLikeSystemView) called(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls[name]++
}

func (s *openBaoLikeSystemView) names() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for n := range s.calls {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

func (s *openBaoLikeSystemView) DefaultLeaseTTL() time.Duration {
	s.called("DefaultLeaseTTL")
	return s.StaticSystemView.DefaultLeaseTTL()
}

func (s *openBaoLikeSystemView) MaxLeaseTTL() time.Duration {
	s.called("MaxLeaseTTL")
	return s.StaticSystemView.MaxLeaseTTL()
}

func (s *openBaoLikeSystemView) Tainted() bool { s.called("Tainted"); return false }

func (s *openBaoLikeSystemView) CachingDisabled() bool { s.called("CachingDisabled"); return false }

func (s *openBaoLikeSystemView) LocalMount() bool { s.called("LocalMount"); return false }

func (s *openBaoLikeSystemView) ReplicationState() consts.ReplicationState {
	s.called("ReplicationState")
	return s.StaticSystemView.ReplicationState()
}

func (s *openBaoLikeSystemView) HasFeature(license.Features) bool {
	s.called("HasFeature")
	return false
}

func (s *openBaoLikeSystemView) ResponseWrapData(context.Context, map[string]any, time.Duration, bool) (*wrapping.ResponseWrapInfo, error) {
	s.called("ResponseWrapData")
	return nil, errors.New("not in this test")
}

func (s *openBaoLikeSystemView) LookupPlugin(context.Context, string, consts.PluginType) (*pluginutil.PluginRunner, error) {
	s.called("LookupPlugin")
	return nil, errors.New("not in this test")
}

func (s *openBaoLikeSystemView) LookupPluginVersion(context.Context, string, consts.PluginType, string) (*pluginutil.PluginRunner, error) {
	s.called("LookupPluginVersion")
	return nil, errors.New("not in this test")
}

func (s *openBaoLikeSystemView) ListVersionedPlugins(context.Context, consts.PluginType) ([]pluginutil.VersionedPlugin, error) {
	s.called("ListVersionedPlugins")
	return nil, nil
}

func (s *openBaoLikeSystemView) NewPluginClient(context.Context, pluginutil.PluginClientConfig) (pluginutil.PluginClient, error) {
	s.called("NewPluginClient")
	return nil, errors.New("not in this test")
}

func (s *openBaoLikeSystemView) MlockEnabled() bool { s.called("MlockEnabled"); return false }

func (s *openBaoLikeSystemView) EntityInfo(string) (*logical.Entity, error) {
	s.called("EntityInfo")
	return nil, nil
}

func (s *openBaoLikeSystemView) GroupsForEntity(string) ([]*logical.Group, error) {
	s.called("GroupsForEntity")
	return nil, nil
}

func (s *openBaoLikeSystemView) PluginEnv(ctx context.Context) (*logical.PluginEnvironment, error) {
	s.called("PluginEnv")
	return s.StaticSystemView.PluginEnv(ctx)
}

func (s *openBaoLikeSystemView) VaultVersion(ctx context.Context) (string, error) {
	s.called("VaultVersion")
	return s.StaticSystemView.VaultVersion(ctx)
}

func (s *openBaoLikeSystemView) GeneratePasswordFromPolicy(context.Context, string) (string, error) {
	s.called("GeneratePasswordFromPolicy")
	return "", errors.New("not in this test")
}

func (s *openBaoLikeSystemView) ClusterID(context.Context) (string, error) {
	s.called("ClusterID")
	return "", errUnimplemented
}

func (s *openBaoLikeSystemView) GenerateIdentityToken(context.Context, *pluginutil.IdentityTokenRequest) (*pluginutil.IdentityTokenResponse, error) {
	s.called("GenerateIdentityToken")
	return nil, errUnimplemented
}

func (s *openBaoLikeSystemView) GetRotationInformation(context.Context, *rotation.RotationInfoRequest) (*rotation.RotationInfoResponse, error) {
	s.called("GetRotationInformation")
	return nil, errUnimplemented
}

func (s *openBaoLikeSystemView) RegisterRotationJob(context.Context, *rotation.RotationJobConfigureRequest) (string, error) {
	s.called("RegisterRotationJob")
	return "", errUnimplemented
}

func (s *openBaoLikeSystemView) DeregisterRotationJob(context.Context, *rotation.RotationJobDeregisterRequest) error {
	s.called("DeregisterRotationJob")
	return errUnimplemented
}

func (s *openBaoLikeSystemView) DownloadExtractVerifyPlugin(context.Context, *pluginutil.PluginRunner) error {
	s.called("DownloadExtractVerifyPlugin")
	return errUnimplemented
}

// TestNoVaultOnlySystemViewCall runs the plugin's whole surface over a
// SystemView that answers as OpenBao does: every request succeeds, no
// Vault-only method is ever called, and the methods called are exactly
// systemViewCalls.
func TestNoVaultOnlySystemViewCall(t *testing.T) {
	env := getTestBackend(t)
	env.fake.AddClient(fakeresamania.Client{ClientToken: testChain, ClientID: testClientID, ClientSecret: testSecret, ExpiresIn: 60, RedirectURIs: []string{testRedirect},
		AllowedGrants: []string{fakeresamania.GrantClientCredentials, fakeresamania.GrantAuthorizationCode, fakeresamania.GrantRefreshToken,
			fakeresamania.GrantClubCredentials, fakeresamania.GrantContactCredentials}})
	env.fake.AddMember(testChain, testMember, "SENTINEL-member-password")
	env.fake.AddMember(testChain, testEmail, "pw")
	env.fake.AddClub(testChain, 12)

	sys := &openBaoLikeSystemView{StaticSystemView: logical.StaticSystemView{
		DefaultLeaseTTLVal: time.Hour, MaxLeaseTTLVal: 24 * time.Hour, VersionString: "v2.6.2",
	}, calls: map[string]int{}}
	config := logical.TestBackendConfig()
	config.StorageView = env.storage
	config.Logger = env.b.Logger()
	config.System = sys
	env.b = newBackend(env.clock.Now)
	require.NoError(t, env.b.Setup(t.Context(), config))
	require.NoError(t, env.b.Initialize(t.Context(), &logical.InitializationRequest{Storage: env.storage}))

	for _, mode := range []string{"renewable", "non_renewable", "none"} {
		env.configure(map[string]any{"lease_mode": mode, "allowed_redirect_uris": testRedirect})
		resp := env.readToken(nil)
		if resp.Secret == nil {
			continue
		}
		secret := resp.Secret
		secret.IssueTime = env.clock.Now()
		for _, op := range []logical.Operation{logical.RenewOperation, logical.RevokeOperation} {
			_, err := env.b.HandleRequest(t.Context(), &logical.Request{Operation: op, Secret: secret, Storage: env.storage})
			require.NoError(t, err, "%s of a %s lease", op, mode)
		}
	}
	env.mustRead(t, "token/"+testChain+"/clubs/12")
	_, err := env.request(logical.CreateOperation, "contacts/"+testChain+"/bob", map[string]any{"email": testEmail})
	require.NoError(t, err)
	env.mustRead(t, "token/"+testChain+"/contacts/bob")
	env.signIn(t)
	env.readCred(t)
	require.Equal(t, "active", env.credStatus(t)["state"])
	env.mustRead(t, "metrics")
	_, err = env.request(logical.ListOperation, "config/", nil)
	require.NoError(t, err)
	env.clock.Advance(50 * time.Second)
	env.tick(t)
	env.b.InvalidateKey(t.Context(), "config/"+testChain)
	env.b.Cleanup(t.Context())

	for _, name := range vaultOnlySystemViewCalls {
		require.NotContains(t, sys.names(), name, "a Vault-only SystemView call")
	}
	require.Equal(t, systemViewCalls, sys.names(), "the SystemView calls the plugin makes (update the list and docs/operations.md when it changes)")
	require.True(t, slices.IsSorted(systemViewCalls))
}
