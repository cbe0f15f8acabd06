package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/mzsync/mzsync/internal/reconcile"
)

func init() {
	register(&command{name: "apply", summary: "build missing versions, gate on readiness, cut over, prune", run: runApply})
}

func runApply(ctx context.Context, e *env, args []string) int {
	fs := flag.NewFlagSet("apply", flag.ContinueOnError)
	var src sourceFlags
	var mz mzFlags
	src.register(fs)
	mz.register(fs)
	wait := fs.Bool("wait", false, "wait until new versions are ready and cut over in this run")
	timeout := fs.Duration("timeout", 0, "with --wait: give up after this long (exit 3); default: the schema's readiness.timeout. Transient errors (lost connection, 40001, server restarting) are retried for this long (default 1m)")
	allowDrop := fs.Bool("allow-drop", false, "drop retired versions beyond retention (only when nothing outside depends on them)")
	dryRun := fs.Bool("dry-run", false, "print the statements apply would send, and send none")
	fingerprint := fs.String("plan-fingerprint", "", "refuse to apply unless the catalog still has this fingerprint (from plan --format json)")
	lockWait := fs.Duration("lock-wait", 0, "wait this long for another writer's apply lease instead of failing at once")
	leaseTTL := fs.Duration("lease-ttl", time.Minute, "how long the apply lease lasts without renewal")
	swapTogether := fs.Bool("swap-together", false, "cut over every schema of this run in one DDL transaction, once all are ready (none changes if one cannot)")
	if err := parseFlags(fs, e, args); err != nil {
		return flagError(e, "apply", err)
	}
	if err := mz.check(); err != nil {
		return flagError(e, "apply", err)
	}
	des, err := src.load(ctx, e)
	if err != nil {
		fmt.Fprintf(e.stderr, "mzsync apply: %v\n", err)
		return exitError
	}
	opts := reconcile.ApplyOptions{
		Diff:         reconcile.Options{AllowDrop: *allowDrop},
		Wait:         *wait,
		Timeout:      *timeout,
		RetryFor:     *timeout,
		DryRun:       *dryRun,
		Fingerprint:  *fingerprint,
		SwapTogether: *swapTogether,
		Log:          e.log,
		Progress:     progressPrinter(e.stderr),
	}

	db := mz.db("apply to Materialize")
	defer db.Close(context.Background())
	var leaseDB *reconcile.PgxDB
	if !*dryRun {
		leaseDB = mz.db("hold the apply lease")
		defer leaseDB.Close(context.Background())
	}
	pres, err := reconcile.LeasedPass(ctx, db, observerFor(db, nil, e), des, reconcile.PassOptions{
		Apply:    opts,
		Lease:    reconcile.LeaseOptions{TTL: *leaseTTL, Log: e.log},
		LeaseDB:  leaseDB,
		LockWait: *lockWait,
	})
	res := pres.Apply
	if *dryRun {
		if err != nil {
			fmt.Fprintf(e.stderr, "mzsync apply: %v\n", err)
			return exitError
		}
		printStatements(e.stdout, res.Plan)
		return exitOK
	}
	if res != nil && res.Plan != nil && !errors.Is(err, reconcile.ErrPrivileges) {
		printApplyResult(e.stdout, res)
	}
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, reconcile.ErrBlocked):
		fmt.Fprintf(e.stderr, "mzsync apply: %v\n", err)
		return exitChanges
	case errors.Is(err, reconcile.ErrReadinessTimeout) && onlyTimeouts(res):
		fmt.Fprintf(e.stderr, "mzsync apply: %v\n", err)
		return exitTimeout
	default:
		fmt.Fprintf(e.stderr, "mzsync apply: %v\n", err)
		return exitError
	}
}

// onlyTimeouts reports whether every schema that failed failed on its
// readiness timeout (exit 3); any other failure is an error (exit 1).
func onlyTimeouts(res *reconcile.ApplyResult) bool {
	if res == nil {
		return true
	}
	for _, s := range res.Schemas {
		if s.Err != nil && !errors.Is(s.Err, reconcile.ErrReadinessTimeout) {
			return false
		}
	}
	return true
}

