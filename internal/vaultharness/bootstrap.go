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

// initialise runs sys/init with one key share on a server that has never
// been initialised, and keeps its root token and unseal key. A single server
// and a cluster's first node both go through here.
func (v *Process) initialise() error {
	anon, err := newClient(v.Addr, "", 0, CLITimeout)
	if err != nil {
		return err
	}
	resp, err := anon.Sys().Init(&api.InitRequest{SecretShares: 1, SecretThreshold: 1})
	if err != nil {
		return fmt.Errorf("%s: init: %w", v.name, err)
	}
	if len(resp.KeysB64) != 1 || resp.RootToken == "" {
		return fmt.Errorf("%s: init: unexpected answer with %d keys", v.name, len(resp.KeysB64))
	}
	v.RootToken, v.UnsealKey = resp.RootToken, resp.KeysB64[0]
	return nil
}

// unseal submits the key until the server is unsealed. A raft joiner
// refuses the key ("not initialized") until retry_join has fetched the
// leader's challenge; then the key both answers it and unseals.
func (v *Process) unseal(deadline time.Time) error {
	anon, err := newClient(v.Addr, "", 0, CLITimeout)
	if err != nil {
		return err
	}
	return v.waitRunning(deadline, "unsealed", func() (bool, error) {
		st, err := anon.Sys().Unseal(v.UnsealKey)
		if err != nil {
			return false, err
		}
		return !st.Sealed, nil
	})
}

// initOrUnseal brings a file-storage server up: a new data dir is
// initialised and its root token and key saved beside the storage; a data
// dir used before gives them back. Then the server is unsealed.
func (v *Process) initOrUnseal(deadline time.Time) error {
	h, err := v.waitHealth(deadline, "listener", answering)
	if err != nil {
		return err
	}
	if !h.Initialized {
		if err := v.initialise(); err != nil {
			return err
		}
		if err := v.saveInitInfo(); err != nil {
			return err
		}
		return v.unseal(deadline)
	}
	if err := v.loadInitInfo(); err != nil {
		return err
	}
	if h.Sealed {
		return v.unseal(deadline)
	}
	return nil
}

// initInfo is what a file-storage server needs to come back after a
// restart. It is saved in the data dir, so a later StartServer on the same
// DataDir can unseal it too.
type initInfo struct {
	RootToken string `json:"root_token"`
	UnsealKey string `json:"unseal_key"`
}

func initInfoPath(dataDir string) string {
	return filepath.Join(dataDir, "vaultharness-init.json")
}

func (v *Process) saveInitInfo() error {
	b, err := json.Marshal(initInfo{RootToken: v.RootToken, UnsealKey: v.UnsealKey})
	if err != nil {
		return err
	}
	return os.WriteFile(initInfoPath(v.DataDir), b, 0o600)
}

func (v *Process) loadInitInfo() error {
	path := initInfoPath(v.DataDir)
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("data dir %s is initialised but holds no %s", v.DataDir, filepath.Base(path))
	}
	if err != nil {
		return err
	}
	var info initInfo
	if err := json.Unmarshal(b, &info); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	v.RootToken, v.UnsealKey = info.RootToken, info.UnsealKey
	return nil
}
