package main

import (
	"context"
	"flag"
	"fmt"

	"github.com/mzsync/mzsync/internal/model"
	"github.com/mzsync/mzsync/internal/reconcile"
)

func init() {
	register(&command{name: "status", summary: "show managed schemas: active, retained and staged versions, readiness, drift", run: runStatus})
}

func runStatus(ctx context.Context, e *env, args []string) int {
	fs := flag.NewFlagSet("status", flag.ContinueOnError)
	var mz mzFlags
	var src sourceFlags
	mz.register(fs)
	src.register(fs)
	format := fs.String("format", "text", "output format: text or json")
	if err := parseFlags(fs, e, args); err != nil {
		return flagError(e, "status", err)
	}
	if *format != "text" && *format != "json" {
		return flagError(e, "status", fmt.Errorf("--format must be text or json, not %q", *format))
	}
	if err := mz.check(); err != nil {
		return flagError(e, "status", err)
	}
	db := mz.db("read the Materialize catalog for status")
	defer db.Close(context.Background())
	obs := observerFor(db, nil, e)
	o, err := obs.Observe(ctx)
	if err != nil {
		fmt.Fprintf(e.stderr, "mzsync status: %v\n", err)
		return exitError
	}
	// With manifests (--dir or --git), status also compares with what is
	// declared; without, it reports the catalog alone.
	var des *model.Desired
	if src.dir != "" || src.gitURL != "" {
		if des, err = src.load(ctx, e); err != nil {
			fmt.Fprintf(e.stderr, "mzsync status: %v\n", err)
			return exitError
		}
	}
	rep := reconcile.Status(o, des)
	if *format == "json" {
		err = reconcile.RenderStatusJSON(e.stdout, rep)
	} else {
		err = reconcile.RenderStatusText(e.stdout, rep)
	}
	if err != nil {
		fmt.Fprintf(e.stderr, "mzsync status: %v\n", err)
		return exitError
	}
	return exitOK
}
