package prdiff

import (
	"fmt"
	"slices"
	"strings"

	"github.com/mzsync/mzsync/internal/model"
)

// Severity says how much a finding matters to a reviewer.
type Severity string

// The severities, from least to most serious. An error means the head must
// not be merged as it is.
const (
	Info    Severity = "info"
	Warning Severity = "warning"
	Error   Severity = "error"
)

// Kind is what a finding reports.
type Kind string

// The kinds of findings.
const (
	SourceAdded      Kind = "source-added"
	SourceRemoved    Kind = "source-removed"
	SourceChanged    Kind = "source-changed"
	SchemaAdded      Kind = "schema-added"
	SchemaRemoved    Kind = "schema-removed"
	SchemaChanged    Kind = "schema-changed"
	RetentionChanged Kind = "retention-changed"
	ActiveSwitched   Kind = "active-switched"
	VersionAdded     Kind = "version-added"
	VersionIdentical Kind = "version-identical"
	VersionModified  Kind = "version-modified"
	VersionRemoved   Kind = "version-removed"
	VersionRebuilt   Kind = "version-rebuilt"
	VersionDropped   Kind = "version-dropped"
)

// Switch classifies a change of a schema's active version by what the
// merge costs.
type Switch string

// The kinds of switches.
const (
	// SwitchBuild: the new active version is new in the head; mzsync builds
	// it, waits until it is ready, then cuts over.
	SwitchBuild Switch = "build"
	// SwitchCutover: the new active version is newer than the base's and
	// the base already keeps it built (staged); only the cutover remains.
	SwitchCutover Switch = "cutover"
	// SwitchRollback: the new active version is older than the base's and
	// retained by it; the cutover is one swap, no rebuild.
	SwitchRollback Switch = "rollback"
	// SwitchRebuild: the new active version is declared in the base but not
	// kept built there (beyond its retain window); it is rebuilt before the
	// cutover, which takes as long as a new version.
	SwitchRebuild Switch = "rebuild"
)

// Finding is one thing the merge changes, or one thing wrong with it.
type Finding struct {
	Severity Severity
	Kind     Kind
	// Subject names what the finding is about: a source (public.pg), a
	// schema (app) or a version (app/v2).
	Subject string
	// From and To are the value before and after when the finding is a
	// change of one value (active version, retain, digest); empty otherwise.
	From, To string
	// Switch classifies an ActiveSwitched finding; empty for other kinds.
	Switch Switch
	// Message is one sentence for display.
	Message string
	// Details are further lines for display (e.g. the objects of a
	// modified version), possibly none.
	Details []string
}

// Side describes one of the two compared revisions.
type Side struct {
	// Ref is the revision as the user named it (origin/main, HEAD~1);
	// empty for the working tree. Compare leaves it empty; callers set it.
	Ref string
	// Revision is the desired state's revision: a commit hash, or a
	// content hash for a working tree.
	Revision string
	// Empty is set when the revision holds no manifests at all.
	Empty bool
}

// Role is what a version is for, given its schema's active version and
// retain setting.
type Role string

// The roles of a declared version.
const (
	RoleActive   Role = "active"   // consumers see it
	RoleRetained Role = "retained" // older than active, kept built for rollback
	RoleStaged   Role = "staged"   // newer than active, built beside it
	RoleNotBuilt Role = "not built"
)

// VersionState is a declared version of the head and its role.
type VersionState struct {
	Name   string
	Role   Role
	Digest string
}

// SchemaState is a schema as the head declares it.
type SchemaState struct {
	Name     string
	Active   string
	Retain   int
	Versions []VersionState
}

// Report is the comparison of a base and a head desired state.
type Report struct {
	Base, Head Side
	// Findings are in a deterministic order: sources by name, then schemas
	// by name; inside a schema, its own settings, then its versions in
	// version order.
	Findings []Finding
	// Schemas is the head's schemas with each version's role after the
	// merge, sorted by name, for display.
	Schemas []SchemaState
}

// Empty says whether the merge changes nothing mzsync acts on.
func (r *Report) Empty() bool { return len(r.Findings) == 0 }

// Count returns how many findings have severity s.
func (r *Report) Count(s Severity) int {
	n := 0
	for _, f := range r.Findings {
		if f.Severity == s {
			n++
		}
	}
	return n
}

// Summary counts a report's findings by severity.
type Summary struct {
	Changes  int `json:"changes"`
	Errors   int `json:"errors"`
	Warnings int `json:"warnings"`
	Info     int `json:"info"`
}

