package e2e_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/mzsync/mzsync/internal/model"
	"github.com/mzsync/mzsync/internal/mzemu"
	"github.com/mzsync/mzsync/internal/reconcile"
)

// manySchemas returns the first deployment of n copies of the example
// schema, s000, s001, ...
func manySchemas(t *testing.T, n int) *model.Desired {
	base := manifestsV1(t)
	d := *base
	d.Schemas = nil
	for i := range n {
		d.Schemas = append(d.Schemas, renamed(base, fmt.Sprintf("s%03d", i)).Schemas...)
	}
	return &d
}

// TestApplyWaitScales measures apply --wait for one schema and for
// MZSYNC_BENCH_SCHEMAS schemas, each version hydrating in 300ms: schemas
// are built together and wait together, so many take about as long as
// their builds plus one hydration, not the sum of the hydrations. It is a
// benchmark (BENCHMARKS.md), skipped unless MZSYNC_BENCH_SCHEMAS is set.
func TestApplyWaitScales(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("MZSYNC_BENCH_SCHEMAS"))
	if n < 1 {
		t.Skip("set MZSYNC_BENCH_SCHEMAS to run")
	}
	const hydration = 300 * time.Millisecond
	for _, count := range []int{1, n} {
		w := newWorld(t, func(o *mzemu.Options) { o.HydrationDelay = hydration })
		a := w.applier()
		des := manySchemas(t, count)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
		start := time.Now()
		var waitStart time.Time // the first readiness poll: every build is done
		progress := func(reconcile.WaitProgress) {
			if waitStart.IsZero() {
				waitStart = time.Now()
			}
		}
		res, err := a.apply(ctx, des, reconcile.ApplyOptions{Wait: true, Timeout: 20 * time.Minute, Poll: 100 * time.Millisecond, Progress: progress})
		elapsed := time.Since(start)
		cancel()
		if err != nil {
			t.Fatalf("%d schemas: %v", count, err)
		}
		for _, s := range des.Schemas {
			if got := aliasVersion(t, w, s.Name); got != "v1" {
				t.Fatalf("%s holds %q after apply --wait", s.Name, got)
			}
		}
		t.Logf("apply --wait, %d schema(s), hydration %s each: %s in all; builds %s, then wait and cutovers %s (%d changes; sum of hydrations %s)",
			count, hydration, elapsed.Round(10*time.Millisecond), waitStart.Sub(start).Round(10*time.Millisecond),
			start.Add(elapsed).Sub(waitStart).Round(10*time.Millisecond), len(res.Executed), time.Duration(count)*hydration)
	}
}
