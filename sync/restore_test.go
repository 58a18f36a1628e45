package sync

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"custsync/mapping"
	"custsync/remote"
	"custsync/sandbox"
	"custsync/state"
)

const restoreBase = "sdCustomerNumber,firstName,lastName,contactEmail,company,title,mixins.loyalty.level\n" +
	"0000100001,Ann,A,ann@example.com,Acme,,gold\n" +
	"0000100002,Bob,B,bob@example.com,,,silver\n" +
	"0000100003,Cid,C,cid@example.com,,,\n"

// The bad run: new first names, a mixin changed, a field cleared, and a field custsync never wrote set.
const restoreBad = "sdCustomerNumber,firstName,lastName,contactEmail,company,title,mixins.loyalty.level\n" +
	"0000100001,Wrong1,A,ann@example.com,#N/A,,bronze\n" +
	"0000100002,Wrong2,B,bob@example.com,,,silver\n" +
	"0000100003,Cid,X,cid@example.com,,Dr.,\n"

func (e *env) restore(opts RestoreOptions) (*Report, error) {
	e.t.Helper()
	return Restore(context.Background(), e.st, e.rc, opts)
}

func (e *env) customer(id string) remote.Doc {
	e.t.Helper()
	doc, err := e.rc.GetCustomer(context.Background(), id, "addresses", "mixin:*")
	if err != nil {
		e.t.Fatalf("customer %s: %v", id, err)
	}
	return doc
}

// badRun imports restoreBase, then restoreBad over it, and returns the file and the bad run's report.
func (e *env) badRun() (string, *Report) {
	e.t.Helper()
	path := e.file("customers.csv", restoreBase)
	if _, err := e.run(context.Background(), Options{}, path); err != nil {
		e.t.Fatal(err)
	}
	e.file("customers.csv", restoreBad)
	bad, err := e.run(context.Background(), Options{}, path)
	if err != nil || bad.Updated != 3 {
		e.t.Fatalf("bad run: %v %s", err, bad.Summary())
	}
	return path, bad
}

func loyalty(doc remote.Doc) any {
	v, _ := mapping.PathValue(doc, "mixins.loyalty.level")
	return v
}

func TestRestoreRevertsUpdatesUnlessChangedSince(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	path, bad := e.badRun()
	// Someone fixes customer 2 by hand after the bad run: the restore must not overwrite that.
	if err := e.rc.PatchCustomer(ctx, "0000100002", remote.Doc{"firstName": "Robert"}); err != nil {
		t.Fatal(err)
	}

	e.srv.ResetRequests()
	dry, err := e.restore(RestoreOptions{RunID: bad.RunID, DryRun: true})
	if err != nil || dry.Updated != 3 || len(dry.Changes) != 3 || len(e.writes()) != 0 {
		t.Fatalf("dry run: %v %s %v", err, dry.Summary(), e.writes())
	}
	rep, err := e.restore(RestoreOptions{RunID: bad.RunID})
	if !errors.Is(err, ErrPartial) || rep.Updated != 2 || rep.Failed != 1 || rep.Mode != ModeRestore {
		t.Fatalf("restore: %v %s", err, rep.Summary())
	}
	if f := rep.Failures[0]; f.Key != "0000100002" || !strings.Contains(f.Reason, "firstName (now \"Robert\")") {
		t.Errorf("failure %+v", f)
	}
	c1, c2, c3 := e.customer("0000100001"), e.customer("0000100002"), e.customer("0000100003")
	if c1["firstName"] != "Ann" || c1["company"] != "Acme" || loyalty(c1) != "gold" {
		t.Errorf("customer 1 not put back: %v", c1)
	}
	if c2["firstName"] != "Robert" {
		t.Errorf("customer 2, changed since the run, was overwritten: %v", c2)
	}
	if c3["lastName"] != "C" || c3["title"] != nil {
		t.Errorf("customer 3 not put back (title was never set before the run): %v", c3)
	}

	// The checkpoint holds what the platform holds: importing the bad file again re-applies it to the records
	// the restore put back, and not to customer 2, which it left alone.
	e.srv.ResetRequests()
	again, err := e.run(ctx, Options{}, path)
	if err != nil || again.Updated != 2 || again.Unchanged != 1 {
		t.Fatalf("import after the restore: %v %s", err, again.Summary())
	}
	if c := e.customer("0000100001"); c["firstName"] != "Wrong1" {
		t.Errorf("the re-import did not re-apply: %v", c)
	}

	// A restore is restorable: restoring the re-import puts customer 1 back once more.
	back, err := e.restore(RestoreOptions{RunID: again.RunID})
	if err != nil || back.Updated != 2 {
		t.Fatalf("restore of the re-import: %v %s", err, back.Summary())
	}
	if c := e.customer("0000100001"); c["firstName"] != "Ann" {
		t.Errorf("customer 1 after the second restore: %v", c)
	}
	undo, err := e.restore(RestoreOptions{RunID: back.RunID})
	if err != nil || undo.Updated != 2 {
		t.Fatalf("restore of a restore: %v %s", err, undo.Summary())
	}
	if c := e.customer("0000100001"); c["firstName"] != "Wrong1" {
		t.Errorf("customer 1 after restoring the restore: %v", c)
	}
}

// A Customer Management update (read, apply the changed fields, PUT back) keeps an image of what it changed
// on the record it read: the restore puts the company's name back, and an edit made since to another field
// stays.
func TestRestoreRevertsACompanyUpdate(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	path := e.file("companies.csv", companiesHeader+"C1,Root,COMPANY,,EUR,30\n")
	if _, err := e.run(ctx, Options{}, path); err != nil {
		t.Fatal(err)
	}
	e.file("companies.csv", companiesHeader+"C1,Root Renamed,COMPANY,,EUR,30\n")
	renamed, err := e.run(ctx, Options{}, path)
	if err != nil || renamed.Updated != 1 {
		t.Fatalf("rename: %v %s", err, renamed.Summary())
	}
	doc, err := e.rc.GetLegalEntity(ctx, "C1")
	if err != nil {
		t.Fatal(err)
	}
	body := requestShape(doc)
	body["legalInfo"] = map[string]any{"legalName": "Edited Elsewhere GmbH"}
	if _, err := e.rc.UpsertLegalEntity(ctx, "C1", body); err != nil {
		t.Fatal(err)
	}
	rep, err := e.restore(RestoreOptions{RunID: renamed.RunID})
	if err != nil || rep.Updated != 1 {
		t.Fatalf("restore: %v %s", err, rep.Summary())
	}
	after, err := e.rc.GetLegalEntity(ctx, "C1")
	legal, _ := after["legalInfo"].(map[string]any)
	if err != nil || after["name"] != "Root" || legal["legalName"] != "Edited Elsewhere GmbH" {
		t.Fatalf("company after the restore: %v %v", after, err)
	}
}

