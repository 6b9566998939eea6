package fakeresamania

import (
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
)

// writeFaultAnswer answers in place of the server and returns the status
// sent (0 when the connection was reset). A 429 is not answered here: it is
// the gateway's (faultRefusal).
func writeFaultAnswer(w http.ResponseWriter, f *Fault) int {
	if f.RetryAfter != "" {
		w.Header().Set("Retry-After", f.RetryAfter)
	}
	switch {
	case f.Reset:
		resetConnection(w)
		return 0
	case f.RedirectTo != "":
		status := http.StatusTemporaryRedirect // 307 re-sends the POST body, secrets included
		if f.Status >= 300 && f.Status < 400 {
			status = f.Status
		}
		w.Header().Set("Location", f.RedirectTo)
		w.WriteHeader(status)
		return status
	case f.Garbage:
		writeRaw(w, http.StatusOK, f.ContentType, f.bodyOr("<html><body><h1>Maintenance en cours</h1></body></html>"))
		return http.StatusOK
	case f.Oversize > 0:
		writeOversize(w, f.Oversize)
		return http.StatusOK
	default:
		page := fmt.Sprintf("<html><head><title>%d %s</title></head><body><h1>%s</h1></body></html>",
			f.Status, http.StatusText(f.Status), http.StatusText(f.Status))
		writeRaw(w, f.Status, f.ContentType, f.bodyOr(page))
		return f.Status
	}
}

func (f *Fault) bodyOr(def string) string {
	if f.Body != "" {
		return f.Body
	}
	return def
}

func writeRaw(w http.ResponseWriter, status int, contentType, body string) {
	if contentType == "" {
		contentType = "text/html; charset=UTF-8"
	}
	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}

// writeOversize streams a 200 JSON body of n bytes shaped like a token
// answer, to prove the client caps what it reads.
func writeOversize(w http.ResponseWriter, n int) {
	const head, tail = `{"access_token":"`, `","expires_in":3600,"token_type":"bearer"}`
	padding := max(n-len(head)-len(tail), 0)
	setJSONHeaders(w.Header())
	w.Header().Set("Content-Length", strconv.Itoa(len(head)+padding+len(tail)))
	w.WriteHeader(http.StatusOK)
	_, _ = io.WriteString(w, head)
	chunk := strings.Repeat("A", 32<<10)
	for padding > 0 {
		k := min(padding, len(chunk))
		if _, err := io.WriteString(w, chunk[:k]); err != nil {
			return // the client stopped reading
		}
		padding -= k
	}
	_, _ = io.WriteString(w, tail)
}

// overrideJSON replaces top-level fields of a JSON object; a nil value deletes.
func overrideJSON(body []byte, fields map[string]any) []byte {
	var obj map[string]any
	if json.Unmarshal(body, &obj) != nil {
		return body
	}
	for k, v := range fields {
		if v == nil {
			delete(obj, k)
		} else {
			obj[k] = v
		}
	}
	out, err := json.Marshal(obj)
	if err != nil {
		panic("fakeresamania: Fault.Override does not encode: " + err.Error())
	}
	return out
}

// resetConnection drops the connection without an answer, with a TCP RST
// where it can.
func resetConnection(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler) // HTTP/2: abort the stream instead
	}
	raw := conn
	if tc, ok := conn.(*tls.Conn); ok {
		raw = tc.NetConn() // skip the TLS close_notify: the peer just sees the connection die
	}
	if tcp, ok := raw.(*net.TCPConn); ok {
		_ = tcp.SetLinger(0)
	}
	_ = raw.Close()
}

// writeTruncated sends the headers and half the body, with a Content-Length
// for all of it, then closes: an answer cut in transit.
func writeTruncated(w http.ResponseWriter, status int, body []byte) int {
	conn, buf, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	defer conn.Close()
	fmt.Fprintf(buf, "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n",
		status, http.StatusText(status), len(body))
	_, _ = buf.Write(body[:len(body)/2])
	_ = buf.Flush()
	return status
}
