package reconcile

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/mzsync/mzsync/internal/model"
)

// The apply lease is the schema model.LeaseSchema.
//
// Materialize has no advisory locks and no row locks mzsync could rely on,
// but catalog changes are atomic and serialized: exactly one of several
// concurrent CREATE SCHEMA statements for one name succeeds, and exactly one
// of several concurrent renames of one schema does. The lease is built on
// those two facts alone, so it works on any Materialize (and on mzemu):
//
//   - acquire: CREATE SCHEMA "mzsync_lease", then write the owner and expiry
//     into its comment;
//   - renew: rewrite the comment (only while the comment still names us);
//   - take over an expired lease: rename it to a unique stale name (one
//     contender wins the rename), drop that, and acquire as usual;
//   - release: drop the schema if the comment still names us.
//
// A lease without a comment (its owner died between the two statements) is
// treated as expired once it has been seen without one for a full TTL.
const leaseSchema = model.LeaseSchema

// ErrLocked reports that another writer holds the lease.
var ErrLocked = errors.New("locked")

// ErrLeaseLost reports that a held lease was taken over or removed.
var ErrLeaseLost = errors.New("lease lost")

// LockedError says who holds the lease; it matches ErrLocked with errors.Is.
type LockedError struct {
	Owner   string
	Expires time.Time
}

func (e *LockedError) Error() string {
	if e.Owner == "" {
		return "locked by another mzsync (lease being acquired)"
	}
	return fmt.Sprintf("locked by %s until %s", e.Owner, e.Expires.UTC().Format(time.RFC3339))
}

// Is makes errors.Is(err, ErrLocked) true.
func (e *LockedError) Is(target error) bool { return target == ErrLocked }

// DB is the little of a Materialize session that apply and the lease need.
// The pgx implementation is in executor_pgx.go; nothing else in this
// package knows about pgx.
type DB interface {
	// Exec runs one statement string (which may be a BEGIN ... COMMIT
	// block) over the simple protocol.
	Exec(ctx context.Context, sql string) error
	// QueryString runs a query that returns at most one row of one text
	// column. found is false when it returns no row.
	QueryString(ctx context.Context, sql string) (value string, found bool, err error)
}

// LeaseOptions configure AcquireLease.
type LeaseOptions struct {
	// Owner identifies this writer in "locked by" messages. Default:
	// hostname, pid and a random suffix.
	Owner string
	// TTL is how long the lease lasts without renewal. Default 1m.
	TTL time.Duration
	// Wait makes AcquireLease wait for a held lease instead of failing
	// with a LockedError; the context bounds the wait.
	Wait bool
	// Poll is the interval between attempts while waiting. Default 500ms.
	Poll time.Duration
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Log receives lease events. Default: discard.
	Log *slog.Logger
	// OnChange, when set, is told when this writer starts (true) and stops
	// (false) holding the lease: acquired, released, or lost. The daemon
	// exports it as a metric.
	OnChange func(held bool)
}

func (o *LeaseOptions) defaults() {
	if o.Owner == "" {
		o.Owner = DefaultOwner()
	}
	if o.TTL <= 0 {
		o.TTL = time.Minute
	}
	if o.Poll <= 0 {
		o.Poll = 500 * time.Millisecond
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.OnChange == nil {
		o.OnChange = func(bool) {}
	}
}

// DefaultOwner returns host/pid/random, unique per process.
func DefaultOwner() string {
	host, _ := os.Hostname()
	if host == "" {
		host = "unknown"
	}
	var b [3]byte
	rand.Read(b[:])
	return fmt.Sprintf("%s/%d/%s", host, os.Getpid(), hex.EncodeToString(b[:]))
}

// Lease is a held apply lease.
type Lease struct {
	db      DB
	opts    LeaseOptions
	expires time.Time
}

// Owner returns the lease holder's identity.
func (l *Lease) Owner() string { return l.opts.Owner }

var leaseCommentQuery = `SELECT COALESCE(c.comment, '') FROM mz_catalog.mz_schemas s
  JOIN mz_catalog.mz_databases d ON d.id = s.database_id
  LEFT JOIN mz_internal.mz_comments c ON c.id = s.id AND c.object_type = 'schema' AND c.object_sub_id IS NULL
 WHERE d.name = current_database() AND s.name = ` + model.QuoteLiteral(leaseSchema)

// AcquireLease takes the apply lease, taking over an expired one. When the
// lease is held and opts.Wait is false it returns a *LockedError.
func AcquireLease(ctx context.Context, db DB, opts LeaseOptions) (*Lease, error) {
	opts.defaults()
	var commentless time.Time // when a lease without a comment was first seen
	for {
		l, err := tryAcquire(ctx, db, &opts, &commentless)
		if err == nil {
			return l, nil
		}
		var locked *LockedError
		if !errors.As(err, &locked) || !opts.Wait {
			return nil, err
		}
		opts.Log.Info("waiting for apply lease", "holder", locked.Owner)
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("wait for apply lease: %w (%w)", ctx.Err(), err)
		case <-time.After(opts.Poll):
		}
	}
}

