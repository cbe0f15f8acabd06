package e2e_test

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mzsync/mzsync/internal/model"
	"github.com/mzsync/mzsync/internal/mzemu"
	"github.com/mzsync/mzsync/internal/reconcile"
)

// TestSwapTogetherPassWithoutWait is how the daemon (mzsync run
// --swap-together) passes: without --wait. While one schema's version is
// not ready, a pass cuts over neither, even the one that is ready; once
// both are, one pass swaps both in one DDL transaction.
func TestSwapTogetherPassWithoutWait(t *testing.T) {
	w := newWorld(t)
	a := w.applier()
	mustApply(t, a, twoSchemas(manifestsV1(t)))
	addColumnB(w)
	v2 := twoSchemas(manifestsV2(t))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := w.env.Server.Hold(ctx, mzemu.HoldHydration, "*other_v2.*"); err != nil { // also while in its private build schema
		t.Fatal(err)
	}
	pass := func() *reconcile.ApplyResult {
		t.Helper()
		res, err := a.apply(ctx, v2, reconcile.ApplyOptions{SwapTogether: true})
		if err != nil {
			t.Fatalf("pass: %v", err)
		}
		return res
	}
	ready := func(schema string) bool {
		o := w.observeOnce(t)
		for i := range v2.Schemas {
			s := &v2.Schemas[i]
			if s.Name == schema {
				v, _ := s.Version("v2")
				return reconcile.Readiness(o, v, s).Ready
			}
		}
		return false
	}
	res := pass()
	if res.NotReady == nil {
		t.Fatalf("the first pass reports nothing not ready: %+v", res.Schemas)
	}
	waitFor(t, "app/v2 to be ready while other/v2 is held", func() bool { return ready("app") })
	res = pass()
	if got := aliasVersion(t, w, "app"); got != "v1" {
		t.Fatalf("app cut over to %s alone while other was not ready", got)
	}
	if len(res.NotReadyAll) != 2 {
		t.Fatalf("a pass while other/v2 is held must defer both cutovers, got %v", res.NotReadyAll)
	}
	if _, err := w.env.Server.Release(ctx, mzemu.HoldHydration, "*"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "other/v2 to be ready", func() bool { return ready("other") })
	pass()
	together := 0
	for _, s := range a.rec.sent() {
		if strings.Count(s, "SWAP WITH") == 2 && strings.HasPrefix(s, "BEGIN; ") {
			together++
		}
	}
	if together != 1 || aliasVersion(t, w, "app") != "v2" || aliasVersion(t, w, "other") != "v2" {
		t.Fatalf("want both schemas swapped to v2 in one transaction; got %d such transactions", together)
	}
}

// TestSwapGroup: schemas declaring the same swapGroup are cut over in one
// DDL transaction once both are ready; a schema outside the group is cut
// over on its own as soon as it is ready, without waiting for them.
func TestSwapGroup(t *testing.T) {
	w := newWorld(t)
	a := w.applier()
	three := func(d *model.Desired) *model.Desired {
		d = twoSchemas(d)
		third := d.Schemas[1]
		third.Name = "solo"
		third.Versions = slices.Clone(third.Versions)
		for i := range third.Versions {
			third.Versions[i].ID.Schema = "solo"
		}
		d.Schemas = append(d.Schemas, third)
		for i := range d.Schemas {
			if d.Schemas[i].Name != "solo" {
				d.Schemas[i].SwapGroup = "g"
			}
		}
		return d
	}
	mustApply(t, a, three(manifestsV1(t)))
	addColumnB(w)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := w.env.Server.Hold(ctx, mzemu.HoldHydration, "*other_v2.*"); err != nil { // also while in its private build schema
		t.Fatal(err)
	}
	var once sync.Once
	appReady := make(chan struct{})
	progress := func(p reconcile.WaitProgress) {
		if p.Version.Schema == "app" && p.Readiness.Ready {
			once.Do(func() { close(appReady) })
		}
	}
	done := make(chan error, 1)
	go func() {
		_, err := a.apply(ctx, three(manifestsV2(t)), reconcile.ApplyOptions{Wait: true, Timeout: time.Minute, Progress: progress})
		done <- err
	}()
	<-appReady
	waitFor(t, "solo, outside the group, to be cut over alone", func() bool { return aliasVersion(t, w, "solo") == "v2" })
	if got := aliasVersion(t, w, "app"); got != "v1" {
		t.Fatalf("app cut over to %s before other, of its swap group, was ready", got)
	}
	if _, err := w.env.Server.Release(ctx, mzemu.HoldHydration, "*"); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("apply: %v", err)
	}
	together := 0
	for _, s := range a.rec.sent() {
		if strings.Count(s, "SWAP WITH") == 2 && strings.HasPrefix(s, "BEGIN; ") && strings.Contains(s, `"app"`) && strings.Contains(s, `"other"`) {
			together++
		}
	}
	if together != 1 || aliasVersion(t, w, "app") != "v2" || aliasVersion(t, w, "other") != "v2" {
		t.Fatalf("want app and other swapped to v2 in one transaction; got %d such transactions", together)
	}
}
