package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/mzsync/mzsync/internal/drift"
	"github.com/mzsync/mzsync/internal/propose"
	"github.com/mzsync/mzsync/internal/reconcile"
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
	refresh := fs.Bool("refresh-references", false, "for sources whose upstream cannot be read, run ALTER SOURCE ... REFRESH REFERENCES (DDL; needs ownership of the source) and compare table and column names with mz_source_references")
	proposeDir := fs.String("propose", "", "write the next version's manifest for each drifted schema into this directory (<schema>/<version>.yaml)")
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
	obs.RefreshReferences = *refresh
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
	grants := reconcile.GrantDrifts(o, des)
	if *format == "json" {
		var v any = rep
		if len(grants) > 0 {
			m, err := withGrantDrift(rep, grants)
			if err != nil {
				fmt.Fprintf(e.stderr, "mzsync drift: %v\n", err)
				return exitError
			}
			v = m
		}
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(v); err != nil {
			return exitError
		}
	} else {
		renderDriftText(e.stdout, rep, grants)
	}
	if *proposeDir != "" {
		if err := writeProposals(e, *proposeDir, propose.NextObserved(des, rep, o)); err != nil {
			fmt.Fprintf(e.stderr, "mzsync drift: %v\n", err)
			return exitError
		}
	}
	// Drift that could not be looked for is not "no drift".
	if *detailed && (rep.Found() || !rep.Complete() || len(grants) > 0) {
		return exitChanges
	}
	return exitOK
}

// withGrantDrift adds the grant drift to the report's JSON object as
// "grant_drift".
func withGrantDrift(rep *drift.Report, grants []reconcile.GrantDrift) (map[string]any, error) {
	b, err := json.Marshal(rep)
	if err != nil {
		return nil, err
	}
	m := map[string]any{}
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	m["grant_drift"] = grants
	return m, nil
}

func renderDriftText(w io.Writer, rep *drift.Report, grants []reconcile.GrantDrift) {
	for _, g := range grants {
		fmt.Fprintf(w, "GRANT  %s\n", g)
	}
	if len(grants) > 0 {
		fmt.Fprintln(w, "Grant drift found: apply grants what spec.grants declares and is missing; it never revokes what is not declared.")
	}
	for _, t := range rep.Tables {
		fmt.Fprintf(w, "%s  %s.%s (source %s, upstream %s)\n", strings.ToUpper(string(t.Severity)), t.Version, t.Table, t.Source, t.Upstream)
		if len(t.NewColumns) > 0 {
			fmt.Fprintf(w, "    upstream has columns this version does not ingest: %s\n", strings.Join(t.NewColumns, ", "))
		}
		for _, p := range t.Problems {
			fmt.Fprintf(w, "    %s\n", p)
		}
	}
	for _, p := range rep.SourceProblems {
		fmt.Fprintf(w, "STALLED  source %s: %s\n    a source problem, possibly transient (not a schema change); its tables are stalled: %s\n", p.Source, p.Error, strings.Join(p.Tables, ", "))
	}
	for _, u := range rep.NamesOnlySchemas {
		fmt.Fprintf(w, "CHECKED-NAMES-ONLY  %s (%s): upstream not read; table and column names compared with Materialize's refreshed references, "+
			"type, attnum, OID, key and replica identity changes unknown (table status was checked)\n", u.Schema, u.Version)
		for _, s := range u.Sources {
			fmt.Fprintf(w, "    source %s\n", s)
		}
	}
	for _, u := range rep.UncheckedSchemas {
		fmt.Fprintf(w, "UNCHECKED  %s (%s): upstream not read, drift unknown (table status was checked)\n", u.Schema, u.Version)
		for _, s := range u.Sources {
			fmt.Fprintf(w, "    source %s\n", s)
		}
	}
	switch {
	case rep.Breaking():
		fmt.Fprintln(w, "Drift found: breaking. Declare a new version that matches upstream and make it active.")
	case rep.Found():
		fmt.Fprintln(w, "Drift found: upstream is ahead. Declare a new version to ingest the new columns.")
	case len(rep.SourceProblems) > 0:
		fmt.Fprintln(w, "No schema drift found, but a source is stalled (see above).")
	case len(rep.UncheckedSchemas) > 0:
		fmt.Fprintf(w, "Drift unknown: %d schema(s) UNCHECKED. Set the variable each source's upstream.urlEnv names to check them "+
			"(or use --refresh-references to compare names through Materialize).\n", len(rep.UncheckedSchemas))
	case len(rep.NamesOnlySchemas) > 0:
		fmt.Fprintf(w, "No drift in table and column names, but %d schema(s) CHECKED-NAMES-ONLY: set the variable each source's upstream.urlEnv names for a full check.\n", len(rep.NamesOnlySchemas))
	case len(grants) > 0:
		fmt.Fprintln(w, "No schema drift found.")
	default:
		fmt.Fprintln(w, "No drift.")
	}
}

// writeProposals writes each proposed manifest under dir, never over an
// existing file, and says on stderr what it wrote.
func writeProposals(e *env, dir string, files []propose.File) error {
	for _, f := range files {
		if f.Existing {
			fmt.Fprintf(e.stderr, "%s already ingests what upstream added to %s's tables (it is declared and built): set active: %s in schema %s; no new version proposed\n",
				f.Version, f.Replaces, f.Version.Version, f.Version.Schema)
			continue
		}
		path := filepath.Join(dir, filepath.FromSlash(f.Path))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return fmt.Errorf("propose %s: %w", f.Version, err)
		}
		out, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if errors.Is(err, os.ErrExist) {
			return fmt.Errorf("propose %s: %s exists; not overwritten", f.Version, path)
		}
		if err != nil {
			return fmt.Errorf("propose %s: %w", f.Version, err)
		}
		_, werr := out.Write(f.Content)
		if cerr := out.Close(); werr == nil {
			werr = cerr
		}
		if werr != nil {
			return fmt.Errorf("propose %s: write %s: %w", f.Version, path, werr)
		}
		fmt.Fprintf(e.stderr, "proposed %s (replacing %s) in %s; set active: %s in schema %s to use it\n", f.Version, f.Replaces, path, f.Version.Version, f.Version.Schema)
	}
	return nil
}
