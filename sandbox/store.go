package sandbox

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"modernc.org/sqlite" // also registers the pure-Go "sqlite" driver
	sqlite3 "modernc.org/sqlite/lib"
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

// refOf is a document's secondary key, indexed so that the lookups every write or view needs are not
// scans of the tenant: a customer's lower-cased contact e-mail (uniqueness), a contact assignment's
// customer id (the customer's legal entities), a legal entity's parent (subsidiaries) and, for login
// accounts, whether legacy credentials remain. Other kinds have none.
func refOf(kind string, doc map[string]any) any {
	var ref string
	switch kind {
	case kindCustomer:
		ref = strings.ToLower(str(doc, "contactEmail"))
	case kindAssignment:
		ref = refID(doc["customer"])
	case kindLegalEntity:
		ref = str(doc, "parentId")
	case kindAccount:
		if _, ok := doc["legacyAuth"]; ok {
			ref = refLegacyAccount
		}
	}
	if ref == "" {
		return nil
	}
	return ref
}

const refLegacyAccount = "legacy"

// storeError is how a failing SQLite statement leaves a handler: the server's recover logs it and
// answers 500, and the request's transaction is rolled back. A sandbox whose file fails is broken
// beyond what a handler could answer, so the handlers need not thread the error through.
type storeError struct{ err error }

func (e storeError) Error() string { return "sandbox store: " + e.err.Error() }

// ErrDataFileInUse matches the error of New for a data file another process holds.
var ErrDataFileInUse = errors.New("sandbox data file in use")

func (st *store) fail(format string, args ...any) {
	panic(storeError{fmt.Errorf(format, args...)})
}

// store keeps every document in SQLite, keyed by tenant, kind and id, in insertion order (seq). With
// a data file the records live in the file and only SQLite's bounded page cache is in memory; without
// one the database is in memory. It is not safe for concurrent use: the Server serialises access with
// one mutex. Writes of a request go into one transaction, begun by the first write and ended by
// commit or rollback before the answer is written.
type store struct {
	db *sql.DB
	// conn is the store's one connection, held for its life: an in-memory database exists only inside
	// it, and statements prepared on it run without database/sql's per-transaction re-binding.
	conn *sql.Conn
	inTx bool  // a request's transaction is open (BEGIN was sent)
	seq  int64 // the last insertion rank handed out
	// seqAtBegin restores seq when a transaction is rolled back.
	seqAtBegin int64
	// orders are the position indexes of the buckets that have been paged; pending holds the current
	// transaction's inserts and deletes, applied to them on commit.
	orders  map[bucketKey]*orderIndex
	pending []orderChange
	stmts   map[string]*sql.Stmt
	// readRefs are the secondary keys of the documents the current request read, so that a put that
	// keeps its document's key rewrites the row alone and not its docs_ref entry (an update of a
	// customer whose e-mail stays, most of an import's updates).
	readRefs map[docKey]any
}

type docKey struct{ tenant, kind, id string }

type orderChange struct {
	key   bucketKey
	seq   int64
	added bool
}

// The pragmas: WAL with synchronous=NORMAL survives a killed process (the torture tests kill the
// sandbox with SIGKILL) without an fsync per write; a 64 MiB page cache bounds the memory. The one
// connection holds the file exclusively (set before WAL, so SQLite keeps the WAL index in its own
// memory): a request's transactions then take no file locks, which cost the sandbox a tenth of its CPU
// per write, and a second process cannot open a file whose insertion ranks this one hands out.
const (
	filePragmas   = "?_pragma=busy_timeout(5000)&_pragma=locking_mode(EXCLUSIVE)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=cache_size(-65536)&_pragma=temp_store(MEMORY)"
	memoryPragmas = "?_pragma=cache_size(-65536)&_pragma=temp_store(MEMORY)"
)

