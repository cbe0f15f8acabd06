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
	// upstream.urlEnv, the variable is unset, or the database could not be
	// read), so silence is not mistaken for "no drift".
	Unchecked []string `json:"unchecked,omitempty"`
	// UncheckedSchemas are the active versions some of whose tables could
	// not be compared with upstream, with why: their drift is unknown.
	// Their tables' status in Materialize was still checked.
	UncheckedSchemas []UncheckedSchema `json:"unchecked_schemas,omitempty"`
	// NamesOnlySchemas are active versions some of whose tables were
	// compared with upstream by names only: their source's upstream could
	// not be read, and Materialize's list of its publication (ALTER SOURCE
	// ... REFRESH REFERENCES, mz_source_references) stood in. Dropped,
	// renamed and new columns and tables are seen; type, attnum, OID,
	// key and replica-identity changes are not, so their drift is only
	// partly known.
	NamesOnlySchemas []UncheckedSchema `json:"names_only_schemas,omitempty"`
	// SourceProblems are sources Materialize reports stalled: every table
	// of theirs is stalled with the source's error. A source problem, not
	// a schema change; it may resolve once the source recovers.
	SourceProblems []SourceProblem `json:"source_problems,omitempty"`
}

// UncheckedSchema is an active version whose upstream was not read.
type UncheckedSchema struct {
	Schema  string          `json:"schema"`
	Version model.VersionID `json:"version"`
	// Sources whose upstream was not read, with why, "source: reason".
	Sources []string `json:"sources"`
}

// SourceProblem is a stalled source and the active tables it stalls.
type SourceProblem struct {
	Source string `json:"source"`
	Status string `json:"status"`
	Error  string `json:"error"`
	// Tables are version.table names, sorted.
	Tables []string `json:"tables"`
	// Transient: a source problem, not a schema change; it may clear.
	Transient bool `json:"transient"`
}

// Found reports whether anything drifted.
func (r *Report) Found() bool { return len(r.Tables) > 0 }

// Complete reports whether every active version could be fully compared
// with upstream and no source is stalled: only then does "no drift" mean
// it. A schema checked by names only is not complete.
func (r *Report) Complete() bool {
	return len(r.UncheckedSchemas) == 0 && len(r.NamesOnlySchemas) == 0 && len(r.SourceProblems) == 0
}

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
// active version is the one the alias schema's marker names. Each table's
// status in Materialize is checked whether or not upstream was read: a
// table Materialize stalled for an incompatible schema change is breaking
// drift, and a stalled source is a source problem. A version whose
// upstream was not read is reported unchecked, never as in step; when
// obs.References holds its source's refreshed references instead, its
// table and column names are compared with those and it is reported as
// checked by names only.
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
	problems := map[string]*SourceProblem{}
	for _, sch := range obs.Schemas {
		if sch.Marker == nil || sch.Marker.Schema != sch.Name || !wanted[sch.Name] {
			continue // only alias schemas hold active versions
		}
		vid := sch.Marker.ID()
		unchecked := map[string]bool{}
		namesOnly := map[string]bool{}
		for _, o := range sch.Objects {
			if o.Kind != model.KindTable || o.SourceID == "" {
				continue
			}
			src, ok := sources[sourceByID[o.SourceID]]
			if !ok {
				continue
			}
			t := Table{Version: vid, Table: o.Name, Source: src.Name, Upstream: o.Reference}
			osrc, _ := obs.SourceFor(o.SourceID)
			switch {
			case model.BrokenTable(o.Status, o.Error):
				t.Problems = append(t.Problems, fmt.Sprintf("Materialize %s the table: %s", stalledVerb(o.Status), orUnknown(o.Error)))
			case o.Status == model.StatusStalled && osrc != nil && osrc.Status == model.StatusStalled:
				p := problems[src.Name]
				if p == nil {
					p = &SourceProblem{Source: src.Name, Status: osrc.Status, Error: orUnknown(osrc.Error), Transient: true}
					problems[src.Name] = p
				}
				p.Tables = append(p.Tables, vid.String()+"."+o.Name)
			case o.Status == model.StatusStalled:
				// Stalled on its own while its source runs: a definite
				// error of this table (dropped, truncated, ...).
				t.Problems = append(t.Problems, "Materialize stalled the table: "+orUnknown(o.Error))
			}
			if up, ok := obs.Upstream[src.Name]; ok {
				compareUpstream(&t, o, up)
			} else if refs, ok := obs.References[src.Name]; ok {
				compareReferences(&t, o, refs)
				namesOnly[src.Name] = true
			} else {
				unchecked[src.Name] = true
			}
			switch {
			case len(t.Problems) > 0:
				t.Severity = Breaking
			case len(t.NewColumns) > 0:
				t.Severity = Behind
			default:
				continue
			}
			rep.Tables = append(rep.Tables, t)
		}
		if len(unchecked) > 0 {
			rep.UncheckedSchemas = append(rep.UncheckedSchemas, uncheckedSchema(sch.Name, vid, unchecked, obs, ""))
		}
		if len(namesOnly) > 0 {
			rep.NamesOnlySchemas = append(rep.NamesOnlySchemas, uncheckedSchema(sch.Name, vid, namesOnly, obs, "; column names compared with REFRESH REFERENCES"))
		}
	}
	for _, p := range problems {
		slices.Sort(p.Tables)
		rep.SourceProblems = append(rep.SourceProblems, *p)
	}
	slices.SortFunc(rep.SourceProblems, func(a, b SourceProblem) int { return cmp.Compare(a.Source, b.Source) })
	slices.SortFunc(rep.UncheckedSchemas, func(a, b UncheckedSchema) int { return cmp.Compare(a.Schema, b.Schema) })
	slices.SortFunc(rep.NamesOnlySchemas, func(a, b UncheckedSchema) int { return cmp.Compare(a.Schema, b.Schema) })
	slices.SortFunc(rep.Tables, func(a, b Table) int {
		return cmp.Or(cmp.Compare(a.Version.Schema, b.Version.Schema), model.CompareVersions(a.Version.Version, b.Version.Version), cmp.Compare(a.Table, b.Table))
	})
	slices.Sort(rep.Unchecked)
	return rep
}

