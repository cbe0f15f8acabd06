package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/mzsync/mzsync/internal/desired"
	"github.com/mzsync/mzsync/internal/model"
	"github.com/mzsync/mzsync/internal/prdiff"
	"github.com/mzsync/mzsync/spec"
)

func init() {
	register(&command{name: "diff", summary: "compare the manifests of two git revisions, offline (text, JSON or Markdown)", run: runDiff})
}

// runDiff compares the desired states of two revisions of a git work tree
// without contacting Materialize. The report goes to stdout, even when it
// holds errors; problems go to stderr. Exit 1 on any error (including an
// error finding such as a modified released version), 2 with
// --detailed-exitcode when the merge changes something, 0 otherwise.
func runDiff(_ context.Context, e *env, args []string) int {
	fs := flag.NewFlagSet("diff", flag.ContinueOnError)
	base := fs.String("base", "", "the revision to compare against, as git names it (origin/main, HEAD~1, a tag, a commit); required")
	head := fs.String("head", "", "the revision to compare (default: the working tree, uncommitted changes included)")
	dir := fs.String("dir", ".", "the manifest directory, inside a git work tree")
	format := fs.String("format", "text", "output format: text, json or markdown")
	detailed := fs.Bool("detailed-exitcode", false, "exit 2 when the merge changes something, 0 when it changes nothing")
	if err := parseFlags(fs, e, args); err != nil {
		return flagError(e, "diff", err)
	}
	if *base == "" {
		return flagError(e, "diff", errors.New("--base is required: the revision to compare against, e.g. origin/main"))
	}
	render, err := diffRenderer(*format)
	if err != nil {
		return flagError(e, "diff", err)
	}

	headD, code := loadHead(e, *dir, *head)
	if headD == nil {
		return code
	}
	baseD, code := loadBase(e, *dir, *base)
	if baseD == nil {
		return code
	}

	r := prdiff.Compare(baseD, headD)
	r.Base.Ref, r.Head.Ref = *base, *head
	if err := render(e.stdout, r); err != nil {
		fmt.Fprintf(e.stderr, "mzsync diff: %v\n", err)
		return exitError
	}
	if n := r.Count(prdiff.Error); n > 0 {
		for _, f := range r.Findings {
			if f.Severity == prdiff.Error {
				fmt.Fprintf(e.stderr, "error: %s\n", f.Message)
			}
		}
		fmt.Fprintf(e.stderr, "mzsync diff: %s: the head must not be merged as it is\n", validateCount(n, "error"))
		return exitError
	}
	if *detailed && !r.Empty() {
		return exitChanges
	}
	return exitOK
}

// sideName names a revision in messages.
func sideName(rev string) string {
	if rev == desired.WorkTree {
		return "the working tree"
	}
	return rev
}

// loadHead loads the head's desired state; it must exist and be valid. On
// failure it reports to stderr and returns nil and the exit code.
func loadHead(e *env, dir, rev string) (*model.Desired, int) {
	snap, err := desired.ReadRevision(dir, rev)
	if err != nil {
		fmt.Fprintf(e.stderr, "mzsync diff: head: %v\n", err)
		return nil, exitError
	}
	d, err := snap.Load()
	switch {
	case errors.Is(err, desired.ErrEmpty):
		fmt.Fprintf(e.stderr, "mzsync diff: head %s: %v\n", sideName(rev), err)
		return nil, exitError
	case err != nil:
		reportProblems(e, "head "+sideName(rev), err)
		return nil, exitError
	}
	return d, exitOK
}

// loadBase loads the base's desired state. A base in which the manifest
// directory did not exist yet, or held no manifest documents, is the
// empty state (the pull request adds the manifests); a base that exists
// but does not load is an error, never silently empty.
func loadBase(e *env, dir, rev string) (*model.Desired, int) {
	snap, err := desired.ReadRevision(dir, rev)
	switch {
	case errors.Is(err, desired.ErrNoPath):
		e.log.Info("manifest directory does not exist at base; comparing with no manifests", "base", rev, "dir", dir)
		return &model.Desired{}, exitOK
	case err != nil:
		fmt.Fprintf(e.stderr, "mzsync diff: base: %v\n", err)
		return nil, exitError
	}
	d, err := snap.Load()
	switch {
	case errors.Is(err, desired.ErrEmpty):
		e.log.Info("no manifests at base; comparing with no manifests", "base", rev, "revision", snap.Revision)
		return &model.Desired{Revision: snap.Revision}, exitOK
	case err != nil:
		reportProblems(e, "base "+rev, err)
		return nil, exitError
	}
	return d, exitOK
}

// reportProblems prints every validation problem of one side, one a line,
// then a count; other errors as one line.
func reportProblems(e *env, side string, err error) {
	problems := spec.Errors(err)
	if len(problems) == 0 {
		fmt.Fprintf(e.stderr, "mzsync diff: %s: %v\n", side, err)
		return
	}
	for _, p := range problems {
		fmt.Fprintf(e.stderr, "%s: %v\n", side, p)
	}
	fmt.Fprintf(e.stderr, "mzsync diff: %s fails validation: %s\n", side, validateCount(len(problems), "problem"))
}

func diffRenderer(format string) (func(io.Writer, *prdiff.Report) error, error) {
	switch format {
	case "text":
		return prdiff.RenderText, nil
	case "json":
		return prdiff.RenderJSON, nil
	case "markdown", "md":
		return func(w io.Writer, r *prdiff.Report) error {
			return prdiff.RenderMarkdown(w, r, prdiff.DefaultMarkdownLimit)
		}, nil
	}
	return nil, fmt.Errorf("--format must be text, json or markdown, not %q", format)
}
