package reconcile

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
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
	// SwapTogether cuts over every schema of the pass in one DDL
	// transaction, once all of them are ready (--swap-together), as if
	// they were all in one spec.swapGroup: they
	// change at the same instant, and none changes if one cannot.
	SwapTogether bool
	// Sleep waits between retries and polls; tests may shorten it.
	Sleep func(ctx context.Context, d time.Duration) error

	// waitDeadlines holds, per version, when its readiness wait gives up,
	// fixed when its first wait starts, so the timeout is a hard bound
	// across retried passes and slow or hung polls.
	waitDeadlines map[model.VersionID]time.Time
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
	// --wait; it names the first version waited for (NotReadyAll names
	// every one). A later pass goes on.
	NotReady    *model.VersionID
	NotReadyAll []model.VersionID
	// Schemas is each schema's own result, by name. Every schema of the
	// last pass's plan has one.
	Schemas []SchemaResult
	// Retries counts restarted passes.
	Retries int
}

// SchemaResult is what one pass did for one schema. Schemas are
// independent: one schema's failure, refusal or wait is its own result
// and never stops another.
type SchemaResult struct {
	Schema string
	// Executed lists the schema's changes sent to Materialize, in order,
	// across retried passes.
	Executed []Change
	// NotReady names the version a cutover still waits for (without
	// --wait), nil otherwise.
	NotReady *model.VersionID
	// NotApplied lists what the last plan wanted for the schema but the
	// pass did not do: the blocked and drift findings, and the executable
	// changes left when it failed or waited.
	NotApplied []Change
	// Err is the schema's failure: a statement error, a readiness timeout.
	Err error
}

// StatementError is a statement Materialize refused: it names the change
// (op, kind and object) and shows the statement.
type StatementError struct {
	Change Change
	SQL    string
	Err    error
}

func (e *StatementError) Error() string {
	return fmt.Sprintf("%s %s %s: %v\n  statement: %s", e.Change.Op, e.Change.Kind, e.Change.Target, e.Err, e.SQL)
}

func (e *StatementError) Unwrap() error { return e.Err }

// ErrBlocked reports that a pass did everything it could, but a plan had
// blocked or drift findings: something should happen that may not, and
// needs a person. BlockedError carries the findings.
var ErrBlocked = errors.New("blocked")

// BlockedError lists the findings that kept a pass from converging. It
// matches ErrBlocked with errors.Is.
type BlockedError struct {
	Findings []Change
}

func (e *BlockedError) Error() string {
	msgs := make([]string, len(e.Findings))
	for i, f := range e.Findings {
		msgs[i] = fmt.Sprintf("%s %s %s: %s", f.Op, f.Kind, f.Target, f.Reason)
	}
	return fmt.Sprintf("%d finding(s) block convergence:\n  %s", len(e.Findings), strings.Join(msgs, "\n  "))
}

// Is makes errors.Is(err, ErrBlocked) true.
func (e *BlockedError) Is(target error) bool { return target == ErrBlocked }

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
// executes the plan schema by schema. Every schema is its own unit: the
// builds of all schemas run first, then one readiness loop cuts each over
// as soon as it is ready; a schema whose statement fails, whose readiness
// times out or whose plan is blocked stops alone, and the others go on.
// Apply returns what it did with the schemas' errors joined (each a
// *StatementError naming the object and its SQL, or ErrReadinessTimeout),
// or a *BlockedError (ErrBlocked) when everything possible was done but
// findings remain. After a transient error (connection lost, 40001) it
// re-observes and re-plans, so it resumes from what is in the catalog, not
// from where it thinks it was. The caller holds the lease.
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

// schemaRun is one schema's part of a pass: its changes in plan order,
// split at its readiness wait.
type schemaRun struct {
	name    string
	changes []Change
	next    int // index of the next change to run
	res     *SchemaResult
	waitFor *model.VersionID
	// group names the schemas this one is cut over with in one DDL
	// transaction (spec.swapGroup, or every schema with --swap-together);
	// "" when it is cut over on its own.
	group   string
	timeout time.Duration
	last    *VersionReadiness // the last readiness seen while waiting
}

// timedOut fails the schema with its readiness timeout.
func (r *schemaRun) timedOut() {
	what := "not ready"
	if r.last != nil {
		what = pendingSummary(*r.last)
	}
	r.fail(fmt.Errorf("%w: %s not ready after %s: %s", ErrReadinessTimeout, r.waitFor, r.timeout.Round(time.Millisecond), what))
}

func (r *schemaRun) fail(err error) {
	r.res.Err = err
	r.rest()
}

// rest records the changes not run as not applied.
func (r *schemaRun) rest() {
	for _, c := range r.changes[r.next:] {
		if c.Op.Executable() {
			r.res.NotApplied = append(r.res.NotApplied, c)
		}
	}
	r.next = len(r.changes)
}

