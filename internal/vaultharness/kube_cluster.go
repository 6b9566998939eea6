package vaultharness

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/resamania-oss/vault-plugin-secrets-resamania/internal/testsupport"
)

// KubeOptions configures StartKube.
type KubeOptions struct {
	// Secrets, when set, is asked once every Kubernetes process has
	// stopped: none of what it returns may appear in the log of etcd, of
	// the API server or of the operator (StartVSO).
	Secrets func() []string
}

// Kube is a Kubernetes API server without a cluster: etcd and
// kube-apiserver as plain processes on loopback (no kubelet, no nodes, so
// no pod ever runs), driven over plain HTTPS with an admin's bearer token.
type Kube struct {
	URL        string // https://127.0.0.1:<port>
	Token      string // an admin in system:masters (--token-auth-file)
	CACertPEM  []byte // the API server's self-signed serving certificate and its CA
	Kubeconfig string // a kubeconfig for this server and token, for the operator

	bins   KubeBinaries
	dir    string
	client *http.Client
	logs   []string // every process's log, for the secret scan
}

// kubeStartTimeout bounds each process's start; the API server takes the longest.
const kubeStartTimeout = 90 * time.Second

// StartKube starts etcd and kube-apiserver on free loopback ports, loads
// VSO's CRDs and waits until they are served. In t.Cleanup the API server
// stops before etcd (stopped after it, it takes minutes to exit), and then
// the logs are scanned for opts.Secrets.
func StartKube(t testing.TB, bins KubeBinaries, opts KubeOptions) *Kube {
	t.Helper()
	k := &Kube{bins: bins, dir: t.TempDir()}
	if opts.Secrets != nil {
		// Registered first, so it runs after every process has stopped.
		t.Cleanup(func() { k.assertNoSecretInLogs(t, opts.Secrets()) })
	}
	start := time.Now()
	etcdURL := k.startEtcd(t)
	k.startAPIServer(t, etcdURL)
	k.loadCRDs(t)
	t.Logf("kube-apiserver at %s with VSO's CRDs after %s; logs in %s", k.URL, time.Since(start).Round(time.Millisecond), k.dir)
	return k
}

// startEtcd runs a one-member etcd on loopback, without fsync (a test's data).
func (k *Kube) startEtcd(t testing.TB) string {
	t.Helper()
	port, err := freePortPair()
	if err != nil {
		t.Fatal(err)
	}
	client := fmt.Sprintf("http://127.0.0.1:%d", port)
	peer := fmt.Sprintf("http://127.0.0.1:%d", port+1)
	log := k.logPath("etcd")
	p, err := startChild(k.dir, k.bins.Etcd, []string{
		"--data-dir=" + filepath.Join(k.dir, "etcd-data"),
		"--listen-client-urls=" + client, "--advertise-client-urls=" + client,
		"--listen-peer-urls=" + peer, "--initial-advertise-peer-urls=" + peer,
		"--initial-cluster=default=" + peer,
		"--unsafe-no-fsync", "--log-level=warn",
	}, baseEnv(), log)
	if err != nil {
		t.Fatalf("etcd: %v", err)
	}
	t.Cleanup(func() { p.stop(StopTimeout) })
	k.waitHTTP(t, p, log, "etcd", http.DefaultClient, client+"/health", "", `"health":"true"`)
	return client
}

