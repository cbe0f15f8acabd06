package drift

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/mzsync/mzsync/internal/model"
)

// Severity of a table's drift.
type Severity string

// Severities, from harmless to urgent.
const (
	// Behind: upstream has columns the version does not ingest. Nothing is
	// broken; a new version can pick them up.
	Behind Severity = "behind"
	// Breaking: reads of the table (and every view on it) fail or will
	// fail; a new version is needed now.
	Breaking Severity = "breaking"
)

// Table is the drift of one ingested table of an active version.
type Table struct {
	Version  model.VersionID   `json:"version"`
	Table    string            `json:"table"`
	Source   string            `json:"source"`
	Upstream model.UpstreamRef `json:"upstream"`
	Severity Severity          `json:"severity"`
	// NewColumns are upstream columns the table does not ingest (behind).
	NewColumns []string `json:"new_columns,omitempty"`
	// Problems explain a breaking drift, one sentence each.
	Problems []string `json:"problems,omitempty"`
}

// Report lists drifted tables, sorted by version then table.
type Report struct {
	Tables []Table `json:"tables"`
	// Unchecked names sources whose upstream could not be inspected (no
	// upstream.urlEnv, or the variable is unset), so silence is not
	// mistaken for "no drift".
	Unchecked []string `json:"unchecked,omitempty"`
}

// Found reports whether anything drifted.
func (r *Report) Found() bool { return len(r.Tables) > 0 }

// Breaking reports whether any table's drift is breaking.
func (r *Report) Breaking() bool {
	for _, t := range r.Tables {
		if t.Severity == Breaking {
			return true
		}
	}
	return false
}

// Compute compares, for every managed schema's active version, each table
// fed from a source with that source's upstream state in obs.Upstream. The
// active version is the one the alias schema's marker names.
func Compute(obs *model.Observed, des *model.Desired) *Report {
	rep := &Report{Tables: []Table{}}
	sources := map[model.Ref]model.Source{}
	for _, s := range des.Sources {
		sources[s.Ref()] = s
		if _, ok := obs.Upstream[s.Name]; !ok {
			rep.Unchecked = append(rep.Unchecked, s.Name)
		}
	}
	sourceByID := map[string]model.Ref{}
	for _, s := range obs.Sources {
		sourceByID[s.ID] = s.Ref()
	}
	wanted := map[string]bool{}
	for _, s := range des.Schemas {
		wanted[s.Name] = true
	}
	for _, sch := range obs.Schemas {
		if sch.Marker == nil || sch.Marker.Schema != sch.Name || !wanted[sch.Name] {
			continue // only alias schemas hold active versions
		}
		vid := sch.Marker.ID()
		for _, o := range sch.Objects {
			if o.Kind != model.KindTable || o.SourceID == "" {
				continue
			}
			src, ok := sources[sourceByID[o.SourceID]]
			if !ok {
				continue
			}
			up, ok := obs.Upstream[src.Name]
			if !ok {
				continue
			}
			if t, drifted := compareTable(vid, src, o, up); drifted {
				rep.Tables = append(rep.Tables, t)
			}
		}
	}
	slices.SortFunc(rep.Tables, func(a, b Table) int {
		return cmp.Or(cmp.Compare(a.Version.Schema, b.Version.Schema), model.CompareVersions(a.Version.Version, b.Version.Version), cmp.Compare(a.Table, b.Table))
	})
	slices.Sort(rep.Unchecked)
	return rep
}

