package testsupport

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// recorder is a testing.TB that keeps the failures it is told of.
type recorder struct {
	testing.TB
	failures []string
}

func (r *recorder) Helper() {}

func (r *recorder) Errorf(format string, args ...any) {
	r.failures = append(r.failures, fmt.Sprintf(format, args...))
}

func TestAssertNoSecretFailsOnALeak(t *testing.T) {
	r := &recorder{TB: t}
	AssertNoSecret(r, "the log", `msg="token=SENTINEL-abcdefghijkl"`, []string{"", "SENTINEL-abcdefghijkl", "absent"})
	require.Len(t, r.failures, 1)
	require.Contains(t, r.failures[0], "the log")
	require.NotContains(t, r.failures[0], "SENTINEL-abcdefghijkl", "the failure shows only the secret's start")

	clean := &recorder{TB: t}
	AssertNoSecret(clean, "the log", "nothing here", []string{"SENTINEL-abcdefghijkl"})
	require.Empty(t, clean.failures)
}

func TestFoundSecretsSeesEveryLengthAndPosition(t *testing.T) {
	secrets := []string{"abc", "SENTINEL-at-start", "SENTINEL-in-the-middle", "SENTINEL-at-the-end", "SENTINEL-absent", "SENTINEL-at-start"}
	text := "SENTINEL-at-start, abc, SENTINEL-in-the-middle, SENTINEL-at-the-end"
	require.Equal(t, []string{"abc", "SENTINEL-at-start", "SENTINEL-in-the-middle", "SENTINEL-at-the-end", "SENTINEL-at-start"}, FoundSecrets(text, secrets))
	require.Empty(t, FoundSecrets("SENTINEL-at-star", secrets), "a prefix of a secret is not the secret")
}

func TestAssertNoSecretInFileSamplesALargeFile(t *testing.T) {
	const size = 1 << 20
	body := []byte(strings.Repeat(".", size))
	secret := "SENTINEL-across-a-window-edge"
	// At the very end, and across the first window's end: both must be seen.
	copy(body[size-len(secret):], "SENTINEL-at-the-very-end-of-it")
	edge := int(int64(1<<16) / sampleCount)
	copy(body[edge-5:], secret)
	path := filepath.Join(t.TempDir(), "big.log")
	require.NoError(t, os.WriteFile(path, body, 0o600))

	r := &recorder{TB: t}
	checked := AssertNoSecretInFile(r, path, []string{secret, "SENTINEL-at-the-very-end-of-it"[:len(secret)]}, 1<<16)
	require.Len(t, r.failures, 2, "%v", r.failures)
	require.Less(t, checked, int64(size/4), "a large file is sampled, not read whole")
	require.GreaterOrEqual(t, checked, int64(1<<16))

	small := &recorder{TB: t}
	require.Equal(t, int64(size), AssertNoSecretInFile(small, path, []string{"absent-secret"}, size))
	require.Empty(t, small.failures)
}
