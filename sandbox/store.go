package sandbox

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	_ "modernc.org/sqlite" // registers the pure-Go "sqlite" driver
)

// Document kinds kept in the store. Addresses live in one bucket per customer so that deleting a
// customer drops them in one step.
const (
	kindCustomer        = "customer"
	kindDeletedCustomer = "deleted-customer"
	kindLegalEntity     = "legal-entity"
	kindLocation        = "location"
	kindAssignment      = "contact-assignment"
	kindSDMapping       = "sd-mapping"
	kindAddressPrefix   = "address/"
)

func addressKind(customerNumber string) string { return kindAddressPrefix + customerNumber }

type bucketKey struct{ tenant, kind string }

type entry struct {
	seq int64
	doc map[string]any
}

type change struct {
	key     bucketKey
	id      string
	seq     int64
	doc     map[string]any // nil = delete
	deleted bool
}

// store holds every document in memory, keyed by tenant, kind and id, and mirrors committed writes
// into SQLite when a data file is configured. It is not safe for concurrent use: the Server
// serialises all access with one mutex.
type store struct {
	buckets map[bucketKey]map[string]*entry
	// byEmail indexes customers by lower-cased contact e-mail per tenant, so that the uniqueness check on
	// every customer write is a lookup rather than a scan of the tenant.
	byEmail map[string]map[string]map[string]struct{}
	// ordered caches each bucket's entries in insertion order for list; an insert or a delete drops it.
	ordered map[bucketKey][]*entry
	seq     int64
	db      *sql.DB
	pending []change
}

func openStore(path string) (*store, error) {
	st := &store{buckets: map[bucketKey]map[string]*entry{}, byEmail: map[string]map[string]map[string]struct{}{},
		ordered: map[bucketKey][]*entry{}}
	if path == "" {
		return st, nil
	}
	dsn := "file:" + path + "?_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=busy_timeout(5000)"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open sandbox data file %s: %w", path, err)
	}
	db.SetMaxOpenConns(1)
	if _, err := db.Exec(`CREATE TABLE IF NOT EXISTS docs (
		tenant TEXT NOT NULL, kind TEXT NOT NULL, id TEXT NOT NULL, seq INTEGER NOT NULL, json TEXT NOT NULL,
		PRIMARY KEY (tenant, kind, id))`); err != nil {
		db.Close()
		return nil, fmt.Errorf("create sandbox schema in %s: %w", path, err)
	}
	rows, err := db.Query(`SELECT tenant, kind, id, seq, json FROM docs`)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("load sandbox data from %s: %w", path, err)
	}
	defer rows.Close()
	for rows.Next() {
		var tenant, kind, id, raw string
		var seq int64
		if err := rows.Scan(&tenant, &kind, &id, &seq, &raw); err != nil {
			db.Close()
			return nil, fmt.Errorf("load sandbox data from %s: %w", path, err)
		}
		var doc map[string]any
		if err := json.Unmarshal([]byte(raw), &doc); err != nil {
			db.Close()
			return nil, fmt.Errorf("load sandbox document %s/%s/%s: %w", tenant, kind, id, err)
		}
		st.bucket(tenant, kind, true)[id] = &entry{seq: seq, doc: doc}
		st.reindex(tenant, kind, id, nil, doc)
		delete(st.ordered, bucketKey{tenant, kind})
		if seq > st.seq {
			st.seq = seq
		}
	}
	if err := rows.Err(); err != nil {
		db.Close()
		return nil, fmt.Errorf("load sandbox data from %s: %w", path, err)
	}
	st.db = db
	return st, nil
}

func (st *store) close() error {
	if st.db == nil {
		return nil
	}
	err := st.db.Close()
	st.db = nil
	if err != nil {
		return fmt.Errorf("close sandbox data file: %w", err)
	}
	return nil
}

func (st *store) bucket(tenant, kind string, create bool) map[string]*entry {
	k := bucketKey{tenant, kind}
	b := st.buckets[k]
	if b == nil && create {
		b = map[string]*entry{}
		st.buckets[k] = b
	}
	return b
}

// get returns the stored document; callers must not modify it (use cloneDoc first).
func (st *store) get(tenant, kind, id string) (map[string]any, bool) {
	e, ok := st.bucket(tenant, kind, false)[id]
	if !ok {
		return nil, false
	}
	return e.doc, true
}

// put stores doc (normalised to plain JSON values), keeping the insertion rank of an existing id.
func (st *store) put(tenant, kind, id string, doc map[string]any) {
	doc = normalizeDoc(doc)
	b := st.bucket(tenant, kind, true)
	e, ok := b[id]
	if !ok {
		st.seq++
		e = &entry{seq: st.seq}
		b[id] = e
		delete(st.ordered, bucketKey{tenant, kind})
	}
	st.reindex(tenant, kind, id, e.doc, doc)
	e.doc = doc
	st.pending = append(st.pending, change{key: bucketKey{tenant, kind}, id: id, seq: e.seq, doc: doc})
}

func (st *store) del(tenant, kind, id string) bool {
	b := st.bucket(tenant, kind, false)
	e, ok := b[id]
	if !ok {
		return false
	}
	st.reindex(tenant, kind, id, e.doc, nil)
	delete(b, id)
	delete(st.ordered, bucketKey{tenant, kind})
	st.pending = append(st.pending, change{key: bucketKey{tenant, kind}, id: id, deleted: true})
	return true
}

