package resamania

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/hashicorp/vault/sdk/framework"
	"github.com/hashicorp/vault/sdk/logical"

	"github.com/resamania-oss/vault-plugin-secrets-resamania/internal/upstream"
)

func pathAuthCodeURL(b *backend) []*framework.Path {
	return []*framework.Path{{
		Pattern:      "auth-code-url/" + framework.GenericNameRegex("client_token"),
		DisplayAttrs: &framework.DisplayAttributes{OperationPrefix: operationPrefix, OperationSuffix: "authorization-code-url"},
		Fields: map[string]*framework.FieldSchema{
			"client_token": {Type: framework.TypeString, Description: "Resamania's identifier of the club chain.", Required: true},
			"redirect_uri": {Type: framework.TypeString, Description: "Where Resamania sends the member back with the code: one of the OAuth client's registered return URLs.", Required: true},
			"state":        {Type: framework.TypeString, Description: "Opaque value returned with the code; an unguessable one is generated when absent."},
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
					"state":      {Type: framework.TypeString, Description: "The state, to check when the member comes back."},
					"expires_at": {Type: framework.TypeString, Description: "Until when the plugin accepts this state."},
				}}}},
			},
		},
		HelpSynopsis: "Get the Resamania login URL that starts a member's sign-in.",
		HelpDescription: `A write (so the state is not in a URL that gets logged) returns
https://{api_base_url}/{client_token}/oauth/login?response_type=code&client_id=...&redirect_uri=...&state=...
Send the member there; Resamania returns them to redirect_uri with a one-time
code. Write that code, redirect_uri and state to creds/<client_token>/<name>.
Issued states are accepted for ten minutes, once.`,
	}}
}

func (b *backend) pathAuthCodeURLWrite(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	chain := d.Get("client_token").(string)
	if err := validateClientToken(chain); err != nil {
		return logical.ErrorResponse(err.Error()), nil
	}
	if err := rejectUnknownFields(req, d); err != nil {
		return logical.ErrorResponse(err.Error()), nil
	}
	redirectURI := strings.TrimSpace(d.Get("redirect_uri").(string))
	if err := validateRedirectURI(redirectURI); err != nil {
		return logical.ErrorResponse(err.Error()), nil
	}
	state := d.Get("state").(string)
	if len(state) > 512 || !printable(state) {
		return logical.ErrorResponse("state must be at most 512 printable characters"), nil
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
	state, expires, err := issueAuthState(ctx, req.Storage, b.now(), chain, state, redirectURI)
	if err != nil {
		return nil, err
	}
	return &logical.Response{Data: map[string]any{
		"url":        upstream.LoginURL(cfg.loginPage(chain), cfg.ClientID, redirectURI, state, scope),
		"state":      state,
		"expires_at": expires.UTC().Format(time.RFC3339),
	}}, nil
}

// validateRedirectURI: an absolute URI without a fragment (RFC 6749 3.1.2);
// custom schemes are allowed for mobile apps.
func validateRedirectURI(raw string) error {
	if raw == "" {
		return fmt.Errorf("redirect_uri is required")
	}
	u, err := url.Parse(raw)
	switch {
	case len(raw) > 2048:
		return fmt.Errorf("redirect_uri is longer than 2048 characters")
	case err != nil || u.Scheme == "" || !printable(raw) || strings.ContainsAny(raw, " "):
		return fmt.Errorf("redirect_uri must be an absolute URI, such as https://app.example/callback")
	case u.Fragment != "" || strings.Contains(raw, "#"):
		return fmt.Errorf("redirect_uri must not carry a fragment")
	}
	return nil
}
