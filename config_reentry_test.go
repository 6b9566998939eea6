package resamania

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/vault/sdk/logical"
	"github.com/stretchr/testify/require"

	"github.com/resamania-oss/vault-plugin-secrets-resamania/internal/fakeresamania"
)

// newCAPEM is a CA bundle of its own: a self-signed certificate made now.
func newCAPEM(t *testing.T) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

// TestAnUpdateThatMovesTheSecretsMustCarryThemAgain: an update that changes
// where the chain's secrets go (api_base_url, ca_pem) or where its members
// type their passwords (login_url) is refused unless it writes the secrets
// again: nothing is sent, nothing stored. With them, it is accepted.
func TestAnUpdateThatMovesTheSecretsMustCarryThemAgain(t *testing.T) {
	env := getTestBackend(t)
	env.configure(map[string]any{"api_key": testAPIKey, "ca_pem": newCAPEM(t)})
	other := fakeresamania.Start(fakeresamania.Options{})
	t.Cleanup(other.Close)
	other.AddClient(fakeresamania.Client{ClientToken: testChain, ClientID: testClientID, ClientSecret: testSecret})
	before := env.dumpStorage()

	for _, tc := range []struct {
		field  string
		change map[string]any
		needs  string // what the refusal asks for
	}{
		{"api_base_url", map[string]any{"api_base_url": other.URL()}, "client_secret and api_key"},
		{"ca_pem", map[string]any{"ca_pem": newCAPEM(t)}, "client_secret and api_key"},
		{"login_url", map[string]any{"login_url": "https://login.example/{client_token}"}, "client_secret"},
		{"api_base_url, client_secret without api_key", map[string]any{"api_base_url": other.URL(), "client_secret": testSecret}, "client_secret and api_key"},
	} {
		for _, verify := range []bool{true, false} {
			data := map[string]any{"verify_connection": verify}
			for k, v := range tc.change {
				data[k] = v
			}
			resp, err := env.request(logical.UpdateOperation, "config/"+testChain, data)
			require.NoError(t, err)
			require.True(t, resp.IsError(), "%s (verify_connection=%t) was accepted", tc.field, verify)
			msg := resp.Error().Error()
			require.Contains(t, msg, firstWord(tc.field))
			require.Contains(t, msg, "write "+tc.needs+" again in the same request")
			require.Contains(t, msg, "secrets follow only the host they were written for")
			require.NotContains(t, msg, testSecret)
			require.Equal(t, before, env.dumpStorage(), "%s: nothing stored", tc.field)
			require.Zero(t, other.TokenRequests("", ""), "%s: nothing sent to the new host", tc.field)
			require.Zero(t, env.fake.TokenRequests("", ""), "%s: nothing sent with the new CA or page", tc.field)
		}
	}

	// The same URL written in another form moves nothing.
	resp, err := env.request(logical.UpdateOperation, "config/"+testChain, map[string]any{"api_base_url": env.fake.URL() + "/"})
	require.NoError(t, err)
	require.Nil(t, resp)

	// Written again, the secrets go where they were written for.
	for _, change := range []map[string]any{
		{"login_url": "https://login.example/{client_token}", "client_secret": testSecret},
		{"ca_pem": newCAPEM(t), "client_secret": testSecret, "api_key": testAPIKey},
		{"api_base_url": other.URL(), "client_secret": testSecret, "api_key": testAPIKey},
	} {
		resp, err := env.request(logical.UpdateOperation, "config/"+testChain, change)
		require.NoError(t, err)
		require.Nil(t, resp, "%v", change)
	}
	require.Equal(t, 1, other.TokenRequests(testChain, "client_credentials"), "verified on the new host")
	require.Equal(t, other.URL(), env.mustRead(t, "config/"+testChain).Data["api_base_url"])
}

// firstWord is a case's field: its name up to a comma.
func firstWord(s string) string {
	field, _, _ := strings.Cut(s, ",")
	return field
}
