package e2e_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/mzsync/mzsync/internal/model"
	"github.com/mzsync/mzsync/internal/mzemu"
	"github.com/mzsync/mzsync/internal/reconcile"
)

// TestLagUnknownKeepsTheGateClosed follows Materialize's lag model through
// apply --wait: once everything is hydrated, lag stays NULL until a whole
// one-minute bucket has passed with the object readable, and the cutover
// gate stays closed meanwhile, saying why. Lag buckets close only when the
// test closes them (LagBucket -1), and apply polls only when the test lets
// it (its Sleep), so nothing depends on the clock.
func TestLagUnknownKeepsTheGateClosed(t *testing.T) {
	w := newWorld(t, func(o *mzemu.Options) { o.LagBucket = -1 })
	a := w.applier()
	des := load(t, repoPath("examples", "manifests-v1")) // readiness.maxLag: 1s

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	polls := make(chan reconcile.VersionReadiness)
	step := make(chan struct{})
	type result struct {
		res *reconcile.ApplyResult
		err error
	}
	applied := make(chan result, 1)
	go func() {
		res, err := a.apply(ctx, des, reconcile.ApplyOptions{
			Wait: true, Timeout: time.Hour,
			Progress: func(p reconcile.WaitProgress) {
				select {
				case polls <- p.Readiness:
				case <-ctx.Done():
				}
			},
			Sleep: func(c context.Context, _ time.Duration) error {
				select {
				case <-step:
					return nil
				case <-c.Done():
					return c.Err()
				}
			},
		})
		applied <- result{res, err}
	}()
	next := func() reconcile.VersionReadiness {
		t.Helper()
		select {
		case rd := <-polls:
			return rd
		case r := <-applied:
			t.Fatalf("apply ended before the gate opened: %v", r.err)
		case <-ctx.Done():
			t.Fatal("no readiness poll")
		}
		panic("unreachable")
	}
	release := func() { // let apply poll once more
		t.Helper()
		select {
		case step <- struct{}{}:
		case <-ctx.Done():
			t.Fatal("apply did not wait for its next poll")
		}
	}

	const unknown = "lag unknown (Materialize reports lag once a full minute after hydration has passed)"
	onlyLagUnknown := func(rd reconcile.VersionReadiness) bool {
		for _, p := range rd.Pending {
			if !cmp.Equal(p.Reasons, []string{unknown}) {
				return false
			}
		}
		return len(rd.Pending) > 0
	}
	// Poll until snapshots and hydration are done: then only lag is
	// missing.
	rd := next()
	for !onlyLagUnknown(rd) {
		if rd.Ready {
			t.Fatalf("ready before any lag bucket closed: %+v", rd)
		}
		release()
		rd = next()
	}
	checkClosed := func(when string, rd reconcile.VersionReadiness) {
		t.Helper()
		if rd.Ready || !onlyLagUnknown(rd) {
			t.Fatalf("%s: readiness %+v, want not ready, waiting only for lag", when, rd)
		}
		want := []reconcile.Pending{{Target: "app_v1.matview", Kind: string(model.KindMaterializedView), Reasons: []string{unknown}}}
		if diff := cmp.Diff(want, rd.Pending); diff != "" {
			t.Fatalf("%s: pending (-want +got):\n%s", when, diff)
		}
	}
	checkClosed("hydrated, no bucket closed", rd)

	// Polling again changes nothing while no bucket closes.
	release()
	checkClosed("polled again", next())

	// The bucket under way began before the objects were readable: its
	// lag is NULL too.
	if _, err := w.env.Server.CloseLagBucket(ctx); err != nil {
		t.Fatal(err)
	}
	release()
	checkClosed("first bucket closed (objects unreadable for part of it)", next())

	// A whole bucket with the objects readable: lag is known (0s <= 1s)
	// and the gate opens; apply cuts over.
	if _, err := w.env.Server.CloseLagBucket(ctx); err != nil {
		t.Fatal(err)
	}
	release()
	if rd := next(); !rd.Ready {
		t.Fatalf("after a whole readable bucket: readiness %+v, want ready", rd)
	}
	r := <-applied
	if r.err != nil {
		t.Fatalf("apply: %v", r.err)
	}
	if got := w.total("app.matview"); got != 10 {
		t.Fatalf("after the cutover: app.matview = %d, want 10", got)
	}
}
