package resamania

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"strings"

	"github.com/hashicorp/vault/sdk/framework"
	"github.com/hashicorp/vault/sdk/logical"
)

func pathCreds(b *backend) []*framework.Path {
	return []*framework.Path{pathCredsEntry(b), pathCredsStatus(b), pathChainList(chainList{
		prefix: credsStoragePrefix, suffix: "member-credentials", what: "member credentials",
		description: "Lists the names of the member credentials stored for the chain.",
	})}
}

var credPattern = "creds/" + framework.GenericNameRegex("client_token") + "/" + framework.GenericNameRegex("name")

// credNameFields name a credential: its chain and its name in the chain.
func credNameFields() map[string]*framework.FieldSchema {
	return map[string]*framework.FieldSchema{
		"client_token": {Type: framework.TypeString, Description: "Resamania's identifier of the club chain.", Required: true},
		"name":         {Type: framework.TypeString, Description: "Your name for the member's credential, unique within the chain.", Required: true},
	}
}

func credWriteFields() map[string]*framework.FieldSchema {
	fields := map[string]*framework.FieldSchema{
		"code":          {Type: framework.TypeString, Description: "The one-time authorization code Resamania sent to redirect_uri after the member signed in.", DisplayAttrs: &framework.DisplayAttributes{Sensitive: true}},
		"redirect_uri":  {Type: framework.TypeString, Description: "The redirect_uri the sign-in used; required with code."},
		"state":         {Type: framework.TypeString, Description: "The state returned with the code; required with code. It must be one auth-code-url issued for this chain, this name and this redirect_uri, and is accepted once."},
		"refresh_token": {Type: framework.TypeString, Description: "A refresh token the app already holds, to import instead of a code. It is used at once, which replaces it.", DisplayAttrs: &framework.DisplayAttributes{Sensitive: true}},
		"minimum_seconds": {
			Type:        framework.TypeInt,
			Description: "On read: least life, in seconds (0 to 86400), the returned token must have left; a refresh is forced when the held token has less, at most once per max(a tenth of the token's life, 30 s): a read that would need a second such refresh sooner is a 429 that says when to retry.",
			Default:     0,
		},
	}
	maps.Copy(fields, credNameFields())
	return fields
}

func pathCredsEntry(b *backend) *framework.Path {
	stored := map[int][]framework.Response{http.StatusOK: {{Description: "OK", Fields: credStatusFields()}}}
	return &framework.Path{
		Pattern:      credPattern,
		DisplayAttrs: &framework.DisplayAttributes{OperationPrefix: operationPrefix, OperationSuffix: "member-credential"},
		Fields:       credWriteFields(),
		Operations: map[logical.Operation]framework.OperationHandler{
			logical.CreateOperation: &framework.PathOperation{
				Callback: b.pathCredsWrite, Summary: "Store a member's credential from an authorization code or a refresh token.",
				DisplayAttrs:              &framework.DisplayAttributes{OperationVerb: "store"},
				ForwardPerformanceStandby: true, ForwardPerformanceSecondary: true,
				Responses: stored,
			},
			logical.UpdateOperation: &framework.PathOperation{
				Callback: b.pathCredsWrite, Summary: "Replace a member's credential from an authorization code or a refresh token.",
				DisplayAttrs:              &framework.DisplayAttributes{OperationVerb: "store"},
				ForwardPerformanceStandby: true, ForwardPerformanceSecondary: true,
				Responses: stored,
			},
			logical.ReadOperation: &framework.PathOperation{
				Callback: b.pathCredsRead, Summary: "Get an access token for the member, refreshed when needed.",
				DisplayAttrs:              &framework.DisplayAttributes{OperationVerb: "generate"},
				ForwardPerformanceStandby: true, ForwardPerformanceSecondary: true,
				Responses: map[int][]framework.Response{http.StatusOK: {{Description: "OK", Fields: tokenResponseFields()}}},
			},
			logical.DeleteOperation: &framework.PathOperation{
				Callback: b.pathCredsDelete, Summary: "Forget a member's credential.",
				DisplayAttrs:              &framework.DisplayAttributes{OperationVerb: "delete"},
				ForwardPerformanceStandby: true, ForwardPerformanceSecondary: true,
				Responses: map[int][]framework.Response{http.StatusNoContent: {{Description: "deleted"}}},
			},
		},
		ExistenceCheck:  b.pathCredsExists,
		HelpSynopsis:    pathCredsHelpSyn,
		HelpDescription: pathCredsHelpDesc,
	}
}

