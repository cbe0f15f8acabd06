package reconcile

import (
	"errors"
	"fmt"
	"strings"

	"github.com/mzsync/mzsync/internal/model"
)

// Op is what a change does. The first seven are executable; blocked,
// drift and ignored are findings that carry no SQL.
type Op string

// The operations of a plan.
const (
	OpCreate  Op = "create"  // create a schema, tables, a view, a materialized view, an index or a source
	OpComment Op = "comment" // write mzsync's marker on an object (after a create, or to adopt one)
	OpWait    Op = "wait"    // wait until a version is ready (no SQL; apply polls the catalog)
	OpSwap    Op = "swap"    // cut over: swap the alias with a version schema and rename the retired one
	OpRename  Op = "rename"  // first cutover: rename a version schema to the alias
	OpDrop    Op = "drop"    // drop a version schema beyond retention
	OpAdopt   Op = "adopt"   // take a hand-built schema over as a version: rename it into mzsync's naming, mark its objects and record it (adoptFrom)
	OpBlocked Op = "blocked" // something should happen but may not; Reason says why
	OpDrift   Op = "drift"   // an owned object differs from what mzsync created
	OpIgnored Op = "ignored" // an object mzsync does not own, or does not manage, left alone
)

// Executable reports whether the op is carried out by apply.
func (o Op) Executable() bool {
	switch o {
	case OpCreate, OpComment, OpWait, OpSwap, OpRename, OpDrop, OpAdopt:
		return true
	}
	return false
}

// The kinds a change concerns.
const (
	KindSource           = "source"
	KindSchema           = "schema"
	KindTable            = "table"
	KindView             = "view"
	KindMaterializedView = "materialized-view"
	KindIndex            = "index"
	KindVersion          = "version"
)

// Change is one step of a plan: either executable SQL or a finding.
type Change struct {
	Op Op
	// Kind is what the change concerns: source, schema, table, view,
	// materialized-view, index or version.
	Kind string
	// Target is the display name of what changes: app_v2.t, app/v2, app_v0.
	Target string
	// Version is the version concerned, zero if none.
	Version model.VersionID
	// Objects are the objects the change creates, marks or finds, by name
	// at the time the change runs; nil for schema-level changes.
	Objects []model.Ref
	// SQL are the statements in order, identifiers quoted. Empty for wait
	// and for findings.
	SQL []string
	// Transaction says SQL runs inside one BEGIN ... COMMIT. Otherwise each
	// statement runs alone, in autocommit.
	Transaction bool
	// SearchPath is set (SET search_path) before SQL, on the same
	// connection; nil when the statements do not depend on it.
	SearchPath []string
	// Reason explains the change, for display only.
	Reason string
	// Destructive is true when the change drops data or objects.
	Destructive bool
}

// Plan is the ordered list of changes that converges the observed state to
// the desired one.
type Plan struct {
	// Revision is the desired state's revision.
	Revision string
	// Fingerprint is the observed state's fingerprint the plan was computed
	// from; apply refuses a plan whose fingerprint no longer matches.
	Fingerprint string
	// Changes are in a total, deterministic order.
	Changes []Change
}

// Empty reports whether the plan has no executable change. Findings
// (blocked, drift, ignored) do not count.
func (p *Plan) Empty() bool {
	for _, c := range p.Changes {
		if c.Op.Executable() {
			return false
		}
	}
	return true
}

// Blocked reports whether the plan has blocked or drift findings: something
// that should change and may not, which needs a person.
func (p *Plan) Blocked() bool {
	for _, c := range p.Changes {
		if c.Op == OpBlocked || c.Op == OpDrift {
			return true
		}
	}
	return false
}

// Summary counts a plan's changes by op.
type Summary struct {
	Create  int `json:"create"`
	Comment int `json:"comment"`
	// Record counts schema marker comments: a build's state or a
	// cutover's live record, part of the step they finish.
	Record int `json:"record"`
	Wait   int `json:"wait"`
	Swap   int `json:"swap"`
	Rename int `json:"rename"`
	Drop   int `json:"drop"`
	// Adopt counts the steps that take hand-built schemas over (absent
	// when none, so plans without adoption read as before).
	Adopt   int `json:"adopt,omitempty"`
	Blocked int `json:"blocked"`
	Drift   int `json:"drift"`
	Ignored int `json:"ignored"`
}

// Summary counts the plan's changes by op.
func (p *Plan) Summary() Summary {
	var s Summary
	for _, c := range p.Changes {
		switch c.Op {
		case OpCreate:
			s.Create++
		case OpComment:
			if c.Kind == KindSchema {
				s.Record++
			} else {
				s.Comment++
			}
		case OpWait:
			s.Wait++
		case OpSwap:
			s.Swap++
		case OpRename:
			s.Rename++
		case OpDrop:
			s.Drop++
		case OpAdopt:
			s.Adopt++
		case OpBlocked:
			s.Blocked++
		case OpDrift:
			s.Drift++
		case OpIgnored:
			s.Ignored++
		}
	}
	return s
}

// Findings counts the changes that are findings, by op.
func (s Summary) findings() string {
	var parts []string
	for _, f := range []struct {
		n    int
		word string
	}{{s.Blocked, "blocked"}, {s.Drift, "drift"}, {s.Ignored, "ignored"}} {
		if f.n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", f.n, f.word))
		}
	}
	return strings.Join(parts, ", ")
}

// String renders the summary line: "Plan: 3 to create, 1 to swap, 0 to
// drop." or "No changes.", followed by the findings when there are any.
// Object comments count as creates and a first-deployment rename as a
// swap: both are part of creating, and cutting over to, a version. Schema
// marker records are part of the step they finish and are not counted.
func (s Summary) String() string {
	var line string
	if s.Create+s.Comment+s.Record+s.Wait+s.Swap+s.Rename+s.Drop+s.Adopt == 0 {
		line = "No changes."
	} else {
		line = fmt.Sprintf("Plan: %d to create, %d to swap, %d to drop.", s.Create+s.Comment, s.Swap+s.Rename, s.Drop)
		if s.Adopt > 0 {
			line = strings.TrimSuffix(line, ".") + fmt.Sprintf(", %d adoption step(s).", s.Adopt)
		}
	}
	if f := s.findings(); f != "" {
		line += " Findings: " + f + "."
	}
	return line
}

// ErrEmptyDesired reports a desired state with no schemas and no sources.
// mzsync never plans from it: an empty or unreadable manifest set must not
// prune anything.
var ErrEmptyDesired = errors.New("desired state is empty: no Schema and no Source manifests; refusing to plan (an empty manifest set never prunes)")
