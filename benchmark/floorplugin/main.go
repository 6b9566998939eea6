// Command floorplugin is the floor of the benchmark: the least a Vault
// secrets plugin can do for a token read. It returns one constant token in
// the shape of the Resamania plugin's token/ read: leased (token/<name>: a
// non-renewable lease that ends a margin before the token expires) or
// unleased (unleased/<name>: plain data with ttl, rotation_period and
// last_vault_rotation). Whatever a read of the real plugin costs beyond this
// one is the plugin's own.
package main

import (
	"context"
	"os"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/vault/api"
	"github.com/hashicorp/vault/sdk/framework"
	"github.com/hashicorp/vault/sdk/logical"
	"github.com/hashicorp/vault/sdk/plugin"
)

const (
	life   = time.Hour        // the constant token's lifetime, Resamania's default
	margin = 60 * time.Second // the lease ends this much before the token expires
)

var (
	issuedAt = time.Now()
	// token is as long as a Resamania JWT, so responses weigh the same.
	token = strings.Repeat("f", 330)
)

func main() {
	logger := hclog.New(&hclog.LoggerOptions{Level: hclog.Info, Output: os.Stderr, JSONFormat: true})
	meta := &api.PluginAPIClientMeta{}
	if err := meta.FlagSet().Parse(os.Args[1:]); err != nil {
		logger.Error("plugin shutting down", "error", err)
		os.Exit(1)
	}
	err := plugin.ServeMultiplex(&plugin.ServeOpts{
		BackendFactoryFunc: factory,
		TLSProviderFunc:    api.VaultPluginTLSProvider(meta.GetTLSConfig()),
		Logger:             logger,
	})
	if err != nil {
		logger.Error("plugin shutting down", "error", err)
		os.Exit(1)
	}
}

func factory(ctx context.Context, conf *logical.BackendConfig) (logical.Backend, error) {
	var b *framework.Backend
	name := map[string]*framework.FieldSchema{"name": {Type: framework.TypeString, Description: "Any name."}}
	read := func(leased bool) framework.OperationFunc {
		return func(_ context.Context, _ *logical.Request, _ *framework.FieldData) (*logical.Response, error) {
			now := time.Now()
			expires := issuedAt.Add(life)
			data := map[string]any{
				"access_token": token,
				"token_type":   "Bearer",
				"expires_at":   expires.UTC().Format(time.RFC3339),
				"expires_in":   int64(expires.Sub(now) / time.Second),
				"scope":        "",
				"api_base_url": "http://127.0.0.1/floor",
			}
			if !leased {
				data["ttl"] = int64(expires.Add(-life/3).Sub(now) / time.Second)
				data["rotation_period"] = int64(life * 2 / 3 / time.Second)
				data["last_vault_rotation"] = issuedAt.UTC().Format(time.RFC3339Nano)
				return &logical.Response{Data: data}, nil
			}
			resp := b.Secret("floor_access_token").Response(data, map[string]any{"lease_end": expires.Add(-margin).Format(time.RFC3339Nano)})
			ttl := (expires.Sub(now) - margin).Truncate(time.Second)
			resp.Secret.TTL, resp.Secret.MaxTTL, resp.Secret.Renewable = ttl, ttl, false
			return resp, nil
		}
	}
	path := func(prefix string, leased bool) *framework.Path {
		return &framework.Path{
			Pattern: prefix + framework.GenericNameRegex("name"),
			Fields:  name,
			Operations: map[logical.Operation]framework.OperationHandler{
				logical.ReadOperation: &framework.PathOperation{Callback: read(leased)},
			},
		}
	}
	b = &framework.Backend{
		BackendType: logical.TypeLogical,
		Paths:       []*framework.Path{path("token/", true), path("unleased/", false)},
		Secrets: []*framework.Secret{{
			Type: "floor_access_token",
			Revoke: func(context.Context, *logical.Request, *framework.FieldData) (*logical.Response, error) {
				return nil, nil
			},
		}},
	}
	if err := b.Setup(ctx, conf); err != nil {
		return nil, err
	}
	return b, nil
}
