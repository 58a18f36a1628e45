package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"reflect"
	"sync"
	"testing"

	"custsync/sandbox"
)

// TestUpdateBodiesAreTheImportsPatches holds the delta benchmark's load generator to custsync's own updates:
// for a changed data set, UpdateBodies must give exactly the PATCHes (customer, body and content type) that an
// import of it sends, so that the load generator's run puts the sandbox to the same work.
func TestUpdateBodiesAreTheImportsPatches(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv, err := sandbox.New(sandbox.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	type patch struct {
		contentType string
		body        map[string]any
	}
	var mu sync.Mutex
	sent := map[string]patch{}
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPatch {
			raw, err := io.ReadAll(r.Body)
			var body map[string]any
			if err == nil {
				err = json.Unmarshal(raw, &body)
			}
			if err != nil {
				t.Errorf("PATCH %s: %v", r.URL.Path, err)
			}
			mu.Lock()
			sent[r.URL.Path] = patch{r.Header.Get("Content-Type"), body}
			mu.Unlock()
			r.Body = io.NopCloser(bytes.NewReader(raw))
		}
		srv.ServeHTTP(w, r)
	}))
	t.Cleanup(hs.Close)

	dir := t.TempDir()
	base := Dataset{Rows: 300}
	changed := Dataset{Rows: base.Rows, Revision: EveryNth(10, 2)}
	tgt := Target{Bin: custsyncBin, APIURL: hs.URL, Tenant: "patches", State: filepath.Join(dir, "state.db")}
	for _, step := range []struct {
		name    string
		ds      Dataset
		created int
		updated int
	}{{"base.csv", base, base.Rows, 0}, {"changed.csv", changed, 0, 30}} {
		path := filepath.Join(dir, step.name)
		if err := step.ds.Write(path); err != nil {
			t.Fatal(err)
		}
		// The creates' own PATCHes (the account flags) are not the updates under test.
		mu.Lock()
		clear(sent)
		mu.Unlock()
		rep, res, err := tgt.Import(ctx, "--tps", "0", path)
		if err != nil || res.Exit != 0 || rep.Created != step.created || rep.Updated != step.updated {
			t.Fatalf("import %s: exit %d, %+v, %v: %s", step.name, res.Exit, rep, err, tail(res.Stderr))
		}
	}

	ids, bodies, err := changed.UpdateBodies(base)
	if err != nil {
		t.Fatal(err)
	}
	if len(ids) != 30 || len(sent) != 30 {
		t.Fatalf("UpdateBodies gave %d updates and the import sent %d PATCHes, want 30 each", len(ids), len(sent))
	}
	for i, id := range ids {
		u, err := url.Parse(CustomerURL(hs.URL, tgt.Tenant, id))
		if err != nil {
			t.Fatal(err)
		}
		got, ok := sent[u.Path]
		if !ok {
			t.Errorf("customer %s: the import sent no PATCH to %s", id, u.Path)
			continue
		}
		var want map[string]any
		if err := json.Unmarshal(bodies[i], &want); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got.body, want) || got.contentType != UpdateContentType {
			t.Errorf("customer %s: the import sent %v (%s), UpdateBodies gives %v (%s)", id, got.body, got.contentType, want, UpdateContentType)
		}
	}
}
