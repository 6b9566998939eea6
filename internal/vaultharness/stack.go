package vaultharness

import (
	"strings"
	"testing"

	"github.com/resamania-oss/vault-plugin-secrets-resamania/internal/testsupport"
)

// StackOptions configures StartStack.
type StackOptions struct {
	// Nodes is 0 or 1 for one server (Server configures it), more for a raft
	// cluster of that many nodes (Cluster configures it).
	Nodes   int
	Server  Options
	Cluster ClusterOptions
	// Plugin is registered and mounted at Mount. Its directory becomes the
	// server's plugin directory (other binaries in it may be registered
	// later). Nil builds the plugin stamped PluginVersion.
	Plugin        *Plugin
	PluginVersion string
	// Mount is where Plugin is mounted; "" registers it only.
	Mount string
	// Unregistered leaves Plugin in the plugin directory only, for a test
	// whose own tooling registers it (Mount must be "").
	Unregistered bool
	// Audit enables a file audit device before the plugin is mounted
	// (Stack.AuditLog), one server only.
	Audit bool
	// Secrets, when set, is asked once every process has stopped: none of
	// what it returns may appear in a server log, in what the CLI printed
	// to stderr, or in the audit log (where the plugin's requests must
	// show as HMACs).
	Secrets func() []string
	// ScanLimit is how many bytes of each log the scan reads; a larger log
	// is sampled (testsupport.AssertNoSecretInFile). Default 256 MiB.
	ScanLimit int64
}

// Stack is one Vault or OpenBao (ServerEnv chooses) with the plugin
// registered and mounted: the one builder every end-to-end test, the soak
// and the benchmark start theirs with.
type Stack struct {
	Server   *Server  // the single server; nil for a cluster
	Cluster  *Cluster // the cluster; nil for a single server
	Vault    *Process // the server, or the node that was active when the stack came up
	Plugin   *Plugin
	AuditLog string // the file audit device's log; "" without Audit
}

// StartStack builds the plugin when needed, starts the server or cluster
// with it in the plugin directory, enables the audit device and mounts the
// plugin. Everything stops in t.Cleanup, after which the logs are scanned
// for opts.Secrets.
func StartStack(t testing.TB, opts StackOptions) *Stack {
	t.Helper()
	Require(t)
	st := &Stack{Plugin: opts.Plugin}
	if st.Plugin == nil {
		st.Plugin = BuildPlugin(t, opts.PluginVersion)
	}
	if opts.Secrets != nil {
		// Registered before the servers' own cleanups, so it runs after
		// they have stopped and written their last lines.
		t.Cleanup(func() { st.assertNoSecretInLogs(t, opts) })
	}
	if opts.Nodes > 1 {
		opts.Cluster.PluginDir = st.Plugin.Dir
		st.Cluster = StartCluster(t, opts.Nodes, opts.Cluster)
		st.Vault = st.Cluster.Nodes[st.Cluster.Active(t)].Process
	} else {
		opts.Server.PluginDir = st.Plugin.Dir
		st.Server = StartServer(t, opts.Server)
		st.Vault = st.Server.Process
		if opts.Audit {
			st.AuditLog = st.Vault.EnableFileAudit(t)
		}
	}
	if opts.Unregistered {
		if opts.Mount != "" {
			t.Fatalf("StartStack: Mount %q needs the plugin registered", opts.Mount)
		}
		return st
	}
	st.Vault.Register(t, st.Plugin)
	if opts.Mount != "" {
		st.Vault.Enable(t, st.Plugin, opts.Mount)
		if st.Cluster != nil {
			st.Cluster.WaitMountRouted(t, opts.Mount)
		}
	}
	return st
}

// Processes are the stack's server processes: the server, or every node.
func (st *Stack) Processes() []*Process {
	if st.Cluster == nil {
		if st.Server == nil {
			return nil
		}
		return []*Process{st.Server.Process}
	}
	var out []*Process
	for _, n := range st.Cluster.Nodes {
		out = append(out, n.Process)
	}
	return out
}

// assertNoSecretInLogs: no secret in any server log (which holds the
// plugin's log), in what the CLI printed to stderr, nor in the audit log.
func (st *Stack) assertNoSecretInLogs(t testing.TB, opts StackOptions) {
	t.Helper()
	procs := st.Processes()
	if len(procs) == 0 {
		return
	}
	secrets := opts.Secrets()
	limit := opts.ScanLimit
	if limit <= 0 {
		limit = 256 << 20
	}
	var checked, size int64
	for _, p := range procs {
		checked += testsupport.AssertNoSecretInFile(t, p.LogPath, secrets, limit)
		size += fileSize(p.LogPath)
		testsupport.AssertNoSecret(t, p.name+": the CLI's stderr", p.CLIStderr(), secrets)
	}
	t.Logf("secret scan: %d secrets looked for in %d of the %d bytes of %d server logs", len(secrets), checked, size, len(procs))
	if st.AuditLog != "" {
		audit := ReadLog(st.AuditLog)
		if opts.Mount != "" && (!strings.Contains(audit, opts.Mount+"/") || !strings.Contains(audit, "hmac-sha256:")) {
			t.Errorf("the audit log %s holds no HMAC'd request to the plugin: the check would prove nothing", st.AuditLog)
		}
		testsupport.AssertNoSecret(t, st.AuditLog, audit, secrets)
	}
}
