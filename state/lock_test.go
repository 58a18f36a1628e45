package state

import (
	"context"
	"errors"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// waitFor polls cond until it holds; it fails the test only if cond never holds within a generous bound,
// so it checks that something happens, not how fast.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestLockContentionBetweenStores(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	a, path := openTestStore(t)
	b := openAt(t, path)

	ownerA := LockOwner{Host: "host-a", PID: 101}
	lock, err := a.AcquireLock(ctx, ownerA, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	_, err = b.AcquireLock(ctx, LockOwner{Host: "host-b", PID: 202}, time.Minute)
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("second acquire: %v, want ErrLocked", err)
	}
	var locked *LockedError
	if !errors.As(err, &locked) || locked.Owner != ownerA || locked.Stale {
		t.Fatalf("second acquire: %#v, want a fresh lock held by %v", err, ownerA)
	}
	if !strings.Contains(err.Error(), "host-a (pid 101)") {
		t.Errorf("message %q does not name the holder", err)
	}

	if err := lock.Release(); err != nil {
		t.Fatal(err)
	}
	if err := lock.Release(); err != nil {
		t.Fatalf("second Release: %v", err)
	}
	lockB, err := b.AcquireLock(ctx, LockOwner{Host: "host-b", PID: 202}, time.Minute)
	if err != nil {
		t.Fatalf("acquire after release: %v", err)
	}
	defer lockB.Release()
	info, ok, err := a.ReadLock(ctx)
	if err != nil || !ok || info.Owner.Host != "host-b" {
		t.Fatalf("ReadLock = %+v, %v, %v; want held by host-b", info, ok, err)
	}
}

func TestLockHeartbeatKeepsItFresh(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	a, path := openTestStore(t)
	b := openAt(t, path)
	const staleAfter = 400 * time.Millisecond // heartbeat every 100 ms
	lock, err := a.AcquireLock(ctx, LockOwner{Host: "host-a", PID: 101}, staleAfter)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Release()
	acquired := lock.Info().Heartbeat

	// Wait well past staleAfter: without heartbeats the lock would now be stale.
	waitFor(t, "two staleness periods", func() bool { return time.Since(acquired) > 2*staleAfter })
	waitFor(t, "a heartbeat", func() bool {
		info, ok, err := b.ReadLock(ctx)
		return err == nil && ok && info.Heartbeat.After(acquired.Add(staleAfter))
	})
	// The heartbeat just moved past acquisition+staleAfter, so another acquire sees a live lock.
	_, err = b.AcquireLock(ctx, LockOwner{Host: "host-b", PID: 202}, time.Minute)
	var locked *LockedError
	if !errors.As(err, &locked) || locked.Stale {
		t.Fatalf("acquire against a beating lock: %v, want a fresh LockedError", err)
	}
}

func TestStaleLockNeedsForceUnlock(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	a, path := openTestStore(t)
	dead := LockOwner{Host: "other-host", PID: 4242}
	if _, err := a.AcquireLock(ctx, dead, time.Minute); err != nil {
		t.Fatal(err)
	}
	// The "crash": the process goes away without releasing; its heartbeat stops with it.
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}

	b := openAt(t, path)
	info, ok, err := b.ReadLock(ctx)
	if err != nil || !ok {
		t.Fatalf("ReadLock after crash: %v, %v", ok, err)
	}
	const staleAfter = 50 * time.Millisecond
	waitFor(t, "the lock to go stale", func() bool { return info.Stale(staleAfter) })

	_, err = b.AcquireLock(ctx, LockOwner{Host: "host-b", PID: 202}, staleAfter)
	var locked *LockedError
	if !errors.As(err, &locked) || !locked.Stale || locked.Owner != dead {
		t.Fatalf("acquire over a stale lock: %v, want a stale LockedError naming %v", err, dead)
	}
	if !strings.Contains(err.Error(), "custsync state unlock") {
		t.Errorf("stale lock message %q does not tell how to unlock", err)
	}

	removed, ok, err := b.ForceUnlock(ctx)
	if err != nil || !ok || removed.Owner != dead {
		t.Fatalf("ForceUnlock = %+v, %v, %v; want the lock of %v removed", removed, ok, err, dead)
	}
	if _, ok, err := b.ForceUnlock(ctx); err != nil || ok {
		t.Fatalf("second ForceUnlock = %v, %v; want nothing to remove", ok, err)
	}
	lock, err := b.AcquireLock(ctx, LockOwner{Host: "host-b", PID: 202}, staleAfter)
	if err != nil {
		t.Fatalf("acquire after unlock: %v", err)
	}
	if err := lock.Release(); err != nil {
		t.Fatal(err)
	}
}

func TestLockOfDeadProcessOnSameHostIsTakenOver(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Skipf("cannot start a short-lived process: %v", err)
	}
	if !processGone(cmd.Process.Pid) {
		t.Skip("the pid of the finished process is in use again")
	}
	s, _ := openTestStore(t)
	me := CurrentLockOwner()
	if _, err := s.AcquireLock(ctx, LockOwner{Host: me.Host, PID: cmd.Process.Pid}, time.Hour); err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	for l := range s.locks {
		defer l.stopHeartbeat() // a dead process does not beat; stopped at the end of the test
	}
	s.mu.Unlock()

	lock, err := s.AcquireLock(ctx, me, time.Hour)
	if err != nil {
		t.Fatalf("acquire over the lock of a dead local process: %v", err)
	}
	defer lock.Release()
	info, _, _ := s.ReadLock(ctx)
	if info.Owner != me {
		t.Fatalf("lock owner %v, want %v", info.Owner, me)
	}
	// A live local process (this one) is never taken over, however old its heartbeat.
	if _, err := s.AcquireLock(ctx, me, time.Hour); !errors.Is(err, ErrLocked) {
		t.Fatalf("acquire over a live local holder: %v, want ErrLocked", err)
	}
}

func TestLockLostWhenForceUnlocked(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	a, path := openTestStore(t)
	b := openAt(t, path)
	lock, err := a.AcquireLock(ctx, LockOwner{Host: "host-a", PID: 101}, 200*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Release()
	if lock.Err() != nil {
		t.Fatalf("fresh lock reports %v", lock.Err())
	}
	if _, _, err := b.ForceUnlock(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case <-lock.Lost():
	case <-time.After(20 * time.Second):
		t.Fatal("the holder never noticed its lock was removed")
	}
	if !errors.Is(lock.Err(), ErrLockLost) {
		t.Fatalf("Err() = %v, want ErrLockLost", lock.Err())
	}
	// Releasing a lost lock must not remove someone else's lock.
	other, err := b.AcquireLock(ctx, LockOwner{Host: "host-b", PID: 202}, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Release()
	if err := lock.Release(); err != nil {
		t.Fatal(err)
	}
	if info, ok, _ := b.ReadLock(ctx); !ok || info.Owner.Host != "host-b" {
		t.Fatalf("after the lost holder released: %+v, %v; want host-b's lock intact", info, ok)
	}
}
