package resamania

import (
	"context"
	"fmt"
	"net/http"

	"github.com/hashicorp/vault/sdk/framework"
	"github.com/hashicorp/vault/sdk/logical"
)

// chainList is a LIST of the names a chain holds under one storage prefix,
// which is also its path's first segment: creds/<client_token>/ and
// contacts/<client_token>/.
type chainList struct {
	prefix      string // storage prefix and path segment, such as "creds/"
	suffix      string // the OpenAPI operation suffix
	what        string // what the names name, such as "member credentials"
	description string // help beyond the synopsis
}

func pathChainList(l chainList) *framework.Path {
	return &framework.Path{
		Pattern:      l.prefix + framework.GenericNameRegex("client_token") + "/?$",
		DisplayAttrs: &framework.DisplayAttributes{OperationPrefix: operationPrefix, OperationSuffix: l.suffix},
		Fields:       map[string]*framework.FieldSchema{"client_token": credNameFields()["client_token"]},
		Operations: map[logical.Operation]framework.OperationHandler{
			logical.ListOperation: &framework.PathOperation{
				Callback: l.list, Summary: "List the chain's " + l.what + ".",
				DisplayAttrs: &framework.DisplayAttributes{OperationVerb: "list"},
				Responses: map[int][]framework.Response{http.StatusOK: {{Description: "OK", Fields: map[string]*framework.FieldSchema{
					"keys": {Type: framework.TypeStringSlice, Description: "The name of each of the chain's " + l.what + "."},
				}}}},
			},
		},
		HelpSynopsis:    "List a chain's " + l.what + ".",
		HelpDescription: l.description,
	}
}

func (l chainList) list(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	chain := d.Get("client_token").(string)
	if err := validateClientToken(chain); err != nil {
		return logical.ErrorResponse(err.Error()), nil
	}
	names, err := req.Storage.List(ctx, l.prefix+chain+"/")
	if err != nil {
		return nil, fmt.Errorf("listing the %s of chain %q: %w", l.what, chain, err)
	}
	return logical.ListResponse(names), nil
}
