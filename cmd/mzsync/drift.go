package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/mzsync/mzsync/internal/drift"
)

func init() {
	register(&command{name: "drift", summary: "compare what active versions ingest with upstream PostgreSQL", run: runDrift})
}

func runDrift(ctx context.Context, e *env, args []string) int {
	fs := flag.NewFlagSet("drift", flag.ContinueOnError)
	var src sourceFlags
	var mz mzFlags
	src.register(fs)
	mz.register(fs)
	format := fs.String("format", "text", "output format: text or json")
	detailed := fs.Bool("detailed-exitcode", false, "exit 2 when drift is found")
	if err := parseFlags(fs, e, args); err != nil {
		return flagError(e, "drift", err)
	}
	if *format != "text" && *format != "json" {
		return flagError(e, "drift", fmt.Errorf("--format must be text or json, not %q", *format))
	}
	if err := mz.check(); err != nil {
		return flagError(e, "drift", err)
	}
	des, err := src.load(ctx, e)
	if err != nil {
		fmt.Fprintf(e.stderr, "mzsync drift: %v\n", err)
		return exitError
	}
	db := mz.db("read the Materialize catalog for drift")
	defer db.Close(context.Background())
	obs := observerFor(db, des, e)
	o, err := obs.Observe(ctx)
	if err != nil {
		// Sources that could not be inspected are reported as unchecked;
		// say why, but report what could be read.
		if o == nil {
			fmt.Fprintf(e.stderr, "mzsync drift: %v\n", err)
			return exitError
		}
		e.log.Warn("upstream inspection incomplete", "err", err)
	}
	rep := drift.Compute(o, des)
	if *format == "json" {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return exitError
		}
	} else {
		renderDriftText(e.stdout, rep)
	}
	if *detailed && rep.Found() {
		return exitChanges
	}
	return exitOK
}

func renderDriftText(w io.Writer, rep *drift.Report) {
	for _, t := range rep.Tables {
		fmt.Fprintf(w, "%s  %s.%s (source %s, upstream %s)\n", strings.ToUpper(string(t.Severity)), t.Version, t.Table, t.Source, t.Upstream)
		if len(t.NewColumns) > 0 {
			fmt.Fprintf(w, "    upstream has columns this version does not ingest: %s\n", strings.Join(t.NewColumns, ", "))
		}
		for _, p := range t.Problems {
			fmt.Fprintf(w, "    %s\n", p)
		}
	}
	for _, s := range rep.Unchecked {
		fmt.Fprintf(w, "UNCHECKED  source %s: no upstream URL (set the variable named by its upstream.urlEnv)\n", s)
	}
	switch {
	case rep.Breaking():
		fmt.Fprintln(w, "Drift found: breaking. Declare a new version that matches upstream and make it active.")
	case rep.Found():
		fmt.Fprintln(w, "Drift found: upstream is ahead. Declare a new version to ingest the new columns.")
	default:
		fmt.Fprintln(w, "No drift.")
	}
}