// printApplyResult says what apply did, and, schema by schema, what it did
// not do and why.
func printApplyResult(w io.Writer, res *reconcile.ApplyResult) {
	fmt.Fprintf(w, "Applied %d change(s) for revision %s.\n", len(res.Executed), res.Plan.Revision)
	for _, s := range res.Schemas {
		var state string
		switch {
		case s.Err != nil:
			state = "failed: " + strings.ReplaceAll(s.Err.Error(), "\n", "\n    ")
		case s.NotReady != nil:
			state = fmt.Sprintf("version %s is not ready yet; run apply again (or use --wait) to cut over", s.NotReady)
		case len(s.NotApplied) > 0:
			state = "blocked"
		default:
			if len(s.Executed) == 0 {
				continue
			}
			state = "done"
		}
		fmt.Fprintf(w, "schema %s: %d change(s) applied; %s.\n", s.Schema, len(s.Executed), state)
		for _, c := range s.NotApplied {
			switch c.Op {
			case reconcile.OpBlocked, reconcile.OpDrift:
				fmt.Fprintf(w, "  %s %s: %s\n", c.Op, c.Target, c.Reason)
			default:
				fmt.Fprintf(w, "  not applied: %s %s %s\n", c.Op, c.Kind, c.Target)
			}
		}
	}
	for _, c := range res.Plan.Changes {
		if c.Version.Schema == "" && (c.Op == reconcile.OpBlocked || c.Op == reconcile.OpDrift) {
			fmt.Fprintf(w, "  %s %s: %s\n", c.Op, c.Target, c.Reason)
		}
	}
}

// printStatements writes the statements a plan would send, one per line,
// with findings as SQL comments.
func printStatements(w io.Writer, p *reconcile.Plan) {
	fmt.Fprintf(w, "-- mzsync apply --dry-run: revision %s; nothing was sent.\n", p.Revision)
	n := 0
	for _, c := range p.Changes {
		switch c.Op {
		case reconcile.OpWait:
			fmt.Fprintf(w, "-- wait until %s is ready\n", c.Target)
			continue
		case reconcile.OpBlocked, reconcile.OpDrift, reconcile.OpIgnored:
			fmt.Fprintf(w, "-- %s %s: %s\n", c.Op, c.Target, c.Reason)
			continue
		}
		for _, s := range reconcile.Statements(c) {
			fmt.Fprintf(w, "%s;\n", s)
			n++
		}
	}
	if n == 0 {
		fmt.Fprintln(w, "-- no changes")
	}
}

// progressPrinter reports readiness polls on stderr: a redrawn bar on a
// terminal, a plain line otherwise (only when something changed).
func progressPrinter(w io.Writer) func(reconcile.WaitProgress) {
	tty := false
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			tty = true
		}
	}
	last := ""
	return func(p reconcile.WaitProgress) {
		r := p.Readiness
		var waiting []string
		for _, pd := range r.Pending {
			waiting = append(waiting, pd.Target+" ("+strings.Join(pd.Reasons, ", ")+")")
		}
		line := fmt.Sprintf("%s: %d/%d objects ready", p.Version, r.ReadyObjects, r.Total)
		if len(waiting) > 0 {
			line += "; waiting for " + strings.Join(waiting, ", ")
		}
		if tty {
			const width = 20
			filled := 0
			if r.Total > 0 {
				filled = width * r.ReadyObjects / r.Total
			}
			fmt.Fprintf(w, "\r\033[K[%s%s] %s (%s)", strings.Repeat("#", filled), strings.Repeat(".", width-filled), line, p.Elapsed.Round(100*time.Millisecond))
			if r.Ready {
				fmt.Fprintln(w)
			}
			return
		}
		if line != last {
			fmt.Fprintf(w, "waiting: %s\n", line)
			last = line
		}
	}
}
