package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/resamania-oss/vault-plugin-secrets-resamania/internal/vaultharness"
)

// prometheusLifetime bounds a test's Prometheus server, whatever happens to the test.
const prometheusLifetime = 3 * time.Minute

// requireTool returns the path of a binary of Debian's prometheus package.
// Missing, the test is skipped only when RESAMANIA_E2E is unset: with it set
// (make test sets it to required, and .ci/run installs the package) it fails.
func requireTool(t *testing.T, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err == nil {
		return path
	}
	if os.Getenv(vaultharness.E2EEnv) != "" {
		t.Fatalf("%s=%s but %s is not installed (apt-get install prometheus; .ci/run does)", vaultharness.E2EEnv, os.Getenv(vaultharness.E2EEnv), name)
	}
	t.Skipf("skipping: %s is not installed", name)
	return ""
}

// prometheusServer is a real Prometheus on a free loopback port, with its own
// data directory, killed at the end of the test.
type prometheusServer struct {
	addr string // http://127.0.0.1:port
	log  string // its log file
}

// startPrometheus runs Prometheus with config (a prometheus.yml's text) and
// waits until it is ready.
func startPrometheus(t *testing.T, config string) *prometheusServer {
	t.Helper()
	bin := requireTool(t, "prometheus")
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "prometheus.yml")
	require.NoError(t, os.WriteFile(cfgPath, []byte(config), 0o600))
	port := freePort(t)
	p := &prometheusServer{addr: fmt.Sprintf("http://127.0.0.1:%d", port), log: filepath.Join(dir, "prometheus.log")}
	logFile, err := os.Create(p.log)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), prometheusLifetime)
	cmd := exec.CommandContext(ctx, bin,
		"--config.file="+cfgPath,
		"--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+fmt.Sprintf("127.0.0.1:%d", port))
	cmd.Stdout, cmd.Stderr = logFile, logFile
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		cancel() // kills it
		_ = cmd.Wait()
		logFile.Close()
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(p.addr + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p
			}
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			t.Fatalf("prometheus not ready at %s: %v\n--- %s ---\n%s", p.addr, err, p.log, vaultharness.ReadLog(p.log))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// query runs an instant query and returns the value of its only sample; ok
// is false when the result holds no sample.
func (p *prometheusServer) query(t *testing.T, q string) (value float64, ok bool) {
	t.Helper()
	resp, err := http.Get(p.addr + "/api/v1/query?query=" + url.QueryEscape(q))
	require.NoError(t, err)
	defer resp.Body.Close()
	var body struct {
		Status string `json:"status"`
		Data   struct {
			Result []struct {
				Value [2]any `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
	require.Equal(t, "success", body.Status, q)
	if len(body.Data.Result) != 1 {
		return 0, false
	}
	v, err := strconv.ParseFloat(body.Data.Result[0].Value[1].(string), 64)
	require.NoError(t, err)
	return v, true
}

// waitForValue polls q until it equals want, and fails with the last value
// and Prometheus' log after timeout.
func (p *prometheusServer) waitForValue(t *testing.T, q string, want float64, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		got, ok := p.query(t, q)
		if ok && got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: got %v (present %v), want %v\n--- %s ---\n%s", q, got, ok, want, p.log, vaultharness.ReadLog(p.log))
		}
		time.Sleep(500 * time.Millisecond)
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