func openStore(path string) (*store, error) {
	dsn := "file::memory:" + memoryPragmas
	if path != "" {
		// The file holds customer data (and, after a bulk import, password hashes): private from the start.
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			return nil, fmt.Errorf("open sandbox data file %s: %w", path, err)
		}
		f.Close()
		dsn = "file:" + path + filePragmas
	}
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open sandbox data file %s: %w", path, err)
	}
	db.SetMaxOpenConns(1)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	st := &store{db: db, orders: map[bucketKey]*orderIndex{}, stmts: map[string]*sql.Stmt{}, readRefs: map[docKey]any{}}
	st.conn, err = db.Conn(context.Background())
	if err == nil && path != "" {
		err = st.holdExclusively()
	}
	if err == nil {
		err = st.migrate()
	}
	if err != nil {
		st.close()
		if path == "" {
			path = "(memory)"
		}
		if se := (*sqlite.Error)(nil); errors.As(err, &se) && se.Code()&0xff == sqlite3.SQLITE_BUSY {
			return nil, fmt.Errorf("%w: sandbox data file %s is in use by another process (a sandbox serve or a --sandbox run on the same state file): %w",
				ErrDataFileInUse, path, err)
		}
		return nil, fmt.Errorf("prepare sandbox data file %s: %w", path, err)
	}
	return st, nil
}

// holdExclusively takes the data file's write lock, which the exclusive locking mode keeps until the
// connection closes: reading alone would take a shared lock, and another process could then open the file
// and block this one's first write.
func (st *store) holdExclusively() error {
	ctx := context.Background()
	if _, err := st.conn.ExecContext(ctx, `BEGIN IMMEDIATE`); err != nil {
		return err
	}
	_, err := st.conn.ExecContext(ctx, `COMMIT`)
	return err
}

// migrate creates the schema, or brings a data file of an earlier sandbox (without the ref column)
// up to date, and loads the last insertion rank.
func (st *store) migrate() error {
	if _, err := st.conn.ExecContext(context.Background(), `CREATE TABLE IF NOT EXISTS docs (
		tenant TEXT NOT NULL, kind TEXT NOT NULL, id TEXT NOT NULL, seq INTEGER NOT NULL, json TEXT NOT NULL, ref TEXT,
		PRIMARY KEY (tenant, kind, id))`); err != nil {
		return err
	}
	var hasRef int
	if err := st.conn.QueryRowContext(context.Background(), `SELECT count(*) FROM pragma_table_info('docs') WHERE name = 'ref'`).Scan(&hasRef); err != nil {
		return err
	}
	if hasRef == 0 {
		if err := st.addRefColumn(); err != nil {
			return err
		}
	}
	for _, ddl := range []string{
		`CREATE INDEX IF NOT EXISTS docs_order ON docs (tenant, kind, seq)`,
		`CREATE INDEX IF NOT EXISTS docs_ref ON docs (tenant, kind, ref) WHERE ref IS NOT NULL`,
	} {
		if _, err := st.conn.ExecContext(context.Background(), ddl); err != nil {
			return err
		}
	}
	return st.conn.QueryRowContext(context.Background(), `SELECT coalesce(max(seq), 0) FROM docs`).Scan(&st.seq)
}

