package main

import (
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"custsync/sandbox"
	"custsync/sandbox/faultproxy"
)

// faultyPlatform serves a sandbox behind a fault-injecting proxy and writes a file of n customers. It returns the
// proxy and the global flags that reach the platform through it.
func faultyPlatform(t *testing.T, n int) (*faultproxy.Proxy, []string, string) {
	t.Helper()
	_, url := platform(t, sandbox.Options{})
	proxy, err := faultproxy.Start(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(proxy.Close)
	dir := t.TempDir()
	var rows strings.Builder
	rows.WriteString("sdCustomerNumber,firstName\n")
	for i := range n {
		fmt.Fprintf(&rows, "%d,Name%d\n", 1000+i, i)
	}
	in := writeFile(t, dir, "customers.csv", rows.String())
	global := []string{"--api-url", proxy.URL, "--tenant", "acme", "--client-id", "sandbox", "--client-secret", "sandbox",
		"--state", filepath.Join(dir, "state.db")}
	return proxy, global, in
}

const tokenPath = "/oauth/token"

// A token endpoint that keeps failing stops the import once, after the retries of one shared fetch: exit 5, the
// endpoint and one line of its answer, and not one token request per row.
func TestImportStopsOnceWhenTheTokenEndpointFails(t *testing.T) {
	t.Parallel()
	proxy, global, in := faultyPlatform(t, 30)
	proxy.Inject(faultproxy.Fault{Method: http.MethodPost, Path: tokenPath, Answer: faultproxy.HTML(500, "500 Internal Server Error")})
	code, out, errOut := runCLI(t, append(global, "import", "--tps", "0", "--retries", "2", in)...)
	if code != ExitTemporary {
		t.Fatalf("code %d, want %d\n%s%s", code, ExitTemporary, out, errOut)
	}
	if n := proxy.Requests(http.MethodPost, tokenPath); n != 3 {
		t.Errorf("%d token requests for 30 rows, want 3 (1 + --retries 2)", n)
	}
	if n := proxy.Total(); n != 3 {
		t.Errorf("%d requests in all: nothing may be sent without a token", n)
	}
	want := proxy.URL + `/oauth/token after 3 attempts; re-run later: 500 Internal Server Error: HTML page "500 Internal Server Error"`
	if !strings.Contains(errOut, want) || strings.Count(errOut, "oauth/token") != 1 || strings.Contains(errOut, "<") {
		t.Errorf("stderr must say it once, with the endpoint and one line of the answer (%q):\n%s", want, errOut)
	}
}

func TestImportRetriesATokenAnswerCutShort(t *testing.T) {
	t.Parallel()
	proxy, global, in := faultyPlatform(t, 5)
	proxy.Inject(faultproxy.Fault{Method: http.MethodPost, Path: tokenPath, Times: 1,
		Answer: faultproxy.CutShort(`{"access_token":"abc","token_type":"Bearer","expires_in":14399}`, 20)})
	code, out, errOut := runCLI(t, append(global, "import", "--tps", "0", in)...)
	if code != ExitOK || !strings.Contains(out, "5 created") {
		t.Fatalf("code %d\n%s%s", code, out, errOut)
	}
	if n := proxy.Requests(http.MethodPost, tokenPath); n != 2 {
		t.Errorf("%d token requests, want 2", n)
	}
}

// A server that is not the platform is a configuration error, found at its first answer.
func TestImportAgainstAServerThatIsNotThePlatform(t *testing.T) {
	t.Parallel()
	for name, answer := range map[string]faultproxy.Answer{
		"501 HTML": faultproxy.HTML(501, "501 Not Implemented"),
		"200 HTML": faultproxy.Body(200, "text/html", "<!DOCTYPE html><html><head><title>Welcome to nginx!</title></head></html>"),
	} {
		t.Run(name, func(t *testing.T) {
			proxy, global, in := faultyPlatform(t, 5)
			proxy.Inject(faultproxy.Fault{Path: tokenPath, Answer: answer})
			code, out, errOut := runCLI(t, append(global, "import", "--tps", "0", in)...)
			if code != ExitUsage || !strings.Contains(errOut, "does not answer like the platform's OAuth token endpoint (check the API URL)") {
				t.Fatalf("code %d, want %d\n%s%s", code, ExitUsage, out, errOut)
			}
			if n := proxy.Total(); n != 1 {
				t.Errorf("%d requests, want 1", n)
			}
		})
	}
}

func TestTenantIsCheckedBeforeAnythingIsSent(t *testing.T) {
	t.Parallel()
	proxy, global, in := faultyPlatform(t, 5)
	for _, tenant := range []string{"p3", "Acme", "a-b-c", "abcdefghijklmnopq"} {
		args := append(append([]string(nil), global...), "--tenant", tenant, "import", in)
		code, _, errOut := runCLI(t, args...)
		if code != ExitUsage || !strings.Contains(errOut, "3 to 16 lowercase letters and digits") {
			t.Errorf("tenant %q: code %d\n%s", tenant, code, errOut)
		}
	}
	if n := proxy.Total(); n != 0 {
		t.Errorf("%d requests sent for invalid tenants", n)
	}
}

// A gateway's 500 on a PUT is retried a bounded number of times; when it lasts, the row fails with a short
// excerpt of the page and the others go through.
func TestImportRetriesA500AndQuotesTheGatewayPage(t *testing.T) {
	t.Parallel()
	proxy, global, in := faultyPlatform(t, 4)
	const path = "/customer/acme/customers/"
	proxy.Inject(faultproxy.Fault{Method: http.MethodPut, Path: path + "1001", Times: 1, Answer: faultproxy.HTML(500, "500 Internal Server Error")},
		faultproxy.Fault{Method: http.MethodPut, Path: path + "1002", Answer: faultproxy.HTML(500, "500 Internal Server Error")})
	code, out, errOut := runCLI(t, append(global, "import", "--tps", "0", in)...)
	if code != ExitPartial || !strings.Contains(out, "3 created") {
		t.Fatalf("code %d, want %d\n%s%s", code, ExitPartial, out, errOut)
	}
	if n := proxy.Requests(http.MethodPut, path+"1001"); n != 2 {
		t.Errorf("a passing 500: %d PUTs, want 2", n)
	}
	if n := proxy.Requests(http.MethodPut, path+"1002"); n != 3 {
		t.Errorf("a lasting 500: %d PUTs, want 3", n)
	}
	if !strings.Contains(out, `500 Internal Server Error: HTML page "500 Internal Server Error"`) || strings.Contains(out, "<") {
		t.Errorf("the failure line quotes the page's title, not the page:\n%s", out)
	}
}
