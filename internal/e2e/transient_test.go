package e2e_test

import (
	"context"
	"testing"
	"time"

	"github.com/mzsync/mzsync/internal/mzemu"
	"github.com/mzsync/mzsync/internal/reconcile"
)

// TestTransientErrorsAreRetried injects the failures Materialize shows
// under load: a 40001 on the cutover transaction (another session's DDL)
// and a connection dropped in the middle of the build. Apply must retry
// from a fresh observation and converge, with the cutover done once.
func TestTransientErrorsAreRetried(t *testing.T) {
	tests := []struct {
		name   string
		inject func(w *world, a *applier)
	}{
		{"40001 on the swap transaction", func(w *world, _ *applier) {
			if err := w.env.Server.Faults().FailStatement(`(?i)ALTER SCHEMA .* SWAP WITH`, 1, "40001"); err != nil {
				t.Fatal(err)
			}
		}},
		{"connection dropped at the materialized view", func(w *world, _ *applier) {
			if err := w.env.Server.Faults().FailStatement(`(?i)CREATE MATERIALIZED VIEW`, 1, "08006"); err != nil {
				t.Fatal(err)
			}
		}},
		{"connection dropped by the server mid-build", func(w *world, _ *applier) {
			// The second build statement of v2, whichever session sends it;
			// lease and catalog reads do not count.
			if err := w.env.Server.Faults().Add(mzemu.Fault{Pattern: `(?i)^\s*CREATE .*app_v2`, Nth: 2, Action: mzemu.FaultDrop}); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t)
			a := w.applier()
			mustApply(t, a, load(t, repoPath("examples", "manifests-v1")))
			w.upExec("ALTER TABLE t ADD COLUMN b boolean DEFAULT false", "INSERT INTO t (a, b) VALUES (20, true)")
			v2 := load(t, repoPath("examples", "manifests"))

			tt.inject(w, a)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			res, err := a.apply(ctx, v2, reconcile.ApplyOptions{Wait: true, Timeout: 30 * time.Second,
				Sleep: func(ctx context.Context, d time.Duration) error { return nil }})
			if err != nil {
				t.Fatalf("apply did not recover: %v", err)
			}
			if res.Retries == 0 {
				t.Fatal("no retry happened: the fault did not fire, so the test proves nothing")
			}
			swaps := 0
			for _, c := range res.Executed {
				if c.Op == reconcile.OpSwap {
					swaps++
				}
			}
			if swaps != 1 {
				t.Fatalf("cutover executed %d times, want 1", swaps)
			}
			if p := w.applier().plan(t, v2); !p.Empty() {
				t.Fatalf("not converged: %+v", p.Changes)
			}
			if got := w.total("app.matview"); got != 20 {
				t.Fatalf("app.matview = %d, want 20", got)
			}
		})
	}
}
