// Package faultproxy puts an HTTP server in front of another one (in custsync's tests, the sandbox) and answers
// chosen requests itself, the way a broken gateway, a proxy or a web server that is not the platform would: HTML
// error pages, token answers cut short, requests left hanging. Everything else passes through unchanged. It counts
// every request it sees, so tests can assert how often a client asked.
//
// The sandbox's own faults (sandbox.Faults) model the platform misbehaving; these model what stands between a
// client and the platform, or what answers in its place.
package faultproxy

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"sync"
)

// Answer writes a response in place of the target's. closed is closed when the proxy shuts down.
type Answer func(w http.ResponseWriter, r *http.Request, closed <-chan struct{})

// Fault answers matching requests itself.
type Fault struct {
	// Method and Path select the requests (Path exactly, without the query); an empty Method matches every method.
	Method, Path string
	// Times is how many matching requests the fault answers before it lets them through; 0 means all of them.
	Times int
	// Answer writes the response.
	Answer Answer
	// Forward sends the request on to the target first, which applies it; Answer then answers in place of the
	// target's answer (with Drop: an answer lost after the platform applied the request).
	Forward bool

	used int
}

// Proxy is a running fault-injecting proxy. It is safe for concurrent use.
type Proxy struct {
	// URL is the proxy's base URL, to be used in place of the target's.
	URL string

	srv    *httptest.Server
	closed chan struct{} // closed by Close: releases hanging requests
	mu     sync.Mutex
	rules  []*Fault
	seen   map[string]int // "METHOD /path" -> requests
}

// Start serves a proxy to target on a loopback port.
func Start(target string) (*Proxy, error) {
	u, err := url.Parse(target)
	if err != nil {
		return nil, fmt.Errorf("faultproxy: target %q: %w", target, err)
	}
	p := &Proxy{seen: map[string]int{}, closed: make(chan struct{})}
	pass := httputil.NewSingleHostReverseProxy(u)
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if answer, forward := p.match(r); answer != nil {
			if forward {
				pass.ServeHTTP(httptest.NewRecorder(), r)
			}
			answer(w, r, p.closed)
			return
		}
		pass.ServeHTTP(w, r)
	}))
	p.URL = p.srv.URL
	return p, nil
}

// Close stops the proxy; requests it left hanging are released.
func (p *Proxy) Close() {
	close(p.closed)
	p.srv.Close()
}

// Inject adds faults; the first matching fault that has answers left answers a request.
func (p *Proxy) Inject(faults ...Fault) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i := range faults {
		f := faults[i]
		p.rules = append(p.rules, &f)
	}
}

// Clear removes every fault.
func (p *Proxy) Clear() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rules = nil
}

// Requests returns how many requests with the method and path the proxy has seen, answered by a fault or not.
// An empty method counts every method.
func (p *Proxy) Requests(method, path string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if method != "" {
		return p.seen[method+" "+path]
	}
	n := 0
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		n += p.seen[m+" "+path]
	}
	return n
}

// Total returns how many requests the proxy has seen.
func (p *Proxy) Total() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, v := range p.seen {
		n += v
	}
	return n
}

func (p *Proxy) match(r *http.Request) (answer Answer, forward bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.seen[r.Method+" "+r.URL.Path]++
	for _, f := range p.rules {
		if (f.Method == "" || f.Method == r.Method) && f.Path == r.URL.Path && (f.Times == 0 || f.used < f.Times) {
			f.used++
			return f.Answer, f.Forward
		}
	}
	return nil, false
}

// HTML answers with status and an error page titled title, as nginx and most gateways write them.
func HTML(status int, title string) Answer {
	page := fmt.Sprintf("<html>\r\n<head><title>%s</title></head>\r\n<body>\r\n<center><h1>%s</h1></center>\r\n"+
		"<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n", title, title)
	return Body(status, "text/html", page)
}

// Body answers with status, content type and body.
func Body(status int, contentType, body string) Answer {
	return func(w http.ResponseWriter, _ *http.Request, _ <-chan struct{}) {
		w.Header().Set("Content-Type", contentType)
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}
}

// CutShort answers 200 with a JSON body of which only the first n bytes arrive: the header announces the whole
// body, and the connection closes after n bytes, as when a proxy or the network loses the end of an answer.
func CutShort(body string, n int) Answer {
	return func(w http.ResponseWriter, _ *http.Request, _ <-chan struct{}) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte(body[:min(n, len(body))]))
		// Returning with fewer bytes written than announced makes net/http close the connection.
	}
}

// Drop closes the connection without answering, as when the network or a gateway loses the answer.
func Drop() Answer {
	return func(w http.ResponseWriter, r *http.Request, _ <-chan struct{}) {
		_, _ = io.Copy(io.Discard, r.Body)
		conn, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			panic(http.ErrAbortHandler) // closes the connection without an answer where hijacking is not possible
		}
		_ = conn.Close()
	}
}

// Hang never answers: it holds the request until the client gives up or the proxy closes.
func Hang() Answer {
	return func(_ http.ResponseWriter, r *http.Request, closed <-chan struct{}) {
		// net/http notices a client hanging up only once the request body has been read.
		_, _ = io.Copy(io.Discard, r.Body)
		select {
		case <-r.Context().Done():
		case <-closed:
		}
	}
}
