package sandbox

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
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