func TestRestoreRecreatesDeletedRecords(t *testing.T) {
	t.Parallel()
	for _, recreate := range []bool{true, false} {
		t.Run(fmt.Sprintf("enableRecreationOfDeletedCustomer=%t", recreate), func(t *testing.T) {
			t.Parallel()
			e := newEnvFor(t, sandbox.Options{RecreateDeletedCustomers: recreate}, nil)
			ctx := context.Background()
			customers := e.file("customers.csv", restoreBase)
			addresses := e.file("addresses.csv", "sdCustomerNumber,addressKey,contactName,street,city,country,isDefault\n"+
				"0000100001,HQ,Ann A,Main 1,Berlin,DE,true\n")
			companies := e.file("companies.csv", "companyKey,name,type,parentCompanyKey\nP1,Parent,COMPANY,\nS1,Sub,SUBSIDIARY,P1\n")
			if _, err := e.run(ctx, Options{}, companies, customers, addresses); err != nil {
				t.Fatal(err)
			}
			del, err := e.run(ctx, Options{MaxDelete: DeleteLimit{Count: 5, set: true}},
				e.file("del-customers.csv", "sdCustomerNumber,command\n0000100001,DELETE\n"),
				e.file("del-companies.csv", "companyKey,command\nP1,DELETE\nS1,DELETE\n"))
			if err != nil || del.Deleted != 3 {
				t.Fatalf("delete run: %v %s", err, del.Summary())
			}
			rep, err := e.restore(RestoreOptions{RunID: del.RunID})
			if !recreate {
				// The customer's address, its own op since the checkpoint held it, fails naming the customer.
				if !errors.Is(err, ErrPartial) || rep.Created != 2 || rep.Failed != 2 ||
					!strings.Contains(rep.Failures[0].Reason, "enableRecreationOfDeletedCustomer") ||
					!strings.Contains(rep.Failures[1].Reason, `customer "0000100001" failed in this run`) {
					t.Fatalf("restore: %v %s %+v", err, rep.Summary(), rep.Failures)
				}
				return
			}
			if err != nil || rep.Created != 4 {
				t.Fatalf("restore: %v %s", err, rep.Summary())
			}
			c := e.customer("0000100001")
			addrs, _ := c["addresses"].([]any)
			if c["firstName"] != "Ann" || loyalty(c) != "gold" || len(addrs) != 1 {
				t.Fatalf("customer re-created as %v", c)
			}
			if a, _ := addrs[0].(map[string]any); a["street"] != "Main 1" || a["isDefault"] != true {
				t.Errorf("address re-created as %v", a)
			}
			sub, err := e.rc.GetLegalEntity(ctx, "S1")
			if err != nil || sub["name"] != "Sub" || sub["parentId"] != "P1" {
				t.Errorf("subsidiary re-created as %v %v", sub, err)
			}
			if m, ok, _ := e.st.GetMapping(ctx, "0000100001"); !ok || m.DeletedInYaaS {
				t.Errorf("SD mapping after the re-create: %+v %v", m, ok)
			}
			// The checkpoint has it again, so importing the base file changes nothing on it but a compare.
			if rep, err := e.run(ctx, Options{}, customers); err != nil || rep.Created != 0 {
				t.Errorf("import after the restore: %v %s", err, rep.Summary())
			}
		})
	}
}

func TestRestoreDeletesCreatesOnlyWhenAskedAndGuarded(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	// Customer 3 exists on the platform before the run: the run's create of it merges into it.
	if _, err := e.rc.UpsertCustomer(ctx, "0000100003", remote.Doc{"contactEmail": "cid@example.com", "lastName": "C"}); err != nil {
		t.Fatal(err)
	}
	created, err := e.run(ctx, Options{}, e.file("companies.csv", "companyKey,name,type,parentCompanyKey\nP1,Parent,COMPANY,\nS1,Sub,SUBSIDIARY,P1\n"),
		e.file("customers.csv", restoreBase))
	if err != nil || created.Created != 4 || created.Merged != 1 {
		t.Fatalf("import: %v %s", err, created.Summary())
	}
	// The create that merged into customer 3 is named, and why it cannot be put back, with or without
	// --include-creates.
	const existed = "1 creates of run %d met a record the platform had already (or were made by an older custsync) and are not deleted; what those records held before the run was not kept, so it cannot be put back: customers 0000100003"
	rep, err := e.restore(RestoreOptions{RunID: created.RunID})
	if err != nil || rep.Deleted != 0 || len(rep.Warnings) != 2 || rep.Warnings[0] != fmt.Sprintf("4 records run %d created are kept (--include-creates deletes them)", created.RunID) ||
		rep.Warnings[1] != fmt.Sprintf(existed, created.RunID) {
		t.Fatalf("restore without --include-creates: %v %s", err, rep.Summary())
	}
	e.srv.ResetRequests()
	_, err = e.restore(RestoreOptions{RunID: created.RunID, IncludeCreates: true, MaxDelete: DeleteLimit{Count: 1, set: true}})
	if !errors.Is(err, ErrSafetyStop) || len(e.writes()) != 0 {
		t.Fatalf("restore over --max-delete: %v, writes %v", err, e.writes())
	}
	rep, err = e.restore(RestoreOptions{RunID: created.RunID, IncludeCreates: true, MaxDelete: DeleteLimit{Count: 2, set: true}})
	if err != nil || rep.Deleted != 4 || !slices.Contains(rep.Warnings, fmt.Sprintf(existed, created.RunID)) {
		t.Fatalf("restore with --include-creates: %v %s", err, rep.Summary())
	}
	if _, err := e.rc.GetLegalEntity(ctx, "P1"); !remote.IsNotFound(err) {
		t.Errorf("the created parent company is still there: %v", err)
	}
	platform := e.platformCustomers()
	if _, ok := platform["0000100003"]; !ok || len(platform) != 1 {
		t.Errorf("the platform holds %d customers; the one that existed before the run must stay: %v", len(platform), platform)
	}
	var logged []string
	_ = e.st.ScanDeletions(ctx, state.DeletionFilter{RunID: rep.RunID, Kind: string(mapping.Customers)}, func(d state.DeletionEntry) error {
		logged = append(logged, fmt.Sprintf("%s %s %t", d.ERPKey, d.Reason, len(d.PreImage) > 0))
		return nil
	})
	slices.Sort(logged)
	if strings.Join(logged, ",") != "0000100001 restore true,0000100002 restore true" {
		t.Errorf("deletion log %v", logged)
	}
}

func TestRestoreRefusesRunsThatChangedNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	if _, err := e.restore(RestoreOptions{RunID: 42}); !errors.Is(err, ErrInput) {
		t.Errorf("unknown run: %v", err)
	}
	id, err := e.st.BeginRun(context.Background(), "check", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.restore(RestoreOptions{RunID: id}); !errors.Is(err, ErrInput) {
		t.Errorf("a check run: %v", err)
	}
}

// deleteFaults makes the sandbox's DELETEs go unanswered while on: applied and the connection closed, or, once
// stop is set, the run stopped (as by kill -9) after the platform applied the DELETE, or before if !apply.
type deleteFaults struct {
	on    atomic.Bool
	apply bool
	stop  context.CancelFunc
}

// newEnvWithDeleteFaults is newEnv with the DELETEs going through faults.
func newEnvWithDeleteFaults(t *testing.T, apply bool) (*env, *deleteFaults) {
	t.Helper()
	f := &deleteFaults{apply: apply}
	e := newEnvWith(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method != http.MethodDelete || !f.on.Load() {
				h.ServeHTTP(w, r)
				return
			}
			if f.apply {
				h.ServeHTTP(httptest.NewRecorder(), r)
			}
			if f.stop != nil {
				f.stop()
				<-r.Context().Done()
				return
			}
			if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
				_ = conn.Close()
			}
		})
	})
	return e, f
}

// stoppedRun starts a context for a run that the faults stop.
func (f *deleteFaults) stoppedRun() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	f.stop = cancel
	f.on.Store(true)
	return ctx
}

// loggedDeletions lists the deletion log as "kind key run pre-image?" entries.
func (e *env) loggedDeletions() []string {
	e.t.Helper()
	dels, err := e.st.ListDeletions(context.Background(), state.DeletionFilter{IncludeAcked: true})
	if err != nil {
		e.t.Fatal(err)
	}
	var out []string
	for _, d := range dels {
		out = append(out, fmt.Sprintf("%s %s run %d pre-image %t", d.Kind, d.ERPKey, d.RunID, len(d.PreImage) > 0))
	}
	return out
}

// companiesThenOneGone imports companies P1 and P2 and returns a full snapshot without P2 and the options that
// import it with the delete allowed.
func (e *env) companiesThenOneGone() (string, Options) {
	e.t.Helper()
	companies := e.file("companies.csv", "companyKey,name,type\nP1,First,COMPANY\nP2,Second,COMPANY\n")
	if _, err := e.run(context.Background(), Options{}, companies); err != nil {
		e.t.Fatal(err)
	}
	snapshot := e.file("snapshot.csv", "companyKey,name,type\nP1,First,COMPANY\n")
	return snapshot, Options{Mode: ModeFull, MaxDelete: DeleteLimit{Percent: 100, IsPct: true}}
}

// A delete the platform applied but whose answer was lost stops the run (retries exhausted). The next run
// finds the record gone: the deletion is logged with the pre-image read before the DELETE, under the run that
// sent it, and restoring that run creates the company again.
func TestDeleteWithLostAnswerKeepsItsPreImage(t *testing.T) {
	t.Parallel()
	e, faults := newEnvWithDeleteFaults(t, true)
	ctx := context.Background()
	snapshot, full := e.companiesThenOneGone()
	faults.on.Store(true)
	stopped, err := e.run(ctx, full, snapshot)
	if !errors.Is(err, remote.ErrRetriesExhausted) || stopped.Deleted != 0 {
		t.Fatalf("run with the lost answers: %v %s", err, stopped.Summary())
	}
	if _, err := e.rc.GetLegalEntity(ctx, "P2"); !remote.IsNotFound(err) {
		t.Fatalf("the platform did not apply the delete: %v", err)
	}
	faults.on.Store(false)
	e.open()
	next, err := e.run(ctx, full, snapshot)
	if err != nil || next.Deleted != 0 || !strings.Contains(strings.Join(next.Warnings, "\n"), fmt.Sprintf("interrupted run %d had deleted 1 record", stopped.RunID)) {
		t.Fatalf("next run: %v %s %q", err, next.Summary(), next.Warnings)
	}
	if got, want := e.loggedDeletions(), []string{fmt.Sprintf("companies P2 run %d pre-image true", stopped.RunID)}; !slices.Equal(got, want) {
		t.Fatalf("deletion log %q, want %q", got, want)
	}
	rep, err := e.restore(RestoreOptions{RunID: stopped.RunID})
	if err != nil || rep.Created != 1 {
		t.Fatalf("restore: %v %s", err, rep.Summary())
	}
	if doc, err := e.rc.GetLegalEntity(ctx, "P2"); err != nil || doc["name"] != "Second" {
		t.Fatalf("P2 after the restore: %v %v", doc, err)
	}
}

