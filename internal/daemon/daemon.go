package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/mzsync/mzsync/internal/desired"
	"github.com/mzsync/mzsync/internal/drift"
	"github.com/mzsync/mzsync/internal/model"
	"github.com/mzsync/mzsync/internal/reconcile"
)

// Result classifies a finished pass.
type Result string

// Pass results, as they appear in status and in the result label of
// mzsync_reconcile_passes_total.
const (
	// ResultSucceeded: the catalog matches the desired state.
	ResultSucceeded Result = "succeeded"
	// ResultNotReady: a version is built but still hydrating; the next
	// pass, soon, cuts over once it is ready.
	ResultNotReady Result = "not_ready"
	// ResultLocked: another writer holds the apply lease; nothing was done.
	ResultLocked Result = "locked"
	// ResultFailed: fetching the source or applying failed; retried with
	// exponential backoff.
	ResultFailed Result = "failed"
	// ResultStalled: the manifests are invalid or empty; nothing was
	// applied, and retrying sooner than the interval cannot help.
	ResultStalled Result = "stalled"
)

var allResults = []Result{ResultSucceeded, ResultNotReady, ResultLocked, ResultFailed, ResultStalled}

// Outcome is what a pass function reports. Every field may be nil: the
// pass may fail before applying, or the catalog may not be readable
// afterwards.
type Outcome struct {
	// Apply is the apply result (its Executed changes and NotReady).
	Apply *reconcile.ApplyResult
	// Status is the catalog status after the pass.
	Status *reconcile.StatusReport
	// Drift is the upstream drift after the pass.
	Drift *drift.Report
}

// PassFunc converges the catalog towards des once, without waiting for
// readiness. A lease held by another writer is reported as an error
// matching reconcile.ErrLocked.
type PassFunc func(ctx context.Context, des *model.Desired) (Outcome, error)

// Config configures a Daemon. Source and Pass are required.
type Config struct {
	// Source yields the manifest tree on every pass.
	Source desired.Source
	// Pass converges the catalog once.
	Pass PassFunc
	// Guard, when set, may refuse a desired state before its pass (see
	// RevisionGuard); fetchFailed says the source could not be reached and
	// des is its last good snapshot. A refused pass is stalled.
	Guard func(ctx context.Context, des *model.Desired, fetchFailed bool) error
	// Interval is the time between passes when all is well, and the cap of
	// the retry backoff. Default 1m.
	Interval time.Duration
	// RequeueReady is the time before the next pass while a version is
	// hydrating or another writer holds the lease. Default 5s.
	RequeueReady time.Duration
	// RetryBase is the first retry delay after a failed pass; it doubles
	// with every consecutive failure up to Interval. Default 5s.
	RetryBase time.Duration
	// Jitter spreads requeue delays by up to this fraction either way so
	// several daemons do not pass in step. Default 0.1; negative disables.
	Jitter float64
	// Log receives one Info line per action. Default: discard.
	Log *slog.Logger
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// After waits for a requeue delay. Default time.After.
	After func(time.Duration) <-chan time.Time
	// Rand returns a number in [0, 1) for jitter. Default math/rand/v2.
	Rand func() float64
	// PassTimeout bounds one pass, fetch included; a pass that runs out
	// of it is counted as failed. Default 5m.
	PassTimeout time.Duration
	// UnhealthyAfter: /healthz turns unhealthy when no pass has finished
	// for this long (while not suspended). Default the larger of three
	// intervals and PassTimeout plus one interval.
	UnhealthyAfter time.Duration
}

