package sync

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"custsync/formats"
	"custsync/mapping"
	"custsync/remote"
	"custsync/state"
)

// Logins and passwords of a tenant migration. A customer row with a login (mapping.Record.Account) is created
// through the platform's bulk import, in requests of up to remote.MaxImportBatch customers, under the
// customer's deterministic id like every other write. What the rest of the engine keeps of a row never holds
// a hash:
//
//   - the checkpoint: the account is no field, so it is in no snapshot, row hash or raw hash (mapping);
//   - the journal: a streamed op's record carries its account sealed with a key that exists only in the memory
//     of the run (accountSealer). A run that dies leaves ciphertext nobody can open; the next run re-plans from
//     the files, which is where the hashes come from again;
//   - result files and the journal's copy of the input cells: the secret columns are masked (maskedCells);
//   - errors and reports: the remote client scrubs every hash of a request from the answers to it.
//
// A login belongs to a new customer: the bulk import creates customers and cannot set the password of one
// that exists, so the account of a row whose customer custsync synced before is not sent (Report.Warnings
// counts them).

// accountSealer seals the accounts of a run's ops for the journal with AES-256-GCM under a random key held only
// in memory. Nonces are a counter: the key is new for every run, so a nonce never repeats under it.
type accountSealer struct {
	aead  cipher.AEAD
	nonce atomic.Uint64
}

func newAccountSealer() (*accountSealer, error) {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("a key to keep the run's password hashes sealed: %w", err)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &accountSealer{aead: aead}, nil
}

// seal appends the sealed account to dst: the nonce, then the ciphertext of its encoding.
func (s *accountSealer) seal(dst []byte, a *mapping.Account) []byte {
	nonce := make([]byte, s.aead.NonceSize())
	binary.LittleEndian.PutUint64(nonce, s.nonce.Add(1))
	plain := encodeAccount(nil, a)
	dst = append(dst, nonce...)
	out := s.aead.Seal(dst, nonce, plain, nil)
	clear(plain)
	return out
}

var errSealedAccount = errors.New("the sealed login of the op cannot be opened (it was sealed by another run)")

// open reverses seal.
func (s *accountSealer) open(b []byte) (*mapping.Account, error) {
	n := s.aead.NonceSize()
	if len(b) < n {
		return nil, errSealedAccount
	}
	plain, err := s.aead.Open(nil, b[:n], b[n:], nil)
	if err != nil {
		return nil, errSealedAccount
	}
	defer clear(plain)
	return decodeAccount(plain)
}

