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
	// RetryFor is how long transient errors (connection lost, 40001,
	// server restarting) are retried, with backoff, each time re-observing
	// and re-planning: until ctx's deadline, or RetryFor when it is set and
	// comes first. Without either, a minute.
	RetryFor time.Duration
	// Retries, when positive, also caps the number of restarted passes.
	Retries int
	// Log receives one Info line per action taken. Default: discard.
	Log *slog.Logger
	// Progress, when set, is called on every readiness poll.
	Progress func(WaitProgress)
	// Sleep waits between retries and polls; tests may shorten it.
	Sleep func(ctx context.Context, d time.Duration) error
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
	until := retryDeadline(ctx, opts.RetryFor)
	if until.IsZero() {
		until = time.Now().Add(time.Minute)
	}
	b := newBackoff()
	for attempt := 0; ; attempt++ {
		err := applyPass(ctx, db, obs, des, &opts, res, attempt == 0)
		if err == nil || !isRetryable(err) || (opts.Retries > 0 && attempt >= opts.Retries) {
			return res, err
		}
		wait := b.next()
		if time.Now().Add(wait).After(until) {
			return res, fmt.Errorf("%w (gave up retrying after %d attempts)", err, attempt+1)
		}
		res.Retries++
		opts.Log.Warn("transient error; re-observing and retrying", "err", err, "attempt", attempt+1, "backoff", wait)
		if err := opts.Sleep(ctx, wait); err != nil {
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
	// One full observation to see the objects this pass created, then one
	// readiness query per poll.
	o, err := obs.Observe(ctx)
	if err != nil {
		return false, fmt.Errorf("observe readiness of %s: %w", id, err)
	}
	for {
		r := Readiness(o, version, schema)
		if opts.Progress != nil {
			opts.Progress(WaitProgress{Version: id, Readiness: r, Elapsed: time.Since(start)})
		}
		if r.Ready {
			return true, nil
		}
		if !opts.Wait {
			return false, nil
		}
		if timeout > 0 && time.Since(start) >= timeout {
			return false, fmt.Errorf("%w: %s not ready after %s: %s", ErrReadinessTimeout, id, timeout.Round(time.Millisecond), pendingSummary(r))
		}
		if err := opts.Sleep(ctx, opts.Poll); err != nil {
			return false, err
		}
		if err := obs.RefreshReadiness(ctx, o); err != nil {
			return false, fmt.Errorf("poll readiness of %s: %w", id, err)
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
