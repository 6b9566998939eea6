package vaultharness

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
)

// The Kubernetes API, spoken over plain HTTP and JSON: the few calls a test
// needs, so the plugin's go.mod does not carry client-go.

// clusterScoped are the kinds a test creates that live in no namespace.
var clusterScoped = map[string]bool{"Namespace": true, "CustomResourceDefinition": true}

// ResourcePath is the API path of an object, or of its collection when name
// is "": /api/v1/namespaces/app/secrets/x, /apis/apps/v1/.../deployments/y.
// The plural is the kind in lower case plus "s", which holds for every
// kind used here.
func ResourcePath(apiVersion, kind, namespace, name string) string {
	p := "/apis/" + apiVersion
	if apiVersion == "v1" {
		p = "/api/v1"
	}
	if namespace != "" && !clusterScoped[kind] {
		p += "/namespaces/" + namespace
	}
	p += "/" + strings.ToLower(kind) + "s"
	if name != "" {
		p += "/" + name
	}
	return p
}

// objectPath is ResourcePath of an object given as a manifest.
func objectPath(obj map[string]any, withName bool) string {
	meta, _ := obj["metadata"].(map[string]any)
	ns, _ := meta["namespace"].(string)
	name := ""
	if withName {
		name, _ = meta["name"].(string)
	}
	apiVersion, _ := obj["apiVersion"].(string)
	kind, _ := obj["kind"].(string)
	return ResourcePath(apiVersion, kind, ns, name)
}

// Do sends one request with the admin token: body is JSON-encoded unless
// it is already []byte (sent with contentType). It returns the status and
// the body.
func (k *Kube) Do(method, path, contentType string, body any) (int, []byte, error) {
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		r = bytes.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			return 0, nil, err
		}
		r = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, k.URL+path, r)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+k.Token)
	req.Header.Set("Accept", "application/json")
	if r != nil {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := k.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	return resp.StatusCode, out, err
}

// Create POSTs a manifest to its collection and fails the test unless the
// API server accepts it.
func (k *Kube) Create(t testing.TB, obj map[string]any) {
	t.Helper()
	status, body, err := k.Do(http.MethodPost, objectPath(obj, false), "application/json", obj)
	if err != nil || status != http.StatusCreated {
		t.Fatalf("create %s: HTTP %d %v: %.500s", objectPath(obj, true), status, err, body)
	}
}

// Get reads an object into a map; found is false on a 404.
func (k *Kube) Get(t testing.TB, path string) (obj map[string]any, found bool) {
	t.Helper()
	status, body, err := k.Do(http.MethodGet, path, "", nil)
	if err == nil && status == http.StatusNotFound {
		return nil, false
	}
	if err != nil || status != http.StatusOK {
		t.Fatalf("get %s: HTTP %d %v: %.500s", path, status, err, body)
	}
	if err := json.Unmarshal(body, &obj); err != nil {
		t.Fatalf("get %s: %v", path, err)
	}
	return obj, true
}

// MustGet is Get of an object that must exist.
func (k *Kube) MustGet(t testing.TB, path string) map[string]any {
	t.Helper()
	obj, found := k.Get(t, path)
	if !found {
		t.Fatalf("get %s: not found", path)
	}
	return obj
}

// SecretData is a Secret's data, decoded; nil when there is no such Secret.
func (k *Kube) SecretData(t testing.TB, namespace, name string) map[string]string {
	t.Helper()
	obj, found := k.Get(t, ResourcePath("v1", "Secret", namespace, name))
	if !found {
		return nil
	}
	data, _ := obj["data"].(map[string]any)
	out := make(map[string]string, len(data))
	for key, v := range data {
		s, _ := v.(string)
		raw, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			t.Fatalf("secret %s/%s: key %s: %v", namespace, name, key, err)
		}
		out[key] = string(raw)
	}
	return out
}

// Nested follows keys through nested maps: Nested(obj, "spec", "template").
func Nested(obj map[string]any, keys ...string) any {
	var cur any = obj
	for _, key := range keys {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[key]
	}
	return cur
}

func readBody(resp *http.Response) string {
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return string(b)
}

func base64Std(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// kubeError is an API server's refusal, for messages.
func kubeError(status int, body []byte) error {
	return fmt.Errorf("HTTP %d: %.300s", status, body)
}
