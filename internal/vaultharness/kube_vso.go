package vaultharness

import (
	"fmt"
	"net/http"
	"testing"
	"time"
)

// VSO is the Vault Secrets Operator's manager, run out of cluster against a
// Kube with its kubeconfig, as its README shows.
type VSO struct {
	LogPath string
	proc    *child
}

// VSONamespace is the operator's own namespace (OPERATOR_NAMESPACE).
const VSONamespace = "vso"

// StartVSO creates the operator's namespace, starts the manager (debug
// log level, so the secret scan reads the most it says) and waits until its
// health probe is ready. It stops in t.Cleanup, before the API server.
func StartVSO(t testing.TB, k *Kube) *VSO {
	t.Helper()
	k.Create(t, map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": VSONamespace}})
	ports, err := freePortPairs(2)
	if err != nil {
		t.Fatal(err)
	}
	probe := fmt.Sprintf("127.0.0.1:%d", ports[1])
	v := &VSO{LogPath: k.logPath("vso-manager")}
	start := time.Now()
	v.proc, err = startChild(k.dir, k.bins.VSO, []string{
		"--kubeconfig=" + k.Kubeconfig,
		"--leader-elect=false",
		fmt.Sprintf("--metrics-bind-address=127.0.0.1:%d", ports[0]),
		"--health-probe-bind-address=" + probe,
		"--zap-log-level=debug",
	}, append(baseEnv(), "OPERATOR_NAMESPACE="+VSONamespace), v.LogPath)
	if err != nil {
		t.Fatalf("vso-manager: %v", err)
	}
	t.Cleanup(v.Stop)
	k.waitHTTP(t, v.proc, v.LogPath, "vso-manager", http.DefaultClient, "http://"+probe+"/readyz", "", "ok")
	t.Logf("vso-manager ready after %s; log %s", time.Since(start).Round(time.Millisecond), v.LogPath)
	return v
}

// Stop stops the operator; safe to call more than once.
func (v *VSO) Stop() { v.proc.stop(StopTimeout) }

// Log is what the operator has logged so far.
func (v *VSO) Log() string { return ReadLog(v.LogPath) }

// Exited reports whether the operator has exited.
func (v *VSO) Exited() bool { return v.proc.exited() }