func encodeAccount(b []byte, a *mapping.Account) []byte {
	put := func(s string) {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	put(a.Email)
	put(a.PasswordHash)
	if a.Legacy == nil {
		return append(b, 0)
	}
	b = append(b, 1)
	put(a.Legacy.Algorithm)
	put(a.Legacy.Hash)
	b = binary.AppendUvarint(b, uint64(len(a.Legacy.Context)))
	for k, v := range a.Legacy.Context {
		put(k)
		put(v)
	}
	return b
}

func decodeAccount(b []byte) (*mapping.Account, error) {
	bad := false
	get := func() string {
		l, n := binary.Uvarint(b)
		if n <= 0 || uint64(len(b)-n) < l {
			bad = true
			return ""
		}
		s := string(b[n : n+int(l)])
		b = b[n+int(l):]
		return s
	}
	a := &mapping.Account{Email: get(), PasswordHash: get()}
	if bad || len(b) == 0 {
		return nil, errBadOpRecord
	}
	legacy := b[0] == 1
	b = b[1:]
	if legacy {
		a.Legacy = &mapping.LegacyAuth{Algorithm: get(), Hash: get()}
		count, n := binary.Uvarint(b)
		if n <= 0 || count > uint64(len(b)) {
			return nil, errBadOpRecord
		}
		b = b[n:]
		for range count {
			if a.Legacy.Context == nil {
				a.Legacy.Context = map[string]string{}
			}
			k := get()
			a.Legacy.Context[k] = get()
		}
	}
	if bad {
		return nil, errBadOpRecord
	}
	return a, nil
}

// maskedCells returns the cells of a row with its table's secret columns masked (mapping.MaskedSecret), as a
// copy when there is anything to mask: cells kept with an op or an error go to the journal and to result files.
func maskedCells(src *InputTable, cells []string) []string {
	copied := false
	for _, m := range src.Mappers {
		for _, i := range m.SecretColumns() {
			if i >= len(cells) || cells[i] == "" {
				continue
			}
			if !copied {
				cells, copied = append([]string(nil), cells...), true
			}
			cells[i] = mapping.MaskedSecret
		}
	}
	return cells
}

// retentionCheck decides whether the rows with legacy password hashes may be imported: the platform takes them
// only while the tenant's password migration retention window is open. The planner notes those rows; the
// window is read (one GET) only after every file was read and judged, and only if such rows exist, so a
// damaged file stops the run before any request.
type retentionCheck struct {
	// legacy counts the rows with a legacy hash; the first maxListedRefusals are listed in legacyAt.
	legacy   int
	legacyAt []formats.Position
	// read is set once the configuration was read: active, and ended for a window that has closed.
	read   bool
	active bool
	ended  time.Time
}

const maxListedRefusals = 10

// note records a row whose login carries a legacy hash.
func (rt *retentionCheck) note(a *mapping.Account, pos formats.Position) {
	if a == nil || a.Legacy == nil {
		return
	}
	rt.legacy++
	if len(rt.legacyAt) < maxListedRefusals {
		rt.legacyAt = append(rt.legacyAt, pos)
	}
}

// forget drops the rows noted, keeping what was read, for a plan made again.
func (rt *retentionCheck) forget() { rt.legacy, rt.legacyAt = 0, nil }

// settle reads the retention configuration if rows with legacy hashes were noted and it was not read yet, and
// returns the refusal of the plan when the window is not open (see err).
func (rt *retentionCheck) settle(ctx context.Context, rc *remote.Client) error {
	if rt.legacy == 0 {
		return nil
	}
	if !rt.read {
		ret, ok, err := rc.GetRetention(ctx)
		if err != nil {
			return fmt.Errorf("read the password migration retention configuration, which legacy password hashes need: %w", err)
		}
		rt.read, rt.active = true, ok && ret.Active(time.Now())
		if ok && !rt.active {
			rt.ended = ret.EndDate
		}
	}
	return rt.err()
}

// err is the refusal of a plan with legacy hashes while the window is not open, nil otherwise.
func (rt *retentionCheck) err() error {
	if rt.legacy == 0 || rt.active {
		return nil
	}
	why := "the tenant has no password migration retention configuration"
	if !rt.ended.IsZero() {
		why = "the tenant's password migration retention window ended on " + rt.ended.Format(remote.DateLayout)
	}
	rows := make([]string, len(rt.legacyAt))
	for i, pos := range rt.legacyAt {
		rows[i] = pos.String()
	}
	more := ""
	if rt.legacy > len(rt.legacyAt) {
		more = fmt.Sprintf(" and %d more", rt.legacy-len(rt.legacyAt))
	}
	return fmt.Errorf("%w: %d rows carry a legacy password hash (legacyAuth), which the platform imports only while a retention window is open, and %s; "+
		"nothing was sent (open one with `custsync migration retention set --end YYYY-MM-DD`, or remove the legacyAuth columns): %s%s",
		ErrInput, rt.legacy, why, strings.Join(rows, ", "), more)
}

// errSettled tells runOps that an apply function recorded the outcomes of its ops itself (a batch).
var errSettled = errors.New("outcomes recorded by the batch")

// loginBatch collects the streamed creates with a login into bulk import requests.
type loginBatch struct {
	ops []*op
}

// add takes an op and returns a full batch to apply, or nil.
func (b *loginBatch) add(o *op) *op {
	b.ops = append(b.ops, o)
	if len(b.ops) < remote.MaxImportBatch {
		return nil
	}
	return b.flush()
}

// flush returns the collected ops as one batch op, or nil when there are none.
func (b *loginBatch) flush() *op {
	if len(b.ops) == 0 {
		return nil
	}
	first := b.ops[0]
	batch := &op{PlannedOp: state.PlannedOp{Kind: first.Kind, ERPKey: first.ERPKey, Action: state.ActionCreate}, entity: first.entity,
		batch: b.ops}
	b.ops = nil
	return batch
}

// importLogins creates the customers of a batch op with their logins through the bulk import, and records each
// one's outcome. A customer the platform had already (created by a request whose answer was lost) is adopted
// and given the row's fields like any create. The account flags, which the import does not take, are set
// afterwards where the platform's value differs from the row's.
func (r *runner) importLogins(ctx context.Context, batch *op) (state.Outcome, error) {
	items := make([]remote.ImportItem, len(batch.batch))
	for i, o := range batch.batch {
		body := o.rec.ApplyTo(nil)
		takeAccountFlags(body)
		a := o.account
		item := remote.ImportItem{ID: o.RemoteID, Customer: body, Account: remote.ImportAccount{Email: a.Email, PasswordHash: a.PasswordHash}}
		if a.Legacy != nil {
			item.Account.Legacy = &remote.LegacyAuth{Algorithm: a.Legacy.Algorithm, Hash: a.Legacy.Hash, Context: a.Legacy.Context}
		}
		items[i] = item
	}
	for _, o := range batch.batch {
		r.sendingCreate(o.RemoteID)
	}
	results, err := r.rc.ImportCustomers(ctx, items)
	if err != nil {
		if ctx.Err() != nil {
			return state.Outcome{}, err
		}
		// Nothing is known of the items without an answer: they stay planned, and the next run's import adopts
		// what this one created.
		first, last := batch.batch[0].ERPKey, batch.batch[len(batch.batch)-1].ERPKey
		return state.Outcome{}, &errFatal{err: fmt.Errorf("import customers %q to %q with their logins: %w", first, last, err)}
	}
	var flagged []int
	for i, res := range results {
		o := batch.batch[i]
		switch res.Outcome {
		case remote.ImportCreated, remote.ImportAdopted:
			if res.ID != "" {
				o.RemoteID = res.ID
			}
			if res.Outcome == remote.ImportAdopted {
				// The customer an earlier request created: it gets the row's fields as any create would.
				if _, err := r.createCustomer(ctx, o.RemoteID, o.rec); err != nil {
					if ctx.Err() != nil || isRunFatal(err) {
						return state.Outcome{}, err
					}
					r.fail(o, statusOf(err), err.Error())
					continue
				}
			} else if hasAccountFlags(o.rec) {
				flagged = append(flagged, i)
				continue
			}
			r.succeedLogin(o)
		case remote.ImportFailed:
			r.fail(o, res.Err.Status, res.Err.Error())
		}
		// An item the answer left out (ImportPending) stays planned: the next run's import adopts it if it was
		// created.
	}
	if err := r.setImportedFlags(ctx, batch.batch, flagged); err != nil {
		return state.Outcome{}, err
	}
	return state.Outcome{}, errSettled
}

// succeedLogin records a customer created with its login.
func (r *runner) succeedLogin(o *op) {
	out, err := upsertOutcome(o)
	if err != nil {
		r.fail(o, 0, err.Error())
		return
	}
	out.HTTPStatus = http.StatusCreated
	r.logins.Add(1)
	r.succeed(o, out)
}

func hasAccountFlags(rec mapping.Record) bool {
	for _, k := range accountFlags {
		if v, ok := rec.Get(k); ok && !v.IsClear() {
			return true
		}
	}
	return false
}

// setImportedFlags gives the imported customers at the indexes flagged the account flags of their rows (active,
// onHold), which the bulk import does not take: a new customer gets the tenant's defaults (creationDefaults,
// read once per run from the first customer created), and only the customers whose rows differ from them are
// patched.
func (r *runner) setImportedFlags(ctx context.Context, ops []*op, flagged []int) error {
	if len(flagged) == 0 {
		return nil
	}
	defaults, err := r.creation.read(ctx, r.rc, ops[flagged[0]].RemoteID)
	if err != nil {
		if ctx.Err() != nil || isRunFatal(err) {
			return err
		}
		for _, k := range flagged {
			r.fail(ops[k], statusOf(err), fmt.Sprintf("created with its login, but the tenant's active and onHold for new customers could not be read: %v", err))
		}
		return nil
	}
	for _, k := range flagged {
		o := ops[k]
		patch := map[string]any{}
		for _, name := range accountFlags {
			if v, ok := o.rec.Get(name); ok && !v.IsClear() && defaults[name] != v.Interface() {
				patch[name] = v.Interface()
			}
		}
		if len(patch) > 0 {
			if err := r.rc.PatchCustomer(ctx, o.RemoteID, patch); err != nil {
				if ctx.Err() != nil || isRunFatal(err) {
					return err
				}
				r.fail(o, statusOf(err), fmt.Sprintf("created with its login, but its active and onHold could not be set: %v", err))
				continue
			}
		}
		r.succeedLogin(o)
	}
	return nil
}
