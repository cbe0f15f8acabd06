package main

import (
	"context"
	"flag"
	"fmt"
	"strings"

	"github.com/mzsync/mzsync/spec"
)

func init() {
	register(&command{name: "validate", summary: "check manifests and report every problem", run: runValidate})
}

// runValidate loads and validates manifests. Problems go to stderr, one a
// line, and exit 1; a valid set prints a one-line summary and exits 0.
func runValidate(ctx context.Context, e *env, args []string) int {
	fs := flag.NewFlagSet("validate", flag.ContinueOnError)
	src := sourceFlags{defaultToDot: true}
	src.register(fs)
	if err := parseFlags(fs, e, args); err != nil {
		return flagError(e, "validate", err)
	}
	d, err := src.load(ctx, e)
	if err != nil {
		problems := spec.Errors(err)
		if len(problems) == 0 {
			fmt.Fprintf(e.stderr, "mzsync validate: %v\n", err)
			return exitError
		}
		for _, p := range problems {
			fmt.Fprintln(e.stderr, p)
		}
		fmt.Fprintf(e.stderr, "mzsync validate: %s\n", validateCount(len(problems), "problem"))
		return exitError
	}
	objects, versions := 0, 0
	for _, s := range d.Schemas {
		versions += len(s.Versions)
		for _, v := range s.Versions {
			objects += len(v.Objects)
		}
	}
	fmt.Fprintf(e.stdout, "valid: %s, %s, %s, %s (revision %s)\n",
		validateCount(len(d.Sources), "source"), validateCount(len(d.Schemas), "schema"),
		validateCount(versions, "version"), validateCount(objects, "object"), validateRevision(d.Revision))
	return exitOK
}

// validateCount renders "1 source" or "2 sources".
func validateCount(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

// validateRevision abbreviates a commit or content hash for display.
func validateRevision(rev string) string {
	hex := strings.TrimPrefix(rev, "sha256:")
	if len(hex) > 12 {
		hex = hex[:12]
	}
	if strings.HasPrefix(rev, "sha256:") {
		return "sha256:" + hex
	}
	return hex
}
