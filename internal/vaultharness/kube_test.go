package vaultharness

import (
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestKubeStartsAndStops: the API server comes up with VSO's CRDs, the
// operator becomes ready against it, and nothing they started outlives the
// test (every process is killed by process group).
func TestKubeStartsAndStops(t *testing.T) {
	bins := RequireKube(t)
	var k *Kube
	t.Run("up", func(t *testing.T) {
		k = StartKube(t, bins, KubeOptions{Secrets: func() []string { return []string{k.Token} }})
		crd := k.MustGet(t, ResourcePath("apiextensions.k8s.io/v1", "CustomResourceDefinition", "", "vaultdynamicsecrets.secrets.hashicorp.com"))
		if Nested(crd, "spec", "group") != "secrets.hashicorp.com" {
			t.Fatalf("unexpected CRD: %v", crd["spec"])
		}
		v := StartVSO(t, k)
		time.Sleep(time.Second)
		if v.Exited() {
			t.Fatalf("vso-manager exited:\n%s", v.Log())
		}
	})
	for _, bin := range []string{bins.Etcd, bins.APIServer, bins.VSO} {
		out, _ := exec.Command("pgrep", "-f", "-x", bin+" .*"+k.dir+".*").Output()
		if s := strings.TrimSpace(string(out)); s != "" {
			t.Errorf("%s still runs after the test: pids %s", bin, s)
		}
	}
}
