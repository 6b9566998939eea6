package e2e

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/resamania-oss/vault-plugin-secrets-resamania/internal/vaultharness"
)

// apiOp is one operation as Vault's OpenAPI document names it: the method,
// the operation id, the success status, and one field its 200 body declares.
type apiOp struct {
	method string
	id     string
	status int
	field  string // "" for a 204
}

// ourAPI is every path of the plugin, as a client generator sees it. A path
// that loses its operation id, gains an undeclared operation, or is added
// without a row here fails the test.
var ourAPI = []struct {
	path     string // the OpenAPI path under the mount
	example  string // a request path it matches, for path-help
	synopsis string // what path-help and the OpenAPI description say first
	ops      []apiOp
}{
	{"config/", "config/", "List the configured club chains.", []apiOp{
		{"get", "resamania-list-chain-configurations", 200, "keys"}}},
	{"config/{client_token}", "config/" + chain, "Configure a club chain's Resamania OAuth client.", []apiOp{
		{"post", "resamania-configure-chain-configuration", 204, ""},
		{"get", "resamania-read-chain-configuration", 200, "client_secret_set"},
		{"delete", "resamania-delete-chain-configuration", 204, ""}}},
	{"token/{client_token}", "token/" + chain, "Get an access token for a club chain.", []apiOp{
		{"get", "resamania-generate-access-token", 200, "access_token"}}},
	{"token/{client_token}/clubs/{club_id}", "token/" + chain + "/clubs/12", "Get an access token scoped to one club.", []apiOp{
		{"get", "resamania-generate-club-access-token", 200, "club_id"}}},
	{"token/{client_token}/contacts/{name}", "token/" + chain + "/contacts/bob", "Get an access token scoped to one member, without the member's sign-in.", []apiOp{
		{"get", "resamania-generate-contact-access-token", 200, "access_token"}}},
	{"contacts/{client_token}/", "contacts/" + chain + "/", "List a chain's contacts.", []apiOp{
		{"get", "resamania-list-contacts", 200, "keys"}}},
	{"contacts/{client_token}/{name}", "contacts/" + chain + "/bob", "Name a member, by email, for member-scoped tokens.", []apiOp{
		{"post", "resamania-write-contact", 204, ""},
		{"get", "resamania-read-contact", 200, "email"},
		{"delete", "resamania-delete-contact", 204, ""}}},
	{"auth-code-url/{client_token}", "auth-code-url/" + chain, "Get the Resamania login URL that starts a member's sign-in.", []apiOp{
		{"post", "resamania-generate-authorization-code-url", 200, "url"}}},
	{"creds/{client_token}/", "creds/" + chain + "/", "List a chain's member credentials.", []apiOp{
		{"get", "resamania-list-member-credentials", 200, "keys"}}},
	{"creds/{client_token}/{name}", "creds/" + chain + "/" + member, "Hold a member's Resamania credential and hand out its access tokens.", []apiOp{
		{"post", "resamania-store-member-credential", 200, "state"},
		{"get", "resamania-generate-member-credential", 200, "access_token"},
		{"delete", "resamania-delete-member-credential", 204, ""}}},
	{"creds/{client_token}/{name}/status", "creds/" + chain + "/" + member + "/status", "Read a member credential's state, without secrets.", []apiOp{
		{"get", "resamania-read-member-credential-status", 200, "state"}}},
	{"metrics", "metrics", "Read the plugin's metrics, as JSON or for Prometheus.", []apiOp{
		{"get", "resamania-read-metrics", 200, "resamania_upstream_requests_total"}}},
}

// openAPIDoc is the part of sys/internal/specs/openapi the test reads.
type openAPIDoc struct {
	Paths      map[string]map[string]json.RawMessage `json:"paths"`
	Components struct {
		Schemas map[string]struct {
			Properties map[string]json.RawMessage `json:"properties"`
		} `json:"schemas"`
	} `json:"components"`
}

type openAPIOperation struct {
	OperationID string `json:"operationId"`
	Responses   map[string]struct {
		Content map[string]json.RawMessage `json:"content"`
	} `json:"responses"`
}

