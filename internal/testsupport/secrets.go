package testsupport

import (
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
)

// AssertNoSecret fails t for each secret that text holds, naming where the
// text came from and only the first few characters of the secret.
func AssertNoSecret(t testing.TB, where, text string, secrets []string) {
	t.Helper()
	for _, s := range FoundSecrets(text, secrets) {
		t.Errorf("a secret appears in %s: %.12s...", where, s)
	}
}

// keyLen is the length of the prefix FoundSecrets indexes secrets by.
const keyLen = 8

// FoundSecrets returns the secrets text holds, once each, in the order
// given. One pass over text serves every secret of at least keyLen bytes
// (a soak's log is checked against thousands of tokens); shorter ones are
// looked for one by one.
func FoundSecrets(text string, secrets []string) []string {
	byPrefix := map[uint64][]int{}
	found := make([]bool, len(secrets))
	for i, s := range secrets {
		switch {
		case s == "":
		case len(s) < keyLen:
			found[i] = strings.Contains(text, s)
		default:
			k := binary.LittleEndian.Uint64([]byte(s[:keyLen]))
			byPrefix[k] = append(byPrefix[k], i)
		}
	}
	if len(byPrefix) > 0 {
		for at := 0; at+keyLen <= len(text); at++ {
			for _, i := range byPrefix[binary.LittleEndian.Uint64([]byte(text[at:at+keyLen]))] {
				if !found[i] && strings.HasPrefix(text[at:], secrets[i]) {
					found[i] = true
				}
			}
		}
	}
	var out []string
	for i, f := range found {
		if f {
			out = append(out, secrets[i])
		}
	}
	return out
}

// AssertNoSecretInFile is AssertNoSecret over a file. A file of at most
// limit bytes is read whole. A larger one (a soak's log runs to gigabytes)
// is sampled: its start, its end, and evenly spaced windows between them,
// limit bytes in all, each window widened so that a secret across its edge
// is still seen. It returns the number of bytes checked.
func AssertNoSecretInFile(t testing.TB, path string, secrets []string, limit int64) int64 {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Errorf("secret scan of %s: %v", path, err)
		return 0
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		t.Errorf("secret scan of %s: %v", path, err)
		return 0
	}
	var longest int64
	for _, s := range secrets {
		longest = max(longest, int64(len(s)))
	}
	var checked int64
	for _, w := range sampleWindows(info.Size(), limit, longest) {
		buf := make([]byte, w[1]-w[0])
		n, err := f.ReadAt(buf, w[0])
		if err != nil && err != io.EOF {
			t.Errorf("secret scan of %s: %v", path, err)
			return checked
		}
		where := path
		if w[1]-w[0] < info.Size() {
			where = fmt.Sprintf("%s (bytes %d-%d of %d)", path, w[0], w[0]+int64(n), info.Size())
		}
		AssertNoSecret(t, where, string(buf[:n]), secrets)
		checked += int64(n)
	}
	return checked
}

// sampleWindows cuts [0,size) into the byte ranges a scan reads: all of it
// when size <= limit, otherwise sampleCount windows of limit/sampleCount
// bytes, the first at the start, the last at the end, each widened by
// overlap-1 bytes.
func sampleWindows(size, limit, overlap int64) [][2]int64 {
	if size <= limit || limit <= 0 {
		return [][2]int64{{0, size}}
	}
	width := limit / sampleCount
	step := (size - width) / (sampleCount - 1)
	out := make([][2]int64, 0, sampleCount)
	for i := int64(0); i < sampleCount; i++ {
		start := i * step
		if i == sampleCount-1 {
			start = size - width
		}
		out = append(out, [2]int64{start, min(size, start+width+max(overlap-1, 0))})
	}
	return out
}

// sampleCount is how many windows a sampled scan reads.
const sampleCount = 16
