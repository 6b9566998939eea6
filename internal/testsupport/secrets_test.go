package testsupport

import (
	"fmt"
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
