package daemon

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/mzsync/mzsync/internal/desired"
	"github.com/mzsync/mzsync/internal/model"
	"github.com/mzsync/mzsync/internal/reconcile"
)

// TestRequeue proves each pass outcome's requeue delay, whether the pass
// function ran, and the result recorded.
func TestRequeue(t *testing.T) {
	locked := fmt.Errorf("acquire: %w", &reconcile.LockedError{Owner: "other/1/abc", Expires: time.Unix(0, 0)})
	cases := []struct {
		name      string
		snap      *snapshotCase
		out       Outcome
		err       error
		wantDelay time.Duration
		wantCalls int
		wantRes   Result
	}{
		{name: "converged pass waits the interval", snap: &snapshotCase{snap: good("r1")},
			out: Outcome{Apply: &reconcile.ApplyResult{}}, wantDelay: time.Minute, wantCalls: 1, wantRes: ResultSucceeded},
		{name: "hydrating version requeues soon", snap: &snapshotCase{snap: good("r1")},
			out: Outcome{Apply: &reconcile.ApplyResult{NotReady: notReadyV2}}, wantDelay: 5 * time.Second, wantCalls: 1, wantRes: ResultNotReady},
		{name: "another writer's lease requeues soon", snap: &snapshotCase{snap: good("r1")},
			err: locked, wantDelay: 5 * time.Second, wantCalls: 1, wantRes: ResultLocked},
		{name: "apply error backs off from the base", snap: &snapshotCase{snap: good("r1")},
			err: errConn, wantDelay: 5 * time.Second, wantCalls: 1, wantRes: ResultFailed},
		{name: "empty manifests stall without a pass", snap: &snapshotCase{snap: empty("r1")},
			wantDelay: time.Minute, wantCalls: 0, wantRes: ResultStalled},
		{name: "invalid manifests stall without a pass", snap: &snapshotCase{snap: invalid("r1")},
			wantDelay: time.Minute, wantCalls: 0, wantRes: ResultStalled},
		{name: "unreachable source without a checkout backs off without a pass", snap: &snapshotCase{err: desired.ErrFetch},
			wantDelay: 5 * time.Second, wantCalls: 0, wantRes: ResultFailed},
		{name: "unreachable source with the last good checkout still converges it", snap: &snapshotCase{snap: good("r1"), err: desired.ErrFetch},
			out: Outcome{Apply: &reconcile.ApplyResult{}}, wantDelay: 5 * time.Second, wantCalls: 1, wantRes: ResultFailed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d, src, p := newTestDaemon(t)
			src.set(tc.snap.snap, tc.snap.err)
			p.set(tc.out, tc.err)
			got := d.Reconcile(context.Background())
			if got != tc.wantDelay {
				t.Errorf("delay = %v, want %v", got, tc.wantDelay)
			}
			if p.count() != tc.wantCalls {
				t.Errorf("pass called %d times, want %d", p.count(), tc.wantCalls)
			}
			st := d.Status()
			if len(st.History) != 1 || st.History[0].Result != tc.wantRes {
				t.Fatalf("history = %+v, want one %s pass", st.History, tc.wantRes)
			}
		})
	}
}

type snapshotCase struct {
	snap *desired.Snapshot
	err  error
}

// TestBackoff proves consecutive failures double the delay up to the
// interval, and a success resets it.
func TestBackoff(t *testing.T) {
	d, _, p := newTestDaemon(t)
	p.set(Outcome{}, errConn)
	var got []time.Duration
	for range 6 {
		got = append(got, d.Reconcile(context.Background()))
	}
	p.set(Outcome{Apply: &reconcile.ApplyResult{}}, nil)
	got = append(got, d.Reconcile(context.Background()))
	p.set(Outcome{}, errConn)
	got = append(got, d.Reconcile(context.Background()))
	want := []time.Duration{5 * time.Second, 10 * time.Second, 20 * time.Second, 40 * time.Second, time.Minute, time.Minute, time.Minute, 5 * time.Second}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("delays (-want +got):\n%s", diff)
	}
}

