package e2e_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/mzsync/mzsync/internal/reconcile"
)

// TestStalePlanIsRefused: a plan shown to a reviewer carries the observed
// fingerprint; if the catalog changes before apply, apply refuses and
// sends nothing.
func TestStalePlanIsRefused(t *testing.T) {
	w := newWorld(t)
	a := w.applier()
	des := load(t, repoPath("examples", "manifests-v1"))
	reviewed := a.plan(t, des)

	// Someone else builds app/v1 in the meantime.
	mustApply(t, w.applier(), des)

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	before := len(a.rec.sent())
	_, err := a.apply(ctx, des, reconcile.ApplyOptions{Fingerprint: reviewed.Fingerprint})
	if !errors.Is(err, reconcile.ErrStalePlan) {
		t.Fatalf("apply of a stale plan: %v, want ErrStalePlan", err)
	}
	if sent := a.rec.sent()[before:]; len(sent) != 0 {
		t.Fatalf("a refused stale plan sent %v", sent)
	}

	// A fresh plan's fingerprint is accepted.
	fresh := a.plan(t, des)
	if _, err := a.apply(ctx, des, reconcile.ApplyOptions{Fingerprint: fresh.Fingerprint}); err != nil {
		t.Fatalf("apply with a fresh fingerprint: %v", err)
	}
}