// A run stopped (as by kill -9) after the platform applied a DELETE and before the outcome was recorded, then
// restored without another import in between: the restore first records the delete the run made, then puts
// the address back, and the checkpoint agrees with the platform afterwards.
func TestRestoreOfARunStoppedDuringADelete(t *testing.T) {
	t.Parallel()
	e, faults := newEnvWithDeleteFaults(t, true)
	ctx := context.Background()
	customers := e.file("customers.csv", restoreBase)
	const header = "sdCustomerNumber,addressKey,contactName,street,city,country\n"
	addresses := e.file("addresses.csv", header+"0000100001,HQ,Ann A,Main 1,Berlin,DE\n0000100002,HQ,Bob B,Side 2,Bonn,DE\n")
	if _, err := e.run(ctx, Options{}, customers, addresses); err != nil {
		t.Fatal(err)
	}
	killed, err := e.run(faults.stoppedRun(), Options{MaxDelete: DeleteLimit{Percent: 100, IsPct: true}},
		e.file("del-addresses.csv", "sdCustomerNumber,addressKey,command\n0000100002,HQ,DELETE\n"))
	if !errors.Is(err, context.Canceled) || killed.Deleted != 0 {
		t.Fatalf("stopped run: %v %s", err, killed.Summary())
	}
	faults.on.Store(false)
	e.open()
	rep, err := e.restore(RestoreOptions{RunID: killed.RunID})
	if err != nil || rep.Created != 1 {
		t.Fatalf("restore: %v %s %q", err, rep.Summary(), rep.Warnings)
	}
	if addrs, _ := e.customer("0000100002")["addresses"].([]any); len(addrs) != 1 || addrs[0].(map[string]any)["street"] != "Side 2" {
		t.Fatalf("addresses after the restore: %v", addrs)
	}
	if got, want := e.loggedDeletions(), []string{fmt.Sprintf("addresses 0000100002/HQ run %d pre-image true", killed.RunID)}; !slices.Equal(got, want) {
		t.Fatalf("deletion log %q, want %q", got, want)
	}
	// The re-created address is in the checkpoint as its row maps it: importing the row again writes nothing.
	e.srv.ResetRequests()
	if again, err := e.run(ctx, Options{}, customers, addresses); err != nil || again.Created+again.Updated != 0 || len(e.writes()) != 0 {
		t.Fatalf("import after the restore: %v %s, writes %v", err, again.Summary(), e.writes())
	}
}

// A run stopped after it journaled a delete's pre-image and before the DELETE reached the platform: the record
// is still there, so nothing is logged for that run, and the next run deletes it.
func TestRunStoppedBeforeItsDeleteWasSent(t *testing.T) {
	t.Parallel()
	e, faults := newEnvWithDeleteFaults(t, false)
	ctx := context.Background()
	snapshot, full := e.companiesThenOneGone()
	if stopped, err := e.run(faults.stoppedRun(), full, snapshot); !errors.Is(err, context.Canceled) || stopped.Deleted != 0 {
		t.Fatalf("stopped run: %v %s", err, stopped.Summary())
	}
	faults.on.Store(false)
	e.open()
	next, err := e.run(ctx, full, snapshot)
	if err != nil || next.Deleted != 1 {
		t.Fatalf("next run: %v %s", err, next.Summary())
	}
	if got, want := e.loggedDeletions(), []string{fmt.Sprintf("companies P2 run %d pre-image true", next.RunID)}; !slices.Equal(got, want) {
		t.Fatalf("deletion log %q, want %q", got, want)
	}
}

// A second restore of the same run finds every field put back already: it changes nothing, counts the records
// unchanged and keeps no image, so restoring it in turn does not write the bad values again.
func TestRestoreTwiceChangesNothingTheSecondTime(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	_, bad := e.badRun()
	if rep, err := e.restore(RestoreOptions{RunID: bad.RunID}); err != nil || rep.Updated != 3 {
		t.Fatalf("restore: %v %s", err, rep.Summary())
	}
	e.srv.ResetRequests()
	second, err := e.restore(RestoreOptions{RunID: bad.RunID})
	if err != nil || second.Updated != 0 || second.Unchanged != 3 || len(e.writes()) != 0 {
		t.Fatalf("second restore: %v %s, writes %v", err, second.Summary(), e.writes())
	}
	if changes, err := e.st.RunChanges(ctx, second.RunID); err != nil || changes.Restorable(true) {
		t.Fatalf("the second restore is restorable: %+v %v", changes, err)
	}
	e.srv.ResetRequests()
	if rep, err := e.restore(RestoreOptions{RunID: second.RunID}); err != nil || rep.Updated != 0 || len(e.writes()) != 0 {
		t.Fatalf("restore of the second restore: %v %s, writes %v", err, rep.Summary(), e.writes())
	}
	if c := e.customer("0000100001"); c["firstName"] != "Ann" {
		t.Errorf("customer 1 after restoring the second restore: %v", c)
	}
}

// A second restore of a run's deletes finds the records put back already: nothing to do and no failure. A
// record that is on the platform again without custsync having put it there fails, naming the run that deleted
// it (not the restore).
func TestRestoreOfDeletesTwice(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	if _, err := e.run(ctx, Options{}, e.file("companies.csv", "companyKey,name,type\nP1,First,COMPANY\nP2,Second,COMPANY\nP3,Third,COMPANY\n")); err != nil {
		t.Fatal(err)
	}
	del, err := e.run(ctx, Options{MaxDelete: DeleteLimit{Count: 2, set: true}}, e.file("del.csv", "companyKey,command\nP1,DELETE\nP2,DELETE\n"))
	if err != nil || del.Deleted != 2 {
		t.Fatalf("delete run: %v %s", err, del.Summary())
	}
	if rep, err := e.restore(RestoreOptions{RunID: del.RunID}); err != nil || rep.Created != 2 {
		t.Fatalf("restore: %v %s", err, rep.Summary())
	}
	e.srv.ResetRequests()
	again, err := e.restore(RestoreOptions{RunID: del.RunID})
	if err != nil || again.Created != 0 || again.Failed != 0 || len(e.writes()) != 0 ||
		!strings.Contains(strings.Join(again.Warnings, "\n"), fmt.Sprintf("run %d's deletes: 2 records in the checkpoint again", del.RunID)) {
		t.Fatalf("second restore: %v %s %q, writes %v", err, again.Summary(), again.Warnings, e.writes())
	}

	del2, err := e.run(ctx, Options{MaxDelete: DeleteLimit{Count: 1, set: true}}, e.file("del.csv", "companyKey,command\nP3,DELETE\n"))
	if err != nil || del2.Deleted != 1 {
		t.Fatalf("second delete run: %v %s", err, del2.Summary())
	}
	if _, err := e.rc.UpsertLegalEntity(ctx, "P3", remote.Doc{"name": "Made by hand", "type": "COMPANY"}); err != nil {
		t.Fatal(err)
	}
	rep, err := e.restore(RestoreOptions{RunID: del2.RunID})
	if !errors.Is(err, ErrPartial) || rep.Failed != 1 ||
		!strings.Contains(rep.Failures[0].Reason, fmt.Sprintf("created since run %d deleted it", del2.RunID)) {
		t.Fatalf("restore of a record made again by hand: %v %s %+v", err, rep.Summary(), rep.Failures)
	}
}