func (c *Config) defaults() {
	if c.Interval <= 0 {
		c.Interval = time.Minute
	}
	if c.RequeueReady <= 0 {
		c.RequeueReady = 5 * time.Second
	}
	if c.RetryBase <= 0 {
		c.RetryBase = 5 * time.Second
	}
	if c.Jitter == 0 {
		c.Jitter = 0.1
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.After == nil {
		c.After = time.After
	}
	if c.Rand == nil {
		c.Rand = rand.Float64
	}
	if c.PassTimeout <= 0 {
		c.PassTimeout = 5 * time.Minute
	}
	if c.UnhealthyAfter <= 0 {
		c.UnhealthyAfter = max(3*c.Interval, c.PassTimeout+c.Interval)
	}
}

// Daemon is the reconciling loop and its recorded state. Its methods are
// safe for concurrent use; Run is called once.
type Daemon struct {
	cfg     Config
	trigger chan struct{}
	metrics *metrics

	mu sync.Mutex
	st state
}

// state is what the daemon remembers between passes; mu guards it.
type state struct {
	suspended     bool
	lastAttempted string
	lastApplied   string
	lastAppliedAt time.Time
	nextPassAt    time.Time
	conditions    []Condition
	history       []PassRecord
	catalog       *reconcile.StatusReport
	drift         *drift.Report
	// failures counts consecutive failed passes, for the backoff.
	failures int
	// completed counts passes since start, for /readyz.
	completed int
	// lastFinishedAt is when the last pass finished (start time before
	// the first), for /healthz.
	lastFinishedAt time.Time
	lastResult     Result
	lastError      string
}

// New returns a Daemon. It panics when cfg lacks Source or Pass, which is a
// programming error.
func New(cfg Config) *Daemon {
	if cfg.Source == nil || cfg.Pass == nil {
		panic("daemon: Config needs Source and Pass")
	}
	cfg.defaults()
	d := &Daemon{cfg: cfg, trigger: make(chan struct{}, 1), metrics: newMetrics()}
	now := cfg.Now()
	d.st.lastFinishedAt = now
	d.st.conditions = []Condition{
		{Type: ConditionReady, Status: StatusUnknown, Reason: ReasonInitializing, Message: "No pass has completed yet.", LastTransitionTime: now},
		{Type: ConditionReconciling, Status: StatusTrue, Reason: ReasonProgressing, Message: "The first pass is pending.", LastTransitionTime: now},
		{Type: ConditionStalled, Status: StatusFalse, Reason: ReasonInitializing, Message: "", LastTransitionTime: now},
	}
	d.metrics.setConditions(d.st.conditions)
	return d
}

// Trigger asks for a pass as soon as the current one (if any) ends. It
// never blocks; triggers that arrive before the next pass starts coalesce
// into that one pass. why is logged at debug level.
func (d *Daemon) Trigger(why string) {
	d.cfg.Log.Debug("pass requested", "by", why)
	select {
	case d.trigger <- struct{}{}:
	default:
	}
}

// Suspend stops passes until Resume. A pass in progress finishes.
func (d *Daemon) Suspend() {
	d.mu.Lock()
	changed := !d.st.suspended
	d.st.suspended = true
	d.mu.Unlock()
	d.metrics.suspended.Set(1)
	if changed {
		d.cfg.Log.Info("reconciliation suspended")
	}
}

// Resume lifts a suspension and asks for a pass at once.
func (d *Daemon) Resume() {
	d.mu.Lock()
	changed := d.st.suspended
	d.st.suspended = false
	d.mu.Unlock()
	d.metrics.suspended.Set(0)
	if changed {
		d.cfg.Log.Info("reconciliation resumed")
	}
	d.Trigger("resume")
}

// Run reconciles until ctx is done: a pass, then a wait for the requeue
// delay or a trigger, and again. It returns nil when ctx is done.
func (d *Daemon) Run(ctx context.Context) error {
	for {
		delay := d.Reconcile(ctx)
		if ctx.Err() != nil {
			return nil
		}
		d.mu.Lock()
		d.st.nextPassAt = d.cfg.Now().Add(delay)
		d.mu.Unlock()
		select {
		case <-ctx.Done():
			return nil
		case <-d.cfg.After(delay):
		case <-d.trigger:
		}
	}
}

// Reconcile runs one pass, unless the daemon is suspended, records it and
// returns the delay before the next one. A pass cut short by ctx is not
// recorded.
func (d *Daemon) Reconcile(ctx context.Context) time.Duration {
	d.mu.Lock()
	suspended := d.st.suspended
	d.mu.Unlock()
	if suspended {
		return d.cfg.Interval
	}

	start := d.cfg.Now()
	rec := PassRecord{StartedAt: start}
	parent := ctx
	ctx, cancel := context.WithTimeout(parent, d.cfg.PassTimeout)
	defer cancel()
	snap, fetchErr := d.cfg.Source.Fetch(ctx)
	if parent.Err() != nil {
		return 0
	}
	fetchErr = d.overran(ctx, fetchErr)
	if snap == nil {
		if fetchErr == nil {
			fetchErr = errors.New("source returned no snapshot")
		}
		err := fmt.Errorf("fetch %s: %w", d.cfg.Source, fetchErr)
		return d.finish(rec, ResultFailed, ReasonFetchFailed, err, Outcome{}, false)
	}
	rec.Revision = snap.Revision
	d.mu.Lock()
	d.st.lastAttempted = snap.Revision
	d.mu.Unlock()

	des, err := snap.Load()
	if err != nil {
		reason := ReasonValidationFailed
		if errors.Is(err, desired.ErrEmpty) {
			reason = ReasonEmptyManifests
		}
		return d.finish(rec, ResultStalled, reason, fmt.Errorf("load revision %s: %w", snap.Revision, err), Outcome{}, false)
	}

	if d.cfg.Guard != nil {
		if err := d.cfg.Guard(ctx, des, fetchErr != nil); err != nil {
			if parent.Err() != nil {
				return 0
			}
			return d.finish(rec, ResultStalled, ReasonOlderRevision, err, Outcome{}, false)
		}
	}

	out, passErr := d.cfg.Pass(ctx, des)
	if parent.Err() != nil {
		return 0
	}
	passErr = d.overran(ctx, passErr)
	switch {
	case errors.Is(passErr, reconcile.ErrLocked):
		return d.finish(rec, ResultLocked, ReasonLocked, passErr, out, false)
	case errors.Is(passErr, reconcile.ErrBlocked):
		// Everything that could be applied was; what is left needs a
		// person (a refused cutover, drift, an immutable version changed).
		return d.finish(rec, ResultStalled, ReasonBlocked, passErr, out, false)
	case passErr != nil:
		return d.finish(rec, ResultFailed, ReasonFailed, passErr, out, false)
	}
	converged := out.Apply == nil || out.Apply.NotReady == nil
	if fetchErr != nil {
		// The remote is unreachable; the pass converged on the last good
		// checkout. Say so, and fetch again with backoff.
		err := fmt.Errorf("fetch %s (reconciled the last good revision %s): %w", d.cfg.Source, snap.Revision, fetchErr)
		return d.finish(rec, ResultFailed, ReasonFetchFailed, err, out, converged)
	}
	if !converged {
		return d.finish(rec, ResultNotReady, ReasonWaitingForReadiness, nil, out, false)
	}
	return d.finish(rec, ResultSucceeded, ReasonSucceeded, nil, out, true)
}

// overran makes a pass that ran out of its deadline a failure that says
// so, whatever the pass itself returned.
func (d *Daemon) overran(ctx context.Context, err error) error {
	if !errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return err
	}
	if err == nil {
		err = ctx.Err()
	}
	return fmt.Errorf("pass exceeded its deadline of %s: %w", d.cfg.PassTimeout, err)
}