// uncheckedSchema lists, for schema's version vid, the sources (by name)
// whose upstream was not read, each with why and the suffix.
func uncheckedSchema(schema string, vid model.VersionID, sources map[string]bool, obs *model.Observed, suffix string) UncheckedSchema {
	u := UncheckedSchema{Schema: schema, Version: vid}
	for name := range sources {
		why := "upstream not inspected"
		if e, ok := obs.UpstreamErrors[name]; ok {
			why = e
		}
		u.Sources = append(u.Sources, name+": "+why+suffix)
	}
	slices.Sort(u.Sources)
	return u
}

// compareReferences adds to t what Materialize's refreshed references of
// the source say about the table o ingests: names only. A table missing
// from them left the publication (or was dropped or renamed); an ingested
// column missing from its columns was dropped or renamed; columns neither
// ingested nor excluded are new.
func compareReferences(t *Table, o model.ObservedObject, refs []model.SourceReference) {
	i := slices.IndexFunc(refs, func(r model.SourceReference) bool { return r.Ref == o.Reference })
	if i < 0 {
		t.Problems = append(t.Problems, fmt.Sprintf("upstream table %s is not in the source's publication any more (dropped, renamed or removed from it, per REFRESH REFERENCES)", o.Reference))
		return
	}
	cols := refs[i].Columns
	for _, c := range o.Columns {
		if !slices.Contains(cols, c.Name) {
			t.Problems = append(t.Problems, fmt.Sprintf("ingested column %q was dropped or renamed upstream (per REFRESH REFERENCES)", c.Name))
		}
	}
	ut := &model.UpstreamTable{Ref: o.Reference}
	for _, c := range cols {
		ut.Columns = append(ut.Columns, model.UpstreamColumn{Name: c})
	}
	t.NewColumns = newColumns(o, ut)
}

func stalledVerb(status string) string {
	if status == model.StatusCeased {
		return "ceased ingesting"
	}
	return "stalled"
}

func orUnknown(s string) string {
	if s == "" {
		return "(no error given)"
	}
	return s
}

