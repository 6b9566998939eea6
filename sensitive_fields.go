package resamania

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/hashicorp/vault/sdk/helper/errutil"
	"github.com/hashicorp/vault/sdk/logical"
)

// sensitiveFields are the request fields that carry secrets or personal data.
var sensitiveFields = []string{"client_secret", "api_key", "code", "refresh_token", "email"}

// HandleRequest refuses a secret of the wrong type before the framework's
// field validation, whose error quotes the submitted value.
func (b *backend) HandleRequest(ctx context.Context, req *logical.Request) (*logical.Response, error) {
	if err := checkSensitiveTypes(req); err != nil {
		return logical.ErrorResponse(err.Error()), nil
	}
	return b.Backend.HandleRequest(ctx, req)
}

// HandleExistenceCheck runs before HandleRequest on writes, and validates
// fields the same way: the same guard applies.
func (b *backend) HandleExistenceCheck(ctx context.Context, req *logical.Request) (bool, bool, error) {
	if err := checkSensitiveTypes(req); err != nil {
		return false, false, errutil.UserError{Err: err.Error()}
	}
	return b.Backend.HandleExistenceCheck(ctx, req)
}

func checkSensitiveTypes(req *logical.Request) error {
	for _, name := range sensitiveFields {
		v, ok := req.Data[name]
		if !ok {
			continue
		}
		switch v.(type) {
		case string, json.Number, int, int64, float64:
		default:
			return fmt.Errorf("%s must be a string", name)
		}
	}
	return nil
}
