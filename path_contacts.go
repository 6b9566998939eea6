package resamania

import (
	"context"
	"net/http"
	"strings"

	"github.com/hashicorp/vault/sdk/framework"
	"github.com/hashicorp/vault/sdk/logical"
)

func pathContacts(b *backend) []*framework.Path {
	return []*framework.Path{pathContactEntry(b), pathChainList(chainList{
		prefix: contactsStoragePrefix, suffix: "contacts", what: "contacts",
		description: "Lists the names of the contacts written for the chain; never their emails.",
	})}
}

func pathContactEntry(b *backend) *framework.Path {
	fields := credNameFields()
	fields["name"].Description = "Your name for the member, unique within the chain; token/<client_token>/contacts/<name> reads its token."
	fields["email"] = &framework.FieldSchema{Type: framework.TypeString, Description: "The member's email, as Resamania knows it. Personal data: stored seal-wrapped, never logged."}
	stored := map[string]*framework.FieldSchema{"email": fields["email"]}
	return &framework.Path{
		Pattern:      "contacts/" + framework.GenericNameRegex("client_token") + "/" + framework.GenericNameRegex("name"),
		DisplayAttrs: &framework.DisplayAttributes{OperationPrefix: operationPrefix, OperationSuffix: "contact"},
		Fields:       fields,
		Operations: map[logical.Operation]framework.OperationHandler{
			logical.CreateOperation: &framework.PathOperation{
				Callback: b.pathContactWrite, Summary: "Name a member for member-scoped tokens.",
				DisplayAttrs:              &framework.DisplayAttributes{OperationVerb: "write"},
				ForwardPerformanceStandby: true, ForwardPerformanceSecondary: true,
				Responses: map[int][]framework.Response{http.StatusNoContent: {{Description: "stored"}}},
			},
			logical.UpdateOperation: &framework.PathOperation{
				Callback: b.pathContactWrite, Summary: "Change a contact's email; its cached token is dropped.",
				DisplayAttrs:              &framework.DisplayAttributes{OperationVerb: "write"},
				ForwardPerformanceStandby: true, ForwardPerformanceSecondary: true,
				Responses: map[int][]framework.Response{http.StatusNoContent: {{Description: "stored"}}},
			},
			logical.ReadOperation: &framework.PathOperation{
				Callback: b.pathContactRead, Summary: "Read a contact's email.",
				DisplayAttrs: &framework.DisplayAttributes{OperationVerb: "read"},
				Responses:    map[int][]framework.Response{http.StatusOK: {{Description: "OK", Fields: stored}}},
			},
			logical.DeleteOperation: &framework.PathOperation{
				Callback: b.pathContactDelete, Summary: "Forget a contact and its cached token.",
				DisplayAttrs:              &framework.DisplayAttributes{OperationVerb: "delete"},
				ForwardPerformanceStandby: true, ForwardPerformanceSecondary: true,
				Responses: map[int][]framework.Response{http.StatusNoContent: {{Description: "deleted"}}},
			},
		},
		ExistenceCheck:  b.pathContactExists,
		HelpSynopsis:    "Name a member, by email, for member-scoped tokens.",
		HelpDescription: pathContactHelpDesc,
	}
}

func (b *backend) pathContactExists(ctx context.Context, req *logical.Request, d *framework.FieldData) (bool, error) {
	c, err := getContact(ctx, req.Storage, d.Get("client_token").(string), d.Get("name").(string))
	return c != nil, err
}

func (b *backend) pathContactWrite(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	chain, name, err := credPathNames(d)
	if err != nil {
		return logical.ErrorResponse(err.Error()), nil
	}
	if err := rejectUnknownFields(req, d); err != nil {
		return logical.ErrorResponse(err.Error()), nil
	}
	email := strings.TrimSpace(d.Get("email").(string))
	if err := validateEmail(email); err != nil {
		return logical.ErrorResponse(err.Error()), nil
	}
	if _, err := b.configuredChain(ctx, req, chain); err != nil {
		return errorResponse(err)
	}
	key := tokenScope{contact: name}.storageKey(chain)
	defer b.refusals.forget(key) // Resamania may know the new email
	err = b.tokens.changeKey(key, func() error {
		defer b.guards.use(chain)()
		// Looked up again under the guard: a chain deleted since gets no contact.
		if _, err := b.configuredChain(ctx, req, chain); err != nil {
			return err
		}
		if err := putContact(ctx, req.Storage, chain, name, &contact{Email: email}); err != nil {
			return err
		}
		// The cached token is the old email's: it must not outlive it.
		return deleteKey(ctx, req.Storage, key)
	})
	if err != nil {
		return errorResponse(err)
	}
	return nil, nil
}

func (b *backend) pathContactRead(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	chain, name, err := credPathNames(d)
	if err != nil {
		return logical.ErrorResponse(err.Error()), nil
	}
	c, err := getContact(ctx, req.Storage, chain, name)
	if err != nil || c == nil {
		return nil, err
	}
	return &logical.Response{Data: map[string]any{"email": c.Email}}, nil
}

func (b *backend) pathContactDelete(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	chain, name, err := credPathNames(d)
	if err != nil {
		return logical.ErrorResponse(err.Error()), nil
	}
	key := tokenScope{contact: name}.storageKey(chain)
	defer b.refusals.forget(key)
	return nil, b.tokens.changeKey(key, func() error {
		if err := deleteKey(ctx, req.Storage, contactKey(chain, name)); err != nil {
			return err
		}
		return deleteKey(ctx, req.Storage, key)
	})
}

const pathContactHelpDesc = `
Names a member of the chain for member-scoped tokens, by the email Resamania
knows them by:

  vault write resamania/contacts/mychain/bob email=bob@example.com
  vault read resamania/token/mychain/contacts/bob

The email is personal data: it is stored seal-wrapped, returned only by a read
of this path, and never appears in a token path, a lease id or a log line.
Changing or deleting a contact drops its cached token.
`
