package e2e_test

import (
	"context"
	"errors"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mzsync/mzsync/internal/model"
	"github.com/mzsync/mzsync/internal/mzemu"
	"github.com/mzsync/mzsync/internal/reconcile"
)

// twoSchemas returns d with a second schema, other, a copy of app.
func twoSchemas(d *model.Desired) *model.Desired {
	c := *d
	o := d.Schemas[0]
	o.Name = "other"
	o.Versions = slices.Clone(o.Versions)
	for i := range o.Versions {
		o.Versions[i].ID.Schema = "other"
	}
	c.Schemas = append(slices.Clone(d.Schemas), o)
	return &c
}

// aliasVersion reads which version the alias schema holds.
func aliasVersion(t *testing.T, w *world, schema string) string {
	t.Helper()
	o := w.observeOnce(t)
	for _, s := range o.Schemas {
		if s.Name == schema && s.Marker != nil {
			return s.Marker.Version
		}
	}
	return ""
}

func schemaResult(t *testing.T, res *reconcile.ApplyResult, name string) reconcile.SchemaResult {
	t.Helper()
	for _, s := range res.Schemas {
		if s.Schema == name {
			return s
		}
	}
	t.Fatalf("no result for schema %s in %+v", name, res.Schemas)
	return reconcile.SchemaResult{}
}

// TestSchemasAreIndependent: one pass builds every schema; a schema whose
// statement fails fails alone (named, with its SQL) while the other builds
// and waits; apply --wait cuts each schema over as soon as it is ready,
// not when the slowest is.
func TestSchemasAreIndependent(t *testing.T) {
	w := newWorld(t)
	a := w.applier()
	mustApply(t, a, twoSchemas(manifestsV1(t)))
	addColumnB(w)
	v2 := twoSchemas(manifestsV2(t))
	ctx := context.Background()

	// other's materialized view fails; app's hydration is held.
	// (A version is built in the applier's private schema,
	// mzsync_build_<token>_other_v2, then published as other_v2.)
	if err := w.env.Server.Faults().FailStatement(`CREATE MATERIALIZED VIEW "[^"]*other_v2"`, 1, ""); err != nil {
		t.Fatal(err)
	}
	if err := w.env.Server.Hold(ctx, mzemu.HoldHydration, "*app_v2.*"); err != nil {
		t.Fatal(err)
	}
	res, err := a.apply(ctx, v2, reconcile.ApplyOptions{})
	var se *reconcile.StatementError
	if !errors.As(err, &se) || !strings.HasSuffix(se.Change.Target, "other_v2.matview") || !regexp.MustCompile(`^CREATE MATERIALIZED VIEW "[^"]*other_v2"\."matview"`).MatchString(se.SQL) {
		t.Fatalf("apply error %v: want other_v2.matview's statement error with its SQL", err)
	}
	if ra := schemaResult(t, res, "app"); ra.Err != nil || ra.NotReady == nil || ra.NotReady.String() != "app/v2" {
		t.Fatalf("app: %+v, want built and waiting for app/v2", ra)
	}
	if ro := schemaResult(t, res, "other"); ro.Err == nil || len(ro.NotApplied) == 0 {
		t.Fatalf("other: %+v, want failed with what was not applied", ro)
	}

	// With --wait, other (nothing held) is cut over while app still waits.
	var mu sync.Mutex
	var apps []bool
	progress := func(p reconcile.WaitProgress) {
		mu.Lock()
		defer mu.Unlock()
		if p.Version.Schema == "app" {
			apps = append(apps, p.Readiness.Ready)
		}
	}
	done := make(chan error, 1)
	go func() {
		_, err := a.apply(ctx, v2, reconcile.ApplyOptions{Wait: true, Timeout: time.Minute, Progress: progress})
		done <- err
	}()
	waitFor(t, "other cut over to v2", func() bool { return aliasVersion(t, w, "other") == "v2" })
	if got := aliasVersion(t, w, "app"); got != "v1" {
		t.Fatalf("app holds %s while its v2 is not hydrated", got)
	}
	if _, err := w.env.Server.Release(ctx, mzemu.HoldHydration, "*"); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("apply --wait: %v", err)
	}
	if got := aliasVersion(t, w, "app"); got != "v2" {
		t.Fatalf("app holds %s, want v2", got)
	}
	if p := a.plan(t, v2); !p.Empty() || p.Blocked() {
		t.Fatalf("not converged: %+v", p.Changes)
	}
}

// TestSwapTogether: with SwapTogether, a schema that is ready waits for
// the other, and both cut over in one DDL transaction.
func TestSwapTogether(t *testing.T) {
	w := newWorld(t)
	a := w.applier()
	mustApply(t, a, twoSchemas(manifestsV1(t)))
	addColumnB(w)
	v2 := twoSchemas(manifestsV2(t))
	ctx := context.Background()
	if err := w.env.Server.Hold(ctx, mzemu.HoldHydration, "*other_v2.*"); err != nil {
		t.Fatal(err)
	}
	appReady := make(chan struct{})
	var once sync.Once
	progress := func(p reconcile.WaitProgress) {
		if p.Version.Schema == "app" && p.Readiness.Ready {
			once.Do(func() { close(appReady) })
		}
	}
	type result struct {
		res *reconcile.ApplyResult
		err error
	}
	done := make(chan result, 1)
	go func() {
		res, err := a.apply(ctx, v2, reconcile.ApplyOptions{Wait: true, Timeout: time.Minute, SwapTogether: true, Progress: progress})
		done <- result{res, err}
	}()
	<-appReady
	if got := aliasVersion(t, w, "app"); got != "v1" {
		t.Fatalf("app cut over to %s alone, before other was ready", got)
	}
	if _, err := w.env.Server.Release(ctx, mzemu.HoldHydration, "*"); err != nil {
		t.Fatal(err)
	}
	r := <-done
	if r.err != nil {
		t.Fatalf("apply: %v", r.err)
	}
	swaps := 0
	for _, c := range r.res.Executed {
		if c.Op == reconcile.OpSwap {
			swaps++
		}
	}
	together := 0
	for _, s := range a.rec.sent() {
		if strings.Count(s, "SWAP WITH") == 2 && strings.HasPrefix(s, "BEGIN; ") {
			together++
		}
	}
	if together != 1 || aliasVersion(t, w, "app") != "v2" || aliasVersion(t, w, "other") != "v2" {
		t.Fatalf("want both schemas swapped to v2 in one transaction; %d such transactions, %d swaps", together, swaps)
	}
}
