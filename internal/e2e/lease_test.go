package e2e_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/mzsync/mzsync/internal/model"
	"github.com/mzsync/mzsync/internal/mzemu"
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

// serverNow reads the emulated server's clock.
func (w *world) serverNow(t *testing.T) time.Time {
	t.Helper()
	var s string
	if err := w.mz.QueryRow(context.Background(), "SELECT extract(epoch FROM now())::text").Scan(&s); err != nil {
		t.Fatal(err)
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t.Fatal(err)
	}
	return time.Unix(0, int64(f*1e9))
}

// waitServerPast blocks until the server's clock has passed at: the one
// clock the lease is judged by. It waits for an event, it races nothing.
func (w *world) waitServerPast(t *testing.T, at time.Time) {
	t.Helper()
	for !w.serverNow(t).After(at) {
		time.Sleep(10 * time.Millisecond)
	}
}

// leaseSchemas lists the lease record and helper schemas present.
func (w *world) leaseSchemas(t *testing.T) []string {
	t.Helper()
	rows, err := w.mz.Query(context.Background(), "SELECT name FROM mz_schemas WHERE name LIKE 'mzsync_lease%' ORDER BY name")
	if err != nil {
		t.Fatal(err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return names
}

// frozen is a host clock that never moves: the holder's own deadline never
// saves it, so only the server-side fencing can refuse its writes.
func frozen() func() time.Time {
	at := time.Now()
	return func() time.Time { return at }
}

// TestLeaseLockedAndTakeover: a held lease refuses a second writer with
// "locked by <owner>"; once expired by the server's clock it is taken
// over, and the old holder's renewal, statements and release are refused
// by the fence instead of writing over the new holder.
func TestLeaseLockedAndTakeover(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	first, second := w.applier(), w.applier()
	const ttl = time.Minute

	start := w.serverNow(t)
	held, err := reconcile.AcquireLease(ctx, first.lease, reconcile.LeaseOptions{Owner: "ci-runner-1", TTL: ttl, Now: frozen()})
	if err != nil {
		t.Fatal(err)
	}
	// A contender whose host clock runs an hour fast still sees it held.
	fast := func() time.Time { return time.Now().Add(time.Hour) }
	_, err = reconcile.AcquireLease(ctx, second.lease, reconcile.LeaseOptions{Owner: "laptop", TTL: ttl, Now: fast})
	var locked *reconcile.LockedError
	if !errors.As(err, &locked) || !errors.Is(err, reconcile.ErrLocked) || locked.Owner != "ci-runner-1" {
		t.Fatalf("second acquire: %v, want locked by ci-runner-1", err)
	}
	if locked.Expires.Before(start) || locked.Expires.After(w.serverNow(t).Add(ttl)) {
		t.Fatalf("lease expires %v: not judged by the server's clock (server started at %v)", locked.Expires, start)
	}

	// The holder stops renewing and the server's clock passes its expiry
	// (written here rather than waited for).
	fence := model.LeaseFencePrefix + held.Token()
	past := model.Lease{Owner: "ci-runner-1", Expires: w.serverNow(t).Add(-time.Second), Token: held.Token()}
	if _, err := w.mz.Exec(ctx, "COMMENT ON SCHEMA "+model.QuoteIdent(fence)+" IS "+model.QuoteLiteral(past.String())); err != nil {
		t.Fatal(err)
	}
	var events []bool
	taken, err := reconcile.AcquireLease(ctx, second.lease, reconcile.LeaseOptions{Owner: "laptop", TTL: time.Minute, Now: fast,
		OnChange: func(held bool) { events = append(events, held) }})
	if err != nil {
		t.Fatalf("takeover of an expired lease: %v", err)
	}
	if taken.Owner() != "laptop" {
		t.Fatalf("owner = %s", taken.Owner())
	}
	// The old holder (its host clock frozen, so it believes it still
	// holds) is refused by the fence: renewal, a DDL transaction, a lone
	// statement.
	if err := held.Renew(ctx); !errors.Is(err, reconcile.ErrLeaseLost) {
		t.Fatalf("renew by the old holder: %v, want ErrLeaseLost", err)
	}
	fenced := held.Fence(first.db)
	if err := fenced.Exec(ctx, "BEGIN; ALTER SCHEMA public RENAME TO hijacked; COMMIT"); !errors.Is(err, reconcile.ErrLeaseLost) {
		t.Fatalf("DDL transaction by the old holder: %v, want ErrLeaseLost", err)
	}
	if err := fenced.Exec(ctx, "CREATE SCHEMA hijacked"); !errors.Is(err, reconcile.ErrLeaseLost) {
		t.Fatalf("statement by the old holder: %v, want ErrLeaseLost", err)
	}
	if err := held.Release(ctx); err != nil {
		t.Fatalf("release by the old holder: %v", err)
	}
	if err := taken.Check(ctx); err != nil {
		t.Fatalf("the new holder lost its lease to the old one's release: %v", err)
	}
	if err := taken.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if len(events) != 2 || !events[0] || events[1] {
		t.Fatalf("OnChange saw %v, want [true false] (acquired, released)", events)
	}
	if got := w.leaseSchemas(t); len(got) != 0 {
		t.Fatalf("after release, lease schemas remain: %v", got)
	}
	// Released: anyone may take it at once.
	again, err := reconcile.AcquireLease(ctx, first.lease, reconcile.LeaseOptions{Owner: "ci-runner-1", TTL: time.Minute})
	if err != nil {
		t.Fatalf("acquire after release: %v", err)
	}
	again.Release(ctx)
}

// TestLegacyAndOrphanedLease: a lease written by an older mzsync (no
// token, no fence) is respected until its recorded expiry, then taken
// over; a record whose fence was removed by hand expires a TTL after it
// was first seen.
func TestLegacyAndOrphanedLease(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	legacy := model.Lease{Owner: "old-mzsync", Expires: w.serverNow(t).Add(time.Hour)}
	if _, err := w.mz.Exec(ctx, "CREATE SCHEMA mzsync_lease"); err != nil {
		t.Fatal(err)
	}
	if _, err := w.mz.Exec(ctx, "COMMENT ON SCHEMA mzsync_lease IS "+model.QuoteLiteral(legacy.String())); err != nil {
		t.Fatal(err)
	}
	a := w.applier()
	_, err := reconcile.AcquireLease(ctx, a.lease, reconcile.LeaseOptions{TTL: time.Second})
	var locked *reconcile.LockedError
	if !errors.As(err, &locked) || locked.Owner != "old-mzsync" {
		t.Fatalf("acquire over a live legacy lease: %v", err)
	}
	// Its holder renews no more: the recorded expiry passes.
	legacy.Expires = w.serverNow(t).Add(-time.Second)
	if _, err := w.mz.Exec(ctx, "COMMENT ON SCHEMA mzsync_lease IS "+model.QuoteLiteral(legacy.String())); err != nil {
		t.Fatal(err)
	}
	l, err := reconcile.AcquireLease(ctx, a.lease, reconcile.LeaseOptions{TTL: time.Second})
	if err != nil {
		t.Fatalf("takeover of an expired legacy lease: %v", err)
	}
	// Someone drops the fence by hand: the holder is lost at once, and the
	// orphaned record expires a TTL after a contender first sees it.
	if _, err := w.mz.Exec(ctx, "DROP SCHEMA "+model.QuoteIdent(model.LeaseFencePrefix+l.Token())); err != nil {
		t.Fatal(err)
	}
	if err := l.Check(ctx); !errors.Is(err, reconcile.ErrLeaseLost) {
		t.Fatalf("check without a fence: %v", err)
	}
	b := w.applier()
	seen := w.serverNow(t)
	got, err := reconcile.AcquireLease(ctx, b.lease, reconcile.LeaseOptions{TTL: 300 * time.Millisecond, Wait: true, Poll: 20 * time.Millisecond})
	if err != nil {
		t.Fatalf("takeover of an orphaned record: %v", err)
	}
	if w.serverNow(t).Sub(seen) < 300*time.Millisecond {
		t.Fatal("orphaned record taken over before a TTL passed")
	}
	got.Release(ctx)
	if names := w.leaseSchemas(t); len(names) != 0 {
		t.Fatalf("after release, lease schemas remain: %v", names)
	}
}

// crashDB simulates a process that dies at its n-th call (statement or
// query): before sending it, or just after it ran. After that every call
// fails: the dead process sends nothing more.
type crashDB struct {
	db    reconcile.DB
	mu    sync.Mutex
	n     int // calls so far
	at    int // crash at this call; 0: never
	after bool
	dead  bool
	// serverAt is the server time of the crash, read by the test.
	log []string
}

func (c *crashDB) step(sql string, run func() error) error {
	c.mu.Lock()
	if c.dead {
		c.mu.Unlock()
		return errCrash
	}
	c.n++
	c.log = append(c.log, sql)
	crash := c.at > 0 && c.n == c.at
	if crash && !c.after {
		c.dead = true
		c.mu.Unlock()
		return errCrash
	}
	c.mu.Unlock()
	err := run()
	if crash {
		c.mu.Lock()
		c.dead = true
		c.mu.Unlock()
		return errCrash
	}
	return err
}

func (c *crashDB) Exec(ctx context.Context, sql string) error {
	return c.step(sql, func() error { return c.db.Exec(ctx, sql) })
}

func (c *crashDB) QueryString(ctx context.Context, sql string) (v string, found bool, err error) {
	err = c.step(sql, func() error {
		var e error
		v, found, e = c.db.QueryString(ctx, sql)
		return e
	})
	return v, found, err
}

func (c *crashDB) QueryRows(ctx context.Context, sql string) (rows [][]string, err error) {
	err = c.step(sql, func() error {
		var e error
		rows, e = c.db.QueryRows(ctx, sql)
		return e
	})
	return rows, err
}

func (c *crashDB) crashed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.dead
}

// TestLeaseCrashAtEveryStep kills a writer before and after each call of
// acquire, renew and release, for a fresh lease and for a takeover: the
// next contender gets the lease once one TTL has passed on the server's
// clock since the crash (and at once when the lease was never installed
// or already released), and leaves no lease schema behind.
func TestLeaseCrashAtEveryStep(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	const ttl = 300 * time.Millisecond
	opts := func(owner string) reconcile.LeaseOptions {
		return reconcile.LeaseOptions{Owner: owner, TTL: ttl, Now: frozen()}
	}
	// script is one writer's life: acquire, renew twice, release.
	script := func(db reconcile.DB) error {
		l, err := reconcile.AcquireLease(ctx, db, opts("victim"))
		if err != nil {
			return err
		}
		for range 2 {
			if err := l.Renew(ctx); err != nil {
				return err
			}
		}
		return l.Release(ctx)
	}
	// A dead holder whose lease has expired, for the takeover runs.
	deadHolder := func() {
		l, err := reconcile.AcquireLease(ctx, w.applier().lease, opts("dead"))
		if err != nil {
			t.Fatal(err)
		}
		_ = l // abandoned: never renewed, never released
		w.waitServerPast(t, w.serverNow(t).Add(ttl))
	}

	for _, takeover := range []bool{false, true} {
		// Count the calls of an uninterrupted run.
		if takeover {
			deadHolder()
		}
		probe := &crashDB{db: w.applier().lease}
		if err := script(probe); err != nil {
			t.Fatalf("uninterrupted run (takeover=%v): %v", takeover, err)
		}
		total := probe.n
		if total < 8 {
			t.Fatalf("an uninterrupted run made only %d calls: %v", total, probe.log)
		}
		for k := 1; k <= total; k++ {
			for _, after := range []bool{false, true} {
				if takeover {
					deadHolder()
				}
				c := &crashDB{db: w.applier().lease, at: k, after: after}
				err := script(c)
				if !c.crashed() || (err != nil && !errors.Is(err, errCrash)) {
					t.Fatalf("takeover=%v crash at call %d (after=%v): script returned %v without crashing", takeover, k, after, err)
				}
				crashedAt := w.serverNow(t)
				// Within one TTL of the crash, by the server's clock, the
				// lease is free for the next contender, which does not wait.
				w.waitServerPast(t, crashedAt.Add(ttl))
				next, err := reconcile.AcquireLease(ctx, w.applier().lease, opts("next"))
				if err != nil {
					t.Fatalf("takeover=%v crash at call %d %q (after=%v): next contender, one TTL later: %v", takeover, k, c.log[k-1], after, err)
				}
				if err := next.Release(ctx); err != nil {
					t.Fatal(err)
				}
				if names := w.leaseSchemas(t); len(names) != 0 {
					t.Fatalf("takeover=%v crash at call %d (after=%v): lease schemas left behind: %v", takeover, k, after, names)
				}
			}
		}
	}
}

// TestLeaseLossCancelsApply: an apply waiting for readiness under the
// lease is cancelled when the lease is lost, whether taken (its fence is
// gone) or not renewed within the renew deadline, and the pass reports
// ErrLeaseLost.
func TestLeaseLossCancelsApply(t *testing.T) {
	for _, how := range []string{"fence removed", "renewals fail"} {
		t.Run(how, func(t *testing.T) {
			t.Parallel()
			// Hydration is held: the apply waits.
			w := newWorld(t)
			w.env.Hold(mzemu.HoldHydration, "*app_v1.*") // also while in its private build schema
			a := w.applier()
			des := load(t, repoPath("examples", "manifests-v1"))
			var once sync.Once
			var token string
			var lease *reconcile.Lease
			_ = lease
			progress := func(reconcile.WaitProgress) {
				once.Do(func() {
					// The apply is waiting, under the lease.
					rows, err := w.mz.Query(context.Background(), "SELECT name FROM mz_schemas WHERE name LIKE 'mzsync_lease_fence_%'")
					if err != nil {
						t.Error(err)
						return
					}
					names, _ := pgx.CollectRows(rows, pgx.RowTo[string])
					if len(names) != 1 {
						t.Errorf("fences while applying: %v", names)
						return
					}
					token = strings.TrimPrefix(names[0], "mzsync_lease_fence_")
					switch how {
					case "fence removed":
						if _, err := w.mz.Exec(context.Background(), "ALTER SCHEMA "+model.QuoteIdent(names[0])+" RENAME TO stolen"); err != nil {
							t.Error(err)
						}
					case "renewals fail":
						for range 1000 {
							w.env.Server.Faults().FailStatement(`COMMENT ON SCHEMA "mzsync_lease_fence_`, 1, "XX000")
						}
					}
				})
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			start := time.Now()
			res, err := reconcile.LeasedPass(ctx, a.db, a.obs, des, reconcile.PassOptions{
				Apply:   reconcile.ApplyOptions{Wait: true, Timeout: time.Hour, Poll: 20 * time.Millisecond, Progress: progress},
				Lease:   reconcile.LeaseOptions{TTL: 15 * time.Second},
				LeaseDB: a.lease,
			})
			if !errors.Is(err, reconcile.ErrLeaseLost) {
				t.Fatalf("apply under a lost lease returned %v, want ErrLeaseLost", err)
			}
			if ctx.Err() != nil || time.Since(start) > 50*time.Second {
				t.Fatal("the apply was not cancelled by the lease loss")
			}
			if token == "" || !res.Leased {
				t.Fatalf("the apply never waited under the lease (token %q, leased %v, err %v): the test proves nothing", token, res.Leased, err)
			}
			for _, c := range res.Apply.Executed {
				if c.Op == reconcile.OpSwap {
					t.Fatal("cut over after the lease was lost")
				}
			}
		})
	}
}