// startAPIServer runs kube-apiserver against etcd with self-signed serving
// certificates, a service-account key of its own and a static admin token.
func (k *Kube) startAPIServer(t testing.TB, etcdURL string) {
	t.Helper()
	port, err := freePortPair()
	if err != nil {
		t.Fatal(err)
	}
	k.URL = fmt.Sprintf("https://127.0.0.1:%d", port)
	k.Token = randomHex(t)
	certDir := filepath.Join(k.dir, "certs")
	saKey := filepath.Join(k.dir, "service-account.key")
	tokens := filepath.Join(k.dir, "tokens.csv")
	writeRSAKey(t, saKey)
	writeFile(t, tokens, fmt.Sprintf("%s,admin,admin,\"system:masters\"\n", k.Token))

	log := k.logPath("kube-apiserver")
	p, err := startChild(k.dir, k.bins.APIServer, []string{
		"--etcd-servers=" + etcdURL,
		"--bind-address=127.0.0.1", "--advertise-address=127.0.0.1", fmt.Sprintf("--secure-port=%d", port),
		"--cert-dir=" + certDir,
		"--service-account-key-file=" + saKey, "--service-account-signing-key-file=" + saKey,
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--token-auth-file=" + tokens,
		"--authorization-mode=RBAC",
		"--service-cluster-ip-range=10.0.0.0/24",
		"--endpoint-reconciler-type=none", // it advertises 127.0.0.1, which it would refuse to publish
		"--disable-admission-plugins=ServiceAccount",
	}, baseEnv(), log)
	if err != nil {
		t.Fatalf("kube-apiserver: %v", err)
	}
	t.Cleanup(func() { p.stop(StopTimeout) })

	// The serving certificate appears once the server has generated it.
	certFile := filepath.Join(certDir, "apiserver.crt")
	if err := waitUntil(kubeStartTimeout, "kube-apiserver's certificate", func() (bool, error) {
		b, err := os.ReadFile(certFile)
		if err == nil && len(b) > 0 {
			k.CACertPEM = b
			return true, nil
		}
		return false, p.exitErr()
	}); err != nil {
		fatalAfterTails(t, tailOf(log, 40), "kube-apiserver: %v", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(k.CACertPEM) {
		t.Fatalf("kube-apiserver: no certificate in %s", certFile)
	}
	k.client = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
	}}
	k.waitHTTP(t, p, log, "kube-apiserver", k.client, k.URL+"/readyz", k.Token, "ok")
	k.Kubeconfig = k.writeKubeconfig(t)
}

// waitHTTP waits until url answers 200 with a body holding want, or fails
// the test with the log's tail as soon as the process has exited.
func (k *Kube) waitHTTP(t testing.TB, p *child, log, name string, c *http.Client, url, token, want string) {
	t.Helper()
	err := waitUntil(kubeStartTimeout, name+" ready", func() (bool, error) {
		if err := p.exitErr(); err != nil {
			return true, err
		}
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := c.Do(req)
		if err != nil {
			return false, err
		}
		body := readBody(resp)
		if resp.StatusCode != http.StatusOK || !strings.Contains(body, want) {
			return false, fmt.Errorf("HTTP %d: %.200s", resp.StatusCode, body)
		}
		return true, nil
	})
	if err != nil {
		fatalAfterTails(t, tailOf(log, 40), "%s did not start: %v", name, err)
	}
}

// writeKubeconfig writes a kubeconfig (JSON is YAML) for the admin token.
func (k *Kube) writeKubeconfig(t testing.TB) string {
	t.Helper()
	path := filepath.Join(k.dir, "kubeconfig")
	cfg := fmt.Sprintf(`{"apiVersion":"v1","kind":"Config","current-context":"test",
"clusters":[{"name":"test","cluster":{"server":%q,"certificate-authority-data":%q}}],
"users":[{"name":"admin","user":{"token":%q}}],
"contexts":[{"name":"test","context":{"cluster":"test","user":"admin"}}]}`,
		k.URL, base64Std(k.CACertPEM), k.Token)
	writeFile(t, path, cfg)
	return path
}

func (k *Kube) logPath(name string) string {
	p := filepath.Join(k.dir, name+".log")
	k.logs = append(k.logs, p)
	return p
}

// assertNoSecretInLogs: no secret in the log of any Kubernetes process.
func (k *Kube) assertNoSecretInLogs(t testing.TB, secrets []string) {
	t.Helper()
	var checked int64
	for _, log := range k.logs {
		checked += testsupport.AssertNoSecretInFile(t, log, secrets, 256<<20)
	}
	t.Logf("secret scan: %d secrets looked for in %d bytes of %d Kubernetes logs (etcd, kube-apiserver, the operator)", len(secrets), checked, len(k.logs))
}

// writeRSAKey writes a new 2048-bit RSA key, PKCS#1 PEM: the API server
// signs service-account tokens with it and checks them with it.
func writeRSAKey(t testing.TB, path string) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, path, string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})))
}

func writeFile(t testing.TB, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func randomHex(t testing.TB) string {
	t.Helper()
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}