// finish records a pass and returns its requeue delay. applied says the
// catalog now matches the pass's revision.
func (d *Daemon) finish(rec PassRecord, res Result, reason string, err error, out Outcome, applied bool) time.Duration {
	now := d.cfg.Now()
	rec.Result = res
	rec.Duration = now.Sub(rec.StartedAt)
	rec.DurationSeconds = rec.Duration.Seconds()
	if err != nil {
		rec.Error = err.Error()
	}
	if out.Apply != nil {
		rec.Changes = len(out.Apply.Executed)
		for _, c := range out.Apply.Executed {
			d.metrics.changes.WithLabelValues(string(c.Op)).Inc()
		}
	}

	d.mu.Lock()
	prevResult, prevErr, prevRev := d.st.lastResult, d.st.lastError, d.lastRevisionLocked()
	d.st.completed++
	d.st.lastFinishedAt = now
	d.st.lastResult, d.st.lastError = res, rec.Error
	d.st.history = append([]PassRecord{rec}, d.st.history...)
	if len(d.st.history) > historyLen {
		d.st.history = d.st.history[:historyLen]
	}
	if out.Status != nil {
		d.st.catalog = out.Status
	}
	if out.Drift != nil {
		d.st.drift = out.Drift
	}
	if res == ResultFailed {
		d.st.failures++
	} else {
		d.st.failures = 0
	}
	failures := d.st.failures
	if applied {
		d.st.lastApplied = rec.Revision
		d.st.lastAppliedAt = now
		d.metrics.lastApplied.Set(float64(now.UnixNano()) / 1e9)
	}
	d.updateConditionsLocked(res, reason, rec, out, applied, now)
	conds := append([]Condition(nil), d.st.conditions...)
	d.mu.Unlock()

	d.metrics.passes.WithLabelValues(string(res)).Inc()
	d.metrics.duration.Observe(rec.DurationSeconds)
	d.metrics.setConditions(conds)
	d.metrics.setOutcome(out)

	delay := d.requeue(res, failures)
	d.logPass(rec, res, prevResult, prevErr, prevRev, delay, out)
	return delay
}