// Restoring with --include-creates a run whose create a later run deleted: the record is gone already, so
// nothing is deleted and nothing more is logged.
func TestRestoreOfCreatesDeletedSince(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	if _, err := e.run(ctx, Options{}, e.file("companies.csv", "companyKey,name,type\nP1,First,COMPANY\n")); err != nil {
		t.Fatal(err)
	}
	created, err := e.run(ctx, Options{}, e.file("companies.csv", "companyKey,name,type\nP1,First,COMPANY\nP2,Second,COMPANY\n"))
	if err != nil || created.Created != 1 {
		t.Fatalf("create run: %v %s", err, created.Summary())
	}
	del, err := e.run(ctx, Options{MaxDelete: DeleteLimit{Count: 1, set: true}}, e.file("del.csv", "companyKey,command\nP2,DELETE\n"))
	if err != nil || del.Deleted != 1 {
		t.Fatalf("delete run: %v %s", err, del.Summary())
	}
	e.srv.ResetRequests()
	rep, err := e.restore(RestoreOptions{RunID: created.RunID, IncludeCreates: true, MaxDelete: DeleteLimit{Count: 1, set: true}})
	if err != nil || rep.Deleted != 0 || len(e.writes()) != 0 ||
		!strings.Contains(strings.Join(rep.Warnings, "\n"), fmt.Sprintf("run %d's creates: 1 record deleted since", created.RunID)) {
		t.Fatalf("restore: %v %s %q, writes %v", err, rep.Summary(), rep.Warnings, e.writes())
	}
	if got, want := e.loggedDeletions(), []string{fmt.Sprintf("companies P2 run %d pre-image true", del.RunID)}; !slices.Equal(got, want) {
		t.Fatalf("deletion log %q, want %q", got, want)
	}
}

// Restoring with --include-creates a run that created a company under which a later run created a subsidiary:
// the platform would delete the subsidiary with the company, and no deletion log entry would keep it, so the
// delete is refused (exit 3, naming the subsidiary), and the dry run predicts that.
func TestRestoreKeepsCreatedCompanyWithLaterSubsidiary(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	const parent = "companyKey,name,type,parentCompanyKey\nC5000,New Parent,COMPANY,\n"
	created, err := e.run(ctx, Options{}, e.file("companies.csv", parent))
	if err != nil || created.Created != 1 {
		t.Fatalf("run creating the parent: %v %s", err, created.Summary())
	}
	if rep, err := e.run(ctx, Options{}, e.file("companies.csv", parent+"C5100,New Child,SUBSIDIARY,C5000\n")); err != nil || rep.Created != 1 {
		t.Fatalf("run creating the subsidiary: %v %s", err, rep.Summary())
	}
	e.restoreRefusesItsDelete(created.RunID, "C5000", "not deleted: its subsidiaries C5100 stay on the platform")
	for _, id := range []string{"C5000", "C5100"} {
		if _, err := e.rc.GetLegalEntity(ctx, id); err != nil {
			t.Errorf("company %s after the restore: %v", id, err)
		}
	}
	if got := e.loggedDeletions(); len(got) != 0 {
		t.Errorf("deletion log %q", got)
	}
}

// A customer deleted by a --mode full import takes its addresses and contact assignment along on the platform,
// and their checkpoint rows go with the delete. The restore creates the customer again with its addresses from
// the pre-image and records them under their keys, so the next import writes none of them; the assignment,
// which the pre-image does not hold, the next import creates again.
func TestRestoreRecordsTheAddressesOfACustomerItRecreates(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnvFor(t, sandbox.Options{RecreateDeletedCustomers: true}, nil)
	companies := e.file("companies.csv", "companyKey,name,type\nC1,Acme,COMPANY\n")
	const bothCustomers = "sdCustomerNumber,firstName,lastName,contactEmail\n0000000001,Anna,Berg,anna@x.example\n0000000002,Bob,Kurz,bob@x.example\n"
	customers := e.file("customers.csv", bothCustomers)
	addresses := e.file("addresses.csv", "sdCustomerNumber,addressKey,contactName,street,city,country,isDefault\n"+
		"0000000001,A1,Anna,Hauptstr 1,Berlin,DE,true\n0000000001,A2,Anna,Nebenstr 2,Hamburg,DE,false\n")
	contacts := e.file("contacts.csv", "companyKey,sdCustomerNumber,type\nC1,0000000001,PRIMARY\n")
	files := []string{companies, customers, addresses, contacts}
	if rep, err := e.run(ctx, Options{}, files...); err != nil || rep.Created != 6 {
		t.Fatalf("first import: %v\n%s", err, rep.Summary())
	}
	e.file("customers.csv", "sdCustomerNumber,firstName,lastName,contactEmail\n0000000002,Bob,Kurz,bob@x.example\n")
	del, err := e.run(ctx, Options{Mode: ModeFull, MaxDelete: DeleteLimit{Percent: 50, IsPct: true}}, customers)
	if err != nil || del.Deleted != 1 {
		t.Fatalf("full import without customer 1: %v\n%s", err, del.Summary())
	}

	rep, err := e.restore(RestoreOptions{RunID: del.RunID})
	if err != nil || rep.Created != 3 {
		t.Fatalf("restore: %v\n%s", err, rep.Summary())
	}
	if addrs, _ := e.customer("0000000001")["addresses"].([]any); len(addrs) != 2 {
		t.Fatalf("addresses after the restore: %v", addrs)
	}
	for _, key := range []string{"A1", "A2"} {
		erpKey := mapping.JoinKey("0000000001", key)
		ent, ok, err := e.st.GetEntity(ctx, state.EntityKey{Kind: string(mapping.Addresses), ERPKey: erpKey})
		snaps, serr := e.st.Snapshots(ctx, string(mapping.Addresses), []string{erpKey})
		if err != nil || serr != nil || !ok || ent.RemoteID != "0000000001/0000000001-"+key || len(snaps[erpKey]) == 0 {
			t.Fatalf("checkpoint row of address %s after the restore: %+v %t %v %v", key, ent, ok, err, serr)
		}
	}

	e.file("customers.csv", bothCustomers)
	e.srv.ResetRequests()
	again, err := e.run(ctx, Options{}, files...)
	if err != nil || again.Created != 1 || again.Entities[mapping.Contacts].Created != 1 || again.Updated != 0 {
		t.Fatalf("import after the restore: %v\n%s", err, again.Summary())
	}
	if w := e.writes(); w[http.MethodPut]+w[http.MethodPost]+w[http.MethodPatch] != 1 || w[http.MethodDelete] != 0 {
		t.Fatalf("import after the restore wrote %v, want the assignment's create alone", w)
	}
	if a, ok := assignmentsByPair(t, e.rc)["C1/0000000001"]; !ok || a["type"] != "PRIMARY" {
		t.Fatalf("assignment after the import: %v", assignmentsByPair(t, e.rc))
	}
}