// TestJitter proves delays spread by the jitter fraction either way.
func TestJitter(t *testing.T) {
	for _, tc := range []struct {
		name string
		rand float64
		want time.Duration
	}{
		{name: "lowest draw shortens by the fraction", rand: 0, want: 54 * time.Second},
		{name: "middle draw keeps the interval", rand: 0.5, want: time.Minute},
		{name: "highest draw lengthens by the fraction", rand: 1, want: 66 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := New(Config{Source: &fakeSource{}, Pass: (&fakePass{}).pass, Interval: time.Minute, Rand: func() float64 { return tc.rand }})
			if got := d.requeue(ResultSucceeded, 0); got != tc.want {
				t.Fatalf("requeue = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestEmptyNeverCallsPass proves an empty manifest set never reaches the
// pass function (which could prune), however often it is retried, and
// that the daemon reports it as stalled.
func TestEmptyNeverCallsPass(t *testing.T) {
	d, src, p := newTestDaemon(t)
	src.set(empty("r0"), nil)
	for range 3 {
		d.Reconcile(context.Background())
	}
	if p.count() != 0 {
		t.Fatalf("pass called %d times on an empty manifest set", p.count())
	}
	st := d.Status()
	stalled := st.Condition(ConditionStalled)
	if stalled.Status != StatusTrue || stalled.Reason != ReasonEmptyManifests {
		t.Fatalf("Stalled = %+v, want True/%s", stalled, ReasonEmptyManifests)
	}
	if ready := st.Condition(ConditionReady); ready.Status != StatusFalse {
		t.Fatalf("Ready = %+v, want False", ready)
	}
	if st.LastAttemptedRevision != "r0" || st.LastAppliedRevision != "" {
		t.Fatalf("revisions attempted %q applied %q, want r0 and none", st.LastAttemptedRevision, st.LastAppliedRevision)
	}
}

// TestConditionsDoNotFlap walks a sequence of passes and checks the
// conditions after each: a lock never touches Ready, a repeated outcome
// keeps the transition time, and each real change moves it.
func TestConditionsDoNotFlap(t *testing.T) {
	d, src, p := newTestDaemon(t)
	locked := &reconcile.LockedError{Owner: "other"}
	type cond struct{ Ready, Reconciling, Stalled string }
	steps := []struct {
		name      string
		snap      *desired.Snapshot
		fetchErr  error
		out       Outcome
		err       error
		want      cond
		readyMove bool // Ready's transition time changes
	}{
		{name: "first pass builds v2, not ready", snap: good("r1"), out: Outcome{Apply: &reconcile.ApplyResult{NotReady: notReadyV2}},
			want: cond{StatusUnknown, StatusTrue, StatusFalse}, readyMove: false},
		{name: "still hydrating", snap: good("r1"), out: Outcome{Apply: &reconcile.ApplyResult{NotReady: notReadyV2}},
			want: cond{StatusUnknown, StatusTrue, StatusFalse}, readyMove: false},
		{name: "cut over", snap: good("r1"), out: Outcome{Apply: &reconcile.ApplyResult{}},
			want: cond{StatusTrue, StatusFalse, StatusFalse}, readyMove: true},
		{name: "locked by another writer", snap: good("r1"), err: locked,
			want: cond{StatusTrue, StatusFalse, StatusFalse}, readyMove: false},
		{name: "locked again", snap: good("r1"), err: locked,
			want: cond{StatusTrue, StatusFalse, StatusFalse}, readyMove: false},
		{name: "quiet converged pass", snap: good("r1"), out: Outcome{Apply: &reconcile.ApplyResult{}},
			want: cond{StatusTrue, StatusFalse, StatusFalse}, readyMove: false},
		{name: "git unreachable, last checkout still converged", snap: good("r1"), fetchErr: desired.ErrFetch, out: Outcome{Apply: &reconcile.ApplyResult{}},
			want: cond{StatusTrue, StatusTrue, StatusFalse}, readyMove: false},
		{name: "apply fails", snap: good("r1"), err: errConn,
			want: cond{StatusFalse, StatusTrue, StatusFalse}, readyMove: true},
		{name: "invalid manifests", snap: invalid("r2"),
			want: cond{StatusFalse, StatusFalse, StatusTrue}, readyMove: false},
		{name: "fixed", snap: good("r3"), out: Outcome{Apply: &reconcile.ApplyResult{}},
			want: cond{StatusTrue, StatusFalse, StatusFalse}, readyMove: true},
	}
	prev := d.Status().Condition(ConditionReady).LastTransitionTime
	for _, s := range steps {
		src.set(s.snap, s.fetchErr)
		p.set(s.out, s.err)
		d.Reconcile(context.Background())
		st := d.Status()
		got := cond{st.Condition(ConditionReady).Status, st.Condition(ConditionReconciling).Status, st.Condition(ConditionStalled).Status}
		if got != s.want {
			t.Fatalf("after %q: conditions %+v, want %+v\n%+v", s.name, got, s.want, st.Conditions)
		}
		ready := st.Condition(ConditionReady).LastTransitionTime
		if moved := !ready.Equal(prev); moved != s.readyMove {
			t.Fatalf("after %q: Ready transition moved=%v, want %v", s.name, moved, s.readyMove)
		}
		prev = ready
	}
	st := d.Status()
	if st.LastAppliedRevision != "r3" || st.LastAttemptedRevision != "r3" {
		t.Fatalf("revisions attempted %q applied %q, want r3, r3", st.LastAttemptedRevision, st.LastAppliedRevision)
	}
}

// TestLastAppliedRevision proves the attempted revision moves on every
// fetch but the applied one only when the catalog matches it.
func TestLastAppliedRevision(t *testing.T) {
	d, src, p := newTestDaemon(t)
	p.set(Outcome{Apply: &reconcile.ApplyResult{}}, nil)
	d.Reconcile(context.Background())
	src.set(good("r2"), nil)
	p.set(Outcome{Apply: &reconcile.ApplyResult{NotReady: notReadyV2}}, nil)
	d.Reconcile(context.Background())
	st := d.Status()
	if st.LastAttemptedRevision != "r2" || st.LastAppliedRevision != "r1" {
		t.Fatalf("while r2 hydrates: attempted %q applied %q, want r2, r1", st.LastAttemptedRevision, st.LastAppliedRevision)
	}
	p.set(Outcome{Apply: &reconcile.ApplyResult{}}, nil)
	d.Reconcile(context.Background())
	if st := d.Status(); st.LastAppliedRevision != "r2" {
		t.Fatalf("after cutover applied %q, want r2", st.LastAppliedRevision)
	}
}

// TestHistoryCapped proves status keeps the last five passes, newest
// first, with their results, changes and errors.
func TestHistoryCapped(t *testing.T) {
	d, src, p := newTestDaemon(t)
	for i := 1; i <= 7; i++ {
		src.set(good(fmt.Sprintf("r%d", i)), nil)
		if i == 6 {
			p.set(Outcome{}, errConn)
		} else {
			p.set(Outcome{Apply: &reconcile.ApplyResult{Executed: make([]reconcile.Change, i)}}, nil)
		}
		d.Reconcile(context.Background())
	}
	type row struct {
		Rev     string
		Result  Result
		Changes int
		Err     string
	}
	var got []row
	for _, h := range d.Status().History {
		got = append(got, row{h.Revision, h.Result, h.Changes, h.Error})
	}
	want := []row{
		{"r7", ResultSucceeded, 7, ""},
		{"r6", ResultFailed, 0, "connection refused"},
		{"r5", ResultSucceeded, 5, ""},
		{"r4", ResultSucceeded, 4, ""},
		{"r3", ResultSucceeded, 3, ""},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("history (-want +got):\n%s", diff)
	}
}

// TestSuspend proves a suspended daemon runs no pass, and resuming asks
// for one.
func TestSuspend(t *testing.T) {
	d, _, p := newTestDaemon(t)
	d.Suspend()
	if got := d.Reconcile(context.Background()); got != time.Minute {
		t.Fatalf("suspended delay = %v, want the interval", got)
	}
	if p.count() != 0 || !d.Status().Suspended {
		t.Fatalf("suspended daemon ran %d passes (suspended=%v)", p.count(), d.Status().Suspended)
	}
	d.Resume()
	if len(d.trigger) != 1 {
		t.Fatal("resume did not ask for a pass")
	}
	d.Reconcile(context.Background())
	if p.count() != 1 {
		t.Fatalf("resumed daemon ran %d passes, want 1", p.count())
	}
}

// TestTriggersCoalesce runs the loop with a pass that blocks: three
// triggers during the first pass start exactly one more pass, and the
// loop then waits for the interval with nothing pending.
func TestTriggersCoalesce(t *testing.T) {
	src := &fakeSource{}
	src.set(good("r1"), nil)
	started := make(chan struct{})
	release := make(chan struct{})
	var mu sync.Mutex
	calls := 0
	waits := make(chan int, 10) // pending triggers seen at each wait
	var d *Daemon
	d = New(Config{
		Source: src,
		Pass: func(ctx context.Context, _ *model.Desired) (Outcome, error) {
			mu.Lock()
			calls++
			mu.Unlock()
			select {
			case started <- struct{}{}:
			case <-ctx.Done():
				return Outcome{}, ctx.Err()
			}
			select {
			case <-release:
			case <-ctx.Done():
				return Outcome{}, ctx.Err()
			}
			return Outcome{Apply: &reconcile.ApplyResult{}}, nil
		},
		Interval: time.Hour,
		After: func(time.Duration) <-chan time.Time {
			waits <- len(d.trigger)
			return nil // never fires: only triggers wake the loop
		},
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- d.Run(ctx) }()

	<-started
	d.Trigger("test")
	d.Trigger("test")
	d.Trigger("test")
	release <- struct{}{}
	if n := <-waits; n != 1 {
		t.Fatalf("after the first pass %d triggers pending, want 1 (coalesced)", n)
	}
	<-started
	release <- struct{}{}
	if n := <-waits; n != 0 {
		t.Fatalf("after the second pass %d triggers pending, want 0", n)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run = %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if calls != 2 {
		t.Fatalf("%d passes, want 2", calls)
	}
}

// TestCancelledPassNotRecorded proves a pass cut short by shutdown leaves
// no failed entry behind.
func TestCancelledPassNotRecorded(t *testing.T) {
	d, _, p := newTestDaemon(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	p.set(Outcome{}, context.Canceled)
	d.Reconcile(ctx)
	if h := d.Status().History; len(h) != 0 {
		t.Fatalf("history = %+v, want none", h)
	}
}

// TestBlockedPassIsNotReady: a pass that applied what it could but left
// blocked findings (a refused cutover) is never reported as success: Ready
// is False with reason Blocked and the findings, and the revision is not
// recorded as applied.
func TestBlockedPassIsNotReady(t *testing.T) {
	d, src, p := newTestDaemon(t)
	src.set(good("r1"), nil)
	blocked := &reconcile.BlockedError{Findings: []reconcile.Change{{Op: reconcile.OpBlocked, Kind: reconcile.KindVersion,
		Target: "app/v2", Reason: "cutover refused: schema app exists without mzsync's marker"}}}
	p.set(Outcome{Apply: &reconcile.ApplyResult{}}, blocked)
	d.Reconcile(context.Background())
	st := d.Status()
	ready := st.Condition(ConditionReady)
	if ready.Status != StatusFalse || ready.Reason != ReasonBlocked || !strings.Contains(ready.Message, "cutover refused") {
		t.Fatalf("Ready = %+v, want False/%s naming the refused cutover", ready, ReasonBlocked)
	}
	if st.LastAppliedRevision != "" {
		t.Fatalf("a blocked pass recorded %q as applied", st.LastAppliedRevision)
	}
}
