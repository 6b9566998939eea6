package resamania

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"testing"

	"github.com/hashicorp/vault/sdk/logical"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

// TestKubernetesExamplesReadThePluginsPaths needs no Kubernetes: each
// VaultDynamicSecret of examples/kubernetes/ reads a path the plugin
// serves, with allowStaticCreds (its chain is unleased), and the example's
// Vault policy grants exactly those paths. e2e/kubernetes_test.go runs them.
func TestKubernetesExamplesReadThePluginsPaths(t *testing.T) {
	env := getTestBackend(t)
	files, err := filepath.Glob("examples/kubernetes/*.yaml")
	require.NoError(t, err)
	var read []string
	for _, f := range files {
		raw, err := os.ReadFile(f)
		require.NoError(t, err)
		dec := yaml.NewDecoder(bytes.NewReader(raw))
		for {
			var obj struct {
				Kind string `yaml:"kind"`
				Spec struct {
					Mount            string `yaml:"mount"`
					Path             string `yaml:"path"`
					AllowStaticCreds bool   `yaml:"allowStaticCreds"`
				} `yaml:"spec"`
			}
			if err := dec.Decode(&obj); errors.Is(err, io.EOF) {
				break
			} else {
				require.NoError(t, err, f)
			}
			if obj.Kind != "VaultDynamicSecret" {
				continue
			}
			require.Equal(t, "resamania", obj.Spec.Mount, f)
			route := env.b.Route(obj.Spec.Path)
			require.NotNil(t, route, "%s: the plugin serves no %s", f, obj.Spec.Path)
			_, readable := route.Operations[logical.ReadOperation]
			require.True(t, readable, "%s: %s cannot be read", f, obj.Spec.Path)
			require.True(t, obj.Spec.AllowStaticCreds, "%s: an unleased chain is read with allowStaticCreds", f)
			read = append(read, obj.Spec.Mount+"/"+obj.Spec.Path)
		}
	}
	require.ElementsMatch(t, []string{"resamania/token/mychain", "resamania/token/mychain/clubs/1234", "resamania/creds/mychain/alice"}, read)

	policy, err := os.ReadFile("examples/kubernetes/resamania-vso-policy.hcl")
	require.NoError(t, err)
	var granted []string
	for _, m := range regexp.MustCompile(`(?m)^path "([^"]+)"`).FindAllSubmatch(policy, -1) {
		granted = append(granted, string(m[1]))
	}
	slices.Sort(granted)
	slices.Sort(read)
	require.Equal(t, read, granted, "the policy grants what the VaultDynamicSecrets read, nothing else")
}
