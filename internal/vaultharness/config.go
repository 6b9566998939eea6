package vaultharness

import (
	"fmt"
	"os"
	"strings"
)

// writeServerConfig writes the HCL config for one server start. Dev mode only
// needs plugin_directory (everything else comes from -dev flags, and Vault
// merges -config into the dev config); file mode is a complete config.
func writeServerConfig(path string, s *Server) error {
	var b strings.Builder
	if s.PluginDir != "" {
		fmt.Fprintf(&b, "plugin_directory = %q\n", s.PluginDir)
	}
	if !s.Dev {
		fmt.Fprintf(&b, "storage \"file\" {\n  path = %q\n}\n", storagePath(s.DataDir))
		fmt.Fprintf(&b, "listener \"tcp\" {\n  address = %q\n  cluster_address = %q\n  tls_disable = true\n}\n",
			fmt.Sprintf("127.0.0.1:%d", s.Port), fmt.Sprintf("127.0.0.1:%d", s.Port+1))
		fmt.Fprintf(&b, "api_addr = %q\n", s.Addr)
		fmt.Fprintf(&b, "cluster_addr = %q\n", fmt.Sprintf("https://127.0.0.1:%d", s.Port+1))
		fmt.Fprintf(&b, "disable_mlock = true\n")
		fmt.Fprintf(&b, "log_level = %q\n", s.logLevel)
	}
	return os.WriteFile(path, []byte(b.String()), 0o600)
}
