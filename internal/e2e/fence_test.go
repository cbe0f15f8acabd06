package e2e_test

import (
	"context"
	"errors"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/mzsync/mzsync/internal/model"
	"github.com/mzsync/mzsync/internal/reconcile"
)

// stallAt makes an applier's DDL session stop just before it sends the
// first statement matching re, after the fencing check passed, as a
// process stopped there would; stalled is closed when it stops, and
// closing resume sends the statement.
func stallAt(a *applier, re *regexp.Regexp) (stalled, resume chan struct{}) {
	stalled, resume = make(chan struct{}), make(chan struct{})
	var once sync.Once
	a.db.OnExec = func(sql string) error {
		if re.MatchString(sql) {
			once.Do(func() {
				close(stalled)
				<-resume
			})
		}
		return nil
	}
	return stalled, resume
}

// TestStalledHolderLateDrop: a holder applying retain 0 stops between its
// fencing check and its drop of the retained app_v1, its lease is taken
// over by a holder that keeps v1 (retain 1), and then it resumes. Its late
// statement cannot touch what the new holder keeps: the retirement of
// app_v1 is a DDL transaction fenced by the lease (refused, ErrLeaseLost),
// and the DROP that follows it only ever names the stalled holder's own
// trash. The catalog the new holder published is unchanged by the late
// statement, and the new holder's plan stays empty.
func TestStalledHolderLateDrop(t *testing.T) {
	for _, at := range []string{"retire", "drop the trash"} {
		t.Run(at, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t)
			addColumnB(w)
			setup := w.applier()
			mustApply(t, setup, manifestsV1(t))
			mustApply(t, setup, manifestsV2(t)) // app holds v2, app_v1 keeps v1 (retain 1)
			setup.close()
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()

			// The stalled holder: its host clock frozen, so only the
			// server-side fence can stop it.
			old := w.applier()
			// The statement that removes app_v1 from the namespace (it would
			// be DROP SCHEMA "app_v1" CASCADE, were drops not retirements).
			re := regexp.MustCompile(`"app_v1" (RENAME TO "` + model.TrashPrefix + `|CASCADE)`)
			if at != "retire" {
				re = regexp.MustCompile(`^DROP SCHEMA "` + model.TrashPrefix)
			}
			stalled, resume := stallAt(old, re)
			ol, err := reconcile.AcquireLease(ctx, old.lease, reconcile.LeaseOptions{Owner: "stalled", TTL: time.Minute, Now: frozen()})
			if err != nil {
				t.Fatal(err)
			}
			drop := withRetain(manifestsV2(t), "app", 0)
			var oldErr error
			done := make(chan struct{})
			go func() {
				defer close(done)
				_, oldErr = reconcile.Apply(ctx, ol.Fence(old.db), old.obs, drop, reconcile.ApplyOptions{
					Diff: reconcile.Options{AllowDrop: true}, Wait: true, Timeout: 30 * time.Second, Poll: 25 * time.Millisecond})
			}()
			select {
			case <-stalled:
			case <-done:
				t.Fatalf("the holder never reached the drop: %v", oldErr)
			}

			// Its lease expires (written here rather than waited for) and
			// another holder takes it over and converges to retain 1.
			past := model.Lease{Owner: "stalled", Expires: w.serverNow(t).Add(-time.Second), Token: ol.Token()}
			if _, err := w.mz.Exec(ctx, "COMMENT ON SCHEMA "+model.QuoteIdent(model.LeaseFencePrefix+ol.Token())+" IS "+model.QuoteLiteral(past.String())); err != nil {
				t.Fatal(err)
			}
			nw := w.applier()
			nl, err := reconcile.AcquireLease(ctx, nw.lease, reconcile.LeaseOptions{Owner: "new", TTL: time.Minute})
			if err != nil {
				t.Fatalf("takeover: %v", err)
			}
			keep := manifestsV2(t)
			if _, err := reconcile.Apply(ctx, nl.Fence(nw.db), nw.obs, keep, reconcile.ApplyOptions{Wait: true, Timeout: 30 * time.Second, Poll: 25 * time.Millisecond}); err != nil {
				t.Fatalf("the new holder's apply: %v", err)
			}
			published := catalogShape(t, w)
			if !hasLine(published, `schema app_v1 (mzsync:v1 schema=app version=v1 `) {
				t.Fatalf("the new holder does not keep v1 in app_v1: %v", published)
			}

			// The stalled holder resumes and sends its late statement.
			close(resume)
			<-done
			if at == "retire" && !errors.Is(oldErr, reconcile.ErrLeaseLost) {
				t.Fatalf("the stalled holder's late retirement returned %v, want ErrLeaseLost", oldErr)
			}
			if oldErr == nil {
				t.Fatal("the stalled holder's late pass succeeded")
			}
			if diff := cmp.Diff(published, catalogShape(t, w)); diff != "" {
				t.Fatalf("the stalled holder's late statement changed what the new holder published (-before +after):\n%s", diff)
			}
			if err := nl.Check(ctx); err != nil {
				t.Fatalf("the new holder lost its lease: %v", err)
			}
			if p := nw.plan(t, keep); !p.Empty() || p.Blocked() {
				t.Fatalf("after the late statement the new holder's plan is not empty: %+v", p.Changes)
			}
			if err := nl.Release(ctx); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func hasLine(lines []string, prefix string) bool {
	for _, l := range lines {
		if len(l) >= len(prefix) && l[:len(prefix)] == prefix {
			return true
		}
	}
	return false
}

// TestStalledHolderLateBuildWrite: a holder building v2 (from manifests
// that differ from the new holder's) stops between its fencing check and
// a CREATE or a COMMENT of its build; its lease is taken over by a holder
// that builds v2 as it declares it (staged beside the live v1), and then
// it resumes. A holder builds in its own private schema
// (mzsync_build_<token>_app_v2), which the new holder drops as abandoned,
// and publishes it only through a fenced rename: the late statement
// cannot mark, fill or replace what the new holder published.
func TestStalledHolderLateBuildWrite(t *testing.T) {
	for _, at := range []string{"create", "comment"} {
		t.Run(at, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t)
			setup := w.applier()
			mustApply(t, setup, manifestsV1(t))
			setup.close()
			addColumnB(w)
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()

			// The stalled holder declares another v2 (its matview adds 0).
			mine := load(t, manifestDir(t, [3]string{"app/v2.yaml", "SELECT sum(a) AS total", "SELECT sum(a) + 0 AS total"}))
			old := w.applier()
			re := regexp.MustCompile(`^CREATE MATERIALIZED VIEW "[^"]*app_v2"`)
			if at == "comment" {
				re = regexp.MustCompile(`^COMMENT ON SCHEMA "[^"]*app_v2" IS '[^']*state=built`)
			}
			stalled, resume := stallAt(old, re)
			ol, err := reconcile.AcquireLease(ctx, old.lease, reconcile.LeaseOptions{Owner: "stalled", TTL: time.Minute, Now: frozen()})
			if err != nil {
				t.Fatal(err)
			}
			var oldErr error
			done := make(chan struct{})
			go func() {
				defer close(done)
				_, oldErr = reconcile.Apply(ctx, ol.Fence(old.db), old.obs, mine, reconcile.ApplyOptions{Wait: true, Timeout: 30 * time.Second, Poll: 25 * time.Millisecond})
			}()
			select {
			case <-stalled:
			case <-done:
				t.Fatalf("the holder never reached its %s: %v", at, oldErr)
			}

			past := model.Lease{Owner: "stalled", Expires: w.serverNow(t).Add(-time.Second), Token: ol.Token()}
			if _, err := w.mz.Exec(ctx, "COMMENT ON SCHEMA "+model.QuoteIdent(model.LeaseFencePrefix+ol.Token())+" IS "+model.QuoteLiteral(past.String())); err != nil {
				t.Fatal(err)
			}
			nw := w.applier()
			nl, err := reconcile.AcquireLease(ctx, nw.lease, reconcile.LeaseOptions{Owner: "new", TTL: time.Minute})
			if err != nil {
				t.Fatalf("takeover: %v", err)
			}
			// The new holder keeps v1 live and stages its own v2.
			theirs := withActive(manifestsV2(t), "app", "v1")
			if _, err := reconcile.Apply(ctx, nl.Fence(nw.db), nw.obs, theirs, reconcile.ApplyOptions{Wait: true, Timeout: 30 * time.Second, Poll: 25 * time.Millisecond}); err != nil {
				t.Fatalf("the new holder's apply: %v", err)
			}
			published := catalogShape(t, w)
			var v2 *model.Version
			for i := range theirs.Schemas[0].Versions {
				if theirs.Schemas[0].Versions[i].ID.Version == "v2" {
					v2 = &theirs.Schemas[0].Versions[i]
				}
			}
			if !hasLine(published, "schema app_v2 (mzsync:v1 schema=app version=v2 digest="+v2.Digest+" state=built") {
				t.Fatalf("the new holder did not publish its v2 as app_v2: %v", published)
			}

			close(resume)
			<-done
			if oldErr == nil {
				t.Fatal("the stalled holder's late build succeeded")
			}
			if diff := cmp.Diff(published, catalogShape(t, w)); diff != "" {
				t.Fatalf("the stalled holder's late %s changed what the new holder published (-before +after):\n%s", at, diff)
			}
			if err := nl.Check(ctx); err != nil {
				t.Fatalf("the new holder lost its lease: %v", err)
			}
			if p := nw.plan(t, theirs); !p.Empty() || p.Blocked() {
				t.Fatalf("after the late %s the new holder's plan is not empty: %+v", at, p.Changes)
			}
			if err := nl.Release(ctx); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestStatusShowsRenewedExpiry: the lease's record keeps its first expiry;
// a renewal comments the fence; status (observed) shows the renewed one.
func TestStatusShowsRenewedExpiry(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	a := w.applier()
	l, err := reconcile.AcquireLease(ctx, a.lease, reconcile.LeaseOptions{Owner: "ci-runner-1", TTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release(ctx)
	first := w.observeOnce(t).Lease
	if first == nil || first.Owner != "ci-runner-1" || first.Expires.IsZero() {
		t.Fatalf("observed lease %+v", first)
	}
	w.waitServerPast(t, w.serverNow(t)) // the server's clock moves on
	if err := l.Renew(ctx); err != nil {
		t.Fatal(err)
	}
	o := w.observeOnce(t)
	if o.Lease == nil || !o.Lease.Expires.After(first.Expires) {
		t.Fatalf("after a renewal the observed lease expires %+v, want later than %v", o.Lease, first.Expires)
	}
	st := reconcile.Status(o, nil)
	if st.Lease == nil || !st.Lease.Expires.Equal(o.Lease.Expires) || st.Lease.Owner != "ci-runner-1" {
		t.Fatalf("status lease %+v, want the renewed expiry %v", st.Lease, o.Lease.Expires)
	}
}
