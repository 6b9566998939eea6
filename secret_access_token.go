package resamania

import (
	"context"

	"github.com/hashicorp/vault/sdk/framework"
	"github.com/hashicorp/vault/sdk/logical"
)

const secretAccessTokenType = "resamania_access_token"

// secretAccessToken is the lease of an access token. It is not renewable (the
// token's life is fixed by Resamania) and revoking it does nothing upstream:
// Resamania documents no revocation endpoint, and the token is shared by
// every reader of the chain.
func secretAccessToken(b *backend) *framework.Secret {
	return &framework.Secret{
		Type:   secretAccessTokenType,
		Fields: tokenResponseFields(),
		Revoke: func(context.Context, *logical.Request, *framework.FieldData) (*logical.Response, error) {
			return nil, nil
		},
	}
}
