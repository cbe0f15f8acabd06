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
		Diff:        reconcile.Options{AllowDrop: *allowDrop},
		Wait:        *wait,
		Timeout:     *timeout,
		RetryFor:    *timeout,
		DryRun:      *dryRun,
		Fingerprint: *fingerprint,
		Log:         e.log,
		Progress:    progressPrinter(e.stderr),
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
	if res != nil && res.Plan != nil {
		fmt.Fprintf(e.stdout, "Applied %d change(s) for revision %s.\n", len(res.Executed), res.Plan.Revision)
		for _, c := range res.Plan.Changes {
			if c.Op == reconcile.OpBlocked || c.Op == reconcile.OpDrift {
				fmt.Fprintf(e.stdout, "  %s %s: %s\n", c.Op, c.Target, c.Reason)
			}
		}
		if res.NotReady != nil {
			fmt.Fprintf(e.stdout, "Version %s is not ready yet; run apply again (or use --wait) to cut over.\n", res.NotReady)
		}
	}
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, reconcile.ErrReadinessTimeout):
		fmt.Fprintf(e.stderr, "mzsync apply: %v\n", err)
		return exitTimeout
	default:
		fmt.Fprintf(e.stderr, "mzsync apply: %v\n", err)
		return exitError
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
