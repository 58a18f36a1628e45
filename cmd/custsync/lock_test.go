package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"custsync/sandbox"
)

// TestLosingTheLockStopsCommandsBesidesImport: `state unlock --force` takes the run lock away from a
// `mappings push` in progress; the push must stop with the state exit code and say why, instead of writing on
// without the lock (before, only import reacted).
func TestLosingTheLockStopsCommandsBesidesImport(t *testing.T) {
	t.Parallel()
	srv, global, dir := servedTenant(t, "lost")
	var rows strings.Builder
	rows.WriteString("sdCustomerNumber,firstName\n")
	for i := range 400 {
		fmt.Fprintf(&rows, "%d,Name%d\n", 5000+i, i)
	}
	in := writeFile(t, dir, "customers.csv", rows.String())
	if code, out, errOut := runCLI(t, append(global, "import", "--tps", "0", in)...); code != ExitOK {
		t.Fatalf("import: code %d\n%s%s", code, out, errOut)
	}
	// 400 mappings, one at a time, 20 ms each: the push outlasts the lock's heartbeat (at most 5 s).
	srv.SetFaults(sandbox.Faults{Latency: 20 * time.Millisecond})
	unlocked := make(chan string, 1)
	go func() {
		for range 500 {
			n := 0
			for _, r := range srv.Requests() {
				if r.Method == "POST" && strings.HasSuffix(r.Path, "/sdCustomerMappings") {
					n++
				}
			}
			if n >= 10 {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		_, out, errOut := runCLI(t, append(global, "state", "unlock", "--force")...)
		unlocked <- out + errOut
	}()
	code, out, errOut := runCLI(t, append(global, "mappings", "push", "--mappings-url", global[1], "--writers", "1", "--tps", "0")...)
	if msg := <-unlocked; !strings.Contains(msg, "removed the lock") {
		t.Fatalf("state unlock --force: %s", msg)
	}
	if code != ExitState || !strings.Contains(errOut, "the state lock was taken away") {
		t.Fatalf("push: code %d, want %d naming the lost lock\n%s%s", code, ExitState, out, errOut)
	}
}
