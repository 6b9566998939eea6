package resamania

import (
	"context"
	"time"

	"github.com/hashicorp/vault/sdk/framework"
	"github.com/hashicorp/vault/sdk/logical"
)

const secretAccessTokenType = "resamania_access_token"

// leaseEndKey holds, in a lease's internal data, when the lease must end:
// the margin before its token expires (RFC 3339).
const leaseEndKey = "lease_end"

// secretAccessToken is the lease of an access token. Revoking it does nothing
// upstream: Resamania documents no revocation endpoint, and the token is
// shared by every reader of the chain. A renewable lease (lease_mode
// renewable) renews up to its end, never past it.
func secretAccessToken(b *backend) *framework.Secret {
	fields := tokenResponseFields()
	fields["club_id"] = clubIDField()
	return &framework.Secret{
		Type:   secretAccessTokenType,
		Fields: fields,
		Renew:  b.renewAccessToken,
		Revoke: func(context.Context, *logical.Request, *framework.FieldData) (*logical.Response, error) {
			return nil, nil
		},
	}
}

// renewAccessToken extends a renewable lease to at most its end: Vault caps
// the lease at IssueTime+MaxTTL, and the TTL says what is left.
func (b *backend) renewAccessToken(_ context.Context, req *logical.Request, _ *framework.FieldData) (*logical.Response, error) {
	raw, _ := req.Secret.InternalData[leaseEndKey].(string)
	end, err := time.Parse(time.RFC3339Nano, raw)
	if err != nil {
		return logical.ErrorResponse("this lease cannot be renewed: read the path again for a token"), nil
	}
	left := end.Sub(b.now()).Truncate(time.Second)
	if left < time.Second {
		return logical.ErrorResponse("the token of this lease expires at its end, %s: read the path again for a new token", end.UTC().Format(time.RFC3339)), nil
	}
	resp := &logical.Response{Secret: req.Secret}
	resp.Secret.TTL = left
	resp.Secret.MaxTTL = end.Sub(req.Secret.IssueTime).Truncate(time.Second)
	return resp, nil
}