// reindex moves a customer's entry in the e-mail index from its old document to its new one (nil: none).
func (st *store) reindex(tenant, kind, id string, old, doc map[string]any) {
	if kind != kindCustomer {
		return
	}
	if email := strings.ToLower(str(old, "contactEmail")); email != "" {
		if ids := st.byEmail[tenant][email]; ids != nil {
			delete(ids, id)
			if len(ids) == 0 {
				delete(st.byEmail[tenant], email)
			}
		}
	}
	if email := strings.ToLower(str(doc, "contactEmail")); email != "" {
		if st.byEmail[tenant] == nil {
			st.byEmail[tenant] = map[string]map[string]struct{}{}
		}
		if st.byEmail[tenant][email] == nil {
			st.byEmail[tenant][email] = map[string]struct{}{}
		}
		st.byEmail[tenant][email][id] = struct{}{}
	}
}

// customersWithEmail returns the ids of the tenant's customers whose contact e-mail equals email, ignoring
// case. The caller must not modify the result.
func (st *store) customersWithEmail(tenant, email string) map[string]struct{} {
	return st.byEmail[tenant][strings.ToLower(email)]
}

func (st *store) delKind(tenant, kind string) {
	for id := range st.bucket(tenant, kind, false) {
		st.del(tenant, kind, id)
	}
	delete(st.buckets, bucketKey{tenant, kind})
}

// list returns the documents of a kind in insertion order (the order the platform lists them in
// when no sort is given, as far as the sandbox is concerned).
func (st *store) list(tenant, kind string) []map[string]any {
	k := bucketKey{tenant, kind}
	entries, ok := st.ordered[k]
	if !ok {
		b := st.bucket(tenant, kind, false)
		entries = make([]*entry, 0, len(b))
		for _, e := range b {
			entries = append(entries, e)
		}
		sort.Slice(entries, func(i, j int) bool { return entries[i].seq < entries[j].seq })
		st.ordered[k] = entries
	}
	docs := make([]map[string]any, len(entries))
	for i, e := range entries {
		docs[i] = e.doc
	}
	return docs
}

// each calls fn for every document of a kind in no particular order, stopping when fn returns
// false; it avoids list's sort where order does not matter (uniqueness checks on every write).
func (st *store) each(tenant, kind string, fn func(doc map[string]any) bool) {
	for _, e := range st.bucket(tenant, kind, false) {
		if !fn(e.doc) {
			return
		}
	}
}

// commit writes the pending changes to SQLite in one transaction. The Server calls it before it
// writes the response, so a write acknowledged (or dropped after commit) is durable.
func (st *store) commit() error {
	changes := st.pending
	st.pending = nil
	if st.db == nil || len(changes) == 0 {
		return nil
	}
	tx, err := st.db.Begin()
	if err != nil {
		return fmt.Errorf("begin sandbox commit: %w", err)
	}
	for _, c := range changes {
		if c.deleted {
			_, err = tx.Exec(`DELETE FROM docs WHERE tenant=? AND kind=? AND id=?`, c.key.tenant, c.key.kind, c.id)
		} else {
			var raw []byte
			raw, err = json.Marshal(c.doc)
			if err == nil {
				_, err = tx.Exec(`INSERT INTO docs(tenant,kind,id,seq,json) VALUES(?,?,?,?,?)
					ON CONFLICT(tenant,kind,id) DO UPDATE SET seq=excluded.seq, json=excluded.json`,
					c.key.tenant, c.key.kind, c.id, c.seq, string(raw))
			}
		}
		if err != nil {
			_ = tx.Rollback()
			return fmt.Errorf("write sandbox document %s/%s/%s: %w", c.key.tenant, c.key.kind, c.id, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit sandbox writes: %w", err)
	}
	return nil
}

// rollback forgets pending changes of a failed request from the persistence queue. Memory is
// already changed; handlers validate everything before mutating, so this only happens on bugs.
func (st *store) rollback() { st.pending = nil }

// normalizeDoc turns any Go value tree into the plain JSON value types (map[string]any, []any,
// float64, string, bool, nil) the query package and the JSON encoder agree on.
func normalizeDoc(doc map[string]any) map[string]any {
	v, _ := normalizeValue(doc).(map[string]any)
	if v == nil {
		v = map[string]any{}
	}
	return v
}

func normalizeValue(v any) any {
	switch t := v.(type) {
	case nil, string, bool, float64:
		return t
	case int:
		return float64(t)
	case int64:
		return float64(t)
	case json.Number:
		f, err := t.Float64()
		if err != nil {
			return t.String()
		}
		return f
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, x := range t {
			out[k] = normalizeValue(x)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, x := range t {
			out[i] = normalizeValue(x)
		}
		return out
	case []string:
		out := make([]any, len(t))
		for i, x := range t {
			out[i] = x
		}
		return out
	case []map[string]any:
		out := make([]any, len(t))
		for i, x := range t {
			out[i] = normalizeValue(x)
		}
		return out
	default:
		raw, err := json.Marshal(t)
		if err != nil {
			return nil
		}
		var back any
		if json.Unmarshal(raw, &back) != nil {
			return nil
		}
		return back
	}
}

// shallowCopy copies the top level of a stored document for a response view that only replaces
// top-level members.
func shallowCopy(doc map[string]any) map[string]any {
	v := make(map[string]any, len(doc)+2)
	for k, x := range doc {
		v[k] = x
	}
	return v
}

// cloneDoc deep-copies a stored document so a handler can modify it.
func cloneDoc(doc map[string]any) map[string]any {
	if doc == nil {
		return map[string]any{}
	}
	return normalizeValue(doc).(map[string]any)
}

func itoa(n int) string { return fmt.Sprintf("%d", n) }

// lower is strings.ToLower, named for the case-insensitive comparisons the specs ask for.
func lower(s string) string { return strings.ToLower(s) }
