// Command vault-plugin-secrets-resamania is the plugin binary Vault runs.
package main

import (
	"os"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/vault/api"
	"github.com/hashicorp/vault/sdk/plugin"

	resamania "github.com/resamania-oss/vault-plugin-secrets-resamania"
)

// version is set at build time: -ldflags "-X main.version=v1.2.3".
var version = "v0.0.0-dev"

func main() {
	resamania.Version = version
	// JSON at trace level, as the sdk's default: Vault parses the lines and
	// applies its own log level to them.
	logger := hclog.New(&hclog.LoggerOptions{Level: hclog.Trace, Output: os.Stderr, JSONFormat: true})

	meta := &api.PluginAPIClientMeta{}
	if err := meta.FlagSet().Parse(os.Args[1:]); err != nil {
		logger.Error("plugin shutting down", "error", err)
		os.Exit(1)
	}

	err := plugin.ServeMultiplex(&plugin.ServeOpts{
		BackendFactoryFunc: resamania.Factory,
		TLSProviderFunc:    api.VaultPluginTLSProvider(meta.GetTLSConfig()),
		Logger:             logger,
	})
	if err != nil {
		logger.Error("plugin shutting down", "error", err)
		os.Exit(1)
	}
}
