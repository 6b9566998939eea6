package vaultharness

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/hashicorp/vault/api"
)

// initInfo is what a file-storage server needs to come back after a restart.
// It is saved in the data dir so a later StartServer on the same DataDir can
// unseal it too.
type initInfo struct {
	RootToken string `json:"root_token"`
	UnsealKey string `json:"unseal_key"`
}

func initInfoPath(dataDir string) string {
	return filepath.Join(dataDir, "vaultharness-init.json")
}

// initAndUnseal waits for the listener, runs `vault operator init` on a new
// data dir (one key share), and `vault operator unseal` with the saved key.
func (s *Server) initAndUnseal(p *process, deadline time.Time) error {
	var h *api.HealthResponse
	if err := waitUntil(time.Until(deadline), "the listener", func() (bool, error) {
		if p.exited() {
			return true, errExited(p)
		}
		var err error
		h, err = health(s.Addr)
		return err == nil, err
	}); err != nil {
		return err
	}
	env := append(baseEnv(), "VAULT_ADDR="+s.Addr)
	timeout := func() time.Duration { return min(CLITimeout, time.Until(deadline)) }

	var info initInfo
	if !h.Initialized {
		stdout, stderr, err := runVault(s.bin, env, timeout(),
			"operator", "init", "-key-shares=1", "-key-threshold=1", "-format=json")
		if err != nil {
			return fmt.Errorf("vault operator init: %w: %s", err, stderr)
		}
		var out struct {
			Keys      []string `json:"unseal_keys_b64"`
			RootToken string   `json:"root_token"`
		}
		if err := json.Unmarshal([]byte(stdout), &out); err != nil {
			return fmt.Errorf("vault operator init output: %w: %s", err, stdout)
		}
		if len(out.Keys) != 1 || out.RootToken == "" {
			return fmt.Errorf("vault operator init: unexpected output: %s", stdout)
		}
		info = initInfo{RootToken: out.RootToken, UnsealKey: out.Keys[0]}
		b, _ := json.Marshal(info)
		if err := os.WriteFile(initInfoPath(s.DataDir), b, 0o600); err != nil {
			return err
		}
	} else {
		b, err := os.ReadFile(initInfoPath(s.DataDir))
		if errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("data dir %s is initialised but holds no %s", s.DataDir, filepath.Base(initInfoPath(s.DataDir)))
		}
		if err != nil {
			return err
		}
		if err := json.Unmarshal(b, &info); err != nil {
			return fmt.Errorf("%s: %w", initInfoPath(s.DataDir), err)
		}
	}
	s.RootToken, s.UnsealKey = info.RootToken, info.UnsealKey

	if !h.Initialized || h.Sealed {
		if _, stderr, err := runVault(s.bin, env, timeout(), "operator", "unseal", s.UnsealKey); err != nil {
			return fmt.Errorf("vault operator unseal: %w: %s", err, stderr)
		}
	}
	return nil
}