// A company's delete takes its contact assignments along, and their checkpoint rows go with it. The restore
// creates the company again from its pre-image, which holds no assignments, so the next import must create them
// again rather than take their rows for unchanged.
func TestImportAfterRestoreOfCompanyCreatesItsAssignmentsAgain(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	companies := e.file("companies.csv", "companyKey,name,type\nC1,Acme,COMPANY\nC2,Beta,COMPANY\n")
	customers := e.file("customers.csv", "sdCustomerNumber,firstName,lastName,contactEmail\n0000000001,Anna,Berg,anna@x.example\n")
	contacts := e.file("contacts.csv", "companyKey,sdCustomerNumber,type\nC1,0000000001,PRIMARY\n")
	files := []string{companies, customers, contacts}
	if rep, err := e.run(ctx, Options{}, files...); err != nil || rep.Created != 4 {
		t.Fatalf("first import: %v\n%s", err, rep.Summary())
	}
	del, err := e.run(ctx, Options{MaxDelete: DeleteLimit{Percent: 50, IsPct: true}}, e.file("del.csv", "companyKey,command\nC1,DELETE\n"))
	if err != nil || del.Deleted != 1 || len(assignmentsByPair(t, e.rc)) != 0 {
		t.Fatalf("delete of the company: %v\n%s", err, del.Summary())
	}
	if rep, err := e.restore(RestoreOptions{RunID: del.RunID}); err != nil || rep.Created != 1 {
		t.Fatalf("restore: %v\n%s", err, rep.Summary())
	}
	again, err := e.run(ctx, Options{}, files...)
	if err != nil || again.Created != 1 || again.Entities[mapping.Contacts] == nil || again.Entities[mapping.Contacts].Created != 1 {
		t.Fatalf("import after the restore: %v\n%s", err, again.Summary())
	}
	if a, ok := assignmentsByPair(t, e.rc)["C1/0000000001"]; !ok || a["type"] != "PRIMARY" {
		t.Fatalf("assignments after the import: %v", assignmentsByPair(t, e.rc))
	}
}

// Restoring with --include-creates a run that created a company and the location it lists, under which company
// a later run created a subsidiary: the company's delete is refused, so it keeps listing the location, whose
// delete must be refused too, in the dry run and the restore alike (the platform would take it off the company
// unseen).
func TestRestoreKeepsCreatedLocationOfACompanyItKeeps(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	locations := e.file("locations.csv", "locationKey,name,type\nLOC-5000,Depot,WAREHOUSE\n")
	const parent = "companyKey,name,type,parentCompanyKey,locationKeys\nC5000,New Parent,COMPANY,,LOC-5000\n"
	created, err := e.run(ctx, Options{}, locations, e.file("companies.csv", parent))
	if err != nil || created.Created != 2 {
		t.Fatalf("run creating the company and its location: %v %s", err, created.Summary())
	}
	if rep, err := e.run(ctx, Options{}, e.file("companies.csv", parent+"C5100,New Child,SUBSIDIARY,C5000,\n")); err != nil || rep.Created != 1 {
		t.Fatalf("run creating the subsidiary: %v %s", err, rep.Summary())
	}
	e.restoreRefusesDeletes(created.RunID, map[string]string{
		"C5000":    "not deleted: its subsidiaries C5100 stay on the platform",
		"LOC-5000": "not deleted: company C5000 still lists it in locationKeys",
	})
	if _, err := e.rc.GetLocation(ctx, "LOC-5000"); err != nil {
		t.Errorf("location after the restore: %v", err)
	}
	company, err := e.rc.GetLegalEntity(ctx, "C5000")
	if err != nil || len(idRefs(company["entitiesAddresses"])) != 1 {
		t.Errorf("company C5000 after the restore: %v %v", company, err)
	}
}

// Restoring with --include-creates a run that created a location a later run listed on a company: the platform
// would take the location off the company unseen, so the delete is refused naming the company, as an import
// refuses it, in the dry run and the restore alike.
func TestRestoreKeepsCreatedLocationACompanyLists(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	created, err := e.run(ctx, Options{}, e.file("locations.csv", "locationKey,name,type\nL9,Depot,WAREHOUSE\n"))
	if err != nil || created.Created != 1 {
		t.Fatalf("run creating the location: %v %s", err, created.Summary())
	}
	if rep, err := e.run(ctx, Options{}, e.file("companies.csv", "companyKey,name,type,locationKeys\nC1,Acme,COMPANY,L9\n")); err != nil || rep.Created != 1 {
		t.Fatalf("run listing it on a company: %v %s", err, rep.Summary())
	}
	e.restoreRefusesItsDelete(created.RunID, "L9", "not deleted: company C1 still lists it in locationKeys; remove it there first")
	if _, err := e.rc.GetLocation(ctx, "L9"); err != nil {
		t.Errorf("location after the restore: %v", err)
	}
}

