package reconcile

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/mzsync/mzsync/internal/model"
)

// PassOptions configure LeasedPass.
type PassOptions struct {
	Apply ApplyOptions
	Lease LeaseOptions
	// LeaseDB is the session the lease is taken, renewed and released on,
	// so renewal does not queue behind a long statement on the DDL
	// session. Required unless Apply.DryRun.
	LeaseDB DB
	// LockWait, when positive, waits this long for another writer's
	// lease instead of failing at once with a *LockedError.
	LockWait time.Duration
	// Status, when set, reads the catalog once more after the pass (also
	// after a failed or locked one) into PassResult.Observed; the daemon
	// sets it, with upstream inspection, for status and drift.
	Status Observer
}

// PassResult is what LeasedPass did.
type PassResult struct {
	// Apply is the apply result; its Plan is set whenever planning ran.
	Apply *ApplyResult
	// Leased says the lease was taken (the plan had work to do).
	Leased bool
	// Observed is the catalog after the pass, when opts.Status was set
	// and it could be read.
	Observed *model.Observed
	// StatusErr is why Observed could not be read.
	StatusErr error
}

// LeasedPass is one apply pass as the CLI and the daemon run it: observe
// and plan without the lease; when the plan has nothing to send (no
// change, or only changes behind a readiness gate that is not open and
// will not be waited for), stop there, sending no DDL and taking no lease.
// Otherwise take the lease, keep it alive, apply with every catalog change
// fenced by it, and release it. Losing the lease cancels the apply, and
// the error then matches ErrLeaseLost. Finally, with opts.Status set, the
// catalog is read again for status.
func LeasedPass(ctx context.Context, db DB, obs Observer, des *model.Desired, opts PassOptions) (*PassResult, error) {
	opts.Apply.defaults()
	res := &PassResult{Apply: &ApplyResult{}}
	err := leasedApply(ctx, db, obs, des, &opts, res)
	if opts.Status != nil && ctx.Err() == nil {
		res.Observed, res.StatusErr = opts.Status.Observe(ctx)
	}
	return res, err
}

func leasedApply(ctx context.Context, db DB, obs Observer, des *model.Desired, opts *PassOptions, res *PassResult) error {
	if opts.Apply.DryRun {
		ar, err := Apply(ctx, db, obs, des, opts.Apply)
		res.Apply = ar
		return err
	}
	plan, o, err := planWithRetry(ctx, obs, des, opts)
	if err != nil {
		return err
	}
	res.Apply.Plan = plan
	if opts.Apply.Fingerprint != "" && opts.Apply.Fingerprint != plan.Fingerprint {
		return ErrStalePlan
	}
	if !planSends(plan, o, des, opts.Apply.Wait) {
		opts.Apply.Log.Debug("nothing to send; the lease is not taken", "revision", plan.Revision)
		for _, c := range plan.Changes {
			if c.Op == OpWait {
				v := c.Version
				res.Apply.NotReady = &v
				break
			}
		}
		return nil
	}
	if opts.LeaseDB == nil {
		return errors.New("leased pass: no lease session")
	}
	// Taking the lease retries transient errors for as long as the pass
	// may (or, waiting for another writer, as long as LockWait).
	lopts := opts.Lease
	until := retryDeadline(ctx, opts.Apply.RetryFor)
	if until.IsZero() {
		until = time.Now().Add(time.Minute)
	}
	lctx := ctx
	if opts.LockWait > 0 {
		var cancel context.CancelFunc
		lctx, cancel = context.WithTimeout(ctx, opts.LockWait)
		defer cancel()
		lopts.Wait = true
		until = time.Time{}
	}
	lease, err := acquireLease(lctx, opts.LeaseDB, lopts, until)
	if err != nil {
		return err
	}
	res.Leased = true
	runCtx, stop := lease.KeepAlive(ctx)
	ar, err := Apply(runCtx, lease.Fence(db), obs, des, opts.Apply)
	stop()
	if ar != nil {
		res.Apply = ar
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if rerr := lease.Release(rctx); rerr != nil {
		opts.Apply.Log.Warn("release apply lease (it expires on its own)", "err", rerr)
	}
	if err != nil && errors.Is(context.Cause(runCtx), ErrLeaseLost) && !errors.Is(err, ErrLeaseLost) {
		err = fmt.Errorf("%w: %w", ErrLeaseLost, err)
	}
	return err
}

// planWithRetry observes and diffs, retrying transient errors like Apply.
func planWithRetry(ctx context.Context, obs Observer, des *model.Desired, opts *PassOptions) (*Plan, *model.Observed, error) {
	until := retryDeadline(ctx, opts.Apply.RetryFor)
	if until.IsZero() {
		until = time.Now().Add(time.Minute)
	}
	b := newBackoff()
	for {
		o, err := obs.Observe(ctx)
		if err == nil {
			plan, err := Diff(o, des, opts.Apply.Diff)
			return plan, o, err
		}
		err = fmt.Errorf("observe: %w", err)
		wait := b.next()
		if !isRetryable(err) || time.Now().Add(wait).After(until) {
			return nil, nil, err
		}
		opts.Apply.Log.Warn("transient error; observing again", "err", err, "backoff", wait)
		if serr := opts.Apply.Sleep(ctx, wait); serr != nil {
			return nil, nil, serr
		}
	}
}

// planSends reports whether applying plan would send any statement: a
// change with SQL that is not behind a closed readiness gate (one that is
// not ready in o, when the apply will not wait for it).
func planSends(plan *Plan, o *model.Observed, des *model.Desired, wait bool) bool {
	for _, c := range plan.Changes {
		switch c.Op {
		case OpBlocked, OpDrift, OpIgnored:
			continue
		case OpWait:
			if wait {
				return true
			}
			schema, version := findVersion(des, c.Version)
			if version == nil {
				return true // Apply reports it
			}
			if !Readiness(o, version, schema).Ready {
				return false
			}
			continue
		}
		if len(c.SQL) > 0 {
			return true
		}
	}
	return false
}
