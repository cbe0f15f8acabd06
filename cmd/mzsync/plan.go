package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/mzsync/mzsync/internal/reconcile"
)

func init() {
	register(&command{name: "plan", summary: "show what apply would change (text, JSON or Markdown)", run: runPlan})
}

// markdownLimit keeps a plan inside one pull-request comment (GitHub's
// limit is 65,536 characters).
const markdownLimit = 60000

func runPlan(ctx context.Context, e *env, args []string) int {
	fs := flag.NewFlagSet("plan", flag.ContinueOnError)
	var src sourceFlags
	var mz mzFlags
	src.register(fs)
	mz.register(fs)
	format := fs.String("format", "text", "output format: text, json or markdown")
	detailed := fs.Bool("detailed-exitcode", false, "exit 2 when the plan has changes or blocked or drift findings, 0 when it has none")
	allowDrop := fs.Bool("allow-drop", false, "plan drops of retired versions beyond retention")
	if err := parseFlags(fs, e, args); err != nil {
		return flagError(e, "plan", err)
	}
	render, err := planRenderer(*format)
	if err != nil {
		return flagError(e, "plan", err)
	}
	if err := mz.check(); err != nil {
		return flagError(e, "plan", err)
	}
	des, err := src.load(ctx, e)
	if err != nil {
		fmt.Fprintf(e.stderr, "mzsync plan: %v\n", err)
		return exitError
	}
	db := mz.db("plan against Materialize")
	defer db.Close(context.Background())
	obs := observerFor(db, nil, e)
	o, err := obs.Observe(ctx)
	if err != nil {
		fmt.Fprintf(e.stderr, "mzsync plan: %v\n", err)
		return exitError
	}
	plan, err := reconcile.Diff(o, des, reconcile.Options{AllowDrop: *allowDrop})
	if err != nil {
		fmt.Fprintf(e.stderr, "mzsync plan: %v\n", err)
		return exitError
	}
	if err := render(e.stdout, plan); err != nil {
		fmt.Fprintf(e.stderr, "mzsync plan: write plan: %v\n", err)
		return exitError
	}
	// What apply would refuse before changing anything.
	if err := reconcile.Preflight(o, des, plan); err != nil {
		fmt.Fprintf(e.stderr, "mzsync plan: %v\n", err)
		return exitError
	}
	if *detailed && (!plan.Empty() || plan.Blocked()) {
		return exitChanges
	}
	return exitOK
}

func planRenderer(format string) (func(io.Writer, *reconcile.Plan) error, error) {
	switch format {
	case "text":
		return reconcile.RenderText, nil
	case "json":
		return reconcile.RenderJSON, nil
	case "markdown", "md":
		return func(w io.Writer, p *reconcile.Plan) error { return reconcile.RenderMarkdown(w, p, markdownLimit) }, nil
	}
	return nil, errors.New("--format must be text, json or markdown, not " + fmt.Sprintf("%q", format))
}