// Summary counts the report's findings.
func (r *Report) Summary() Summary {
	return Summary{Changes: len(r.Findings), Errors: r.Count(Error), Warnings: r.Count(Warning), Info: r.Count(Info)}
}

// String renders the summary as a sentence: "No changes." or
// "3 changes: 1 error, 1 warning, 1 info.".
func (s Summary) String() string {
	if s.Changes == 0 {
		return "No changes."
	}
	return fmt.Sprintf("%s: %s, %s, %d info.", plural(s.Changes, "change"), plural(s.Errors, "error"), plural(s.Warnings, "warning"), s.Info)
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

// Compare reports what merging head into base changes. Both are desired
// states as internal/desired loads them (validated, sorted, digested); a
// nil base, or one without sources and schemas, is a repository that had
// no manifests yet. Compare is pure and deterministic.
func Compare(base, head *model.Desired) *Report {
	if base == nil {
		base = &model.Desired{}
	}
	if head == nil {
		head = &model.Desired{}
	}
	r := &Report{
		Base: Side{Revision: base.Revision, Empty: len(base.Sources) == 0 && len(base.Schemas) == 0},
		Head: Side{Revision: head.Revision, Empty: len(head.Sources) == 0 && len(head.Schemas) == 0},
	}
	r.Findings = append(r.Findings, compareSources(base.Sources, head.Sources)...)

	bs, hs := map[string]*model.Schema{}, map[string]*model.Schema{}
	var names []string
	for i := range base.Schemas {
		bs[base.Schemas[i].Name] = &base.Schemas[i]
		names = append(names, base.Schemas[i].Name)
	}
	for i := range head.Schemas {
		s := &head.Schemas[i]
		hs[s.Name] = s
		if bs[s.Name] == nil {
			names = append(names, s.Name)
		}
		r.Schemas = append(r.Schemas, schemaState(s))
	}
	slices.Sort(names)
	slices.SortFunc(r.Schemas, func(a, b SchemaState) int { return strings.Compare(a.Name, b.Name) })
	for _, name := range names {
		r.Findings = append(r.Findings, compareSchema(bs[name], hs[name])...)
	}
	return r
}

func sourceKey(s *model.Source) string { return s.Ref().String() }

func compareSources(base, head []model.Source) []Finding {
	bm, hm := map[string]*model.Source{}, map[string]*model.Source{}
	var keys []string
	for i := range base {
		bm[sourceKey(&base[i])] = &base[i]
		keys = append(keys, sourceKey(&base[i]))
	}
	for i := range head {
		k := sourceKey(&head[i])
		hm[k] = &head[i]
		if bm[k] == nil {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	var out []Finding
	for _, k := range keys {
		b, h := bm[k], hm[k]
		switch {
		case b == nil:
			out = append(out, Finding{
				Severity: Info, Kind: SourceAdded, Subject: k,
				Message: fmt.Sprintf("source %s added (cluster %s, connection %s, publication %s); mzsync creates it when it is missing", k, h.Cluster, h.Connection, h.Publication),
			})
		case h == nil:
			out = append(out, Finding{
				Severity: Warning, Kind: SourceRemoved, Subject: k,
				Message: fmt.Sprintf("source %s is no longer declared; mzsync never drops a source, so it stays until someone drops it by hand", k),
			})
		default:
			var fields []string
			sev := Info
			for _, c := range []struct{ field, from, to string }{
				{"cluster", b.Cluster, h.Cluster},
				{"connection", b.Connection, h.Connection},
				{"publication", b.Publication, h.Publication},
				{"upstream.urlEnv", b.UpstreamURLEnv, h.UpstreamURLEnv},
			} {
				if c.from == c.to {
					continue
				}
				fields = append(fields, fmt.Sprintf("%s: %s -> %s", c.field, orNone(c.from), orNone(c.to)))
				if c.field != "upstream.urlEnv" {
					sev = Warning
				}
			}
			if len(fields) == 0 {
				continue
			}
			msg := fmt.Sprintf("source %s changed: %s", k, strings.Join(fields, "; "))
			if sev == Warning {
				msg += "; mzsync never alters a source it created, so an existing source keeps its old definition and plans report it as drift"
			} else {
				msg += "; this only changes how mzsync reads the upstream schema"
			}
			out = append(out, Finding{Severity: sev, Kind: SourceChanged, Subject: k, From: b.Digest, To: h.Digest, Message: msg})
		}
	}
	return out
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// kept returns the versions a schema keeps built: the active one, the
// retain versions before it, and every newer (staged) one. It mirrors the
// retention of internal/reconcile.
func kept(s *model.Schema) map[string]bool {
	out := map[string]bool{}
	if s == nil {
		return out
	}
	activeIdx := slices.IndexFunc(s.Versions, func(v model.Version) bool { return v.ID.Version == s.Active })
	if activeIdx < 0 {
		activeIdx = 0
	}
	first := max(0, activeIdx-max(0, s.Retain))
	for _, v := range s.Versions[first:] {
		out[v.ID.Version] = true
	}
	return out
}

func schemaState(s *model.Schema) SchemaState {
	st := SchemaState{Name: s.Name, Active: s.Active, Retain: s.Retain}
	k := kept(s)
	for _, v := range s.Versions {
		role := RoleNotBuilt
		switch {
		case v.ID.Version == s.Active:
			role = RoleActive
		case !k[v.ID.Version]:
		case model.CompareVersions(v.ID.Version, s.Active) < 0:
			role = RoleRetained
		default:
			role = RoleStaged
		}
		st.Versions = append(st.Versions, VersionState{Name: v.ID.Version, Role: role, Digest: v.Digest})
	}
	return st
}

func compareSchema(b, h *model.Schema) []Finding {
	switch {
	case b == nil:
		out := []Finding{{
			Severity: Info, Kind: SchemaAdded, Subject: h.Name, To: h.Active,
			Message: fmt.Sprintf("schema %s added with %s: mzsync builds %s and makes it %s (retain: %d)",
				h.Name, plural(len(h.Versions), "version"), model.VersionID{Schema: h.Name, Version: h.Active}, h.Name, h.Retain),
		}}
		for i := range h.Versions {
			out = append(out, versionAdded(nil, h, &h.Versions[i])...)
		}
		return out
	case h == nil:
		var vs []string
		for _, v := range b.Versions {
			vs = append(vs, v.ID.Version)
		}
		return []Finding{{
			Severity: Warning, Kind: SchemaRemoved, Subject: b.Name, From: b.Active,
			Message: fmt.Sprintf("no Schema manifest declares %s any more; mzsync leaves its live schema and versions alone and never drops them", b.Name),
			Details: []string{"versions declared in the base: " + strings.Join(vs, ", ")},
		}}
	}

	var out []Finding
	var fields []string
	for _, c := range []struct{ field, from, to string }{
		{"cluster", b.Cluster, h.Cluster},
		{"prune", fmt.Sprint(b.Prune), fmt.Sprint(h.Prune)},
		{"readiness.maxLag", b.Readiness.MaxLag.String(), h.Readiness.MaxLag.String()},
		{"readiness.timeout", b.Readiness.Timeout.String(), h.Readiness.Timeout.String()},
	} {
		if c.from != c.to {
			fields = append(fields, fmt.Sprintf("%s: %s -> %s", c.field, c.from, c.to))
		}
	}
	if len(fields) > 0 {
		out = append(out, Finding{Severity: Info, Kind: SchemaChanged, Subject: h.Name,
			Message: fmt.Sprintf("schema %s settings changed: %s", h.Name, strings.Join(fields, "; "))})
	}
	if b.Retain != h.Retain {
		out = append(out, Finding{Severity: Info, Kind: RetentionChanged, Subject: h.Name,
			From: fmt.Sprint(b.Retain), To: fmt.Sprint(h.Retain),
			Message: fmt.Sprintf("schema %s keeps %d older version(s) for rollback instead of %d", h.Name, h.Retain, b.Retain)})
	}
	bk, hk := kept(b), kept(h)
	if b.Active != h.Active {
		out = append(out, activeSwitch(b, h, bk))
	}

	// Every version of either side, in version order.
	var names []string
	for _, v := range b.Versions {
		names = append(names, v.ID.Version)
	}
	for _, v := range h.Versions {
		if _, ok := b.Version(v.ID.Version); !ok {
			names = append(names, v.ID.Version)
		}
	}
	slices.SortFunc(names, model.CompareVersions)
	for _, name := range names {
		bv, inBase := b.Version(name)
		hv, inHead := h.Version(name)
		id := model.VersionID{Schema: h.Name, Version: name}
		switch {
		case !inBase:
			out = append(out, versionAdded(b, h, hv)...)
		case !inHead:
			f := Finding{Severity: Info, Kind: VersionRemoved, Subject: id.String(), From: bv.Digest,
				Message: fmt.Sprintf("%s is no longer declared", id)}
			if !bk[name] {
				f.Message += "; the base did not keep it built, so nothing is dropped"
			}
			out = append(out, f)
		case bv.Digest != hv.Digest && model.CompareVersions(name, b.Active) > 0:
			// Staged in the base, never its active version: mzsync may
			// still change it (it tears its build down and builds it
			// again); only a version that has been live is immutable.
			out = append(out, Finding{Severity: Warning, Kind: VersionModified, Subject: id.String(), From: bv.Digest, To: hv.Digest,
				Message: fmt.Sprintf("%s changed; the base stages it but never made it active, so mzsync tears down its build and builds it again (a rebuild, not an immutability violation, unless it was live in an earlier revision)", id),
				Details: modifiedDetails(b, h, bv, hv)})
		case bv.Digest != hv.Digest:
			out = append(out, Finding{Severity: Error, Kind: VersionModified, Subject: id.String(), From: bv.Digest, To: hv.Digest,
				Message: fmt.Sprintf("%s is released in the base and its content changed; versions are immutable once released: restore it and declare a new version instead", id),
				Details: modifiedDetails(b, h, bv, hv)})
		}
		switch {
		case inBase && inHead && hk[name] && !bk[name] && name != h.Active:
			out = append(out, Finding{Severity: Info, Kind: VersionRebuilt, Subject: id.String(),
				Message: fmt.Sprintf("%s is kept built again (%s); the base did not keep it, so mzsync rebuilds it", id, roleWhy(h, name))})
		case bk[name] && !hk[name]:
			out = append(out, dropped(h, id, inHead))
		}
	}
	return out
}

// roleWhy says why a schema keeps a version that is not its active one.
func roleWhy(s *model.Schema, name string) string {
	if model.CompareVersions(name, s.Active) > 0 {
		return fmt.Sprintf("staged: newer than the active %s", s.Active)
	}
	return fmt.Sprintf("retained for rollback: retain %d", s.Retain)
}

func activeSwitch(b, h *model.Schema, baseKept map[string]bool) Finding {
	from := model.VersionID{Schema: h.Name, Version: b.Active}
	to := model.VersionID{Schema: h.Name, Version: h.Active}
	f := Finding{Severity: Info, Kind: ActiveSwitched, Subject: h.Name, From: b.Active, To: h.Active}
	_, inBase := b.Version(h.Active)
	switch {
	case !inBase:
		f.Switch = SwitchBuild
		f.Message = fmt.Sprintf("schema %s switches from %s to %s, which is new: mzsync builds it beside %s, waits until it is ready, then cuts over", h.Name, b.Active, h.Active, from.BuildSchema())
	case !baseKept[h.Active]:
		f.Severity = Warning
		f.Switch = SwitchRebuild
		f.Message = fmt.Sprintf("schema %s switches from %s to %s, which the base does not keep built (retain: %d): this is a rebuild of %s, not an instant rollback, and takes as long as a new version", h.Name, b.Active, h.Active, b.Retain, to)
	case model.CompareVersions(h.Active, b.Active) < 0:
		f.Switch = SwitchRollback
		f.Message = fmt.Sprintf("schema %s rolls back from %s to %s, retained by the base: one swap, no rebuild", h.Name, b.Active, h.Active)
	default:
		f.Switch = SwitchCutover
		f.Message = fmt.Sprintf("schema %s switches from %s to %s, which the base already builds beside it: mzsync cuts over once it is ready", h.Name, b.Active, h.Active)
	}
	return f
}

// versionAdded reports a version new in the head, and flags it when its
// content is byte-identical to an active version (base's or head's).
func versionAdded(b, h *model.Schema, v *model.Version) []Finding {
	out := []Finding{{Severity: Info, Kind: VersionAdded, Subject: v.ID.String(), To: v.Digest,
		Message: fmt.Sprintf("%s added (%s, %s)", v.ID, plural(len(v.Objects), "object"), addedRole(h, v.ID.Version))}}
	var actives []*model.Version
	if b != nil {
		if a, ok := b.Version(b.Active); ok {
			actives = append(actives, a)
		}
	}
	if a, ok := h.Version(h.Active); ok && (b == nil || h.Active != b.Active) {
		actives = append(actives, a)
	}
	for _, a := range actives {
		if a.ID.Version == v.ID.Version || a.Digest != v.Digest {
			continue
		}
		if n := countTables(v); n > 0 {
			// A copy that ingests its tables again is how a version picks
			// up upstream columns added since the active one was built
			// (what drift --propose writes): it changes what is ingested.
			out = append(out, Finding{Severity: Info, Kind: VersionIdentical, Subject: v.ID.String(), From: a.ID.Version, To: v.ID.Version,
				Message: fmt.Sprintf("%s has the same definitions as %s, the active version, but ingests its %s again: they get upstream's current columns (added since %s was built); review its views if they should use them", v.ID, a.ID, plural(n, "table"), a.ID)})
			break
		}
		out = append(out, Finding{Severity: Warning, Kind: VersionIdentical, Subject: v.ID.String(), From: a.ID.Version, To: v.ID.Version,
			Message: fmt.Sprintf("%s is byte-identical to %s, the active version, and has no tables to ingest again: building it changes nothing consumers see; did you mean to change something?", v.ID, a.ID)})
		break
	}
	return out
}

func countTables(v *model.Version) int {
	n := 0
	for _, o := range v.Objects {
		if o.Kind == model.KindTable {
			n++
		}
	}
	return n
}

func addedRole(h *model.Schema, name string) string {
	switch {
	case name == h.Active:
		return "the new active version"
	case !kept(h)[name]:
		return "older than the retain window: not built"
	case model.CompareVersions(name, h.Active) > 0:
		return "staged beside the active " + h.Active
	}
	return "retained for rollback"
}

func dropped(h *model.Schema, id model.VersionID, declared bool) Finding {
	why := "no longer declared"
	if declared {
		why = fmt.Sprintf("older than the %d retained version(s) before %s", h.Retain, h.Active)
	}
	how := fmt.Sprintf("mzsync apply drops %s (prune: true)", id.BuildSchema())
	if !h.Prune {
		how = fmt.Sprintf("mzsync apply drops %s only with --allow-drop (prune is off); until then plans report the drop as blocked", id.BuildSchema())
	}
	return Finding{Severity: Warning, Kind: VersionDropped, Subject: id.String(),
		Message: fmt.Sprintf("%s is %s, so the base's build of it goes: %s", id, why, how)}
}

// modifiedDetails says which objects of a modified version differ, and
// why when the schema's default cluster moved under them.
func modifiedDetails(b, h *model.Schema, bv, hv *model.Version) []string {
	bo, ho := map[string]*model.Object{}, map[string]*model.Object{}
	var names []string
	for i := range bv.Objects {
		bo[bv.Objects[i].Name] = &bv.Objects[i]
		names = append(names, bv.Objects[i].Name)
	}
	for i := range hv.Objects {
		ho[hv.Objects[i].Name] = &hv.Objects[i]
		if bo[hv.Objects[i].Name] == nil {
			names = append(names, hv.Objects[i].Name)
		}
	}
	slices.Sort(names)
	var out []string
	for _, n := range names {
		o, p := bo[n], ho[n]
		switch {
		case p == nil:
			out = append(out, fmt.Sprintf("%s %s removed", o.Kind, n))
		case o == nil:
			out = append(out, fmt.Sprintf("%s %s added", p.Kind, n))
		case o.Digest != p.Digest:
			out = append(out, fmt.Sprintf("%s %s changed: %s", p.Kind, n, strings.Join(objectFields(o, p), ", ")))
		}
	}
	if b.Cluster != h.Cluster {
		out = append(out, fmt.Sprintf("the schema's default cluster changed from %s to %s; materialized views and indexes that name no cluster inherit it", b.Cluster, h.Cluster))
	}
	return out
}

func objectFields(o, p *model.Object) []string {
	var out []string
	for _, c := range []struct {
		field string
		diff  bool
	}{
		{"kind", o.Kind != p.Kind},
		{"source", o.Source != p.Source},
		{"reference", o.Reference != p.Reference},
		{"textColumns", !slices.Equal(o.TextColumns, p.TextColumns)},
		{"excludeColumns", !slices.Equal(o.ExcludeColumns, p.ExcludeColumns)},
		{"sql", o.SQL != p.SQL},
		{"cluster", o.Cluster != p.Cluster},
		{"on", o.On != p.On},
		{"columns", !slices.Equal(o.Columns, p.Columns)},
	} {
		if c.diff {
			out = append(out, c.field)
		}
	}
	if len(out) == 0 {
		out = append(out, "definition")
	}
	return out
}