func pathCredsStatus(b *backend) *framework.Path {
	return &framework.Path{
		Pattern:      credPattern + "/status$",
		DisplayAttrs: &framework.DisplayAttributes{OperationPrefix: operationPrefix, OperationSuffix: "member-credential-status"},
		Fields:       credNameFields(),
		Operations: map[logical.Operation]framework.OperationHandler{
			logical.ReadOperation: &framework.PathOperation{
				Callback: b.pathCredsStatusRead, Summary: "Read a credential's state and history, without secrets.",
				DisplayAttrs: &framework.DisplayAttributes{OperationVerb: "read"},
				Responses:    map[int][]framework.Response{http.StatusOK: {{Description: "OK", Fields: credStatusFields()}}},
			},
		},
		HelpSynopsis:    "Read a member credential's state, without secrets.",
		HelpDescription: "Shows whether the credential can be refreshed (state active), or needs the member to sign in again and why, and when it was created and last refreshed.",
	}
}

func (b *backend) pathCredsExists(ctx context.Context, req *logical.Request, d *framework.FieldData) (bool, error) {
	c, err := getCredential(ctx, req.Storage, credKey(d.Get("client_token").(string), d.Get("name").(string)))
	return c != nil, err
}

func (b *backend) pathCredsWrite(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	chain, name, err := credPathNames(d)
	if err != nil {
		return logical.ErrorResponse(err.Error()), nil
	}
	if err := rejectUnknownFields(req, d); err != nil {
		return logical.ErrorResponse(err.Error()), nil
	}
	g, err := memberGrantFields(d)
	if err != nil {
		return logical.ErrorResponse(err.Error()), nil
	}
	ch, err := b.configuredChain(ctx, req, chain)
	if err != nil {
		return errorResponse(err)
	}
	key := credKey(chain, name)
	var cred *credential
	var warning string
	err = b.tokens.changeKey(key, func() (err error) {
		defer b.guards.use(chain)()
		// Looked up again under the guard: a chain deleted since the first
		// lookup gets no credential.
		if ch, err = b.configuredChain(ctx, req, chain); err != nil {
			return err
		}
		if g.fromCode() {
			// Under the credential's lock: two writes of one state (bound
			// to this name) take turns, and the second finds it spent.
			if err := bindCode(ctx, req.Storage, b.now(), ch, name, &g); err != nil {
				return err
			}
		}
		cred, warning, err = signInMember(ctx, b.mintDeps(req.Storage), b.creds, ch, key, g)
		return err
	})
	if err != nil {
		return errorResponse(err)
	}
	b.Logger().Info("stored a member credential", "credential", key, "from", map[bool]string{true: "authorization_code", false: "refresh_token"}[g.fromCode()])
	resp := &logical.Response{Data: b.credStatusData(key, cred, ch.config, false)}
	if warning != "" {
		resp.AddWarning(warning)
	}
	return resp, nil
}