func TestOpenAPIAndPathHelpDescribeEveryOperation(t *testing.T) {
	st := newStack(t, stackOptions{vault: vaultharness.Options{Dev: true}})
	st.configure(t)
	doc := readOpenAPI(t, st.vault)

	t.Run("openapi", func(t *testing.T) {
		described := map[string]bool{}
		for _, p := range ourAPI {
			item, ok := doc.Paths["/"+mount+"/"+p.path]
			require.True(t, ok, "the OpenAPI document has no path /%s/%s", mount, p.path)
			var description string
			require.NoError(t, json.Unmarshal(item["description"], &description))
			require.Equal(t, p.synopsis, description, p.path)
			for _, want := range p.ops {
				described[p.path+" "+want.method] = true
				requireOperation(t, doc, p.path, item, want)
			}
		}
		// Nothing of ours is in the document without a row above.
		for path, item := range doc.Paths {
			rel, ours := strings.CutPrefix(path, "/"+mount+"/")
			if !ours {
				continue
			}
			for method := range item {
				if isHTTPMethod(method) {
					require.True(t, described[rel+" "+method], "%s %s is in the OpenAPI document but not in ourAPI", method, path)
				}
			}
		}
	})

	t.Run("path-help", func(t *testing.T) {
		for _, p := range ourAPI {
			out := st.vault.MustCLI(t, "path-help", mount+"/"+p.example)
			require.Contains(t, out, "\n"+p.synopsis+"\n", "path-help %s", p.example)
			_, desc, ok := strings.Cut(out, "## DESCRIPTION")
			require.True(t, ok && len(strings.TrimSpace(desc)) > len(p.synopsis), "path-help %s has no description beyond its synopsis:\n%s", p.example, out)
		}
		// The mount's own help names every path by its synopsis.
		out := st.vault.MustCLI(t, "path-help", mount)
		for _, p := range ourAPI {
			require.Contains(t, out, p.synopsis)
		}
	})
}

// requireOperation: the operation is there under its id, with its success
// status, and a 200 declares a body whose schema has the expected field.
func requireOperation(t *testing.T, doc *openAPIDoc, path string, item map[string]json.RawMessage, want apiOp) {
	t.Helper()
	raw, ok := item[want.method]
	require.True(t, ok, "%s %s is missing", want.method, path)
	var op openAPIOperation
	require.NoError(t, json.Unmarshal(raw, &op))
	require.Equal(t, want.id, op.OperationID, "%s %s", want.method, path)
	resp, ok := op.Responses[strconv.Itoa(want.status)]
	require.True(t, ok, "%s %s declares no %d response: %s", want.method, path, want.status, raw)
	if want.status == http.StatusNoContent {
		require.Empty(t, resp.Content, "%s %s: a 204 has no body", want.method, path)
		return
	}
	require.Contains(t, resp.Content, "application/json", "%s %s: a 200 has a JSON body", want.method, path)
	// Vault names each response's schema after the operation id. (Merging a
	// plugin's document into its own, Vault 1.21 drops the response's $ref,
	// so the schema is found by that name.)
	schema, ok := doc.Components.Schemas[schemaName(want.id)+"Response"]
	require.True(t, ok, "no response schema %sResponse for %s", schemaName(want.id), want.id)
	require.Contains(t, schema.Properties, want.field, "%s's response schema", want.id)
}

func readOpenAPI(t *testing.T, v *vaultharness.Server) *openAPIDoc {
	t.Helper()
	resp, err := v.Client.Logical().ReadRaw("sys/internal/specs/openapi")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var doc openAPIDoc
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&doc))
	return &doc
}

// schemaName is an operation id in Vault's schema naming: resamania-read-x is ResamaniaReadX.
func schemaName(id string) string {
	var b strings.Builder
	for _, w := range strings.Split(id, "-") {
		b.WriteString(strings.ToUpper(w[:1]) + w[1:])
	}
	return b.String()
}

func isHTTPMethod(s string) bool {
	switch s {
	case "get", "post", "put", "patch", "delete", "head", "options":
		return true
	}
	return false
}
