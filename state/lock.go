package state

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"
)

// DefaultStaleAfter is how old a lock's heartbeat must be before the lock is reported as stale.
const DefaultStaleAfter = 2 * time.Minute

// maxHeartbeatInterval caps the heartbeat period; shorter staleAfter values beat proportionally faster.
const maxHeartbeatInterval = 5 * time.Second

// LockOwner identifies the process holding the run lock.
type LockOwner struct {
	Host string
	PID  int
}

// CurrentLockOwner is this process: the host name and process id.
func CurrentLockOwner() LockOwner {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "unknown-host"
	}
	return LockOwner{Host: host, PID: os.Getpid()}
}

// String is "host (pid N)", as shown in lock messages.
func (o LockOwner) String() string { return fmt.Sprintf("%s (pid %d)", o.Host, o.PID) }

// LockInfo describes the lock row as stored.
type LockInfo struct {
	Owner     LockOwner
	Since     time.Time // when it was acquired
	Heartbeat time.Time // the holder's last heartbeat
}

// Stale reports whether the heartbeat is older than staleAfter.
func (i LockInfo) Stale(staleAfter time.Duration) bool { return time.Since(i.Heartbeat) > staleAfter }

// Lock is the held run lock. Its heartbeat goroutine refreshes it until Release; Lost is closed if the lock
// row disappears or changes hands meanwhile (someone ran `state unlock`), and the run should then stop.
type Lock struct {
	store    *Store
	token    string
	info     LockInfo
	interval time.Duration

	stop     chan struct{}
	done     chan struct{}
	lost     chan struct{}
	stopOnce sync.Once

	mu  sync.Mutex
	err error
}

// AcquireLock takes the run lock for owner, or fails with a *LockedError (errors.Is ErrLocked) naming the holder.
//
// A lock whose heartbeat is older than staleAfter is NOT taken over: the error has Stale set and tells the user
// to run `custsync state unlock` (Store.ForceUnlock), because a slow or paused process may still be writing. The
// one exception is a lock held by a process on this same host whose pid no longer exists (on Unix): it died
// without releasing, so taking its lock over is safe whatever the heartbeat says. The heartbeat is refreshed
// every staleAfter/4 (at most every 5 s) until Release.
func (s *Store) AcquireLock(ctx context.Context, owner LockOwner, staleAfter time.Duration) (*Lock, error) {
	if staleAfter <= 0 {
		staleAfter = DefaultStaleAfter
	}
	token, err := newToken()
	if err != nil {
		return nil, fmt.Errorf("acquire state lock: %w", err)
	}
	now := time.Now()
	var locked *LockedError
	err = s.writeTx(ctx, "acquire state lock", func(tx *sql.Tx) error {
		held, ok, err := readLock(ctx, tx)
		if err != nil {
			return err
		}
		if ok {
			deadHere := held.Owner.Host == owner.Host && held.Owner.PID != owner.PID && processGone(held.Owner.PID)
			if !deadHere {
				locked = &LockedError{Owner: held.Owner, Since: held.Since, Heartbeat: held.Heartbeat,
					Stale: held.Stale(staleAfter)}
				return nil
			}
			if _, err := tx.ExecContext(ctx, `DELETE FROM run_lock WHERE id = 1`); err != nil {
				return err
			}
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO run_lock (id, host, pid, token, acquired_at, heartbeat_at)
			VALUES (1, ?, ?, ?, ?, ?)`, owner.Host, owner.PID, token, formatTime(now), formatTime(now))
		return err
	})
	if err != nil {
		return nil, err
	}
	if locked != nil {
		return nil, locked
	}
	l := &Lock{
		store:    s,
		token:    token,
		info:     LockInfo{Owner: owner, Since: now, Heartbeat: now},
		interval: min(staleAfter/4, maxHeartbeatInterval),
		stop:     make(chan struct{}),
		done:     make(chan struct{}),
		lost:     make(chan struct{}),
	}
	s.mu.Lock()
	s.locks[l] = struct{}{}
	s.mu.Unlock()
	go l.heartbeat()
	return l, nil
}

func (l *Lock) heartbeat() {
	defer close(l.done)
	ticker := time.NewTicker(l.interval)
	defer ticker.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-ticker.C:
		}
		res, err := l.store.writer.Exec(`UPDATE run_lock SET heartbeat_at = ? WHERE id = 1 AND token = ?`,
			formatTime(time.Now()), l.token)
		if err != nil {
			// A busy writer or a transient I/O error: keep beating; staleAfter leaves room for a few misses.
			continue
		}
		if n, _ := res.RowsAffected(); n == 0 {
			l.setErr(ErrLockLost)
			close(l.lost)
			return
		}
	}
}

func (l *Lock) setErr(err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.err = err
}

// Err is ErrLockLost once the heartbeat found the lock gone, nil before.
func (l *Lock) Err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.err
}

// Lost is closed when the heartbeat finds the lock removed or taken by another owner.
func (l *Lock) Lost() <-chan struct{} { return l.lost }

// Info describes the lock as acquired.
func (l *Lock) Info() LockInfo { return l.info }

func (l *Lock) stopHeartbeat() {
	l.stopOnce.Do(func() { close(l.stop) })
	<-l.done
	l.store.mu.Lock()
	delete(l.store.locks, l)
	l.store.mu.Unlock()
}

// Release stops the heartbeat and removes the lock if this holder still owns it. It is safe to call twice.
func (l *Lock) Release() error {
	l.stopHeartbeat()
	if _, err := l.store.writer.Exec(`DELETE FROM run_lock WHERE id = 1 AND token = ?`, l.token); err != nil {
		return writeFailed("release state lock", err)
	}
	return nil
}

// ReadLock returns the current lock, if any, for `state show` and for `state unlock` to show what it removes.
func (s *Store) ReadLock(ctx context.Context) (LockInfo, bool, error) {
	return readLock(ctx, s.reader)
}

// ForceUnlock removes the lock whoever holds it and returns what was removed. It is what `custsync state unlock`
// runs; callers should show the holder and refuse a fresh lock unless the user insists.
func (s *Store) ForceUnlock(ctx context.Context) (LockInfo, bool, error) {
	var (
		info LockInfo
		ok   bool
	)
	err := s.writeTx(ctx, "remove state lock", func(tx *sql.Tx) error {
		var err error
		if info, ok, err = readLock(ctx, tx); err != nil || !ok {
			return err
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM run_lock WHERE id = 1`)
		return err
	})
	return info, ok, err
}

func readLock(ctx context.Context, q queryer) (LockInfo, bool, error) {
	var (
		info             LockInfo
		since, heartbeat sql.NullString
	)
	err := q.QueryRowContext(ctx, `SELECT host, pid, acquired_at, heartbeat_at FROM run_lock WHERE id = 1`).
		Scan(&info.Owner.Host, &info.Owner.PID, &since, &heartbeat)
	if errors.Is(err, sql.ErrNoRows) {
		return LockInfo{}, false, nil
	}
	if err != nil {
		return LockInfo{}, false, fmt.Errorf("read state lock: %w", err)
	}
	if info.Since, err = parseTime(since); err != nil {
		return LockInfo{}, false, fmt.Errorf("read state lock: %w", err)
	}
	if info.Heartbeat, err = parseTime(heartbeat); err != nil {
		return LockInfo{}, false, fmt.Errorf("read state lock: %w", err)
	}
	return info, true, nil
}

func newToken() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return hex.EncodeToString(b[:]), nil
}
