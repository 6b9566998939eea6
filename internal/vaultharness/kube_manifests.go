package vaultharness

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// ReadManifests parses a YAML file of one or more documents into objects
// (maps, which encode to JSON as the API server wants them). Empty
// documents, such as a file of comments only, are left out.
func ReadManifests(path string) ([]map[string]any, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	var out []map[string]any
	for {
		var obj map[string]any
		err := dec.Decode(&obj)
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if len(obj) > 0 {
			out = append(out, obj)
		}
	}
}

// MustReadManifests is ReadManifests that fails the test on an error.
func MustReadManifests(t testing.TB, path string) []map[string]any {
	t.Helper()
	objs, err := ReadManifests(path)
	if err != nil {
		t.Fatal(err)
	}
	return objs
}

// loadCRDs creates every CRD of the operator and waits until the API
// server serves each (condition Established).
func (k *Kube) loadCRDs(t testing.TB) {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(k.bins.CRDDir, "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no CRD in %s: %v", k.bins.CRDDir, err)
	}
	var names []string
	for _, f := range files {
		for _, crd := range MustReadManifests(t, f) {
			k.Create(t, crd)
			name, _ := Nested(crd, "metadata", "name").(string)
			names = append(names, name)
		}
	}
	for _, name := range names {
		path := ResourcePath("apiextensions.k8s.io/v1", "CustomResourceDefinition", "", name)
		err := waitUntil(30*time.Second, "CRD "+name+" established", func() (bool, error) {
			status, body, err := k.Do(http.MethodGet, path, "", nil)
			if err != nil || status != http.StatusOK {
				return false, kubeError(status, body)
			}
			return bytes.Contains(body, []byte(`"type":"Established","status":"True"`)), nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}