// restoreRefusesItsDelete restores run with --include-creates, as a dry run and then for real, and fails the
// test unless both refuse the delete of the one record key, for a reason holding reason, and write nothing.
func (e *env) restoreRefusesItsDelete(run int64, key, reason string) {
	e.t.Helper()
	e.restoreRefusesDeletes(run, map[string]string{key: reason})
}

// restoreRefusesDeletes is restoreRefusesItsDelete for the deletes of several records: reasons holds, by record
// key, what the reason of its refusal must hold.
func (e *env) restoreRefusesDeletes(run int64, reasons map[string]string) {
	e.t.Helper()
	opts := RestoreOptions{RunID: run, IncludeCreates: true, MaxDelete: DeleteLimit{Percent: 100, IsPct: true, set: true}}
	for _, dryRun := range []bool{true, false} {
		opts.DryRun = dryRun
		e.srv.ResetRequests()
		rep, err := e.restore(opts)
		if !errors.Is(err, ErrPartial) || rep.Deleted != 0 || rep.Failed != len(reasons) || len(e.writes()) != 0 {
			e.t.Fatalf("restore (dry run %t): %v %s, writes %v", dryRun, err, rep.Summary(), e.writes())
		}
		for _, f := range rep.Failures {
			if reason, ok := reasons[f.Key]; !ok || !strings.Contains(f.Reason, reason) {
				e.t.Errorf("failure (dry run %t): %+v", dryRun, f)
			}
		}
	}
}

// "Undo last night" after a night whose import was interrupted and finished by the next run: --run last puts
// back the writes of both runs, newest first, each as a restore of its own; --run N names one run alone.
func TestRestoreLastPutsBackTheInterruptedRunItResumed(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	const n = 120
	path := e.file("customers.csv", customersCSV(n, nil))
	if _, err := e.run(ctx, Options{}, path); err != nil {
		t.Fatal(err)
	}
	wrong := map[int]string{}
	for i := range n {
		wrong[i] = fmt.Sprintf("Wrong%d", i)
	}
	e.file("customers.csv", customersCSV(n, wrong))
	stopCtx, stop := context.WithCancel(ctx)
	defer stop()
	var stopped atomic.Bool
	cut, err := e.run(stopCtx, Options{Writers: 4, ProgressEvery: 1, Progress: func(p Progress) {
		if p.Done >= 30 && stopped.CompareAndSwap(false, true) {
			stop()
		}
	}}, path)
	if !errors.Is(err, context.Canceled) || cut.Updated == 0 || cut.Pending == 0 {
		t.Fatalf("interrupted run: %v %s", err, cut.Summary())
	}
	e.open()
	finished, err := e.run(ctx, Options{}, path)
	if err != nil || finished.ResumedRun != cut.RunID || finished.Updated == 0 {
		t.Fatalf("resuming run: %v %s", err, finished.Summary())
	}
	both := []int64{finished.RunID, cut.RunID}

	if one, err := e.restore(RestoreOptions{RunID: finished.RunID, DryRun: true}); err != nil || !slices.Equal(one.RestoredRuns, both[:1]) || one.Updated != finished.Updated {
		t.Fatalf("dry run of --run %d: %v %v %s", finished.RunID, err, one.RestoredRuns, one.Summary())
	}
	dry, err := e.restore(RestoreOptions{DryRun: true})
	if err != nil || !slices.Equal(dry.RestoredRuns, both) || dry.Updated < n {
		t.Fatalf("dry run of --run last: %v %v %s", err, dry.RestoredRuns, dry.Summary())
	}
	rep, err := e.restore(RestoreOptions{})
	if err != nil || !slices.Equal(rep.RestoredRuns, both) || rep.Failed != 0 {
		t.Fatalf("restore --run last: %v %v %s", err, rep.RestoredRuns, rep.Summary())
	}
	if want := fmt.Sprintf("put back runs %d, %d, newest first", finished.RunID, cut.RunID); !strings.Contains(rep.Summary(), want) {
		t.Fatalf("summary does not say %q:\n%s", want, rep.Summary())
	}
	for id, doc := range e.platformCustomers() {
		if first, _ := doc["firstName"].(string); strings.HasPrefix(first, "Wrong") {
			t.Errorf("customer %s still has the bad first name %q", id, first)
		}
	}
	// Each run's restore is a run of its own, restorable in turn.
	runs, err := e.st.ListRuns(ctx, 2)
	if err != nil || len(runs) != 2 || runs[0].ID != rep.RunID || runs[0].Kind != "restore" || runs[1].Kind != "restore" {
		t.Fatalf("runs after the restore: %v %+v", err, runs)
	}
	// The checkpoint follows: the good file writes nothing more.
	e.file("customers.csv", customersCSV(n, nil))
	e.srv.ResetRequests()
	if again, err := e.run(ctx, Options{}, path); err != nil || len(e.writes()) != 0 {
		t.Fatalf("import of the good file after the restore: %v %s, writes %v", err, again.Summary(), e.writes())
	}
}