// lastRevisionLocked is the revision of the newest recorded pass.
func (d *Daemon) lastRevisionLocked() string {
	if len(d.st.history) == 0 {
		return ""
	}
	return d.st.history[0].Revision
}

// logPass says what a pass did: Info when it acted or something changed,
// Debug for a quiet pass that only confirmed the state.
func (d *Daemon) logPass(rec PassRecord, res, prevResult Result, prevErr, prevRev string, delay time.Duration, out Outcome) {
	attrs := []any{"result", string(res), "revision", rec.Revision, "changes", rec.Changes, "duration", rec.Duration.Round(time.Millisecond), "next", delay.Round(time.Millisecond)}
	if out.Apply != nil && out.Apply.NotReady != nil {
		attrs = append(attrs, "waiting_for", out.Apply.NotReady.String())
	}
	if rec.Error != "" {
		attrs = append(attrs, "err", rec.Error)
	}
	changed := res != prevResult || rec.Revision != prevRev || rec.Error != prevErr
	switch {
	case res == ResultFailed:
		d.cfg.Log.Error("pass failed", attrs...)
	case res == ResultStalled && changed:
		d.cfg.Log.Warn("pass stalled: manifests cannot be applied", attrs...)
	case rec.Changes > 0 || changed:
		d.cfg.Log.Info("pass finished", attrs...)
	default:
		d.cfg.Log.Debug("pass finished", attrs...)
	}
}

// requeue decides the delay before the next pass.
func (d *Daemon) requeue(res Result, failures int) time.Duration {
	switch res {
	case ResultNotReady:
		return d.cfg.RequeueReady
	case ResultLocked:
		return d.jitter(d.cfg.RequeueReady)
	case ResultFailed:
		return d.jitter(backoff(d.cfg.RetryBase, d.cfg.Interval, failures))
	default:
		return d.jitter(d.cfg.Interval)
	}
}

// backoff is base doubled for every failure after the first, capped.
func backoff(base, limit time.Duration, failures int) time.Duration {
	delay := base
	for i := 1; i < failures && delay < limit; i++ {
		delay *= 2
	}
	return min(delay, limit)
}

func (d *Daemon) jitter(delay time.Duration) time.Duration {
	if d.cfg.Jitter < 0 {
		return delay
	}
	f := 1 + d.cfg.Jitter*(2*d.cfg.Rand()-1)
	return time.Duration(float64(delay) * f)
}

// SetLeaseHeld records whether this process holds the apply lease (wire
// it to reconcile.LeaseOptions.OnChange); /metrics exports it.
func (d *Daemon) SetLeaseHeld(held bool) {
	v := 0.0
	if held {
		v = 1
	}
	d.metrics.leaseHeld.Set(v)
}

// Healthy reports whether the loop is alive (for /healthz): a pass has
// finished within UnhealthyAfter, or the daemon is suspended. Otherwise
// it says since when no pass has finished.
func (d *Daemon) Healthy() (bool, string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.st.suspended {
		return true, ""
	}
	since := d.cfg.Now().Sub(d.st.lastFinishedAt)
	if since <= d.cfg.UnhealthyAfter {
		return true, ""
	}
	what := "no pass has finished"
	if d.st.completed == 0 {
		what = "no pass has finished since start"
	}
	return false, fmt.Sprintf("%s for %s (limit %s): the reconcile loop is stuck", what, since.Round(time.Second), d.cfg.UnhealthyAfter)
}

// Ready reports whether a pass has completed since start (for /readyz).
func (d *Daemon) Ready() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.st.completed > 0
}
