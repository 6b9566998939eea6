package resamania

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"

	"github.com/resamania-oss/vault-plugin-secrets-resamania/internal/upstream"
)

// The whole storage layout in one place: every prefix, and the key of each
// entry. What is stored under a chain's name is listed in chainScopedPrefixes,
// so that deleting a chain (chain_delete.go) reads as one list.

// The prefixes. Every prefix that holds a secret is seal-wrapped (backend.go).
const (
	// configStoragePrefix holds one chainConfig per chain: config/<client_token>.
	// It holds the client secret and the gateway key.
	configStoragePrefix = "config/"
	// tokenStoragePrefix holds the cached client_credentials token of each
	// chain, cache/token/<client_token>, so a plugin reload or a Vault restart
	// does not re-mint a token that is still good.
	tokenStoragePrefix = "cache/token/"
	// clubTokenStoragePrefix and contactTokenStoragePrefix hold the cached
	// club- and member-scoped tokens: cache/club-token/<client_token>/<club_id>,
	// cache/contact-token/<client_token>/<name>. Each carries the fingerprint of
	// the config it was minted with.
	clubTokenStoragePrefix    = "cache/club-token/"
	contactTokenStoragePrefix = "cache/contact-token/"
	// contactsStoragePrefix holds the email of each member an operator named
	// for member-scoped tokens: contacts/<client_token>/<name>. Personal data.
	contactsStoragePrefix = "contacts/"
	// credsStoragePrefix holds one member credential per chain and name:
	// creds/<client_token>/<name>. It holds refresh tokens.
	credsStoragePrefix = "creds/"
	// authStateStoragePrefix remembers the states auth-code-url issued, by
	// their sha256, with the credential name and redirect_uri each is for:
	// auth-state/<client_token>/<hex>. Not secret: hashes only.
	authStateStoragePrefix = "auth-state/"
	// gatewayHoldStoragePrefix holds each gateway key's window a 429 closed,
	// until it ends: gateway-holds/<sha256 of host and key>. Not secret.
	gatewayHoldStoragePrefix = "gateway-holds/"
)

// chainScopedPrefixes hold a chain's entries in a folder of its own:
// <prefix><client_token>/<...>. Its config and its chain token are the two
// entries named by the chain itself.
var chainScopedPrefixes = []string{clubTokenStoragePrefix, contactTokenStoragePrefix, contactsStoragePrefix, credsStoragePrefix, authStateStoragePrefix}

// chainDir is the folder of a chain's entries under a chain-scoped prefix.
func chainDir(prefix, chain string) string { return prefix + chain + "/" }

// configKey is config/<client_token>.
func configKey(chain string) string { return configStoragePrefix + chain }

// chainTokenKey is the chain's client_credentials token: cache/token/<client_token>.
func chainTokenKey(chain string) string { return tokenStoragePrefix + chain }

// clubTokenKey is cache/club-token/<client_token>/<club_id>.
func clubTokenKey(chain, club string) string { return chainDir(clubTokenStoragePrefix, chain) + club }

// contactTokenKey is cache/contact-token/<client_token>/<name>.
func contactTokenKey(chain, name string) string {
	return chainDir(contactTokenStoragePrefix, chain) + name
}

// contactKey is contacts/<client_token>/<name>.
func contactKey(chain, name string) string { return chainDir(contactsStoragePrefix, chain) + name }

// credKey is creds/<client_token>/<name>.
func credKey(chain, name string) string { return chainDir(credsStoragePrefix, chain) + name }

// deleteUnderPrefix deletes from m, an in-memory view keyed like storage,
// every key under prefix (a chain's, a deleted chain's credentials).
func deleteUnderPrefix[V any](m map[string]V, prefix string) {
	for key := range m {
		if strings.HasPrefix(key, prefix) {
			delete(m, key)
		}
	}
}

// credKeyChain is the chain of a credential's key.
func credKeyChain(key string) string {
	chain, _, _ := strings.Cut(strings.TrimPrefix(key, credsStoragePrefix), "/")
	return chain
}

// authStateKey is auth-state/<client_token>/<sha256 of the state>: the state
// itself is never stored.
func authStateKey(chain, state string) string {
	sum := sha256.Sum256([]byte(state))
	return chainDir(authStateStoragePrefix, chain) + hex.EncodeToString(sum[:])
}

// gatewayHoldKey is gateway-holds/<sha256 of the gateway host and key>.
func gatewayHoldKey(id upstream.GatewayKeyID) string { return gatewayHoldStoragePrefix + id.String() }