// memberGrantFields reads and checks a credential write's code or refresh token.
func memberGrantFields(d *framework.FieldData) (memberGrant, error) {
	g := memberGrant{
		code:         strings.TrimSpace(d.Get("code").(string)),
		redirectURI:  strings.TrimSpace(d.Get("redirect_uri").(string)),
		state:        strings.TrimSpace(d.Get("state").(string)),
		refreshToken: strings.TrimSpace(d.Get("refresh_token").(string)),
	}
	switch {
	case g.code != "" && g.refreshToken != "":
		return g, errors.New("give either code (with redirect_uri and state) or refresh_token, not both")
	case g.code == "" && g.refreshToken == "":
		return g, errors.New("code (with redirect_uri and state) or refresh_token is required")
	case g.code != "" && g.redirectURI == "":
		return g, errors.New("redirect_uri is required with code: the one the sign-in used")
	case len(g.code) > maxSecretLen || !printable(g.code):
		return g, fmt.Errorf("code must be at most %d printable characters", maxSecretLen)
	case len(g.refreshToken) > maxSecretLen || !printable(g.refreshToken):
		return g, fmt.Errorf("refresh_token must be at most %d printable characters", maxSecretLen)
	case g.refreshToken != "" && g.state != "":
		return g, errors.New("state goes with code only: an import of refresh_token takes none")
	case g.refreshToken != "":
		return g, nil
	}
	if err := validateRedirectURI(g.redirectURI); err != nil {
		return g, err
	}
	switch {
	case g.state == "":
		// Without it, a code from anyone's sign-in could be stored as this member's.
		return g, errors.New("state is required with code: the one auth-code-url returned when this member's sign-in started, for this name (compare it with the one in the member's browser session first)")
	case len(g.state) > 512 || !printable(g.state):
		return g, errors.New("state must be at most 512 printable characters")
	}
	return g, nil
}

func (b *backend) pathCredsRead(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	chain, name, err := credPathNames(d)
	if err != nil {
		return logical.ErrorResponse(err.Error()), nil
	}
	return b.serveToken(ctx, req, d, tokenReadRequest{
		chain:    chain,
		internal: map[string]any{"client_token": chain, "name": name},
		kind:     readKindMember,
		source: func(ch *chainEntry) (string, tokenSource) {
			src := &refreshSource{mintDeps: b.mintDeps(req.Storage), creds: b.creds, chain: chain, name: name, timeout: ch.config.RequestTimeout}
			return src.key(), src
		},
	})
}

func (b *backend) pathCredsDelete(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	chain, name, err := credPathNames(d)
	if err != nil {
		return logical.ErrorResponse(err.Error()), nil
	}
	key := credKey(chain, name)
	defer b.health.forget(key)
	return nil, b.tokens.changeKey(key, func() error {
		return b.creds.delete(ctx, req.Storage, key)
	})
}

func (b *backend) pathCredsStatusRead(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	chain, name, err := credPathNames(d)
	if err != nil {
		return logical.ErrorResponse(err.Error()), nil
	}
	key := credKey(chain, name)
	cred, unsaved, err := b.creds.current(ctx, req.Storage, key)
	if err != nil {
		return nil, err
	}
	if cred == nil {
		return nil, nil
	}
	cfg, err := getChainConfig(ctx, req.Storage, chain)
	if err != nil {
		return nil, err
	}
	return &logical.Response{Data: b.credStatusData(key, cred, cfg, unsaved)}, nil
}

const pathCredsHelpSyn = `Hold a member's Resamania credential and hand out its access tokens.`

const pathCredsHelpDesc = `
A member's credential comes from the authorization_code grant: get a login
URL and a state from auth-code-url/<client_token> with name=<name>, keep the
state in the member's browser session, send the member there, and, once the
state that comes back matches the session's, write the code Resamania
returns with that state:

  vault write resamania/creds/mychain/alice code=... redirect_uri=https://app.example/callback state=...

The state is required with a code, and accepted once: only for the name,
chain and redirect_uri it was issued for, so a code from someone else's
sign-in cannot be stored as this member's. redirect_uri must be in the
chain's allowed_redirect_uris (config/<client_token>).

or import a refresh token the app already holds (it is used at once, which
replaces it):

  vault write resamania/creds/mychain/alice refresh_token=...

Reading returns an access token, refreshed when needed; the refresh token is
never returned. Refresh tokens are single use: exactly one refresh runs at a
time per credential, none is sent (nor a code exchanged) unless a storage
write has just committed, and each new refresh token is stored before
anything else. When Resamania refuses the refresh token, or a refresh's answer is lost
after reaching it, the credential is kept, marked sign_in_required or
uncertain (see creds/<client_token>/<name>/status), and reads say so until
the member signs in again.
`