func applyPass(ctx context.Context, db DB, obs Observer, des *model.Desired, opts *ApplyOptions, res *ApplyResult, first bool) error {
	o, err := obs.Observe(ctx)
	if err != nil {
		return fmt.Errorf("observe: %w", err)
	}
	dopts := opts.Diff
	if f, ok := db.(*fencedDB); ok {
		// Under the lease: build in this holding's private schemas.
		dopts.token = f.l.token
	}
	plan, err := Diff(o, des, dopts)
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
	// Before the first statement (and so before the lease is taken): every
	// privilege the plan needs, or one error that lists all that is missing.
	if err := Preflight(o, des, plan); err != nil {
		return err
	}
	runs, sources := splitBySchema(plan, res)
	for _, r := range runs {
		r.group = swapGroup(des, r.name, opts.SwapTogether)
	}
	for _, c := range sources {
		if !c.Op.Executable() {
			continue
		}
		if err := execChange(ctx, db, c); err != nil {
			return err // every schema may read the source
		}
		res.Executed = append(res.Executed, c)
		opts.Log.Info(string(c.Op), "kind", c.Kind, "target", c.Target)
	}
	// Builds of every schema first, so all of them hydrate at once; then
	// one readiness loop cuts each over as soon as it is ready.
	for _, r := range runs {
		if err := runUntilWait(ctx, db, r, res, opts); err != nil {
			return err
		}
	}
	if err := waitAndCutOver(ctx, db, obs, des, runs, res, opts); err != nil {
		return err
	}
	var errs []error
	var findings []Change
	for _, r := range runs {
		if r.res.Err != nil {
			errs = append(errs, fmt.Errorf("schema %s: %w", r.name, r.res.Err))
		}
		for _, c := range r.changes {
			if c.Op == OpBlocked || c.Op == OpDrift {
				findings = append(findings, c)
			}
		}
	}
	for _, c := range sources {
		if c.Op == OpBlocked || c.Op == OpDrift {
			findings = append(findings, c)
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	if len(findings) > 0 {
		return &BlockedError{Findings: findings}
	}
	return nil
}

// splitBySchema groups a plan's changes by the schema they concern, in
// plan order; sources (no schema) come back apart. It resets the
// per-schema results of res for this pass, keeping what earlier passes
// executed.
func splitBySchema(plan *Plan, res *ApplyResult) (runs []*schemaRun, sources []Change) {
	prev := map[string][]Change{}
	for _, sr := range res.Schemas {
		prev[sr.Schema] = sr.Executed
	}
	byName := map[string]*schemaRun{}
	for _, c := range plan.Changes {
		name := c.Version.Schema
		if name == "" {
			sources = append(sources, c)
			continue
		}
		r, ok := byName[name]
		if !ok {
			r = &schemaRun{name: name, res: &SchemaResult{Schema: name, Executed: prev[name]}}
			byName[name] = r
			runs = append(runs, r)
		}
		r.changes = append(r.changes, c)
	}
	slices.SortFunc(runs, func(a, b *schemaRun) int { return strings.Compare(a.name, b.name) })
	res.Schemas = res.Schemas[:0]
	res.NotReady, res.NotReadyAll = nil, nil
	for _, r := range runs {
		for _, c := range r.changes {
			if c.Op == OpBlocked || c.Op == OpDrift {
				r.res.NotApplied = append(r.res.NotApplied, c)
			}
		}
	}
	return runs, sources
}

// runUntilWait executes a schema's changes up to its readiness wait (or
// to its end). A statement error is the schema's own failure; only an
// error after which the whole pass must restart (connection lost, 40001,
// context done) is returned.
func runUntilWait(ctx context.Context, db DB, r *schemaRun, res *ApplyResult, opts *ApplyOptions) error {
	for r.next < len(r.changes) {
		c := r.changes[r.next]
		if r.group != "" && r.waitFor == nil && (c.Op == OpSwap || c.Op == OpRename) {
			// A ready version needs no wait of its own, but a cutover
			// swapped together waits for the others.
			v := c.Version
			r.waitFor = &v
			return nil
		}
		if c.Op == OpWait {
			v := c.Version
			r.waitFor = &v
			r.next++
			return nil
		}
		if !c.Op.Executable() || len(c.SQL) == 0 {
			r.next++
			continue
		}
		if err := execChange(ctx, db, c); err != nil {
			if isRetryable(err) || ctx.Err() != nil {
				return err
			}
			r.fail(err)
			opts.Log.Error("schema failed; the other schemas go on", "schema", r.name, "err", err)
			return nil
		}
		r.next++
		r.res.Executed = append(r.res.Executed, c)
		res.Executed = append(res.Executed, c)
		opts.Log.Info(string(c.Op), "kind", c.Kind, "target", c.Target)
	}
	return nil
}

// waitAndCutOver polls the readiness of every schema waiting for one, with
// one catalog query per poll, and runs each schema's cutover (and what
// follows it) as soon as its version is ready. Without opts.Wait it looks
// once. A schema whose readiness times out fails alone.
func waitAndCutOver(ctx context.Context, db DB, obs Observer, des *model.Desired, runs []*schemaRun, res *ApplyResult, opts *ApplyOptions) error {
	defer func() {
		for _, r := range runs {
			res.Schemas = append(res.Schemas, *r.res)
		}
	}()
	// None of a swap group changes if one cannot: a schema whose cutover
	// failed to build or was refused holds back the others of its group.
	cannot := map[string][]string{}
	for _, r := range runs {
		if r.group == "" {
			continue
		}
		for _, c := range r.changes {
			if (r.res.Err != nil && (c.Op == OpSwap || c.Op == OpRename)) || (c.Op == OpBlocked && c.Kind == KindVersion) {
				cannot[r.group] = append(cannot[r.group], r.name)
				break
			}
		}
	}
	for _, r := range runs {
		if names := cannot[r.group]; len(names) > 0 && r.waitFor != nil && r.res.Err == nil {
			r.fail(fmt.Errorf("swap together: held back because schema %s cannot cut over", strings.Join(names, ", ")))
		}
	}
	var waiting []*schemaRun
	for _, r := range runs {
		if r.waitFor != nil && r.res.Err == nil {
			if _, v := findVersion(des, *r.waitFor); v == nil {
				r.fail(fmt.Errorf("wait for %s: version not declared", r.waitFor))
			} else {
				waiting = append(waiting, r)
			}
		}
	}
	if len(waiting) == 0 {
		return nil
	}
	start := time.Now()
	if opts.waitDeadlines == nil {
		opts.waitDeadlines = map[model.VersionID]time.Time{}
	}
	// The wait's context ends at the latest deadline of the waiting
	// schemas; each schema times out at its own.
	var latest time.Time
	for _, r := range waiting {
		schema, _ := findVersion(des, *r.waitFor)
		timeout := opts.Timeout
		if timeout <= 0 {
			timeout = schema.Readiness.Timeout
		}
		if !opts.Wait || timeout <= 0 {
			latest = time.Time{}
			break
		}
		d, ok := opts.waitDeadlines[*r.waitFor]
		if !ok {
			d = start.Add(timeout)
			opts.waitDeadlines[*r.waitFor] = d
		}
		r.timeout = timeout
		if d.After(latest) {
			latest = d
		}
	}
	wctx := ctx
	if !latest.IsZero() {
		var cancel context.CancelFunc
		wctx, cancel = context.WithDeadline(ctx, latest)
		defer cancel()
	}
	// expired turns an error met after every wait's own deadline passed
	// into the readiness timeouts of the waiting schemas, with what each
	// still waited for; before that the error ends the pass.
	var waiting2 []*schemaRun
	expired := func(err error) error {
		if ctx.Err() != nil || latest.IsZero() || time.Now().Before(latest) {
			return err
		}
		for _, r := range waiting2 {
			r.timedOut()
		}
		return nil
	}
	// One full observation to see the objects this pass created, then one
	// readiness query per poll.
	o, err := obs.Observe(wctx)
	waiting2 = waiting
	if err != nil {
		return expired(fmt.Errorf("observe readiness: %w", err))
	}
	for {
		ready := map[*schemaRun]bool{}
		groupFailed := map[string]string{}
		for _, r := range waiting {
			schema, version := findVersion(des, *r.waitFor)
			rd := Readiness(o, version, schema)
			if opts.Progress != nil {
				opts.Progress(WaitProgress{Version: *r.waitFor, Readiness: rd, Elapsed: time.Since(start)})
			}
			r.last = &rd
			if rd.Ready {
				ready[r] = true
				continue
			}
			if len(rd.Broken) > 0 {
				r.fail(fmt.Errorf("%w: cutover to %s blocked: %s; declare a new version that matches upstream", ErrVersionBroken, r.waitFor, strings.Join(rd.Broken, "; ")))
				if r.group != "" {
					groupFailed[r.group] = fmt.Sprintf("%s is broken", r.waitFor)
				}
				continue
			}
			if d, ok := opts.waitDeadlines[*r.waitFor]; opts.Wait && ok && !time.Now().Before(d) {
				r.timedOut()
				if r.group != "" {
					// One member can no longer be cut over: none is.
					groupFailed[r.group] = fmt.Sprintf("%s timed out", r.waitFor)
				}
			}
		}
		// Each schema on its own is cut over once ready; a swap group once
		// every waiting member is ready, in one transaction.
		var still []*schemaRun
		done := map[string]bool{}
		for _, r := range waiting {
			switch {
			case r.res.Err != nil:
			case r.group != "" && groupFailed[r.group] != "":
				r.fail(fmt.Errorf("swap together: %s", groupFailed[r.group]))
			case r.group == "" && ready[r]:
				if err := runRest(ctx, db, r, res, opts); err != nil {
					return err
				}
			case r.group == "":
				still = append(still, r)
			case !done[r.group]:
				done[r.group] = true
				var members []*schemaRun
				all := true
				for _, m := range waiting {
					if m.group == r.group && m.res.Err == nil {
						members = append(members, m)
						all = all && ready[m]
					}
				}
				if !all {
					still = append(still, members...)
				} else if err := cutOverTogether(ctx, db, members, res, opts); err != nil {
					return err
				}
			}
		}
		waiting = still
		waiting2 = still
		if len(waiting) == 0 {
			return nil
		}
		if !opts.Wait {
			for _, r := range waiting {
				v := *r.waitFor
				r.res.NotReady = &v
				r.rest()
				res.NotReadyAll = append(res.NotReadyAll, v)
				if res.NotReady == nil {
					res.NotReady = &v
				}
				opts.Log.Info("version not ready yet; cutover deferred to a later pass", "version", v.String())
			}
			return nil
		}
		if err := opts.Sleep(wctx, opts.Poll); err != nil {
			return expired(err)
		}
		if err := obs.RefreshReadiness(wctx, o); err != nil {
			return expired(fmt.Errorf("poll readiness: %w", err))
		}
	}
}

// runRest runs what follows a schema's readiness wait: its cutover, the
// live record and its drops.
func runRest(ctx context.Context, db DB, r *schemaRun, res *ApplyResult, opts *ApplyOptions) error {
	return runUntilWait(ctx, db, r, res, opts)
}

// cutOverTogether sends the cutovers of every ready schema in one DDL
// transaction (--swap-together), then runs the rest of each schema.
func cutOverTogether(ctx context.Context, db DB, runs []*schemaRun, res *ApplyResult, opts *ApplyOptions) error {
	var sql, targets []string
	var idx []int
	for _, r := range runs {
		i := slices.IndexFunc(r.changes[r.next:], func(c Change) bool { return c.Op == OpSwap || c.Op == OpRename })
		if i < 0 {
			idx = append(idx, -1)
			continue
		}
		c := r.changes[r.next+i]
		sql = append(sql, c.SQL...)
		targets = append(targets, c.Target)
		idx = append(idx, r.next+i)
	}
	if len(sql) > 0 {
		c := Change{Op: OpSwap, Kind: KindSchema, Target: strings.Join(targets, ", "), SQL: sql, Transaction: true,
			Reason: "cutovers swapped together in one transaction"}
		if err := execChange(ctx, db, c); err != nil {
			if isRetryable(err) || ctx.Err() != nil {
				return err
			}
			for _, r := range runs {
				r.fail(err)
			}
			return nil
		}
		opts.Log.Info("swap together", "targets", c.Target)
		for k, r := range runs {
			if idx[k] < 0 {
				continue
			}
			done := r.changes[idx[k]]
			r.res.Executed = append(r.res.Executed, done)
			res.Executed = append(res.Executed, done)
			r.changes = slices.Delete(slices.Clone(r.changes), idx[k], idx[k]+1)
		}
	}
	for _, r := range runs {
		if err := runRest(ctx, db, r, res, opts); err != nil {
			return err
		}
	}
	return nil
}

// Statements returns the statement strings a change sends, in order, as
// execChange sends them (for --dry-run and tests), except that a drop is
// sent as a retirement (see retire): a rename into the trash inside a
// fenced DDL transaction, then the drop of the trash.
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

// ExecChange sends one change as Apply does: its statements in order,
// and a drop as a retirement (a rename into the trash in a DDL transaction,
// which a DB fenced by a lease fences, then the drop of the trash).
func ExecChange(ctx context.Context, db DB, c Change) error { return execChange(ctx, db, c) }

func execChange(ctx context.Context, db DB, c Change) error {
	for _, s := range Statements(c) {
		if r, ok := retirementOf(c, s); ok {
			if err := retire(ctx, db, r); err != nil {
				return &StatementError{Change: c, SQL: s, Err: err}
			}
			continue
		}
		if err := db.Exec(ctx, s); err != nil {
			return &StatementError{Change: c, SQL: s, Err: err}
		}
	}
	return nil
}

// swapGroup is the group schema name is cut over with: every schema
// with --swap-together, its spec.swapGroup otherwise ("" for none).
func swapGroup(des *model.Desired, name string, all bool) string {
	if all {
		return "\x00all"
	}
	for i := range des.Schemas {
		if des.Schemas[i].Name == name {
			return des.Schemas[i].SwapGroup
		}
	}
	return ""
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
