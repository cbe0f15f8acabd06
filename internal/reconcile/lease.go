package reconcile

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mzsync/mzsync/internal/model"
)

// The apply lease; the protocol is described in the package documentation
// (doc.go, "The apply lease").
const leaseSchema = model.LeaseSchema

// ErrLocked reports that another writer holds the lease.
var ErrLocked = errors.New("locked")

// ErrLeaseLost reports that a held lease was taken over, removed, or not
// renewed within its renew deadline; work under it stops.
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
	// QueryRows runs a query whose columns are all text (NULL reads as
	// "") and returns its rows.
	QueryRows(ctx context.Context, sql string) ([][]string, error)
}

// LeaseOptions configure AcquireLease. The durations must satisfy
// TTL > RenewDeadline > RetryPeriod.
type LeaseOptions struct {
	// Owner identifies this writer in "locked by" messages. Default:
	// hostname, pid and a random suffix.
	Owner string
	// TTL is how long the lease lasts without renewal, by the server's
	// clock. Default 1m.
	TTL time.Duration
	// RenewDeadline: a holder whose last successful renewal was sent this
	// long ago stops acting (its work context is cancelled) and sends no
	// more DDL. Default 2/3 of TTL.
	RenewDeadline time.Duration
	// RetryPeriod is the time between renewals. Default TTL/6.
	RetryPeriod time.Duration
	// Wait makes AcquireLease wait for a held lease instead of failing
	// with a LockedError; the context bounds the wait.
	Wait bool
	// Poll is the interval between attempts while waiting. Default 500ms.
	Poll time.Duration
	// Now is this host's clock. It only measures durations (the renew
	// deadline); whether a lease has expired is always judged by the
	// server's clock. Default time.Now.
	Now func() time.Time
	// Log receives lease events. Default: discard.
	Log *slog.Logger
	// OnChange, when set, is told when this writer starts (true) and stops
	// (false) holding the lease: acquired, released, or lost. The daemon
	// exports it as a metric.
	OnChange func(held bool)
}

