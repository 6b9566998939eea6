package resamania

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/hashicorp/vault/sdk/framework"
	"github.com/hashicorp/vault/sdk/helper/locksutil"
	"github.com/hashicorp/vault/sdk/logical"

	"github.com/resamania-oss/vault-plugin-secrets-resamania/internal/upstream"
)

func pathAuthCodeURL(b *backend) []*framework.Path {
	return []*framework.Path{{
		Pattern:      "auth-code-url/" + framework.GenericNameRegex("client_token"),
		DisplayAttrs: &framework.DisplayAttributes{OperationPrefix: operationPrefix, OperationSuffix: "authorization-code-url"},
		Fields: map[string]*framework.FieldSchema{
			"client_token": {Type: framework.TypeString, Description: "Resamania's identifier of the club chain.", Required: true},
			"name":         {Type: framework.TypeString, Description: "The credential the sign-in will be stored as, creds/<client_token>/<name>: the code's write must name it.", Required: true},
			"redirect_uri": {Type: framework.TypeString, Description: "Where Resamania sends the member back with the code: one of the chain's allowed_redirect_uris, and of the OAuth client's registered return URLs.", Required: true},
			"scope":        {Type: framework.TypeString, Description: "Space-separated scopes to ask the member for."},
		},
		Operations: map[logical.Operation]framework.OperationHandler{
			logical.UpdateOperation: &framework.PathOperation{
				Callback:                    b.pathAuthCodeURLWrite,
				Summary:                     "Get the login URL that starts a member's sign-in.",
				DisplayAttrs:                &framework.DisplayAttributes{OperationVerb: "generate"},
				ForwardPerformanceStandby:   true,
				ForwardPerformanceSecondary: true,
				Responses: map[int][]framework.Response{http.StatusOK: {{Description: "OK", Fields: map[string]*framework.FieldSchema{
					"url":        {Type: framework.TypeString, Description: "The login URL to send the member to."},
					"name":       {Type: framework.TypeString, Description: "The credential the sign-in will be stored as."},
					"state":      {Type: framework.TypeString, Description: "The state the plugin issued: keep it in the member's browser session, compare it when they come back, and give it with the code."},
					"expires_at": {Type: framework.TypeString, Description: "Until when the plugin accepts this state."},
				}}}},
			},
		},
		HelpSynopsis:    "Get the Resamania login URL that starts a member's sign-in.",
		HelpDescription: pathAuthCodeURLHelpDesc,
	}}
}

func (b *backend) pathAuthCodeURLWrite(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	chain := d.Get("client_token").(string)
	if err := validateClientToken(chain); err != nil {
		return logical.ErrorResponse(err.Error()), nil
	}
	if _, given := req.Data["state"]; given {
		return logical.ErrorResponse("state is not taken here: the plugin issues the state, and this write returns it; keep it in the member's browser session and give it back with the code"), nil
	}
	if err := rejectUnknownFields(req, d); err != nil {
		return logical.ErrorResponse(err.Error()), nil
	}
	name := d.Get("name").(string)
	if name == "" {
		return logical.ErrorResponse(fmt.Sprintf("name is required: the credential the member's sign-in will be stored as, creds/%s/<name>", chain)), nil
	}
	if err := validateName("name", name); err != nil {
		return logical.ErrorResponse(err.Error()), nil
	}
	redirectURI := strings.TrimSpace(d.Get("redirect_uri").(string))
	if err := validateRedirectURI(redirectURI); err != nil {
		return logical.ErrorResponse(err.Error()), nil
	}
	scope, err := validateScope(d.Get("scope").(string))
	if err != nil {
		return logical.ErrorResponse(err.Error()), nil
	}
	// Under the chain's guard: a deletion leaves no state behind.
	defer b.guards.use(chain)()
	ch, err := b.configuredChain(ctx, req, chain)
	if err != nil {
		return errorResponse(err)
	}
	cfg := ch.config
	if err := cfg.checkRedirectAllowed(chain, redirectURI); err != nil {
		return errorResponse(err)
	}
	lock := locksutil.LockForKey(b.stateLocks, chain)
	lock.Lock()
	state, expires, err := issueAuthState(ctx, req.Storage, b.now(), signIn{chain: chain, name: name, redirectURI: redirectURI})
	lock.Unlock()
	if err != nil {
		return errorResponse(err)
	}
	return &logical.Response{Data: map[string]any{
		"url":        upstream.LoginURL(cfg.loginPage(chain), cfg.ClientID, redirectURI, state, scope),
		"name":       name,
		"state":      state,
		"expires_at": expires.UTC().Format(time.RFC3339),
	}}, nil
}

const pathAuthCodeURLHelpDesc = `
A write (so the state is not in a URL that gets logged), naming the
credential the sign-in is for, returns a login URL and a state:

  vault write resamania/auth-code-url/mychain name=alice redirect_uri=https://app.example/callback

  url   {login_url}?response_type=code&client_id=...&redirect_uri=...&state=...
  state the state the plugin issued

login_url is the chain's (config/<client_token>), by default
{api_base_url}/{client_token}/oauth/login.

Keep the state in the member's browser session (a session cookie), then send
the member to url. Resamania returns them to redirect_uri with a one-time code
and the state: compare it with the session's before anything else, then write
the code, redirect_uri and state to creds/<client_token>/<name>, the same
name. The state is accepted once, within ten minutes, for that name, chain
and redirect_uri only. redirect_uri must be in the chain's
allowed_redirect_uris (config/<client_token>). A chain keeps at most 1000
sign-ins pending.
`