func compareTable(vid model.VersionID, src model.Source, o model.ObservedObject, up model.UpstreamState) (Table, bool) {
	t := Table{Version: vid, Table: o.Name, Source: src.Name, Upstream: o.Reference}
	if o.Status == "stalled" {
		msg := "Materialize stalled ingesting the table"
		if o.Error != "" {
			msg += ": " + o.Error
		}
		t.Problems = append(t.Problems, msg)
	}
	if !up.PublicationExists {
		t.Problems = append(t.Problems, fmt.Sprintf("publication %q does not exist upstream", up.Publication))
	}
	var ut *model.UpstreamTable
	for i := range up.Tables {
		if up.Tables[i].Ref == o.Reference {
			ut = &up.Tables[i]
		}
	}
	switch {
	case ut == nil || len(ut.Columns) == 0:
		t.Problems = append(t.Problems, fmt.Sprintf("upstream table %s was dropped or renamed", o.Reference))
	default:
		if up.PublicationExists && !ut.InPublication {
			t.Problems = append(t.Problems, fmt.Sprintf("upstream table %s left publication %q", o.Reference, up.Publication))
		}
		if ut.ReplicaIdentity != "full" {
			t.Problems = append(t.Problems, fmt.Sprintf("upstream table %s has REPLICA IDENTITY %s, not FULL", o.Reference, strings.ToUpper(ut.ReplicaIdentity)))
		}
		t.Problems = append(t.Problems, columnProblems(o, ut)...)
		t.NewColumns = newColumns(o, ut)
	}
	switch {
	case len(t.Problems) > 0:
		t.Severity = Breaking
	case len(t.NewColumns) > 0:
		t.Severity = Behind
	default:
		return t, false
	}
	return t, true
}

// columnProblems finds ingested columns that upstream dropped, renamed or
// retyped. Columns in TEXT COLUMNS are ingested as text whatever their
// upstream type, so a retype of those is harmless.
func columnProblems(o model.ObservedObject, ut *model.UpstreamTable) []string {
	upstream := map[string]model.UpstreamColumn{}
	for _, c := range ut.Columns {
		upstream[c.Name] = c
	}
	var out []string
	for _, c := range o.Columns {
		uc, ok := upstream[c.Name]
		if !ok {
			out = append(out, fmt.Sprintf("ingested column %q was dropped or renamed upstream", c.Name))
			continue
		}
		if slices.Contains(o.TextColumns, c.Name) {
			continue
		}
		if !sameType(c.Type, uc.Type) {
			out = append(out, fmt.Sprintf("ingested column %q changed type upstream: ingested as %s, now %s", c.Name, c.Type, uc.Type))
		}
		if !c.Nullable && uc.Nullable {
			out = append(out, fmt.Sprintf("ingested column %q dropped NOT NULL upstream", c.Name))
		}
	}
	return out
}

func newColumns(o model.ObservedObject, ut *model.UpstreamTable) []string {
	have := map[string]bool{}
	for _, c := range o.Columns {
		have[c.Name] = true
	}
	for _, c := range o.ExcludeColumns {
		have[c] = true
	}
	var out []string
	for _, c := range ut.Columns {
		if !have[c.Name] {
			out = append(out, c.Name)
		}
	}
	return out
}

// sameType compares a Materialize column type (mz_columns.type, a
// PostgreSQL-style name without modifiers) with an upstream format_type
// result (which may carry modifiers). Only the base names are compared: a
// change of modifier alone (varchar(2) to varchar(20)) is not visible in
// Materialize's catalog, and Materialize itself reports it by ceasing the
// table, which Compute reports separately.
func sameType(mz, up string) bool {
	base := func(s string) string {
		s = strings.ToLower(strings.TrimSpace(s))
		if i := strings.IndexByte(s, '('); i >= 0 {
			rest := ""
			if j := strings.IndexByte(s[i:], ')'); j >= 0 {
				rest = s[i+j+1:]
			}
			s = strings.TrimSpace(s[:i]) + rest
		}
		return strings.TrimSpace(s)
	}
	a, b := base(mz), base(up)
	if a == b {
		return true
	}
	alias := map[string]string{
		"int4": "integer", "int": "integer", "int8": "bigint", "int2": "smallint",
		"bool": "boolean", "float8": "double precision", "float4": "real",
		"varchar": "character varying", "timestamptz": "timestamp with time zone",
		"timestamp": "timestamp without time zone", "bpchar": "character",
	}
	if v, ok := alias[a]; ok {
		a = v
	}
	if v, ok := alias[b]; ok {
		b = v
	}
	return a == b
}
