package state

import (
	"errors"
	"fmt"
	"time"
)

// ErrWriteFailed marks every failed write to the state file. A run cannot continue without its checkpoint, so
// the engine treats errors.Is(err, ErrWriteFailed) as fatal to the run.
var ErrWriteFailed = errors.New("state write failed")

// ErrSchemaTooNew is returned by Open when the state file was migrated by a newer custsync than this one.
var ErrSchemaTooNew = errors.New("state file schema is newer than this custsync")

// ErrOtherTenant matches a *BindingError: the state file belongs to another API URL or tenant.
var ErrOtherTenant = errors.New("state file belongs to another tenant")

// ErrLocked matches a *LockedError: another run holds the lock.
var ErrLocked = errors.New("state file is locked by another run")

// ErrLockLost is reported by Lock.Err when the lock row was removed or taken by someone else while held,
// typically by `custsync state unlock` run against a live run.
var ErrLockLost = errors.New("state lock lost")

// SchemaTooNewError reports the schema version found in the file and the newest one this binary knows.
type SchemaTooNewError struct {
	Path  string
	Found int
	Known int
}

// Error says which version the file has and that a newer custsync is needed.
func (e *SchemaTooNewError) Error() string {
	return fmt.Sprintf("state file %s has schema version %d, this custsync knows up to %d: use a newer custsync",
		e.Path, e.Found, e.Known)
}

// Is makes errors.Is(err, ErrSchemaTooNew) true.
func (e *SchemaTooNewError) Is(target error) bool { return target == ErrSchemaTooNew }

// BindingError reports that a state file is bound to another API URL or tenant than the one requested.
type BindingError struct {
	Path      string
	Bound     Binding // what the file belongs to
	Requested Binding // what the caller asked for (normalised)
}

// Error names the tenant and URL the file belongs to, so the user can pick the right --state file.
func (e *BindingError) Error() string {
	return fmt.Sprintf("state file %s belongs to tenant %q at %s, not tenant %q at %s: use another --state file",
		e.Path, e.Bound.Tenant, e.Bound.APIURL, e.Requested.Tenant, e.Requested.APIURL)
}

// Is makes errors.Is(err, ErrOtherTenant) true.
func (e *BindingError) Is(target error) bool { return target == ErrOtherTenant }

// LockedError reports the holder of the run lock. Stale is true when the holder's heartbeat is older than the
// staleAfter given to AcquireLock; only `custsync state unlock` (Store.ForceUnlock) removes such a lock.
type LockedError struct {
	Owner     LockOwner
	Since     time.Time // when the holder acquired the lock
	Heartbeat time.Time // the holder's last heartbeat
	Stale     bool
}

// Error names the holder and, for a stale lock, how to remove it.
func (e *LockedError) Error() string {
	age := time.Since(e.Heartbeat).Round(time.Second)
	if e.Stale {
		return fmt.Sprintf("state file is locked by %s since %s, but its last heartbeat was %s ago: "+
			"if no other custsync run is active, `custsync state unlock` removes the stale lock",
			e.Owner, e.Since.Format(time.RFC3339), age)
	}
	return fmt.Sprintf("state file is locked by %s since %s (last heartbeat %s ago): another run is in progress",
		e.Owner, e.Since.Format(time.RFC3339), age)
}

// Is makes errors.Is(err, ErrLocked) true.
func (e *LockedError) Is(target error) bool { return target == ErrLocked }

// writeFailed wraps err with ErrWriteFailed and what was being written.
func writeFailed(what string, err error) error {
	return fmt.Errorf("%w: %s: %w", ErrWriteFailed, what, err)
}
