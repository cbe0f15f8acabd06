package e2e_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/mzsync/mzsync/internal/mzemu"
	"github.com/mzsync/mzsync/internal/reconcile"
)

// TestSeedScenario replays the upstream-schema-changes guide through
// mzsync: v1 is built and cut over; upstream adds column b; v1 keeps
// ingesting only a; v2 is built beside it and swapped in. A reader hammers
// app.matview the whole time and must only ever see a complete version:
// 30 until the cutover, 20 after it, never an error, never no row.
func TestSeedScenario(t *testing.T) {
	w := newWorld(t)
	a := w.applier()

	mustApply(t, a, load(t, repoPath("examples", "manifests-v1")))
	if got := w.total("app.matview"); got != 10 {
		t.Fatalf("after v1: app.matview = %d, want 10", got)
	}

	w.upExec("ALTER TABLE t ADD COLUMN b boolean DEFAULT false", "INSERT INTO t (a, b) VALUES (20, true)")
	if got := w.total("app.matview"); got != 30 {
		t.Fatalf("after upstream insert: app.matview = %d, want 30", got)
	}
	if diff := cmp.Diff([]string{"a"}, w.columns("app", "t")); diff != "" {
		t.Fatalf("v1's t must keep only column a (-want +got):\n%s", diff)
	}

	// The reader: its own session, as a consumer would have.
	reader := connect(t, w.env.MaterializeURL)
	ctx, stop := context.WithCancel(context.Background())
	var (
		mu      sync.Mutex
		results []int64
		errs    []error
		done    = make(chan struct{})
	)
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			var n int64
			err := reader.QueryRow(ctx, "SELECT total FROM app.matview").Scan(&n)
			if ctx.Err() != nil {
				return
			}
			mu.Lock()
			if err != nil {
				errs = append(errs, err)
			} else {
				results = append(results, n)
			}
			mu.Unlock()
		}
	}()

	// v2's materialized view stays unhydrated until the reader has read
	// v1 many times while v2 is built and waited for; then it hydrates, the
	// apply cuts over, and the reader must see v2 before it stops.
	w.env.Hold(mzemu.HoldHydration, "*app_v2.*") // built in a private schema, then published
	applied := make(chan error, 1)
	go func() {
		actx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_, err := a.apply(actx, load(t, repoPath("examples", "manifests")), reconcile.ApplyOptions{Wait: true, Timeout: 30 * time.Second})
		applied <- err
	}()
	count := func(want int64) int {
		mu.Lock()
		defer mu.Unlock()
		n := 0
		for _, r := range results {
			if r == want {
				n++
			}
		}
		return n
	}
	waitFor(t, "v2 to be built and the reader to read v1 ten times", func() bool {
		var built bool
		err := w.mz.QueryRow(context.Background(), `SELECT EXISTS (SELECT 1 FROM mz_materialized_views v JOIN mz_schemas s ON s.id = v.schema_id
 WHERE s.name = 'app_v2' AND v.name = 'matview')`).Scan(&built)
		return err == nil && built && count(30) >= 10
	})
	if n := w.env.Release(mzemu.HoldHydration, "*app_v2.*"); n == 0 {
		t.Fatal("nothing of app_v2 was held")
	}
	if err := <-applied; err != nil {
		t.Fatalf("apply v2: %v", err)
	}
	waitFor(t, "the reader to see v2", func() bool { return count(20) > 0 })
	stop()
	<-done

	if len(errs) > 0 {
		t.Fatalf("the reader saw %d errors during apply, first: %v", len(errs), errs[0])
	}
	if len(results) < 10 {
		t.Fatalf("the reader made only %d reads; the test proves nothing", len(results))
	}
	switched := false
	for i, n := range results {
		switch {
		case n == 30 && !switched:
		case n == 20:
			switched = true
		default:
			t.Fatalf("read %d of %d saw %d (switched=%v): a reader must see 30 until the cutover and 20 after", i, len(results), n, switched)
		}
	}
	if !switched {
		t.Fatal("the reader never saw v2's result")
	}
	if got := w.total("app.matview"); got != 20 {
		t.Fatalf("after v2: app.matview = %d, want 20", got)
	}
	if diff := cmp.Diff([]string{"a", "b"}, w.columns("app", "t")); diff != "" {
		t.Fatalf("v2's t must have a and b (-want +got):\n%s", diff)
	}
	// v1 is retained, still built and still answering, for instant rollback.
	if got := w.total("app_v1.matview"); got != 30 {
		t.Fatalf("retained app_v1.matview = %d, want 30", got)
	}
	if errors.Is(ctx.Err(), context.Canceled) && len(results) == 0 {
		t.Fatal("unreachable")
	}
}