// compareUpstream adds to t what upstream says about the table o ingests.
func compareUpstream(t *Table, o model.ObservedObject, up model.UpstreamState) {
	if !up.PublicationExists {
		t.Problems = append(t.Problems, fmt.Sprintf("publication %q does not exist upstream", up.Publication))
	}
	var ut *model.UpstreamTable
	for i := range up.Tables {
		if up.Tables[i].Ref == o.Reference {
			ut = &up.Tables[i]
		}
	}
	if ut == nil || len(ut.Columns) == 0 {
		t.Problems = append(t.Problems, fmt.Sprintf("upstream table %s was dropped or renamed", o.Reference))
		return
	}
	if up.PublicationExists && !ut.InPublication {
		t.Problems = append(t.Problems, fmt.Sprintf("upstream table %s left publication %q", o.Reference, up.Publication))
	}
	if ut.ReplicaIdentity != "full" {
		t.Problems = append(t.Problems, fmt.Sprintf("upstream table %s has REPLICA IDENTITY %s, not FULL", o.Reference, strings.ToUpper(ut.ReplicaIdentity)))
	}
	recreated := o.Pinned != nil && o.Pinned.OID != 0 && ut.OID != 0 && o.Pinned.OID != ut.OID
	if recreated {
		t.Problems = append(t.Problems, fmt.Sprintf("upstream table %s was dropped and re-created (OID %d when ingested, now %d)", o.Reference, o.Pinned.OID, ut.OID))
	}
	t.Problems = append(t.Problems, columnProblems(o, ut, recreated)...)
	t.Problems = append(t.Problems, keyProblems(o, ut)...)
	t.NewColumns = newColumns(o, ut)
}

// keyProblems finds primary-key and unique constraints Materialize
// recorded for the table that upstream no longer has: Materialize stalls
// the table when one goes.
func keyProblems(o model.ObservedObject, ut *model.UpstreamTable) []string {
	var out []string
	for _, k := range o.Keys {
		if !slices.ContainsFunc(ut.Keys, func(u []string) bool { return slices.Equal(u, k) }) {
			out = append(out, fmt.Sprintf("primary key or unique constraint on (%s) was dropped upstream", strings.Join(k, ", ")))
		}
	}
	return out
}

// columnProblems finds ingested columns that upstream dropped, renamed,
// retyped (type or type modifier), or dropped and re-added (a new attnum).
// Columns in TEXT COLUMNS are ingested as text whatever their upstream
// type, so a retype of those is harmless.
//
// When the table's pinned description is known (o.Pinned, what
// Materialize compares with), a column's attnum, type OID and modifier
// are compared with it, as Materialize does; attnums are not compared
// when the table was re-created (its columns are numbered anew).
// Otherwise a re-added column is seen only when it now comes after a
// column it used to precede (not when it was the last one).
func columnProblems(o model.ObservedObject, ut *model.UpstreamTable, recreated bool) []string {
	upstream := map[string]model.UpstreamColumn{}
	for _, c := range ut.Columns {
		upstream[c.Name] = c
	}
	pinned := map[string]model.UpstreamColumn{}
	if o.Pinned != nil {
		for _, c := range o.Pinned.Columns {
			pinned[c.Name] = c
		}
	}
	// minAfter[i] is the smallest upstream attnum of the ingested columns
	// after the i-th: a column whose attnum exceeds it was re-added.
	attnums := make([]int, len(o.Columns))
	for i, c := range o.Columns {
		attnums[i] = -1
		if uc, ok := upstream[c.Name]; ok {
			attnums[i] = uc.Attnum
		}
	}
	minAfter := make([]int, len(o.Columns))
	low := int(^uint(0) >> 1)
	for i := len(o.Columns) - 1; i >= 0; i-- {
		minAfter[i] = low
		if attnums[i] >= 0 {
			low = min(low, attnums[i])
		}
	}
	var out []string
	for i, c := range o.Columns {
		uc, ok := upstream[c.Name]
		if !ok {
			out = append(out, fmt.Sprintf("ingested column %q was dropped or renamed upstream", c.Name))
			continue
		}
		pc, havePinned := pinned[c.Name]
		switch {
		case havePinned && pc.Attnum != 0:
			if !recreated && pc.Attnum != uc.Attnum {
				out = append(out, fmt.Sprintf("ingested column %q was dropped and re-added upstream (attnum %d when ingested, now %d)", c.Name, pc.Attnum, uc.Attnum))
			}
		case uc.Attnum > minAfter[i]:
			out = append(out, fmt.Sprintf("ingested column %q was dropped and re-added upstream (it is now attnum %d, after columns it preceded)", c.Name, uc.Attnum))
		}
		if slices.Contains(o.TextColumns, c.Name) {
			continue
		}
		if havePinned && pc.TypeOID != 0 {
			// The pinned type OID and modifier are the upstream ones
			// Materialize checks, exactly.
			switch {
			case pc.TypeOID != uc.TypeOID:
				out = append(out, fmt.Sprintf("ingested column %q changed type upstream: ingested as %s, now %s", c.Name, c.Type, uc.Type))
			case pc.TypeMod != uc.TypeMod:
				out = append(out, fmt.Sprintf("ingested column %q changed type modifier upstream: ingested as %s, now %s", c.Name, withModifier(c.Type, pc.TypeOID, pc.TypeMod), uc.Type))
			}
		} else if p := typeProblem(c, uc); p != "" {
			out = append(out, fmt.Sprintf("ingested column %q %s", c.Name, p))
		}
		if !c.Nullable && uc.Nullable {
			out = append(out, fmt.Sprintf("ingested column %q dropped NOT NULL upstream", c.Name))
		}
	}
	return out
}

