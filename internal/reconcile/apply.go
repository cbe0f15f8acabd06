package reconcile

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/mzsync/mzsync/internal/model"
)

// ErrStalePlan reports that the catalog changed between plan and apply.
var ErrStalePlan = errors.New("stale plan: the catalog changed since the plan was made; plan again")

// ErrReadinessTimeout reports that a version did not become ready in time.
var ErrReadinessTimeout = errors.New("readiness timeout")

// ErrVersionBroken reports that a version can never become ready: one of
// its tables was stalled by an incompatible upstream schema change. Its
// cutover is blocked at once instead of waiting out a timeout.
var ErrVersionBroken = errors.New("version broken")

// Observer reads the catalog. cmd/mzsync wires internal/observed into it,
// so this package stays free of catalog SQL.
type Observer interface {
	// Observe reads the whole observed state in one batch.
	Observe(ctx context.Context) (*model.Observed, error)
	// RefreshReadiness updates the readiness facts of o's objects with a
	// single catalog query.
	RefreshReadiness(ctx context.Context, o *model.Observed) error
}

// ApplyOptions configure Apply.
type ApplyOptions struct {
	Diff Options
	// Wait polls readiness until the version is ready or Timeout passes;
	// without it Apply builds and returns, and a later pass cuts over.
	Wait bool
	// Timeout bounds the wait for readiness; zero means the schema's
	// readiness.timeout.
	Timeout time.Duration
	// Poll is the readiness poll interval. Default 500ms.
	Poll time.Duration
	// DryRun computes the plan and executes nothing.
	DryRun bool
	// Fingerprint, when set, is the observed fingerprint of a plan the
	// caller showed or saved; Apply refuses to go on if the catalog has
	// changed since (ErrStalePlan).
	Fingerprint string
	// Retries is how many times a pass restarts after a transient error
	// (connection lost, 40001). Default 5.
	Retries int
	// Log receives one Info line per action taken. Default: discard.
	Log *slog.Logger
	// Progress, when set, is called on every readiness poll.
	Progress func(WaitProgress)
	// Sleep waits between retries and polls; tests may shorten it.
	Sleep func(ctx context.Context, d time.Duration) error

	// waitDeadline is when the readiness wait gives up, fixed when the
	// first wait starts, so the timeout is a hard bound across retried
	// passes and slow or hung polls.
	waitDeadline time.Time
}

// WaitProgress reports a readiness poll.
type WaitProgress struct {
	Version   model.VersionID
	Readiness VersionReadiness
	Elapsed   time.Duration
}

// ApplyResult is what Apply did.
type ApplyResult struct {
	// Plan is the plan of the last pass.
	Plan *Plan
	// Executed lists the changes sent to Materialize, in order, across
	// retried passes.
	Executed []Change
	// NotReady is set when the pass stopped at a readiness gate without
	// --wait; the version it waits for is named. A later pass goes on.
	NotReady *model.VersionID
	// Retries counts restarted passes.
	Retries int
}

func (o *ApplyOptions) defaults() {
	if o.Poll <= 0 {
		o.Poll = 500 * time.Millisecond
	}
	if o.Retries == 0 {
		o.Retries = 5
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Sleep == nil {
		o.Sleep = sleepCtx
	}
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return context.Cause(ctx)
	case <-t.C:
		return nil
	}
}

// Apply converges Materialize towards des: it observes, diffs, and
// executes the plan's changes in order, gating cutovers on readiness. It
// stops at the first error and returns what it did with the error. After a
// transient error it re-observes and re-plans, so it resumes from what is
// in the catalog, not from where it thinks it was. The caller holds the
// lease.
func Apply(ctx context.Context, db DB, obs Observer, des *model.Desired, opts ApplyOptions) (*ApplyResult, error) {
	opts.defaults()
	res := &ApplyResult{}
	for attempt := 0; ; attempt++ {
		err := applyPass(ctx, db, obs, des, &opts, res, attempt == 0)
		if err == nil || !isRetryable(err) || attempt >= opts.Retries {
			return res, err
		}
		res.Retries++
		backoff := time.Duration(1<<min(attempt, 5)) * 100 * time.Millisecond
		opts.Log.Warn("transient error; re-observing and retrying", "err", err, "attempt", attempt+1, "backoff", backoff)
		if err := opts.Sleep(ctx, backoff); err != nil {
			return res, err
		}
	}
}

