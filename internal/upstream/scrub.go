package upstream

import (
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// scrubber replaces known secrets in text that came from the server: a broken
// or hostile server must not make the plugin print a secret it echoed, in
// whatever case or escaping it echoed it: URL-encoded (%XX, + for a space),
// JSON-escaped (\uXXXX, \/ and the other short escapes) or a mix.
type scrubber []string

// minScrubbed is the shortest secret scrubbed: a shorter one would redact
// ordinary words.
const minScrubbed = 4

func newScrubber(secrets ...string) scrubber {
	var s scrubber
	for _, v := range secrets {
		if utf8.RuneCountInString(v) >= minScrubbed {
			s = append(s, v)
		}
	}
	return s
}

// clean returns text with every secret redacted, clipped to 300 bytes after
// redaction, so that no clipped secret escapes it.
func (s scrubber) clean(text string) string {
	if len(s) == 0 || text == "" {
		return Clip(text, 300)
	}
	// The text is searched as sent (a secret that holds % or \ itself) and
	// decoded; each secret as it is.
	asSent, decoded := foldText(text, false), foldText(text, true)
	var spans []span
	for _, secret := range s {
		needle := foldText(secret, false).s
		spans = append(spans, asSent.find(needle)...)
		spans = append(spans, decoded.find(needle)...)
	}
	return Clip(redact(text, spans), 300)
}

// span is a part of the original text, [start, end) in bytes.
type span struct{ start, end int }

// folded is a text decoded and case-folded rune by rune, each rune knowing
// the part of the original text it came from.
type folded struct {
	s string
	// from and to are indexed by byte offsets in s: from at the start of a
	// rune, to at its end; they give the original span of that rune.
	from, to []int
}

// find returns the original spans of every occurrence of needle.
func (f folded) find(needle string) []span {
	var spans []span
	for off := 0; needle != "" && off < len(f.s); {
		i := strings.Index(f.s[off:], needle)
		if i < 0 {
			break
		}
		start := off + i
		end := start + len(needle) // both on rune boundaries: UTF-8 cannot match mid-rune
		spans = append(spans, span{f.from[start], f.to[end]})
		off = start + 1
	}
	return spans
}

// foldText folds text, decoding its URL and JSON escapes first when decode
// is set.
func foldText(text string, decode bool) folded {
	f := folded{from: make([]int, 0, len(text)), to: append(make([]int, 0, len(text)+1), 0)}
	var b strings.Builder
	add := func(r rune, start, end int) {
		r = foldRune(r)
		if !utf8.ValidRune(r) {
			r = utf8.RuneError // a lone surrogate
		}
		p := b.Len()
		b.WriteRune(r)
		for range b.Len() - p {
			f.from = append(f.from, start)
			f.to = append(f.to, -1) // no rune ends inside a rune
		}
		f.to[b.Len()] = end
	}
	for i := 0; i < len(text); {
		if decode {
			if n := decodePercentRun(text, i, add); n > 0 {
				i += n
				continue
			}
			if r, n := decodeJSONEscape(text[i:]); n > 0 {
				add(r, i, i+n)
				i += n
				continue
			}
		}
		r, n := utf8.DecodeRuneInString(text[i:])
		add(r, i, i+n)
		i += n
	}
	f.s = b.String()
	return f
}

// decodePercentRun decodes the run of %XX at text[i:] as UTF-8 runes, each
// spanning the escapes of its bytes, and returns the run's length (0 for
// none).
func decodePercentRun(text string, i int, add func(r rune, start, end int)) int {
	var raw []byte
	j := i
	for j+2 < len(text) && text[j] == '%' && isHex(text[j+1]) && isHex(text[j+2]) {
		v, _ := strconv.ParseUint(text[j+1:j+3], 16, 8)
		raw = append(raw, byte(v))
		j += 3
	}
	for k := 0; k < len(raw); {
		r, n := utf8.DecodeRune(raw[k:])
		add(r, i+3*k, i+3*(k+n))
		k += n
	}
	return j - i
}

// decodeJSONEscape decodes one JSON escape at the start of s: \uXXXX (a
// surrogate pair as one rune) or a short escape such as \/. n is 0 when s
// starts with none.
func decodeJSONEscape(s string) (r rune, n int) {
	if len(s) < 2 || s[0] != '\\' {
		return 0, 0
	}
	if short := strings.IndexByte(`"\/bfnrt`, s[1]); short >= 0 {
		return rune("\"\\/\b\f\n\r\t"[short]), 2
	}
	unit, ok := hex4(s)
	if !ok {
		return 0, 0
	}
	if unit >= 0xD800 && unit < 0xDC00 {
		if low, ok := hex4(s[6:]); ok && low >= 0xDC00 && low < 0xE000 {
			return (unit-0xD800)<<10 + (low - 0xDC00) + 0x10000, 12
		}
	}
	return unit, 6
}

// hex4 reads \uXXXX (or \UXXXX, as an upper-cased text has it).
func hex4(s string) (rune, bool) {
	if len(s) < 6 || s[0] != '\\' || (s[1] != 'u' && s[1] != 'U') {
		return 0, false
	}
	v, err := strconv.ParseUint(s[2:6], 16, 16)
	return rune(v), err == nil
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// foldRune maps every case of a letter to one rune (the least of its
// Unicode case orbit), and + to a space, which a query-escaped space is.
func foldRune(r rune) rune {
	if r == '+' {
		return ' '
	}
	least := r
	for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
		least = min(least, f)
	}
	return least
}

// redact replaces each span of text, overlapping ones merged, by [redacted].
func redact(text string, spans []span) string {
	if len(spans) == 0 {
		return text
	}
	slices.SortFunc(spans, func(a, b span) int { return a.start - b.start })
	var b strings.Builder
	at := 0
	for i := 0; i < len(spans); {
		start, end := spans[i].start, spans[i].end
		for i++; i < len(spans) && spans[i].start <= end; i++ {
			end = max(end, spans[i].end)
		}
		b.WriteString(text[at:start])
		b.WriteString("[redacted]")
		at = end
	}
	b.WriteString(text[at:])
	return b.String()
}
