package spectest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"net"
	"net/http"
)

// responseRecorder passes a response through to the real writer and keeps a copy for validation.
type responseRecorder struct {
	w           http.ResponseWriter
	status      int
	wroteHeader bool
	hijacked    bool
	body        bytes.Buffer
}

func newResponseRecorder(w http.ResponseWriter) *responseRecorder {
	return &responseRecorder{w: w}
}

// Header implements http.ResponseWriter.
func (r *responseRecorder) Header() http.Header { return r.w.Header() }

// WriteHeader implements http.ResponseWriter; informational (1xx) headers are passed on but not
// recorded as the final status.
func (r *responseRecorder) WriteHeader(status int) {
	if !r.wroteHeader && status >= 200 {
		r.status = status
		r.wroteHeader = true
	}
	r.w.WriteHeader(status)
}

// Write implements http.ResponseWriter and records the bytes the real writer accepted.
func (r *responseRecorder) Write(p []byte) (int, error) {
	if !r.wroteHeader {
		r.WriteHeader(http.StatusOK)
	}
	n, err := r.w.Write(p)
	r.body.Write(p[:n])
	return n, err
}

// Flush lets streaming handlers flush through the wrapper.
func (r *responseRecorder) Flush() {
	if !r.wroteHeader {
		r.WriteHeader(http.StatusOK)
	}
	_ = http.NewResponseController(r.w).Flush()
}

// Hijack lets the sandbox's "commit then drop the connection" fault work through the wrapper; such
// exchanges are not validated.
func (r *responseRecorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, rw, err := http.NewResponseController(r.w).Hijack()
	if err == nil {
		r.hijacked = true
	}
	return conn, rw, err
}

// Unwrap gives http.ResponseController access to the real writer for deadlines and full duplex.
func (r *responseRecorder) Unwrap() http.ResponseWriter { return r.w }

// statusCode is the status the client received: 200 when the handler wrote nothing.
func (r *responseRecorder) statusCode() int {
	if !r.wroteHeader {
		return http.StatusOK
	}
	return r.status
}

func jsonDecoder(data []byte) *json.Decoder {
	return json.NewDecoder(bytes.NewReader(data))
}