func applyPass(ctx context.Context, db DB, obs Observer, des *model.Desired, opts *ApplyOptions, res *ApplyResult, first bool) error {
	o, err := obs.Observe(ctx)
	if err != nil {
		return fmt.Errorf("observe: %w", err)
	}
	plan, err := Diff(o, des, opts.Diff)
	if err != nil {
		return err
	}
	res.Plan = plan
	if first && opts.Fingerprint != "" && opts.Fingerprint != plan.Fingerprint {
		return ErrStalePlan
	}
	if opts.DryRun {
		return nil
	}
	for _, c := range plan.Changes {
		switch c.Op {
		case OpBlocked, OpDrift, OpIgnored:
			continue
		case OpWait:
			ready, err := waitReady(ctx, obs, des, c.Version, opts)
			if err != nil {
				return err
			}
			if !ready {
				v := c.Version
				res.NotReady = &v
				opts.Log.Info("version not ready yet; cutover deferred to a later pass", "version", v.String())
				return nil
			}
			continue
		}
		if len(c.SQL) == 0 {
			continue
		}
		if err := execChange(ctx, db, c); err != nil {
			return fmt.Errorf("%s %s %s: %w", c.Op, c.Kind, c.Target, err)
		}
		res.Executed = append(res.Executed, c)
		opts.Log.Info(string(c.Op), "kind", c.Kind, "target", c.Target)
	}
	return nil
}

// Statements returns the statement strings a change sends, in order, as
// execChange sends them (for --dry-run and tests).
func Statements(c Change) []string {
	var out []string
	if len(c.SearchPath) > 0 {
		out = append(out, "SET search_path TO "+model.QuoteIdents(c.SearchPath))
	}
	if c.Transaction {
		return append(out, "BEGIN; "+strings.Join(c.SQL, "; ")+"; COMMIT")
	}
	return append(out, c.SQL...)
}

func execChange(ctx context.Context, db DB, c Change) error {
	for _, s := range Statements(c) {
		if err := db.Exec(ctx, s); err != nil {
			return err
		}
	}
	return nil
}

// waitReady evaluates the readiness gate for version id. Without
// opts.Wait it looks once; with it, it polls until ready or the timeout.
func waitReady(ctx context.Context, obs Observer, des *model.Desired, id model.VersionID, opts *ApplyOptions) (bool, error) {
	schema, version := findVersion(des, id)
	if version == nil {
		return false, fmt.Errorf("wait for %s: version not declared", id)
	}
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = schema.Readiness.Timeout
	}
	start := time.Now()
	wctx := ctx
	if opts.Wait && timeout > 0 {
		if opts.waitDeadline.IsZero() {
			opts.waitDeadline = start.Add(timeout)
		}
		var cancel context.CancelFunc
		wctx, cancel = context.WithDeadline(ctx, opts.waitDeadline)
		defer cancel()
	}
	var last *VersionReadiness
	// expired turns an error met after the wait's own deadline passed into
	// the readiness timeout, with what was still pending.
	expired := func(err error) error {
		if ctx.Err() != nil || opts.waitDeadline.IsZero() || time.Now().Before(opts.waitDeadline) {
			return err
		}
		what := "not ready"
		if last != nil {
			what = pendingSummary(*last)
		}
		return fmt.Errorf("%w: %s not ready after %s: %s", ErrReadinessTimeout, id, timeout.Round(time.Millisecond), what)
	}
	// One full observation to see the objects this pass created, then one
	// readiness query per poll.
	o, err := obs.Observe(wctx)
	if err != nil {
		return false, expired(fmt.Errorf("observe readiness of %s: %w", id, err))
	}
	for {
		r := Readiness(o, version, schema)
		last = &r
		if opts.Progress != nil {
			opts.Progress(WaitProgress{Version: id, Readiness: r, Elapsed: time.Since(start)})
		}
		if r.Ready {
			return true, nil
		}
		if len(r.Broken) > 0 {
			return false, fmt.Errorf("%w: cutover to %s blocked: %s; declare a new version that matches upstream", ErrVersionBroken, id, strings.Join(r.Broken, "; "))
		}
		if !opts.Wait {
			return false, nil
		}
		if !opts.waitDeadline.IsZero() && !time.Now().Before(opts.waitDeadline) {
			return false, expired(context.DeadlineExceeded)
		}
		if err := opts.Sleep(wctx, opts.Poll); err != nil {
			return false, expired(err)
		}
		if err := obs.RefreshReadiness(wctx, o); err != nil {
			return false, expired(fmt.Errorf("poll readiness of %s: %w", id, err))
		}
	}
}

func findVersion(des *model.Desired, id model.VersionID) (*model.Schema, *model.Version) {
	for i := range des.Schemas {
		s := &des.Schemas[i]
		if s.Name != id.Schema {
			continue
		}
		if v, ok := s.Version(id.Version); ok {
			return s, v
		}
	}
	return nil, nil
}

// pendingSummary says in one line what a version still waits for.
func pendingSummary(r VersionReadiness) string {
	parts := make([]string, 0, len(r.Pending))
	for _, p := range r.Pending {
		parts = append(parts, p.Target+": "+strings.Join(p.Reasons, ", "))
	}
	return fmt.Sprintf("%d/%d objects ready; waiting for %s", r.ReadyObjects, r.Total, strings.Join(parts, "; "))
}
