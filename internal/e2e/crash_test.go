package e2e_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/mzsync/mzsync/internal/model"
	"github.com/mzsync/mzsync/internal/reconcile"
)

// TestCrashAfterEachStep kills the v2 apply before each of its statements
// in turn, then runs a fresh apply, which must converge to exactly the
// desired catalog: no orphaned or duplicate objects, the alias holding a
// complete version at every point.
func TestCrashAfterEachStep(t *testing.T) {
	// Count the statements of an uninterrupted v1 -> v2 apply first.
	probe := newWorld(t)
	pa := probe.applier()
	mustApply(t, pa, load(t, repoPath("examples", "manifests-v1")))
	probe.upExec("ALTER TABLE t ADD COLUMN b boolean DEFAULT false", "INSERT INTO t (a, b) VALUES (20, true)")
	before := len(pa.rec.sent())
	mustApply(t, pa, load(t, repoPath("examples", "manifests")))
	n := len(pa.rec.sent()) - before
	if n < 5 {
		t.Fatalf("a v2 apply sent only %d statements; the test proves nothing", n)
	}
	want := catalogShape(t, probe)

	for k := 1; k <= n; k++ {
		t.Run(fmt.Sprintf("crash before statement %d of %d", k, n), func(t *testing.T) {
			t.Parallel()
			w := newWorld(t)
			first := w.applier()
			mustApply(t, first, load(t, repoPath("examples", "manifests-v1")))
			w.upExec("ALTER TABLE t ADD COLUMN b boolean DEFAULT false", "INSERT INTO t (a, b) VALUES (20, true)")
			v2 := load(t, repoPath("examples", "manifests"))

			crashing := w.applier()
			crashing.rec.crashAt = k
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			_, err := crashing.apply(ctx, v2, reconcile.ApplyOptions{Wait: true, Timeout: 30 * time.Second})
			if !errors.Is(err, errCrash) {
				t.Fatalf("crashing apply returned %v, want the simulated crash", err)
			}
			// Whatever happened, consumers still read a complete version.
			if got := w.total("app.matview"); got != 30 && got != 20 {
				t.Fatalf("after the crash app.matview = %d", got)
			}

			mustApply(t, w.applier(), v2)
			if p := w.applier().plan(t, v2); !p.Empty() {
				t.Fatalf("after recovery the plan is not empty: %+v", p.Changes)
			}
			if diff := cmp.Diff(want, catalogShape(t, w)); diff != "" {
				t.Fatalf("catalog after recovery differs from an uninterrupted apply (-want +got):\n%s", diff)
			}
			if got := w.total("app.matview"); got != 20 {
				t.Fatalf("after recovery app.matview = %d, want 20", got)
			}
		})
	}
}

// catalogShape lists every user schema with its marker and its objects
// with kinds and markers: what "exactly the desired catalog" means.
func catalogShape(t *testing.T, w *world) []string {
	t.Helper()
	a := w.applier()
	o, err := a.obs.Observe(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, s := range o.Schemas {
		m := "unowned"
		if s.Marker != nil {
			m = s.Marker.ID().String()
		}
		out = append(out, fmt.Sprintf("schema %s (%s)", s.Name, m))
		for _, ob := range s.Objects {
			owned := ob.Marker != nil
			out = append(out, fmt.Sprintf("  %s %s.%s owned=%v", ob.Kind, s.Name, ob.Name, owned))
		}
	}
	slices.Sort(out)
	return out
}

var _ = model.KindTable