// addRefColumn fills the secondary keys of a data file written before they existed.
func (st *store) addRefColumn() error {
	ctx := context.Background()
	tx, err := st.conn.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.Exec(`ALTER TABLE docs ADD COLUMN ref TEXT`); err != nil {
		return err
	}
	rows, err := tx.Query(`SELECT rowid, kind, json FROM docs WHERE kind IN (?, ?, ?, ?)`, kindCustomer, kindAssignment, kindLegalEntity, kindAccount)
	if err != nil {
		return err
	}
	type update struct {
		rowid int64
		ref   any
	}
	var updates []update
	for rows.Next() {
		var rowid int64
		var kind, raw string
		if err := rows.Scan(&rowid, &kind, &raw); err != nil {
			rows.Close()
			return err
		}
		doc, err := decodeDoc(raw)
		if err != nil {
			rows.Close()
			return err
		}
		if ref := refOf(kind, doc); ref != nil {
			updates = append(updates, update{rowid, ref})
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, u := range updates {
		if _, err := tx.Exec(`UPDATE docs SET ref = ? WHERE rowid = ?`, u.ref, u.rowid); err != nil {
			return err
		}
	}
	return tx.Commit()
}

func (st *store) close() error {
	if st.db == nil {
		return nil
	}
	for _, s := range st.stmts {
		s.Close()
	}
	if st.conn != nil {
		st.conn.Close()
	}
	err := st.db.Close()
	st.db = nil
	if err != nil {
		return fmt.Errorf("close sandbox data file: %w", err)
	}
	return nil
}

// stmt returns the statement for query, prepared on the store's connection the first time.
func (st *store) stmt(query string) *sql.Stmt {
	if s, ok := st.stmts[query]; ok {
		return s
	}
	s, err := st.conn.PrepareContext(context.Background(), query)
	if err != nil {
		st.fail("prepare %q: %w", query, err)
	}
	st.stmts[query] = s
	return s
}

// exec runs a statement that returns no rows.
func (st *store) exec(query string, args ...any) {
	if _, err := st.stmt(query).Exec(args...); err != nil {
		st.fail("%s: %w", query, err)
	}
}

// write begins the request's transaction if it has not begun yet. The transaction is plain SQL on the
// store's connection; every statement of the request runs on that connection.
func (st *store) write() {
	if st.inTx {
		return
	}
	st.exec(`BEGIN`)
	st.inTx, st.seqAtBegin = true, st.seq
}

func decodeDoc(raw string) (map[string]any, error) {
	var doc map[string]any
	if err := json.Unmarshal([]byte(raw), &doc); err != nil {
		return nil, err
	}
	if doc == nil {
		doc = map[string]any{}
	}
	return doc, nil
}

// docs reads the json column of every row and decodes it. Reading all rows before decoding keeps the
// connection free for the next statement.
func (st *store) docs(query string, args ...any) []map[string]any {
	raws := st.strings(query, args...)
	out := make([]map[string]any, len(raws))
	for i, raw := range raws {
		doc, err := decodeDoc(raw)
		if err != nil {
			st.fail("decode a stored document: %w", err)
		}
		out[i] = doc
	}
	return out
}

// docsBySeq reads (seq, json) rows, orders them by seq and decodes them. Queries on the secondary key
// leave the ordering to it: asked to ORDER BY seq, SQLite would walk the whole bucket in seq order
// instead of using the key's index.
func (st *store) docsBySeq(query string, args ...any) []map[string]any {
	rows, err := st.stmt(query).Query(args...)
	if err != nil {
		st.fail("%s: %w", query, err)
	}
	type row struct {
		seq int64
		raw string
	}
	var read []row
	for rows.Next() {
		var r row
		if err := rows.Scan(&r.seq, &r.raw); err != nil {
			rows.Close()
			st.fail("%s: %w", query, err)
		}
		read = append(read, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		st.fail("%s: %w", query, err)
	}
	slices.SortFunc(read, func(a, b row) int { return cmp.Compare(a.seq, b.seq) })
	out := make([]map[string]any, len(read))
	for i, r := range read {
		doc, err := decodeDoc(r.raw)
		if err != nil {
			st.fail("decode a stored document: %w", err)
		}
		out[i] = doc
	}
	return out
}

// strings reads the single text column of every row.
func (st *store) strings(query string, args ...any) []string {
	rows, err := st.stmt(query).Query(args...)
	if err != nil {
		st.fail("%s: %w", query, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			st.fail("%s: %w", query, err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		st.fail("%s: %w", query, err)
	}
	return out
}

// get returns the stored document; callers must not modify it (use cloneDoc first).
func (st *store) get(tenant, kind, id string) (map[string]any, bool) {
	var raw string
	err := st.stmt(`SELECT json FROM docs WHERE tenant = ? AND kind = ? AND id = ?`).QueryRow(tenant, kind, id).Scan(&raw)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false
	}
	if err != nil {
		st.fail("get %s/%s/%s: %w", tenant, kind, id, err)
	}
	doc, err := decodeDoc(raw)
	if err != nil {
		st.fail("decode %s/%s/%s: %w", tenant, kind, id, err)
	}
	st.readRefs[docKey{tenant, kind, id}] = refOf(kind, doc)
	return doc, true
}

// getMany returns the documents with the given ids that exist, in insertion order.
func (st *store) getMany(tenant, kind string, ids []string) []map[string]any {
	var out []map[string]any
	for chunk := range chunks(ids, maxParams) {
		out = append(out, st.docs(`SELECT json FROM docs WHERE tenant = ? AND kind = ? AND id IN (`+placeholders(len(chunk))+`) ORDER BY seq`,
			append([]any{tenant, kind}, anys(chunk)...)...)...)
	}
	return out
}

// The write statements.
const (
	sqlPut = `INSERT INTO docs (tenant, kind, id, seq, json, ref) VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (tenant, kind, id) DO UPDATE SET json = excluded.json, ref = excluded.ref RETURNING seq`
	// sqlRewrite sets the document alone: SQLite rewrites the index entries of every column an UPDATE
	// sets, changed or not.
	sqlRewrite    = `UPDATE docs SET json = ? WHERE tenant = ? AND kind = ? AND id = ? AND ref IS ? RETURNING seq`
	sqlDelete     = `DELETE FROM docs WHERE tenant = ? AND kind = ? AND id = ? RETURNING seq`
	sqlDeleteKind = `DELETE FROM docs WHERE tenant = ? AND kind = ? RETURNING seq`
)

// put stores doc (normalised to plain JSON values), keeping the insertion rank of an existing id.
func (st *store) put(tenant, kind, id string, doc map[string]any) {
	doc = normalizeDoc(doc)
	raw, err := json.Marshal(doc)
	if err != nil {
		st.fail("encode %s/%s/%s: %w", tenant, kind, id, err)
	}
	st.write()
	ref := refOf(kind, doc)
	if read, ok := st.readRefs[docKey{tenant, kind, id}]; ok && read == ref {
		// The row read earlier in this request may have been deleted since: then the upsert below inserts it.
		var seq int64
		err := st.stmt(sqlRewrite).QueryRow(string(raw), tenant, kind, id, ref).Scan(&seq)
		if err == nil {
			return
		}
		if !errors.Is(err, sql.ErrNoRows) {
			st.fail("put %s/%s/%s: %w", tenant, kind, id, err)
		}
	}
	next := st.seq + 1
	var seq int64
	err = st.stmt(sqlPut).QueryRow(tenant, kind, id, next, string(raw), ref).Scan(&seq)
	if err != nil {
		st.fail("put %s/%s/%s: %w", tenant, kind, id, err)
	}
	if seq == next {
		st.seq = next
		st.pending = append(st.pending, orderChange{key: bucketKey{tenant, kind}, seq: seq, added: true})
	}
}

func (st *store) del(tenant, kind, id string) bool {
	st.write()
	var seq int64
	err := st.stmt(sqlDelete).QueryRow(tenant, kind, id).Scan(&seq)
	if errors.Is(err, sql.ErrNoRows) {
		return false
	}
	if err != nil {
		st.fail("delete %s/%s/%s: %w", tenant, kind, id, err)
	}
	st.pending = append(st.pending, orderChange{key: bucketKey{tenant, kind}, seq: seq})
	return true
}

func (st *store) delKind(tenant, kind string) {
	st.write()
	for _, seq := range st.seqs(sqlDeleteKind, tenant, kind) {
		st.pending = append(st.pending, orderChange{key: bucketKey{tenant, kind}, seq: seq})
	}
}

// seqs reads the single integer column (insertion ranks) of every row.
func (st *store) seqs(query string, args ...any) []int64 {
	rows, err := st.stmt(query).Query(args...)
	if err != nil {
		st.fail("%s: %w", query, err)
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var seq int64
		if err := rows.Scan(&seq); err != nil {
			st.fail("%s: %w", query, err)
		}
		out = append(out, seq)
	}
	if err := rows.Err(); err != nil {
		st.fail("%s: %w", query, err)
	}
	return out
}

// list returns the documents of a kind in insertion order (the order the platform lists them in
// when no sort is given, as far as the sandbox is concerned). It reads the whole bucket: for buckets
// that can be large, page and scan read only what they need.
func (st *store) list(tenant, kind string) []map[string]any {
	return st.docs(`SELECT json FROM docs WHERE tenant = ? AND kind = ? ORDER BY seq`, tenant, kind)
}

// scanBatch is how many documents scan decodes at a time.
const scanBatch = 512

// scan calls fn with the documents of a kind in insertion order, a batch at a time, until fn returns
// false; memory stays bounded by the batch whatever the bucket's size.
func (st *store) scan(tenant, kind string, fn func(batch []map[string]any) bool) {
	after := int64(-1)
	for {
		rows, err := st.stmt(`SELECT seq, json FROM docs WHERE tenant = ? AND kind = ? AND seq > ? ORDER BY seq LIMIT ?`).
			Query(tenant, kind, after, scanBatch)
		if err != nil {
			st.fail("scan %s/%s: %w", tenant, kind, err)
		}
		var raws []string
		for rows.Next() {
			var raw string
			if err := rows.Scan(&after, &raw); err != nil {
				rows.Close()
				st.fail("scan %s/%s: %w", tenant, kind, err)
			}
			raws = append(raws, raw)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			st.fail("scan %s/%s: %w", tenant, kind, err)
		}
		if len(raws) == 0 {
			return
		}
		batch := make([]map[string]any, len(raws))
		for i, raw := range raws {
			doc, err := decodeDoc(raw)
			if err != nil {
				st.fail("decode a stored %s: %w", kind, err)
			}
			batch[i] = doc
		}
		if !fn(batch) || len(raws) < scanBatch {
			return
		}
	}
}

// byRef returns the documents of a kind whose secondary key (see refOf) is one of refs, in insertion
// order (within each chunk of maxParams refs).
func (st *store) byRef(tenant, kind string, refs ...string) []map[string]any {
	var out []map[string]any
	for chunk := range chunks(refs, maxParams) {
		out = append(out, st.docsBySeq(`SELECT seq, json FROM docs WHERE tenant = ? AND kind = ? AND ref IN (`+placeholders(len(chunk))+`)`,
			append([]any{tenant, kind}, anys(chunk)...)...)...)
	}
	return out
}

// customersWithEmail returns the ids of the tenant's customers whose contact e-mail equals email,
// ignoring case.
func (st *store) customersWithEmail(tenant, email string) []string {
	return st.strings(`SELECT id FROM docs WHERE tenant = ? AND kind = ? AND ref = ?`, tenant, kindCustomer, strings.ToLower(email))
}

// kinds returns the documents of several kinds (a page's customers' address buckets), grouped by
// kind in insertion order.
func (st *store) kinds(tenant string, kinds []string) map[string][]map[string]any {
	out := map[string][]map[string]any{}
	for chunk := range chunks(kinds, maxParams) {
		rows, err := st.stmt(`SELECT kind, json FROM docs WHERE tenant = ? AND kind IN (` + placeholders(len(chunk)) + `) ORDER BY seq`).
			Query(append([]any{tenant}, anys(chunk)...)...)
		if err != nil {
			st.fail("read %d buckets: %w", len(chunk), err)
		}
		type row struct{ kind, raw string }
		var read []row
		for rows.Next() {
			var r row
			if err := rows.Scan(&r.kind, &r.raw); err != nil {
				rows.Close()
				st.fail("read %d buckets: %w", len(chunk), err)
			}
			read = append(read, r)
		}
		rows.Close()
		for _, r := range read {
			doc, err := decodeDoc(r.raw)
			if err != nil {
				st.fail("decode a stored %s: %w", r.kind, err)
			}
			out[r.kind] = append(out[r.kind], doc)
		}
	}
	return out
}

// count is the number of documents of a kind.
func (st *store) count(tenant, kind string) int { return st.order(tenant, kind).len() }

// storedDoc is a document as stored: its id and its JSON text.
type storedDoc struct{ id, raw string }

// page returns page number (1-based) of a kind in insertion order.
func (st *store) page(tenant, kind string, number, size int) []map[string]any {
	rows := st.pageRaw(tenant, kind, number, size)
	out := make([]map[string]any, len(rows))
	for i, r := range rows {
		doc, err := decodeDoc(r.raw)
		if err != nil {
			st.fail("decode %s/%s/%s: %w", tenant, kind, r.id, err)
		}
		out[i] = doc
	}
	return out
}

// pageRaw is page without decoding. The position index finds the page's first document without
// counting the ones before it, so any page costs the same.
func (st *store) pageRaw(tenant, kind string, number, size int) []storedDoc {
	start := (number - 1) * size
	if number < 1 || size < 1 || start/size != number-1 {
		return nil
	}
	first, ok := st.order(tenant, kind).at(start)
	if !ok {
		return nil
	}
	query := `SELECT id, json FROM docs WHERE tenant = ? AND kind = ? AND seq >= ? ORDER BY seq LIMIT ?`
	rows, err := st.stmt(query).Query(tenant, kind, first, size)
	if err != nil {
		st.fail("page %s/%s: %w", tenant, kind, err)
	}
	defer rows.Close()
	var out []storedDoc
	for rows.Next() {
		var d storedDoc
		if err := rows.Scan(&d.id, &d.raw); err != nil {
			st.fail("page %s/%s: %w", tenant, kind, err)
		}
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		st.fail("page %s/%s: %w", tenant, kind, err)
	}
	return out
}

// order returns the bucket's position index, reading it from the database the first time. A cached
// index learns the current transaction's changes on commit.
func (st *store) order(tenant, kind string) *orderIndex {
	k := bucketKey{tenant, kind}
	if o, ok := st.orders[k]; ok {
		return o
	}
	o := &orderIndex{}
	for _, seq := range st.seqs(`SELECT seq FROM docs WHERE tenant = ? AND kind = ? ORDER BY seq`, tenant, kind) {
		o.add(seq)
	}
	if !st.inTx { // read inside a transaction, it would already hold the pending changes
		st.orders[k] = o
	}
	return o
}

// commit ends the request's transaction. The Server calls it before it writes the response, so a
// write acknowledged (or dropped after commit) is durable.
func (st *store) commit() error {
	clear(st.readRefs)
	if !st.inTx {
		return nil
	}
	st.inTx = false
	if _, err := st.stmt(`COMMIT`).Exec(); err != nil {
		st.pending, st.seq = nil, st.seqAtBegin
		_, _ = st.stmt(`ROLLBACK`).Exec()
		return fmt.Errorf("commit sandbox writes: %w", err)
	}
	for _, c := range st.pending {
		if o, ok := st.orders[c.key]; ok {
			if c.added {
				o.add(c.seq)
			} else {
				o.remove(c.seq)
			}
		}
	}
	st.pending = nil
	return nil
}

// rollback undoes the writes of a failed request.
func (st *store) rollback() {
	clear(st.readRefs)
	st.pending = nil
	if !st.inTx {
		return
	}
	st.inTx, st.seq = false, st.seqAtBegin
	_, _ = st.stmt(`ROLLBACK`).Exec()
}

// maxParams bounds the parameters of one IN list, well below SQLite's limit.
const maxParams = 500

func chunks[T any](items []T, size int) func(yield func([]T) bool) {
	return func(yield func([]T) bool) {
		for len(items) > 0 {
			n := min(size, len(items))
			if !yield(items[:n]) {
				return
			}
			items = items[n:]
		}
	}
}

func placeholders(n int) string { return strings.TrimSuffix(strings.Repeat("?, ", n), ", ") }

func anys(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// orderChunk is the most positions one chunk of an orderIndex holds.
const orderChunk = 1024

// orderIndex holds a bucket's insertion ranks in ascending order, in chunks, so that the n-th
// document is found by adding up chunk lengths (a few thousand at millions of documents) instead of
// counting rows, and a delete moves at most one chunk's worth of memory. New documents always get
// the highest rank, so inserts append.
type orderIndex struct {
	chunks [][]int64
	n      int
}

func (o *orderIndex) len() int { return o.n }

func (o *orderIndex) add(seq int64) {
	if last := len(o.chunks) - 1; last >= 0 && len(o.chunks[last]) < orderChunk {
		o.chunks[last] = append(o.chunks[last], seq)
	} else {
		o.chunks = append(o.chunks, append(make([]int64, 0, orderChunk), seq))
	}
	o.n++
}

func (o *orderIndex) remove(seq int64) {
	// The chunk holding seq is the last whose first rank is not above it.
	lo, hi := 0, len(o.chunks)
	for lo < hi {
		mid := (lo + hi) / 2
		if o.chunks[mid][0] <= seq {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	if lo == 0 {
		return
	}
	c := o.chunks[lo-1]
	i, found := searchInt64(c, seq)
	if !found {
		return
	}
	c = append(c[:i], c[i+1:]...)
	if len(c) == 0 {
		o.chunks = append(o.chunks[:lo-1], o.chunks[lo:]...)
	} else {
		o.chunks[lo-1] = c
	}
	o.n--
}

// at returns the rank at 0-based position pos.
func (o *orderIndex) at(pos int) (int64, bool) {
	if pos < 0 || pos >= o.n {
		return 0, false
	}
	for _, c := range o.chunks {
		if pos < len(c) {
			return c[pos], true
		}
		pos -= len(c)
	}
	return 0, false
}

func searchInt64(s []int64, v int64) (int, bool) {
	lo, hi := 0, len(s)
	for lo < hi {
		mid := (lo + hi) / 2
		if s[mid] < v {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return lo, lo < len(s) && s[lo] == v
}

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
