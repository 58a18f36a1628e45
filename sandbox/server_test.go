package sandbox

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestPanicsBecome500AndAreLogged(t *testing.T) {
	t.Parallel()
	var logged bytes.Buffer
	a := newTestAPI(t, Options{Logger: slog.New(slog.NewTextHandler(&logged, nil))})
	a.srv.handle(newRoute("GET", "/customer/{tenant}/boom", shapeCustomer, nil, func(*reqCtx) *apiError { panic("handler bug") }))
	r := a.call("GET", "/customer/acme/boom", nil)
	customerErr(t, r, 500, "internal_error")
	if !strings.Contains(logged.String(), "handler bug") {
		t.Fatalf("panic not logged: %q", logged.String())
	}
	if strings.Contains(logged.String(), a.token) {
		t.Fatal("token in the log")
	}
	// The server keeps serving, and the store lock was released.
	a.must(201, "PUT", cust+"/after", map[string]any{})
	if log := a.srv.Requests(); log[len(log)-2].Status != 500 {
		t.Fatalf("logged %+v", log[len(log)-2])
	}
}

func TestNewRejectsBadOptions(t *testing.T) {
	t.Parallel()
	for name, opts := range map[string]Options{
		"negative rate":                    {RateLimit: -1},
		"negative latency":                 {Faults: Faults{Latency: -1}},
		"503 over 1":                       {Faults: Faults{Error503: 2}},
		"empty client id":                  {Clients: []Client{{Secret: "x"}}},
		"data file in a missing directory": {DataFile: "/nonexistent-dir/sub/x.db"},
	} {
		if s, err := New(opts); err == nil {
			s.Close()
			t.Errorf("%s: New accepted %+v", name, opts)
		}
	}
}

// A client that sends its body slowly holds up no one else: the body is read before the lock that serialises
// every request is taken. Before, the handler read it under the lock, and every other request waited.
func TestSlowRequestBodyDoesNotBlockOtherClients(t *testing.T) {
	t.Parallel()
	srv, err := New(Options{})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	// Not spec-wrapped (the wrapper would read the body before the sandbox does); the body reports when the
	// sandbox starts reading it.
	reading := make(chan struct{})
	var once sync.Once
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPatch {
			r.Body = &firstReadSignal{ReadCloser: r.Body, signal: func() { once.Do(func() { close(reading) }) }}
		}
		srv.ServeHTTP(w, r)
	}))
	t.Cleanup(func() {
		hs.Close()
		_ = srv.Close()
	})
	a := &testAPI{t: t, srv: srv, http: hs}
	a.token = a.fetchToken(DemoClientID, DemoClientSecret, "")
	a.must(201, "PUT", cust+"/slow", map[string]any{})

	conn, err := net.Dial("tcp", hs.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	body := `{"firstName":"Slow"}`
	head := fmt.Sprintf("PATCH %s/slow HTTP/1.1\r\nHost: sandbox\r\nAuthorization: Bearer %s\r\n"+
		"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n", cust, a.token, len(body))
	if _, err := io.WriteString(conn, head+body[:5]); err != nil {
		t.Fatal(err)
	}
	select {
	case <-reading:
	case <-time.After(10 * time.Second):
		t.Fatal("the sandbox never started reading the slow body")
	}

	// Another client's request completes while the slow body is still on its way.
	client := &http.Client{Timeout: 10 * time.Second}
	req, _ := http.NewRequest("GET", hs.URL+cust+"/slow", nil)
	req.Header.Set("Authorization", "Bearer "+a.token)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("a request behind a slow body: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET behind a slow body: %d", resp.StatusCode)
	}

	// The slow request, once its body is complete, is applied as any other.
	if _, err := io.WriteString(conn, body[5:]); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	slow, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("slow request's answer: %v", err)
	}
	slow.Body.Close()
	if slow.StatusCode != 204 && slow.StatusCode != 200 {
		t.Fatalf("slow PATCH: %d", slow.StatusCode)
	}
	if got := a.must(200, "GET", cust+"/slow", nil).obj(t)["firstName"]; got != "Slow" {
		t.Fatalf("firstName after the slow PATCH: %v", got)
	}
}

// firstReadSignal calls signal when its body is first read.
type firstReadSignal struct {
	io.ReadCloser
	signal func()
}

func (b *firstReadSignal) Read(p []byte) (int, error) {
	b.signal()
	return b.ReadCloser.Read(p)
}
