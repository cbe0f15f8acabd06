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

// LeasedPass is one apply pass as the CLI and the daemon run it. It first
// runs Apply without the lease over a session that refuses to send
// anything: when the plan has nothing to send (no change, or only changes
// behind readiness gates that are closed and not waited for) that run is
// the whole pass, and no lease is taken and no DDL sent. At the first
// statement it would send, that run stops; the lease is taken, kept alive,
// and Apply runs again from a fresh observation with every catalog change
// fenced by the lease, which is then released. Losing the lease cancels
// the apply, and the error then matches ErrLeaseLost. Finally, with
// opts.Status set, the catalog is read again for status.
func LeasedPass(ctx context.Context, db DB, obs Observer, des *model.Desired, opts PassOptions) (*PassResult, error) {
	res := &PassResult{Apply: &ApplyResult{}}
	err := leasedApply(ctx, db, obs, des, &opts, res)
	if opts.Status != nil && ctx.Err() == nil {
		res.Observed, res.StatusErr = opts.Status.Observe(ctx)
	}
	return res, err
}

// errWouldSend stops the lease-free first run at its first statement.
var errWouldSend = errors.New("a statement is to be sent: the lease is needed")

// noSendDB passes queries through and refuses every statement, cancelling
// the run it serves.
type noSendDB struct {
	db     DB
	cancel context.CancelCauseFunc
}

func (n *noSendDB) Exec(context.Context, string) error {
	n.cancel(errWouldSend)
	return errWouldSend
}

func (n *noSendDB) QueryString(ctx context.Context, sql string) (string, bool, error) {
	return n.db.QueryString(ctx, sql)
}

func (n *noSendDB) QueryRows(ctx context.Context, sql string) ([][]string, error) {
	return n.db.QueryRows(ctx, sql)
}

func leasedApply(ctx context.Context, db DB, obs Observer, des *model.Desired, opts *PassOptions, res *PassResult) error {
	if opts.Apply.DryRun {
		ar, err := Apply(ctx, db, obs, des, opts.Apply)
		if ar != nil {
			res.Apply = ar
		}
		return err
	}
	pctx, cancel := context.WithCancelCause(ctx)
	ar, err := Apply(pctx, &noSendDB{db: db, cancel: cancel}, obs, des, opts.Apply)
	wouldSend := errors.Is(context.Cause(pctx), errWouldSend)
	cancel(nil)
	if !wouldSend {
		if ar != nil {
			res.Apply = ar
		}
		return err
	}
	if ar != nil {
		res.Apply.Plan = ar.Plan
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
	ar, err = Apply(runCtx, lease.Fence(db), obs, des, opts.Apply)
	stop()
	if ar != nil {
		res.Apply = ar
	}
	rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer rcancel()
	if rerr := lease.Release(rctx); rerr != nil {
		if log := opts.Apply.Log; log != nil {
			log.Warn("release apply lease (it expires on its own)", "err", rerr)
		}
	}
	if err != nil && errors.Is(context.Cause(runCtx), ErrLeaseLost) && !errors.Is(err, ErrLeaseLost) {
		err = fmt.Errorf("%w: %w", ErrLeaseLost, err)
	}
	return err
}
