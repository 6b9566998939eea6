package resamania

import (
	"fmt"
	"sort"
	"strings"

	"github.com/hashicorp/vault/sdk/framework"
	"github.com/hashicorp/vault/sdk/logical"
)

// rejectUnknownFields turns Vault's "ignored these parameters" warning into an
// error on writes: a mistyped field name must not silently leave a setting as
// it was. Only field names are echoed, never values.
func rejectUnknownFields(req *logical.Request, d *framework.FieldData) error {
	var unknown []string
	for name := range req.Data {
		if _, ok := d.Schema[name]; !ok {
			unknown = append(unknown, fmt.Sprintf("%q", clip(name, 40)))
		}
	}
	if len(unknown) == 0 {
		return nil
	}
	known := make([]string, 0, len(d.Schema))
	for name := range d.Schema {
		known = append(known, name)
	}
	sort.Strings(unknown)
	sort.Strings(known)
	return fmt.Errorf("unknown field %s; this path takes: %s", strings.Join(unknown, ", "), strings.Join(known, ", "))
}

// credPathNames validates the chain and name of a path that names a member
// (creds/ and contacts/).
func credPathNames(d *framework.FieldData) (chain, name string, err error) {
	chain, name = d.Get("client_token").(string), d.Get("name").(string)
	if err = validateClientToken(chain); err != nil {
		return "", "", err
	}
	if err = validateName("name", name); err != nil {
		return "", "", err
	}
	return chain, name, nil
}
