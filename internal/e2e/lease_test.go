package e2e_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/mzsync/mzsync/internal/reconcile"
)

// TestConcurrentAppliesNeverInterleave runs two applies of the same
// manifests at once. Both wait for the lease; the DDL of one must lie
// entirely before or after the DDL of the other.
func TestConcurrentAppliesNeverInterleave(t *testing.T) {
	w := newWorld(t)
	w.upExec("ALTER TABLE t ADD COLUMN b boolean DEFAULT false", "INSERT INTO t (a, b) VALUES (20, true)")
	des := load(t, repoPath("examples", "manifests"))

	type span struct{ first, last time.Time }
	var mu sync.Mutex
	spans := map[int]*span{}
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i := 0; i < 2; i++ {
		a := w.applier()
		i := i
		a.db.OnExec = func(sql string) error {
			mu.Lock()
			defer mu.Unlock()
			now := time.Now()
			s, ok := spans[i]
			if !ok {
				s = &span{first: now}
				spans[i] = s
			}
			s.last = now
			return nil
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			_, errs[i] = a.apply(ctx, des, reconcile.ApplyOptions{Wait: true, Timeout: 30 * time.Second})
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("apply %d: %v", i, err)
		}
	}
	if len(spans) == 0 {
		t.Fatal("no DDL was sent")
	}
	if len(spans) == 2 {
		a, b := spans[0], spans[1]
		if a.first.Before(b.last) && b.first.Before(a.last) {
			t.Fatalf("DDL interleaved: apply 0 %v..%v, apply 1 %v..%v", a.first, a.last, b.first, b.last)
		}
	}
	if got := w.total("app.matview"); got != 20 {
		t.Fatalf("app.matview = %d", got)
	}
}

// TestLeaseLockedAndTakeover: a held lease refuses a second writer with
// "locked by <owner>"; once expired, it is taken over.
func TestLeaseLockedAndTakeover(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	first, second := w.applier(), w.applier()

	clock := time.Now()
	now := func() time.Time { return clock }
	held, err := reconcile.AcquireLease(ctx, first.lease, reconcile.LeaseOptions{Owner: "ci-runner-1", TTL: time.Minute, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	_, err = reconcile.AcquireLease(ctx, second.lease, reconcile.LeaseOptions{Owner: "laptop", TTL: time.Minute, Now: now})
	var locked *reconcile.LockedError
	if !errors.As(err, &locked) || !errors.Is(err, reconcile.ErrLocked) || locked.Owner != "ci-runner-1" {
		t.Fatalf("second acquire: %v, want locked by ci-runner-1", err)
	}

	// The holder dies; its lease expires.
	clock = clock.Add(2 * time.Minute)
	var events []bool
	taken, err := reconcile.AcquireLease(ctx, second.lease, reconcile.LeaseOptions{Owner: "laptop", TTL: time.Minute, Now: now,
		OnChange: func(held bool) { events = append(events, held) }})
	if err != nil {
		t.Fatalf("takeover of an expired lease: %v", err)
	}
	if taken.Owner() != "laptop" {
		t.Fatalf("owner = %s", taken.Owner())
	}
	// The old holder finds out instead of writing over the new lease.
	if err := held.Renew(ctx); !errors.Is(err, reconcile.ErrLeaseLost) {
		t.Fatalf("renew by the old holder: %v, want ErrLeaseLost", err)
	}
	if err := taken.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if len(events) != 2 || !events[0] || events[1] {
		t.Fatalf("OnChange saw %v, want [true false] (acquired, released)", events)
	}
	// Released: anyone may take it at once.
	again, err := reconcile.AcquireLease(ctx, first.lease, reconcile.LeaseOptions{Owner: "ci-runner-1", TTL: time.Minute, Now: now})
	if err != nil {
		t.Fatalf("acquire after release: %v", err)
	}
	again.Release(ctx)
}