func tryAcquire(ctx context.Context, db DB, opts *LeaseOptions, commentless *time.Time) (*Lease, error) {
	err := db.Exec(ctx, "CREATE SCHEMA "+model.QuoteIdent(leaseSchema))
	if err == nil {
		l := &Lease{db: db, opts: *opts}
		if err := l.writeComment(ctx); err != nil {
			return nil, fmt.Errorf("record apply lease owner: %w", err)
		}
		opts.Log.Debug("apply lease acquired", "owner", opts.Owner)
		opts.OnChange(true)
		return l, nil
	}
	if !isAlreadyExists(err) {
		return nil, fmt.Errorf("acquire apply lease: %w", err)
	}
	comment, found, err := db.QueryString(ctx, leaseCommentQuery)
	if err != nil {
		return nil, fmt.Errorf("read apply lease: %w", err)
	}
	if !found {
		// Released between our CREATE and our read: try again at once.
		return tryAcquire(ctx, db, opts, commentless)
	}
	now := opts.Now()
	held, ok := model.ParseLeaseComment(comment)
	owner, expires := held.Owner, held.Expires
	if !ok {
		if commentless.IsZero() {
			*commentless = now
		}
		if now.Sub(*commentless) < opts.TTL {
			return nil, &LockedError{}
		}
		owner = "(unrecorded owner)"
	} else if now.Before(expires) {
		return nil, &LockedError{Owner: owner, Expires: expires}
	}
	// Expired: take it over. Exactly one contender's rename succeeds.
	stale := fmt.Sprintf("%s%d", model.StaleLeasePrefix, now.UnixNano())
	if err := db.Exec(ctx, "ALTER SCHEMA "+model.QuoteIdent(leaseSchema)+" RENAME TO "+model.QuoteIdent(stale)); err != nil {
		if isUnknown(err) || isAlreadyExists(err) {
			return nil, &LockedError{Owner: owner, Expires: expires}
		}
		return nil, fmt.Errorf("take over expired apply lease of %s: %w", owner, err)
	}
	opts.Log.Info("took over expired apply lease", "previous_owner", owner, "expired", expires)
	if err := db.Exec(ctx, "DROP SCHEMA IF EXISTS "+model.QuoteIdent(stale)+" CASCADE"); err != nil {
		return nil, fmt.Errorf("remove expired apply lease: %w", err)
	}
	*commentless = time.Time{}
	return tryAcquire(ctx, db, opts, commentless)
}

func (l *Lease) writeComment(ctx context.Context) error {
	expires := l.opts.Now().Add(l.opts.TTL)
	if err := l.db.Exec(ctx, "COMMENT ON SCHEMA "+model.QuoteIdent(leaseSchema)+" IS "+model.QuoteLiteral(model.Lease{Owner: l.opts.Owner, Expires: expires}.String())); err != nil {
		return err
	}
	l.expires = expires
	return nil
}

// check verifies the lease still names this owner.
func (l *Lease) check(ctx context.Context) error {
	comment, found, err := l.db.QueryString(ctx, leaseCommentQuery)
	if err != nil {
		return fmt.Errorf("read apply lease: %w", err)
	}
	held, _ := model.ParseLeaseComment(comment)
	if !found || held.Owner != l.opts.Owner {
		return ErrLeaseLost
	}
	return nil
}

// Renew extends the lease by its TTL. It returns ErrLeaseLost when the
// lease no longer names this owner.
func (l *Lease) Renew(ctx context.Context) error {
	if err := l.check(ctx); err != nil {
		return err
	}
	return l.writeComment(ctx)
}

// Release gives the lease up if it is still ours.
func (l *Lease) Release(ctx context.Context) error {
	if err := l.check(ctx); err != nil {
		if errors.Is(err, ErrLeaseLost) {
			l.opts.OnChange(false)
			return nil
		}
		return err
	}
	if err := l.db.Exec(ctx, "DROP SCHEMA IF EXISTS "+model.QuoteIdent(leaseSchema)); err != nil {
		return fmt.Errorf("release apply lease: %w", err)
	}
	l.opts.OnChange(false)
	return nil
}

// KeepAlive renews the lease every TTL/3 until stop is called. The returned
// context is cancelled, with ErrLeaseLost as its cause, if renewal fails
// past the lease's expiry, so work under it stops before another writer can
// take over.
func (l *Lease) KeepAlive(ctx context.Context) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(l.opts.TTL / 3)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				err := l.Renew(ctx)
				if err == nil {
					continue
				}
				if errors.Is(err, ErrLeaseLost) || !l.opts.Now().Before(l.expires) {
					l.opts.Log.Error("apply lease lost; stopping", "err", err)
					l.opts.OnChange(false)
					cancel(ErrLeaseLost)
					return
				}
				l.opts.Log.Warn("renew apply lease", "err", err)
			}
		}
	}()
	return ctx, func() { cancel(context.Canceled); <-done }
}