// A restore --include-creates whose delete of a created subsidiary fails keeps the parent (the platform holds
// the subsidiary still) and so also the locations the parent lists, which planning had let through because
// the parent was to go: deleting them would take them off the kept company unseen.
func TestRestoreKeepsLocationsOfACompanyWhoseDeleteFailed(t *testing.T) {
	t.Parallel()
	var failChild atomic.Bool
	e := newEnvWith(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if failChild.Load() && r.Method == http.MethodDelete && strings.HasSuffix(r.URL.Path, "/C5100") {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusInternalServerError)
				_, _ = w.Write([]byte(`{"status":500,"message":"injected failure"}`))
				return
			}
			h.ServeHTTP(w, r)
		})
	})
	ctx := context.Background()
	created, err := e.run(ctx, Options{}, e.file("locations.csv", "locationKey,name,type\nLOC-5000,Depot,WAREHOUSE\n"),
		e.file("companies.csv", "companyKey,name,type,parentCompanyKey,locationKeys\n"+
			"C5000,New Parent,COMPANY,,LOC-5000\nC5100,New Child,SUBSIDIARY,C5000,\n"))
	if err != nil || created.Created != 3 {
		t.Fatalf("run creating the companies and the location: %v %s", err, created.Summary())
	}
	failChild.Store(true)
	rep, err := e.restore(RestoreOptions{RunID: created.RunID, IncludeCreates: true, MaxDelete: DeleteLimit{Percent: 100, IsPct: true, set: true}})
	if !errors.Is(err, ErrPartial) || rep.Deleted != 0 || rep.Failed != 3 {
		t.Fatalf("restore: %v %s %+v", err, rep.Summary(), rep.Failures)
	}
	want := map[string]string{
		"C5100":    "injected failure",
		"C5000":    "not deleted: its subsidiaries C5100 stay",
		"LOC-5000": "not deleted: company C5000 still lists it in locationKeys",
	}
	for _, f := range rep.Failures {
		if reason, ok := want[f.Key]; !ok || !strings.Contains(f.Reason, reason) {
			t.Errorf("failure %+v", f)
		}
	}
	if _, err := e.rc.GetLocation(ctx, "LOC-5000"); err != nil {
		t.Errorf("location after the restore: %v", err)
	}
	company, err := e.rc.GetLegalEntity(ctx, "C5000")
	if err != nil || len(idRefs(company["entitiesAddresses"])) != 1 {
		t.Errorf("company C5000 after the restore: %v %v", company, err)
	}
}

// Deletes journal their pre-images in group commits (preImageJournal): every DELETE still reaches the platform
// only once the pre-image of its record is in the state file, whatever the writers do at the same time.
func TestEveryDeleteIsSentAfterItsPreImageIsJournaled(t *testing.T) {
	t.Parallel()
	var e *env
	var checked, missing atomic.Int64
	e = newEnvWith(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodDelete {
				id := r.URL.Path[strings.LastIndexByte(r.URL.Path, '/')+1:]
				ctx := context.Background()
				runs, err := e.st.ListRuns(ctx, 1)
				found := false
				if err == nil && len(runs) == 1 {
					err = e.st.ScanOps(ctx, runs[0].ID, state.OpFilter{PreImaged: true}, func(o state.Op) error {
						found = found || o.RemoteID == id && len(o.PreImage) > 0
						return nil
					})
				}
				checked.Add(1)
				if err != nil || !found {
					missing.Add(1)
				}
			}
			h.ServeHTTP(w, r)
		})
	})
	ctx := context.Background()
	path := e.file("customers.csv", customersCSV(60, nil))
	if _, err := e.run(ctx, Options{}, path); err != nil {
		t.Fatal(err)
	}
	var deletes strings.Builder
	deletes.WriteString("sdCustomerNumber,command\n")
	for i := range 60 {
		fmt.Fprintf(&deletes, "%010d,DELETE\n", 100000+i)
	}
	rep, err := e.run(ctx, Options{Writers: 8, MaxDelete: DeleteLimit{Percent: 100, IsPct: true, set: true}}, e.file("deletes.csv", deletes.String()))
	if err != nil || rep.Deleted != 60 {
		t.Fatalf("deletes: %v %s", err, rep.Summary())
	}
	if checked.Load() != 60 || missing.Load() != 0 {
		t.Fatalf("%d DELETEs, %d of them sent before their pre-image was journaled", checked.Load(), missing.Load())
	}
	if got := len(e.loggedDeletions()); got != 60 {
		t.Fatalf("deletion log holds %d entries, want 60", got)
	}
}

// A restore of an interrupted run closes the ops that run left unsent: no later import resumes them (the restore
// is the most recent run), and the journal retention no longer keeps the run's journal as one a resume needs.
func TestRestoreOfAnInterruptedRunClosesItsUnsentOps(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	path := e.file("customers.csv", customersCSV(120, nil))
	if _, err := e.run(ctx, Options{}, path); err != nil {
		t.Fatal(err)
	}
	wrong := map[int]string{}
	for i := range 120 {
		wrong[i] = fmt.Sprintf("Wrong%d", i)
	}
	e.file("customers.csv", customersCSV(120, wrong))
	stopCtx, stop := context.WithCancel(ctx)
	defer stop()
	var stopped atomic.Bool
	cut, err := e.run(stopCtx, Options{Writers: 4, ProgressEvery: 1, Progress: func(p Progress) {
		if p.Done >= 30 && stopped.CompareAndSwap(false, true) {
			stop()
		}
	}}, path)
	if !errors.Is(err, context.Canceled) || cut.Pending == 0 {
		t.Fatalf("interrupted run: %v %s", err, cut.Summary())
	}
	e.open()
	if rep, err := e.restore(RestoreOptions{RunID: cut.RunID}); err != nil || rep.Updated == 0 {
		t.Fatalf("restore: %v %s", err, rep.Summary())
	}
	planned := 0
	if err := e.st.ScanOps(ctx, cut.RunID, state.OpFilter{Status: state.OpPlanned}, func(state.Op) error { planned++; return nil }); err != nil || planned != 0 {
		t.Fatalf("%d ops of the restored run still planned (%v)", planned, err)
	}
	pruned, err := e.st.PruneJournals(ctx, state.JournalRetention{KeepRuns: 1}, true)
	if err != nil || !slices.ContainsFunc(pruned.Pruned, func(r state.JournalOf) bool { return r.RunID == cut.RunID }) {
		t.Fatalf("prune --dry-run keeps the restored run's journal: %+v %v", pruned, err)
	}
	e.file("customers.csv", customersCSV(120, nil))
	if rep, err := e.run(ctx, Options{}, path); err != nil || rep.ResumedRun != 0 {
		t.Fatalf("next import: %v %s", err, rep.Summary())
	}
}
