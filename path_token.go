package resamania

import (
	"context"
	"net/http"

	"github.com/hashicorp/vault/sdk/framework"
	"github.com/hashicorp/vault/sdk/logical"
)

func pathToken(b *backend) []*framework.Path {
	return []*framework.Path{{
		Pattern: "token/" + framework.GenericNameRegex("client_token"),
		DisplayAttrs: &framework.DisplayAttributes{
			OperationPrefix: operationPrefix,
			OperationSuffix: "access-token",
		},
		Fields: map[string]*framework.FieldSchema{
			"client_token": {
				Type:        framework.TypeString,
				Description: "Resamania's identifier of the club chain, as configured under config/.",
				Required:    true,
			},
			"minimum_seconds": minimumSecondsField(),
		},
		Operations: map[logical.Operation]framework.OperationHandler{
			logical.ReadOperation: &framework.PathOperation{
				Callback: b.pathTokenRead,
				Summary:  "Get an access token for the chain, minted with the client_credentials grant.",
				DisplayAttrs: &framework.DisplayAttributes{
					OperationVerb: "generate",
				},
				// A miss mints and persists a token: only the active node can write.
				ForwardPerformanceStandby:   true,
				ForwardPerformanceSecondary: true,
				Responses:                   map[int][]framework.Response{http.StatusOK: {{Description: "OK", Fields: tokenResponseFields()}}},
			},
		},
		HelpSynopsis:    pathTokenHelpSyn,
		HelpDescription: pathTokenHelpDesc,
	}}
}

func (b *backend) pathTokenRead(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	chain := d.Get("client_token").(string)
	if err := validateClientToken(chain); err != nil {
		return logical.ErrorResponse(err.Error()), nil
	}
	return b.serveToken(ctx, req, d, tokenReadRequest{
		chain:    chain,
		internal: map[string]any{"client_token": chain},
		kind:     readKindToken,
		source: func(ch *chainEntry) (string, tokenSource) {
			src := &clientCredentialsSource{mintDeps: b.mintDeps(req.Storage), chain: chain, timeout: ch.config.RequestTimeout}
			return src.key(), src
		},
	})
}

const pathTokenHelpSyn = `Get an access token for a club chain.`

const pathTokenHelpDesc = `
Returns an access token for the chain configured at config/<client_token>,
minted with the client_credentials grant and shared by every reader until a
third of its life is left. How the read is leased is the chain's lease_mode:

  non_renewable  (the default) a lease that ends a safety margin (a tenth of
                 the token's life, 1 to 60 seconds) before the token expires,
                 so a reader that comes back at its lease's end always gets a
                 newer token; read again for a new one
  renewable      the same end, renewable up to it and never past it, for
                 Vault Proxy's cache
  none           no lease; the data adds ttl, rotation_period and
                 last_vault_rotation, which Vault Agent and the Vault Secrets
                 Operator time their reads by

minimum_seconds asks for a token with at least that much life left.

While Resamania is unreachable, reads keep returning the cached token, with a
warning, for as long as it is valid.
`