// typeProblem compares an ingested column with its upstream column. Type
// OIDs decide when both sides know them (Materialize uses PostgreSQL's
// OIDs for the types it ingests); names are the fallback, with
// Materialize's names mapped to PostgreSQL's ("time" is "time without time
// zone"). A type modifier change (varchar(2) to varchar(20)) counts when
// Materialize recorded a modifier.
func typeProblem(c model.Column, uc model.UpstreamColumn) string {
	if c.TypeOID != 0 && uc.TypeOID != 0 {
		if c.TypeOID != uc.TypeOID && !sameType(c.Type, uc.Type) {
			return fmt.Sprintf("changed type upstream: ingested as %s, now %s", c.Type, uc.Type)
		}
		if c.TypeOID == uc.TypeOID && c.TypeMod >= 0 && c.TypeMod != uc.TypeMod {
			return fmt.Sprintf("changed type modifier upstream: ingested as %s, now %s", withModifier(c.Type, c.TypeOID, c.TypeMod), uc.Type)
		}
		return ""
	}
	if !sameType(c.Type, uc.Type) {
		return fmt.Sprintf("changed type upstream: ingested as %s, now %s", c.Type, uc.Type)
	}
	return ""
}

// withModifier spells a type with its modifier as PostgreSQL's
// format_type does for the common cases (varchar(20), numeric(5,2),
// timestamp(3)), so both sides of a modifier change read alike; other
// modifiers are shown as numbers.
func withModifier(name string, oid uint32, mod int32) string {
	if mod < 0 {
		return name + " (no modifier)"
	}
	switch oid {
	case 1043, 1042: // varchar, bpchar
		return fmt.Sprintf("%s(%d)", name, mod-4)
	case 1700: // numeric
		return fmt.Sprintf("%s(%d,%d)", name, (mod-4)>>16&0xffff, (mod-4)&0xffff)
	case 1083, 1114, 1184, 1266, 1560, 1562: // time, timestamp(tz), timetz, bit, varbit
		// "timestamp(3) with time zone", as format_type spells it.
		if i := strings.Index(name, " with"); i >= 0 {
			return fmt.Sprintf("%s(%d)%s", name[:i], mod, name[i:])
		}
		return fmt.Sprintf("%s(%d)", name, mod)
	}
	return fmt.Sprintf("%s with modifier %d", name, mod)
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

// sameType compares a Materialize column type name (mz_columns.type,
// Materialize's own names such as "time" or "int4", without modifiers)
// with an upstream format_type result (PostgreSQL's names, which may carry
// modifiers). Only base names are compared, each mapped to one spelling.
func sameType(mz, up string) bool {
	return canonicalType(mz) == canonicalType(up)
}

// typeAliases maps every spelling Materialize or PostgreSQL uses for a
// type to PostgreSQL's format_type name.
var typeAliases = map[string]string{
	"int": "integer", "int4": "integer", "int8": "bigint", "int2": "smallint",
	"bool": "boolean", "float8": "double precision", "float": "double precision", "float4": "real",
	"varchar": "character varying", "char": "character", "bpchar": "character",
	"timestamptz": "timestamp with time zone", "timestamp": "timestamp without time zone",
	"time": "time without time zone", "timetz": "time with time zone",
	"decimal": "numeric", "string": "text",
}

func canonicalType(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	s = strings.TrimPrefix(s, "pg_catalog.")
	array := ""
	for strings.HasSuffix(s, "[]") {
		s = strings.TrimSpace(strings.TrimSuffix(s, "[]"))
		array += "[]"
	}
	// Drop modifiers: "character varying(20)", "timestamp(3) with time zone".
	if i := strings.IndexByte(s, '('); i >= 0 {
		rest := ""
		if j := strings.IndexByte(s[i:], ')'); j >= 0 {
			rest = s[i+j+1:]
		}
		s = strings.Join(strings.Fields(s[:i]+" "+rest), " ")
	}
	if v, ok := typeAliases[s]; ok {
		s = v
	}
	return s + array
}
