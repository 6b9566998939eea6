package vaultharness

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// KubeBinaries are what the Kubernetes end-to-end test runs, unpacked into
// .bin/k8s/ by scripts/unpack-k8s.sh from ../shared beside the repository:
// an API server without a cluster (etcd and kube-apiserver, as
// controller-runtime's envtest runs them) and the Vault Secrets Operator.
type KubeBinaries struct {
	Etcd      string // etcd 3.7.4
	APIServer string // kube-apiserver 1.37.2
	VSO       string // the Vault Secrets Operator's manager, 1.4.1
	CRDDir    string // VSO 1.4.1's CustomResourceDefinitions, one YAML file each
}

// CIEnv is set to "true" by CI: there a missing Kubernetes binary fails the
// test instead of skipping it.
const CIEnv = "CI"

// kubeDir is where scripts/unpack-k8s.sh puts them, under the repository.
const kubeDir = ".bin/k8s"

// unpackOnce runs scripts/unpack-k8s.sh at most once per test binary.
var unpackOnce = sync.OnceValue(unpackKube)

// RequireKube returns the binaries, unpacking them first when ../shared has
// them. Without them the test is skipped with a line that says so on
// stderr too (a clone has no ../shared), and fails under CI=true.
func RequireKube(t testing.TB) KubeBinaries {
	t.Helper()
	b, err := findKube()
	if err != nil {
		if uerr := unpackOnce(); uerr != nil {
			err = fmt.Errorf("%w; scripts/unpack-k8s.sh: %v", err, uerr)
		} else {
			b, err = findKube()
		}
	}
	if err == nil {
		return b
	}
	if os.Getenv(CIEnv) == "true" {
		t.Fatalf("%s=true but the Kubernetes binaries are missing: %v", CIEnv, err)
	}
	msg := fmt.Sprintf("SKIPPING %s: no Kubernetes binaries (%v); they come from ../shared beside the repository (scripts/unpack-k8s.sh)", t.Name(), err)
	fmt.Fprintln(os.Stderr, "=== "+msg)
	t.Skip(msg)
	return KubeBinaries{}
}

// findKube checks that every binary and the CRD folder are in .bin/k8s.
func findKube() (KubeBinaries, error) {
	root, err := RepoRoot()
	if err != nil {
		return KubeBinaries{}, err
	}
	dir := filepath.Join(root, kubeDir)
	b := KubeBinaries{
		Etcd:      filepath.Join(dir, "etcd"),
		APIServer: filepath.Join(dir, "kube-apiserver"),
		VSO:       filepath.Join(dir, "vso-manager"),
		CRDDir:    filepath.Join(dir, "vso-1.4.1-crds"),
	}
	for _, bin := range []string{b.Etcd, b.APIServer, b.VSO} {
		info, err := os.Stat(bin)
		if err != nil || info.IsDir() || info.Mode().Perm()&0o111 == 0 {
			return KubeBinaries{}, fmt.Errorf("%s is not an executable file", bin)
		}
	}
	crds, _ := filepath.Glob(filepath.Join(b.CRDDir, "*.yaml"))
	if len(crds) == 0 {
		return KubeBinaries{}, fmt.Errorf("no CRD in %s", b.CRDDir)
	}
	return b, nil
}

// unpackKube runs scripts/unpack-k8s.sh, which checks every sum, when
// ../shared/bin is there; it refuses anything with a wrong sum.
func unpackKube() error {
	root, err := RepoRoot()
	if err != nil {
		return err
	}
	shared := os.Getenv("K8S_SHARED")
	if shared == "" {
		shared = filepath.Join(root, "..", "shared")
	}
	if _, err := os.Stat(filepath.Join(shared, "bin")); err != nil {
		return fmt.Errorf("%s/bin: %w", shared, errors.Unwrap(err))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "bash", filepath.Join(root, "scripts", "unpack-k8s.sh")).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%w: %s", err, out)
	}
	return nil
}