func (o *LeaseOptions) defaults() error {
	if o.Owner == "" {
		o.Owner = DefaultOwner()
	}
	if o.TTL <= 0 {
		o.TTL = time.Minute
	}
	if o.RenewDeadline <= 0 {
		o.RenewDeadline = o.TTL * 2 / 3
	}
	if o.RetryPeriod <= 0 {
		o.RetryPeriod = o.TTL / 6
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
	if !(o.TTL > o.RenewDeadline && o.RenewDeadline > o.RetryPeriod) {
		return fmt.Errorf("apply lease: need TTL (%s) > renew deadline (%s) > retry period (%s)", o.TTL, o.RenewDeadline, o.RetryPeriod)
	}
	return nil
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

func newToken() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func fenceName(token string) string   { return model.LeaseFencePrefix + token }
func newName(token string) string     { return model.LeaseNewPrefix + token }
func pendingName(token string) string { return model.LeasePendingPrefix + token }
func staleName(token, what string) string {
	return model.StaleLeasePrefix + token + "_" + what
}

func renameSchema(from, to string) string {
	return "ALTER SCHEMA " + model.QuoteIdent(from) + " RENAME TO " + model.QuoteIdent(to)
}

// leaseStateQuery lists the lease record and every helper schema with its
// comment, after one row with the server's clock ("" name, epoch seconds).
var leaseStateQuery = `SELECT '' AS name, extract(epoch FROM now())::text AS comment, '' AS id
UNION ALL
SELECT s.name, COALESCE(c.comment, ''), s.id FROM mz_catalog.mz_schemas s
  JOIN mz_catalog.mz_databases d ON d.id = s.database_id
  LEFT JOIN mz_internal.mz_comments c ON c.id = s.id AND c.object_type = 'schema' AND c.object_sub_id IS NULL
 WHERE d.name = current_database() AND s.name LIKE ` + model.QuoteLiteral(leaseSchema+"%")

// leaseState is one reading of the lease schemas.
type leaseState struct {
	// hostBefore is this host's clock just before the query was sent.
	hostBefore time.Time
	// now is the server's clock during the query.
	now time.Time
	// recordID is the record schema's ID; "" when there is no lease.
	recordID      string
	recordComment string
	// comments maps every other lease schema to its comment.
	comments map[string]string
}

func (s *leaseState) hasRecord() bool { return s.recordID != "" }

func (s *leaseState) has(name string) bool { _, ok := s.comments[name]; return ok }

func readLeaseState(ctx context.Context, db DB, now func() time.Time) (*leaseState, error) {
	st := &leaseState{hostBefore: now(), comments: map[string]string{}}
	rows, err := db.QueryRows(ctx, leaseStateQuery)
	if err != nil {
		return nil, fmt.Errorf("read apply lease: %w", err)
	}
	sawNow := false
	for _, r := range rows {
		if len(r) != 3 {
			return nil, fmt.Errorf("read apply lease: %d columns, want 3", len(r))
		}
		switch {
		case r[0] == "":
			t, err := parseEpoch(r[1])
			if err != nil {
				return nil, fmt.Errorf("read the server's clock: %w", err)
			}
			st.now, sawNow = t, true
		case r[0] == leaseSchema:
			st.recordID, st.recordComment = r[2], r[1]
		case model.IsLeaseSchema(r[0]):
			st.comments[r[0]] = r[1]
		}
	}
	if !sawNow {
		return nil, errors.New("read the server's clock: no row")
	}
	return st, nil
}

func parseEpoch(s string) (time.Time, error) {
	sec, frac, _ := strings.Cut(strings.TrimSpace(s), ".")
	whole, err := strconv.ParseInt(sec, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("epoch %q: %w", s, err)
	}
	var nanos int64
	if frac != "" {
		frac = (frac + "000000000")[:9]
		if nanos, err = strconv.ParseInt(frac, 10, 64); err != nil {
			return time.Time{}, fmt.Errorf("epoch %q: %w", s, err)
		}
	}
	return time.Unix(whole, nanos).UTC(), nil
}

// Lease is a held apply lease.
type Lease struct {
	db    DB
	opts  LeaseOptions
	token string

	// mu serializes renewal, fenced statements and release, so a renewal
	// never lands inside this holder's own DDL transaction.
	mu sync.Mutex

	stateMu  sync.Mutex
	deadline time.Time // host clock: stop acting at this time unless renewed
	expires  time.Time // server clock, as last written
	lost     bool
	released bool
	cancel   context.CancelCauseFunc // KeepAlive's, while it runs
	renewed  chan struct{}           // signalled on every successful renewal
	renewing atomic.Bool             // a KeepAlive renewal is in flight
}

// Owner returns the lease holder's identity.
func (l *Lease) Owner() string { return l.opts.Owner }

// Token returns the token of this holding of the lease.
func (l *Lease) Token() string { return l.token }

// AcquireLease takes the apply lease, taking over an expired one. When the
// lease is held and opts.Wait is false it returns a *LockedError.
// Transient errors (lost connection, 40001) are retried until ctx is done.
func AcquireLease(ctx context.Context, db DB, opts LeaseOptions) (*Lease, error) {
	return acquireLease(ctx, db, opts, time.Time{})
}

// acquireLease is AcquireLease that also stops retrying transient errors
// at retryUntil (host clock), when set, without cutting an attempt short.
func acquireLease(ctx context.Context, db DB, opts LeaseOptions, retryUntil time.Time) (*Lease, error) {
	if err := opts.defaults(); err != nil {
		return nil, err
	}
	a := &acquirer{db: db, opts: &opts, orphanSince: map[string]time.Time{}}
	backoff := newBackoff()
	for {
		l, err := a.try(ctx)
		if err == nil {
			return l, nil
		}
		var locked *LockedError
		switch {
		case isRetryable(err) && (retryUntil.IsZero() || time.Now().Add(backoff.peek()).Before(retryUntil)):
			d := backoff.next()
			opts.Log.Warn("transient error taking the apply lease; retrying", "err", err, "backoff", d)
			if serr := sleepCtx(ctx, d); serr != nil {
				return nil, fmt.Errorf("acquire apply lease: %w (after: %w)", serr, err)
			}
			continue
		case !errors.As(err, &locked) || !opts.Wait:
			return nil, err
		}
		backoff.reset()
		opts.Log.Info("waiting for apply lease", "holder", locked.Owner)
		if serr := sleepCtx(ctx, opts.Poll); serr != nil {
			return nil, fmt.Errorf("wait for apply lease: %w (%w)", serr, err)
		}
	}
}

type acquirer struct {
	db   DB
	opts *LeaseOptions
	// orphanSince is when (server clock) a record without a fence, keyed
	// by its schema ID, was first seen.
	orphanSince map[string]time.Time
}

func (a *acquirer) try(ctx context.Context) (*Lease, error) {
	st, err := readLeaseState(ctx, a.db, a.opts.Now)
	if err != nil {
		return nil, err
	}
	if !st.hasRecord() {
		return a.install(ctx, st, "")
	}
	rec, recOK := model.ParseLeaseComment(st.recordComment)
	if recOK && rec.Token != "" && st.has(fenceName(rec.Token)) {
		expires := rec.Expires
		if f, ok := model.ParseLeaseComment(st.comments[fenceName(rec.Token)]); ok {
			expires = f.Expires
		}
		if st.now.Before(expires) {
			return nil, &LockedError{Owner: rec.Owner, Expires: expires}
		}
		a.opts.Log.Info("taking over expired apply lease", "previous_owner", rec.Owner, "expired", expires)
		return a.install(ctx, st, rec.Token)
	}
	// A record without a fence: written by an older mzsync (no token), or
	// its fence was removed by hand. It expires at its recorded expiry, or
	// a TTL after it was first seen without one.
	first, ok := a.orphanSince[st.recordID]
	if !ok {
		first = st.now
		a.orphanSince[st.recordID] = first
	}
	expires := first.Add(a.opts.TTL)
	if recOK && rec.Token == "" {
		expires = rec.Expires
	}
	if st.now.Before(expires) {
		return nil, &LockedError{Owner: rec.Owner, Expires: expires}
	}
	// Give the record a fence so the takeover is the same compare-and-swap
	// as any other, then check the record is still the one judged expired.
	tok := rec.Token
	if tok == "" {
		tok = "id" + sanitizeToken(st.recordID)
	}
	if err := a.db.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+model.QuoteIdent(fenceName(tok))); err != nil {
		return nil, fmt.Errorf("fence the orphaned apply lease of %s: %w", orDefault(rec.Owner, "(unrecorded owner)"), err)
	}
	again, err := readLeaseState(ctx, a.db, a.opts.Now)
	if err != nil {
		return nil, err
	}
	if again.recordID != st.recordID {
		a.db.Exec(ctx, "DROP SCHEMA IF EXISTS "+model.QuoteIdent(fenceName(tok)))
		return nil, &LockedError{}
	}
	a.opts.Log.Info("taking over orphaned apply lease", "previous_owner", rec.Owner)
	return a.install(ctx, again, tok)
}

func sanitizeToken(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	return b.String()
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// install makes this contender the holder in one DDL transaction: its
// pending fence and its commented record are renamed into place; with
// prev set, the previous holder's fence and record are renamed away first
// (the compare-and-swap: only one contender can rename prev's fence).
func (a *acquirer) install(ctx context.Context, st *leaseState, prev string) (*Lease, error) {
	tok := newToken()
	expires := st.now.Add(a.opts.TTL)
	rec := model.Lease{Owner: a.opts.Owner, Expires: expires, Token: tok}
	cleanup := func() {
		c := context.WithoutCancel(ctx)
		a.db.Exec(c, "DROP SCHEMA IF EXISTS "+model.QuoteIdent(newName(tok)))
		a.db.Exec(c, "DROP SCHEMA IF EXISTS "+model.QuoteIdent(pendingName(tok)))
	}
	for _, s := range []string{
		"CREATE SCHEMA " + model.QuoteIdent(newName(tok)),
		"COMMENT ON SCHEMA " + model.QuoteIdent(newName(tok)) + " IS " + model.QuoteLiteral(rec.String()),
		"CREATE SCHEMA " + model.QuoteIdent(pendingName(tok)),
	} {
		if err := a.db.Exec(ctx, s); err != nil {
			cleanup()
			return nil, fmt.Errorf("prepare apply lease: %w", err)
		}
	}
	var stmts []string
	if prev != "" {
		stmts = append(stmts,
			renameSchema(fenceName(prev), staleName(prev, "fence")),
			renameSchema(leaseSchema, staleName(prev, "record")))
	}
	stmts = append(stmts,
		renameSchema(pendingName(tok), fenceName(tok)),
		renameSchema(newName(tok), leaseSchema))
	err := a.db.Exec(ctx, "BEGIN; "+strings.Join(stmts, "; ")+"; COMMIT")
	if err != nil && isRetryable(err) {
		// The outcome of COMMIT may be unknown: look.
		if again, rerr := readLeaseState(context.WithoutCancel(ctx), a.db, a.opts.Now); rerr == nil {
			if r, ok := model.ParseLeaseComment(again.recordComment); ok && r.Token == tok {
				err = nil
			}
		}
	}
	if err != nil {
		cleanup()
		if isAlreadyExists(err) || isUnknown(err) {
			// Another contender installed first, or took over prev first.
			return nil, &LockedError{}
		}
		return nil, fmt.Errorf("install apply lease: %w", err)
	}
	l := &Lease{db: a.db, opts: *a.opts, token: tok, deadline: st.hostBefore.Add(a.opts.RenewDeadline), expires: expires, renewed: make(chan struct{}, 1)}
	a.opts.Log.Debug("apply lease acquired", "owner", a.opts.Owner, "token", tok)
	a.opts.OnChange(true)
	l.cleanStale(ctx, st, prev)
	return l, nil
}

// cleanStale drops what earlier holders and crashed contenders left
// behind: stale schemas always (they are never live state), contenders'
// records and pending fences once their recorded expiry has passed.
// Dropping a live contender's schemas would only make its install fail.
func (l *Lease) cleanStale(ctx context.Context, st *leaseState, prev string) {
	var drop []string
	if prev != "" {
		drop = append(drop, staleName(prev, "fence"), staleName(prev, "record"))
	}
	for name, comment := range st.comments {
		switch {
		case strings.HasPrefix(name, model.StaleLeasePrefix):
			drop = append(drop, name)
		case strings.HasPrefix(name, model.LeaseNewPrefix):
			if r, ok := model.ParseLeaseComment(comment); !ok || !st.now.Before(r.Expires) {
				drop = append(drop, name, model.LeasePendingPrefix+strings.TrimPrefix(name, model.LeaseNewPrefix))
			}
		case strings.HasPrefix(name, model.LeasePendingPrefix):
			if !st.has(model.LeaseNewPrefix + strings.TrimPrefix(name, model.LeasePendingPrefix)) {
				drop = append(drop, name)
			}
		}
	}
	for _, name := range drop {
		if err := l.db.Exec(ctx, "DROP SCHEMA IF EXISTS "+model.QuoteIdent(name)+" CASCADE"); err != nil {
			l.opts.Log.Warn("remove stale apply lease schema", "schema", name, "err", err)
		}
	}
}

// lose marks the lease lost (once): the holder stops acting and its work
// context is cancelled.
func (l *Lease) lose(why error) {
	l.stateMu.Lock()
	if l.lost || l.released {
		l.stateMu.Unlock()
		return
	}
	l.lost = true
	cancel := l.cancel
	l.stateMu.Unlock()
	l.opts.Log.Error("apply lease lost; stopping", "err", why)
	l.opts.OnChange(false)
	if cancel != nil {
		cancel(ErrLeaseLost)
	}
}

// usable reports ErrLeaseLost when the lease is lost or the renew deadline
// has passed (which loses it).
func (l *Lease) usable() error {
	l.stateMu.Lock()
	lost, deadline := l.lost || l.released, l.deadline
	l.stateMu.Unlock()
	if lost {
		return ErrLeaseLost
	}
	if !l.opts.Now().Before(deadline) {
		l.lose(errors.New("not renewed within the renew deadline"))
		return ErrLeaseLost
	}
	return nil
}

// Renew extends the lease by its TTL from the server's current time. It
// returns ErrLeaseLost when the lease is no longer this holder's, or its
// renew deadline has passed.
func (l *Lease) Renew(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.renewLocked(ctx)
}

func (l *Lease) renewLocked(ctx context.Context) error {
	if err := l.usable(); err != nil {
		return err
	}
	hostBefore := l.opts.Now()
	v, _, err := l.db.QueryString(ctx, "SELECT extract(epoch FROM now())::text")
	if err != nil {
		return fmt.Errorf("renew apply lease: read the server's clock: %w", err)
	}
	now, err := parseEpoch(v)
	if err != nil {
		return fmt.Errorf("renew apply lease: %w", err)
	}
	// The deadline may have passed while the clock was read.
	if err := l.usable(); err != nil {
		return err
	}
	expires := now.Add(l.opts.TTL)
	rec := model.Lease{Owner: l.opts.Owner, Expires: expires, Token: l.token}
	err = l.db.Exec(ctx, "COMMENT ON SCHEMA "+model.QuoteIdent(fenceName(l.token))+" IS "+model.QuoteLiteral(rec.String()))
	if err != nil {
		if isUnknown(err) {
			l.lose(fmt.Errorf("fence %s is gone: taken over", fenceName(l.token)))
			return ErrLeaseLost
		}
		return fmt.Errorf("renew apply lease: %w", err)
	}
	l.stateMu.Lock()
	l.deadline = hostBefore.Add(l.opts.RenewDeadline)
	l.expires = expires
	l.stateMu.Unlock()
	select {
	case l.renewed <- struct{}{}:
	default:
	}
	return nil
}

// check is the fencing check before a statement that cannot share a
// transaction with the fence: the record still names this holder's token,
// its fence exists, and by the server's clock the lease has at least
// (TTL - RenewDeadline)/2 left (renewing first if not). mu is held.
func (l *Lease) checkLocked(ctx context.Context) error {
	if err := l.usable(); err != nil {
		return err
	}
	st, err := readLeaseState(ctx, l.db, l.opts.Now)
	if err != nil {
		return fmt.Errorf("fencing check: %w", err)
	}
	rec, _ := model.ParseLeaseComment(st.recordComment)
	if rec.Token != l.token || !st.has(fenceName(l.token)) {
		l.lose(errors.New("fencing check: the lease names another holder"))
		return ErrLeaseLost
	}
	expires := rec.Expires
	if f, ok := model.ParseLeaseComment(st.comments[fenceName(l.token)]); ok {
		expires = f.Expires
	}
	if expires.Sub(st.now) < (l.opts.TTL-l.opts.RenewDeadline)/2 {
		return l.renewLocked(ctx)
	}
	return nil
}

// Check runs the fencing check: it returns ErrLeaseLost unless the lease
// is still this holder's, with time left.
func (l *Lease) Check(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.checkLocked(ctx)
}

// Fence returns db with every catalog change fenced by this lease:
//
//   - a BEGIN ... COMMIT block gets the fence as its first and last
//     statements (renamed away and back), so it fails unless the fence
//     exists, and Materialize aborts it with 40001 should any takeover land
//     before COMMIT;
//   - any other statement (Materialize runs CREATE VIEW, COMMENT, DROP ...
//     only alone) is preceded by the read-only fencing check;
//   - SET statements (session settings) pass unfenced.
//
// Transactions are serialized with renewal (a renewal is a catalog change
// and would abort them with 40001), and nothing is sent once the lease is
// lost or its renew deadline has passed.
func (l *Lease) Fence(db DB) DB { return &fencedDB{l: l, db: db} }

type fencedDB struct {
	l  *Lease
	db DB
}

func (f *fencedDB) QueryString(ctx context.Context, sql string) (string, bool, error) {
	return f.db.QueryString(ctx, sql)
}

func (f *fencedDB) QueryRows(ctx context.Context, sql string) ([][]string, error) {
	return f.db.QueryRows(ctx, sql)
}

func (f *fencedDB) Exec(ctx context.Context, sql string) error {
	trimmed := strings.TrimSpace(sql)
	if strings.HasPrefix(strings.ToUpper(trimmed), "SET ") {
		return f.db.Exec(ctx, sql)
	}
	l := f.l
	l.mu.Lock()
	if body, ok := transactionBody(trimmed); ok {
		defer l.mu.Unlock()
		if err := l.usable(); err != nil {
			return err
		}
		fence, tmp := fenceName(l.token), pendingName(l.token)
		err := f.db.Exec(ctx, "BEGIN; "+renameSchema(fence, tmp)+"; "+body+"; "+renameSchema(tmp, fence)+"; COMMIT")
		if err != nil && isUnknown(err) && strings.Contains(err.Error(), fence) {
			l.lose(fmt.Errorf("fencing check: %w", err))
			return fmt.Errorf("%w: fencing check: %w", ErrLeaseLost, err)
		}
		if err != nil && ctx.Err() == nil {
			// Refused for another reason (a 40001 from a concurrent
			// takeover, say): say whether the lease is still ours.
			if st, rerr := readLeaseState(ctx, f.db, l.opts.Now); rerr == nil {
				if rec, _ := model.ParseLeaseComment(st.recordComment); rec.Token != l.token || !st.has(fence) {
					l.lose(fmt.Errorf("fencing check: %w", err))
					return fmt.Errorf("%w: fencing check: %w", ErrLeaseLost, err)
				}
			}
		}
		return err
	}
	// A lone statement commits on its own: a renewal may land just before
	// or after it, never inside it, so only the check is serialized.
	err := l.checkLocked(ctx)
	l.mu.Unlock()
	if err != nil {
		return err
	}
	return f.db.Exec(ctx, sql)
}

// transactionBody returns the statements between "BEGIN;" and "; COMMIT".
func transactionBody(sql string) (string, bool) {
	sql = strings.TrimSuffix(strings.TrimSpace(sql), ";")
	rest, ok := strings.CutPrefix(sql, "BEGIN;")
	if !ok {
		return "", false
	}
	body, ok := strings.CutSuffix(rest, "; COMMIT")
	if !ok {
		return "", false
	}
	return strings.TrimSpace(body), true
}

// Release gives the lease up if it is still ours: one transaction renames
// the fence and the record away (failing if the fence is gone), then the
// renamed schemas are dropped.
func (l *Lease) Release(ctx context.Context) error {
	l.mu.Lock()
	l.stateMu.Lock()
	done := l.lost || l.released
	l.stateMu.Unlock()
	if done {
		l.mu.Unlock()
		return nil
	}
	err := l.db.Exec(ctx, "BEGIN; "+renameSchema(fenceName(l.token), staleName(l.token, "fence"))+"; "+
		renameSchema(leaseSchema, staleName(l.token, "record"))+"; COMMIT")
	if err != nil {
		l.mu.Unlock()
		if isUnknown(err) {
			l.lose(errors.New("released after it was taken over"))
			return nil
		}
		return fmt.Errorf("release apply lease: %w", err)
	}
	l.stateMu.Lock()
	l.released = true
	l.stateMu.Unlock()
	l.mu.Unlock()
	l.opts.OnChange(false)
	for _, what := range []string{"fence", "record"} {
		if err := l.db.Exec(ctx, "DROP SCHEMA IF EXISTS "+model.QuoteIdent(staleName(l.token, what))+" CASCADE"); err != nil {
			l.opts.Log.Warn("remove released apply lease schema (the next holder removes it)", "err", err)
		}
	}
	return nil
}

// KeepAlive renews the lease every RetryPeriod until stop is called. The
// returned context is cancelled, with ErrLeaseLost as its cause, when the
// lease is lost: taken over, or not renewed within RenewDeadline (a hung
// renewal included), which is before anyone else can take it.
func (l *Lease) KeepAlive(ctx context.Context) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(ctx)
	l.stateMu.Lock()
	l.cancel = cancel
	lost := l.lost || l.released
	l.stateMu.Unlock()
	if lost {
		cancel(ErrLeaseLost)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(l.opts.RetryPeriod)
		defer tick.Stop()
		for {
			l.stateMu.Lock()
			left := l.deadline.Sub(l.opts.Now())
			l.stateMu.Unlock()
			watchdog := time.NewTimer(max(left, 0))
			select {
			case <-ctx.Done():
				watchdog.Stop()
				return
			case <-watchdog.C:
				// The deadline passed without a successful renewal, even if
				// one is still blocked.
				if l.usable() != nil {
					return
				}
			case <-l.renewed:
				watchdog.Stop()
			case <-tick.C:
				watchdog.Stop()
				go l.renewOnce(ctx)
			}
		}
	}()
	return ctx, func() {
		cancel(context.Canceled)
		<-done
		l.stateMu.Lock()
		l.cancel = nil
		l.stateMu.Unlock()
	}
}

// renewOnce is one renewal attempt of KeepAlive, bounded by the deadline.
func (l *Lease) renewOnce(ctx context.Context) {
	if !l.renewing.CompareAndSwap(false, true) {
		return // the previous attempt is still running
	}
	defer l.renewing.Store(false)
	// A fenced statement may be running: renewal waits for it, and never
	// lands inside this holder's own DDL transaction.
	l.mu.Lock()
	defer l.mu.Unlock()
	if ctx.Err() != nil {
		return
	}
	l.stateMu.Lock()
	left := l.deadline.Sub(l.opts.Now())
	l.stateMu.Unlock()
	rctx, cancel := context.WithTimeout(ctx, max(left, time.Millisecond))
	defer cancel()
	if err := l.renewLocked(rctx); err != nil && !errors.Is(err, ErrLeaseLost) && ctx.Err() == nil {
		l.opts.Log.Warn("renew apply lease", "err", err)
	}
}
