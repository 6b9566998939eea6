package resamania

import (
	"context"
	"net/http"

	"github.com/hashicorp/vault/sdk/framework"
	"github.com/hashicorp/vault/sdk/logical"
)

func pathScopedToken(b *backend) []*framework.Path {
	return []*framework.Path{pathClubToken(b), pathContactToken(b)}
}

func pathClubToken(b *backend) *framework.Path {
	fields := tokenResponseFields()
	fields["club_id"] = clubIDField()
	return &framework.Path{
		Pattern:      "token/" + framework.GenericNameRegex("client_token") + "/clubs/(?P<club_id>[0-9]+)$",
		DisplayAttrs: &framework.DisplayAttributes{OperationPrefix: operationPrefix, OperationSuffix: "club-access-token"},
		Fields: map[string]*framework.FieldSchema{
			"client_token":    {Type: framework.TypeString, Description: "Resamania's identifier of the club chain, as configured under config/.", Required: true},
			"club_id":         {Type: framework.TypeString, Description: "The club's number, as in its IRI /{client_token}/clubs/{club_id}.", Required: true},
			"minimum_seconds": minimumSecondsField(),
		},
		Operations: map[logical.Operation]framework.OperationHandler{
			logical.ReadOperation: &framework.PathOperation{
				Callback:                    b.pathClubTokenRead,
				Summary:                     "Get an access token scoped to one club of the chain.",
				DisplayAttrs:                &framework.DisplayAttributes{OperationVerb: "generate"},
				ForwardPerformanceStandby:   true,
				ForwardPerformanceSecondary: true,
				Responses:                   map[int][]framework.Response{http.StatusOK: {{Description: "OK", Fields: fields}}},
			},
		},
		HelpSynopsis:    "Get an access token scoped to one club.",
		HelpDescription: pathClubTokenHelpDesc,
	}
}

func clubIDField() *framework.FieldSchema {
	return &framework.FieldSchema{Type: framework.TypeString, Description: "The club's IRI, /{client_token}/clubs/{id}, for the x-user-club-id header."}
}

func pathContactToken(b *backend) *framework.Path {
	return &framework.Path{
		Pattern:      "token/" + framework.GenericNameRegex("client_token") + "/contacts/" + framework.GenericNameRegex("name"),
		DisplayAttrs: &framework.DisplayAttributes{OperationPrefix: operationPrefix, OperationSuffix: "contact-access-token"},
		Fields: map[string]*framework.FieldSchema{
			"client_token":    {Type: framework.TypeString, Description: "Resamania's identifier of the club chain, as configured under config/.", Required: true},
			"name":            {Type: framework.TypeString, Description: "The contact's name, as written under contacts/<client_token>/.", Required: true},
			"minimum_seconds": minimumSecondsField(),
		},
		Operations: map[logical.Operation]framework.OperationHandler{
			logical.ReadOperation: &framework.PathOperation{
				Callback:                    b.pathContactTokenRead,
				Summary:                     "Get an access token scoped to one member, named by a contact.",
				DisplayAttrs:                &framework.DisplayAttributes{OperationVerb: "generate"},
				ForwardPerformanceStandby:   true,
				ForwardPerformanceSecondary: true,
				Responses:                   map[int][]framework.Response{http.StatusOK: {{Description: "OK", Fields: tokenResponseFields()}}},
			},
		},
		HelpSynopsis:    "Get an access token scoped to one member, without the member's sign-in.",
		HelpDescription: pathContactTokenHelpDesc,
	}
}

func (b *backend) pathClubTokenRead(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	chain, club := d.Get("client_token").(string), d.Get("club_id").(string)
	if err := validateClientToken(chain); err != nil {
		return logical.ErrorResponse(err.Error()), nil
	}
	if err := validateClubID(club); err != nil {
		return logical.ErrorResponse(err.Error()), nil
	}
	return b.serveScopedToken(ctx, req, d, chain, tokenScope{club: club}, map[string]any{"club_id": clubIRI(chain, club)})
}

func (b *backend) pathContactTokenRead(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	chain, name, err := credPathNames(d)
	if err != nil {
		return logical.ErrorResponse(err.Error()), nil
	}
	return b.serveScopedToken(ctx, req, d, chain, tokenScope{contact: name}, nil)
}

func (b *backend) serveScopedToken(ctx context.Context, req *logical.Request, d *framework.FieldData, chain string, scope tokenScope, extra map[string]any) (*logical.Response, error) {
	return b.serveToken(ctx, req, d, tokenReadRequest{
		chain:    chain,
		internal: map[string]any{"client_token": chain, "club_id": scope.club, "contact": scope.contact},
		extra:    extra,
		kind:     scope.readKind(),
		source: func(ch *chainEntry) (string, tokenSource) {
			src := &scopedSource{mintDeps: b.mintDeps(req.Storage), refusals: b.refusals, chain: chain, scope: scope, timeout: ch.config.RequestTimeout}
			return src.key(), src
		},
	})
}

const pathClubTokenHelpDesc = `
Returns an access token scoped to one club of the chain, minted with
Resamania's http://clubclientcredentials grant, with the club's IRI in
club_id (for the x-user-club-id header). Cached per club with the rules of
token/<client_token>: lease, refresh ahead, one mint at a time.

Policies can grant one club and not another:

  path "resamania/token/mychain/clubs/12" { capabilities = ["read"] }

Resamania refuses an unknown club with invalid_grant: the read is a 400 that
names the club.
`

const pathContactTokenHelpDesc = `
Returns an access token scoped to one member, minted with Resamania's
http://contactclientcredentials grant, without the member's sign-in. The
member is named by a contact (write contacts/<client_token>/<name> email=...
first), so the email never appears in a URL, a lease id or a log line.
Cached per contact with the rules of token/<client_token>.
`
