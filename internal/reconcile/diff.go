package reconcile

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/mzsync/mzsync/internal/model"
)

// Options change what Diff may plan.
type Options struct {
	// AllowDrop permits dropping owned version schemas beyond retention
	// (--allow-drop). A Schema with prune: true permits it for itself.
	AllowDrop bool

	// revision is the desired state's revision, recorded in live records.
	revision string
	// token is the apply lease's token when the plan is made under the
	// lease (Apply sets it from the fenced session): versions are then
	// built in private schemas (model.PrivateBuildName) and published by a
	// fenced rename. Without it (plan, status, a session without a lease)
	// builds are shown under their build schema name.
	token string
}

// Diff computes the plan that converges obs to des. It is pure: no
// context, no I/O, and the same inputs always give a byte-identical plan.
//
// It returns ErrEmptyDesired for a desired state without schemas and
// sources. Everything else that stops a schema (a version that has been
// live and whose manifests changed, drift, a name held by unowned objects)
// is a blocked or drift finding of that schema alone; the other schemas
// plan as usual.
func Diff(obs *model.Observed, des *model.Desired, opts Options) (*Plan, error) {
	if des == nil || (len(des.Schemas) == 0 && len(des.Sources) == 0) {
		return nil, ErrEmptyDesired
	}
	if obs == nil {
		obs = &model.Observed{}
	}
	for i := range des.Schemas {
		s := &des.Schemas[i]
		if _, ok := s.Version(s.Active); !ok {
			return nil, fmt.Errorf("schema %s: active version %q is not declared", s.Name, s.Active)
		}
	}
	opts.revision = des.Revision
	ix := newIndex(obs, opts.token)
	p := &Plan{Revision: des.Revision, Fingerprint: obs.Fingerprint}
	p.Changes = append(p.Changes, diffSources(ix, des)...)

	declared := map[string]*model.Schema{}
	for i := range des.Schemas {
		declared[des.Schemas[i].Name] = &des.Schemas[i]
	}
	for _, name := range managedSchemaNames(obs, des) {
		p.Changes = append(p.Changes, trashChanges(ix, name)...)
		if s, ok := declared[name]; ok {
			p.Changes = append(p.Changes, diffDeclared(ix, s, opts)...)
			continue
		}
		p.Changes = append(p.Changes, undeclaredSchema(obs, name)...)
	}
	return p, nil
}

// trashChanges drops the retired schemas of alias schema name that an
// interrupted drop left behind (see retire in apply.go): their drop was
// decided, and the rename that retired them committed under the lease,
// so it needs no --allow-drop. It still never takes along an object
// outside them that depends on them.
func trashChanges(ix *index, name string) []Change {
	var out []Change
	for _, t := range ix.trash {
		if t.Marker.Schema != name {
			continue
		}
		id := t.Marker.ID()
		if why := dropBlocker(ix, t, true); why != "" {
			out = append(out, Change{Op: OpBlocked, Kind: KindSchema, Target: t.Name, Version: id,
				Reason: fmt.Sprintf("%s, left in %s by an interrupted apply, cannot be dropped: %s", id, t.Name, why)})
			continue
		}
		reason := fmt.Sprintf("finish the interrupted drop of %s: it was already retired to %s", id, t.Name)
		if model.IsPrivateBuild(t.Name) {
			reason = fmt.Sprintf("drop %s, a build of %s abandoned by an earlier apply (only it could have published it)", t.Name, id)
		}
		out = append(out, Change{Op: OpDrop, Kind: KindSchema, Target: t.Name, Version: id, Destructive: true,
			SQL: []string{sqlDropSchema(t.Name)}, Reason: reason})
	}
	return out
}

// index gives Diff, Readiness and Status constant-time access to the
// observed state.
type index struct {
	obs        *model.Observed
	schemas    map[string]*model.ObservedSchema // by name
	objects    map[string]objectAt              // by ID
	sources    map[string]*model.ObservedSource // by ID
	sourceRefs map[model.Ref]*model.ObservedSource
	dependents map[string][]string // referenced ID -> dependent IDs
	byName     map[*model.ObservedSchema]map[string]*model.ObservedObject
	marked     map[string][]*model.ObservedSchema // alias schema -> schemas with its version markers
	// trash lists, by name, the schemas with mzsync's marker that are out
	// of the namespace and never a version's location: retired ones
	// (model.TrashPrefix), and private builds (model.BuildPrefix) of a
	// holding that is not this plan's and not the current lease holder's
	// (abandoned: only their holder could publish them).
	trash []*model.ObservedSchema
	// building lists, by alias schema, the private builds of the current
	// lease holder, seen by a plan or status made without the lease: work
	// in progress, left alone.
	building map[string][]*model.ObservedSchema
}

type objectAt struct {
	schema string
	object *model.ObservedObject
}

func newIndex(obs *model.Observed, token string) *index {
	ix := &index{
		obs:        obs,
		schemas:    make(map[string]*model.ObservedSchema, len(obs.Schemas)),
		objects:    map[string]objectAt{},
		sources:    make(map[string]*model.ObservedSource, len(obs.Sources)),
		sourceRefs: make(map[model.Ref]*model.ObservedSource, len(obs.Sources)),
		dependents: map[string][]string{},
		byName:     map[*model.ObservedSchema]map[string]*model.ObservedObject{},
		marked:     map[string][]*model.ObservedSchema{},
		building:   map[string][]*model.ObservedSchema{},
	}
	holder := ""
	if obs.Lease != nil {
		holder = obs.Lease.Token
	}
	for i := range obs.Schemas {
		s := &obs.Schemas[i]
		ix.schemas[s.Name] = s
		tok, private := model.PrivateBuildToken(s.Name)
		switch {
		case s.Marker == nil:
		case model.IsTrash(s.Name):
			ix.trash = append(ix.trash, s)
		case private && token == "" && tok == holder:
			ix.building[s.Marker.Schema] = append(ix.building[s.Marker.Schema], s)
		case private && tok != token:
			ix.trash = append(ix.trash, s)
		default:
			ix.marked[s.Marker.Schema] = append(ix.marked[s.Marker.Schema], s)
		}
		for j := range s.Objects {
			ix.objects[s.Objects[j].ID] = objectAt{schema: s.Name, object: &s.Objects[j]}
		}
	}
	for i := range obs.Sources {
		s := &obs.Sources[i]
		ix.sources[s.ID] = s
		ix.sourceRefs[s.Ref()] = s
	}
	for _, d := range obs.Dependencies {
		ix.dependents[d.Referenced] = append(ix.dependents[d.Referenced], d.Object)
	}
	slices.SortFunc(ix.trash, func(a, b *model.ObservedSchema) int { return cmp.Compare(a.Name, b.Name) })
	return ix
}

// object returns the object with the given name in s.
func (ix *index) object(s *model.ObservedSchema, name string) *model.ObservedObject {
	if s == nil {
		return nil
	}
	m, ok := ix.byName[s]
	if !ok {
		m = make(map[string]*model.ObservedObject, len(s.Objects))
		for i := range s.Objects {
			if _, dup := m[s.Objects[i].Name]; !dup {
				m[s.Objects[i].Name] = &s.Objects[i]
			}
		}
		ix.byName[s] = m
	}
	return m[name]
}

// displayID names an object by its ID for a message: schema.name when it is
// in the observed database, the bare ID otherwise.
func (ix *index) displayID(id string) string {
	if o, ok := ix.objects[id]; ok {
		return o.schema + "." + o.object.Name
	}
	if s, ok := ix.sources[id]; ok {
		return s.Ref().String()
	}
	return id
}

// versionSchemas finds the observed schemas that carry a marker of alias
// schema name, by version. When several carry the same version, the one
// named like the alias wins, then the one with the build name, then the
// first by name; the others are returned as duplicates.
func (ix *index) versionSchemas(name string) (canon map[string]*model.ObservedSchema, dups []*model.ObservedSchema) {
	all := map[string][]*model.ObservedSchema{}
	for _, s := range ix.marked[name] {
		all[s.Marker.Version] = append(all[s.Marker.Version], s)
	}
	canon = make(map[string]*model.ObservedSchema, len(all))
	for v, ss := range all {
		best := 0
		rank := func(s *model.ObservedSchema) int {
			switch s.Name {
			case name:
				return 0
			case model.VersionID{Schema: name, Version: v}.BuildSchema():
				return 1
			}
			return 2
		}
		for i := 1; i < len(ss); i++ {
			if rank(ss[i]) < rank(ss[best]) {
				best = i
			}
		}
		canon[v] = ss[best]
		for i, s := range ss {
			if i != best {
				dups = append(dups, s)
			}
		}
	}
	slices.SortFunc(dups, func(a, b *model.ObservedSchema) int { return cmp.Compare(a.Name, b.Name) })
	return canon, dups
}

// managedSchemaNames is the sorted union of declared schemas and schemas
// named by an observed version marker.
func managedSchemaNames(obs *model.Observed, des *model.Desired) []string {
	seen := map[string]bool{}
	var names []string
	add := func(n string) {
		if !seen[n] {
			seen[n] = true
			names = append(names, n)
		}
	}
	if des != nil {
		for _, s := range des.Schemas {
			add(s.Name)
		}
	}
	for _, s := range obs.Schemas {
		if s.Marker != nil {
			add(s.Marker.Schema)
		}
	}
	slices.Sort(names)
	return names
}

func diffSources(ix *index, des *model.Desired) []Change {
	var out []Change
	order := make([]*model.Source, len(des.Sources))
	for i := range des.Sources {
		order[i] = &des.Sources[i]
	}
	slices.SortFunc(order, func(a, b *model.Source) int {
		return cmp.Or(cmp.Compare(a.Schema, b.Schema), cmp.Compare(a.Name, b.Name))
	})
	for _, s := range order {
		ref := s.Ref()
		o, ok := ix.sourceRefs[ref]
		switch {
		case !ok:
			out = append(out, Change{
				Op: OpCreate, Kind: KindSource, Target: ref.String(), Objects: []model.Ref{ref},
				SQL:    []string{sqlCreateSource(s), sqlCommentSource(s)},
				Reason: sourceCreateReason(s),
			})
		case o.Marker == nil:
			out = append(out, Change{
				Op: OpIgnored, Kind: KindSource, Target: ref.String(), Objects: []model.Ref{ref},
				Reason: "exists without mzsync's marker: used as it is, never altered or dropped",
			})
		case o.Marker.Digest != s.Digest:
			out = append(out, Change{
				Op: OpDrift, Kind: KindSource, Target: ref.String(), Objects: []model.Ref{ref},
				Reason: fmt.Sprintf("created by mzsync with digest %s but the manifest says %s; mzsync never alters sources", o.Marker.Digest, s.Digest),
			})
		}
	}
	return out
}

func undeclaredSchema(obs *model.Observed, name string) []Change {
	var out []Change
	for _, s := range obs.Schemas {
		if s.Marker == nil || s.Marker.Schema != name || model.IsTrash(s.Name) || model.IsPrivateBuild(s.Name) {
			continue
		}
		out = append(out, Change{
			Op: OpIgnored, Kind: KindSchema, Target: s.Name, Version: s.Marker.ID(),
			Reason: fmt.Sprintf("holds %s but no Schema manifest declares %s; left alone, never dropped", s.Marker.ID(), name),
		})
	}
	return out
}

// inspection is what one version's observed schema holds compared with the
// version's declared objects.
type inspection struct {
	missing []*model.Object // declared, absent, to create
	adopt   []*model.Object // present without marker, verified equal: to mark
	// replace names missing objects that exist unmarked in a version being
	// built: a view, materialized view or index whose CREATE ran but whose
	// marker COMMENT did not (a crash between the two). Its definition
	// cannot be verified, so it is dropped (RESTRICT: never anything that
	// depends on it) and created again.
	replace  map[string]bool
	findings []Change // drift, blocked and ignored, in object order
	// broken is set when a finding prevents cutting over to the version.
	broken bool
}

// inspect compares the observed schema loc (nil when not built) with the
// declared version v. In a deployed version (live under the alias, or an
// existing version older than the live or the active one) a missing or
// unmarked object is drift;
// in a version being built it is created, or adopted when it can be
// verified (a table whose source and reference match).
func inspect(ix *index, loc *model.ObservedSchema, locName string, v *model.Version, deployed bool) inspection {
	var in inspection
	declared := make(map[string]bool, len(v.Objects))
	for i := range v.Objects {
		o := &v.Objects[i]
		declared[o.Name] = true
		ref := model.Ref{Schema: locName, Name: o.Name}
		finding := func(op Op, kind, reason string) {
			in.findings = append(in.findings, Change{
				Op: op, Kind: kind, Target: ref.String(), Version: v.ID, Objects: []model.Ref{ref}, Reason: reason,
			})
			in.broken = true
		}
		ob := ix.object(loc, o.Name)
		switch {
		case ob == nil && deployed:
			finding(OpDrift, string(o.Kind), "missing: dropped by hand")
		case ob == nil:
			in.missing = append(in.missing, o)
		case ob.Kind != o.Kind:
			if ob.Marker != nil {
				finding(OpDrift, string(o.Kind), fmt.Sprintf("is a %s, declared a %s", ob.Kind, o.Kind))
			} else {
				finding(OpBlocked, string(o.Kind), fmt.Sprintf("a %s without mzsync's marker has the name of a declared %s; rename or drop it", ob.Kind, o.Kind))
			}
		case ob.Marker == nil && deployed:
			finding(OpDrift, string(o.Kind), "exists without mzsync's marker: recreated by hand?")
		case ob.Marker == nil:
			if o.Kind == model.KindTable {
				if d := tableDiff(ix, ob, o); d == "" {
					in.adopt = append(in.adopt, o)
					continue
				}
			}
			if o.Kind != model.KindTable {
				if in.replace == nil {
					in.replace = map[string]bool{}
				}
				in.replace[o.Name] = true
				in.missing = append(in.missing, o)
				continue
			}
			finding(OpBlocked, string(o.Kind), "exists without mzsync's marker and cannot be verified; drop or rename it")
		case ob.Marker.Digest != o.Digest:
			finding(OpDrift, string(o.Kind), fmt.Sprintf("digest %s, declared %s: altered by hand", ob.Marker.Digest, o.Digest))
		case o.Kind == model.KindTable:
			if d := tableDiff(ix, ob, o); d != "" {
				finding(OpDrift, string(o.Kind), d)
			}
		}
	}
	if loc == nil {
		return in
	}
	for i := range loc.Objects {
		ob := &loc.Objects[i]
		if declared[ob.Name] {
			continue
		}
		ref := model.Ref{Schema: locName, Name: ob.Name}
		if ob.Marker == nil {
			in.findings = append(in.findings, Change{
				Op: OpIgnored, Kind: string(ob.Kind), Target: ref.String(), Version: v.ID, Objects: []model.Ref{ref},
				Reason: "not owned by mzsync: left alone",
			})
			continue
		}
		in.findings = append(in.findings, Change{
			Op: OpDrift, Kind: string(ob.Kind), Target: ref.String(), Version: v.ID, Objects: []model.Ref{ref},
			Reason: fmt.Sprintf("carries mzsync's marker but %s does not declare it", v.ID),
		})
		in.broken = true
	}
	return in
}

// tableDiff says how an observed source-fed table differs from the
// declared one, or "" when it matches.
func tableDiff(ix *index, ob *model.ObservedObject, o *model.Object) string {
	var diffs []string
	src, ok := ix.sources[ob.SourceID]
	switch {
	case ob.SourceID == "":
		diffs = append(diffs, "not fed from a source")
	case !ok:
		diffs = append(diffs, fmt.Sprintf("fed from source %s, declared %s", ob.SourceID, o.Source))
	case src.Ref() != o.Source:
		diffs = append(diffs, fmt.Sprintf("fed from source %s, declared %s", src.Ref(), o.Source))
	}
	if ob.Reference != o.Reference {
		diffs = append(diffs, fmt.Sprintf("reference %s, declared %s", ob.Reference, o.Reference))
	}
	if !sameSet(ob.TextColumns, o.TextColumns) {
		diffs = append(diffs, fmt.Sprintf("text columns [%s], declared [%s]", strings.Join(ob.TextColumns, ","), strings.Join(o.TextColumns, ",")))
	}
	if !sameSet(ob.ExcludeColumns, o.ExcludeColumns) {
		diffs = append(diffs, fmt.Sprintf("exclude columns [%s], declared [%s]", strings.Join(ob.ExcludeColumns, ","), strings.Join(o.ExcludeColumns, ",")))
	}
	return strings.Join(diffs, "; ")
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// buildChanges creates what inspection found missing in the version schema
// named schema, and marks what it can adopt: tables grouped per source in
// one transaction each, their markers, then views, materialized views and
// indexes in the version's (dependency) order.
func buildChanges(schema string, v *model.Version, in inspection) []Change {
	var out []Change
	type group struct {
		source        model.Ref
		create, adopt []*model.Object
	}
	var groups []*group
	bySource := map[model.Ref]*group{}
	get := func(r model.Ref) *group {
		g, ok := bySource[r]
		if !ok {
			g = &group{source: r}
			bySource[r] = g
			groups = append(groups, g)
		}
		return g
	}
	for _, o := range in.missing {
		if o.Kind == model.KindTable {
			g := get(o.Source)
			g.create = append(g.create, o)
		}
	}
	for _, o := range in.adopt {
		g := get(o.Source)
		g.adopt = append(g.adopt, o)
	}
	slices.SortFunc(groups, func(a, b *group) int {
		return cmp.Or(cmp.Compare(a.source.Schema, b.source.Schema), cmp.Compare(a.source.Name, b.source.Name))
	})
	byName := func(a, b *model.Object) int { return cmp.Compare(a.Name, b.Name) }
	for _, g := range groups {
		slices.SortFunc(g.create, byName)
		slices.SortFunc(g.adopt, byName)
		if len(g.create) > 0 {
			c := Change{
				Op: OpCreate, Kind: KindTable, Version: v.ID, Transaction: true,
				Reason: fmt.Sprintf("tables of %s from source %s, in one transaction", v.ID, g.source),
			}
			for _, o := range g.create {
				ref := model.Ref{Schema: schema, Name: o.Name}
				c.Objects = append(c.Objects, ref)
				c.SQL = append(c.SQL, sqlCreateTable(schema, o))
			}
			c.Target = targetOf(c.Objects)
			out = append(out, c)
		}
		marks := slices.SortedFunc(slices.Values(append(slices.Clone(g.create), g.adopt...)), byName)
		c := Change{Op: OpComment, Kind: KindTable, Version: v.ID, Reason: "mark as owned by mzsync"}
		if len(g.create) == 0 {
			c.Reason = "adopt: created by an interrupted pass (source and reference match)"
		} else if len(g.adopt) > 0 {
			c.Reason = "mark as owned by mzsync (some created by an interrupted pass)"
		}
		for _, o := range marks {
			ref := model.Ref{Schema: schema, Name: o.Name}
			c.Objects = append(c.Objects, ref)
			c.SQL = append(c.SQL, sqlCommentObject(o.Kind, ref, o.Digest))
		}
		c.Target = targetOf(c.Objects)
		out = append(out, c)
	}
	for _, o := range in.missing {
		ref := model.Ref{Schema: schema, Name: o.Name}
		c := Change{Op: OpCreate, Kind: string(o.Kind), Target: ref.String(), Version: v.ID, Objects: []model.Ref{ref}}
		switch o.Kind {
		case model.KindView, model.KindMaterializedView:
			c.SQL = []string{sqlCreateView(schema, o), sqlCommentObject(o.Kind, ref, o.Digest)}
			c.SearchPath = []string{schema}
			c.Reason = fmt.Sprintf("%s of %s", strings.ReplaceAll(string(o.Kind), "-", " "), v.ID)
			if o.Cluster != "" {
				c.Reason += " in cluster " + o.Cluster
			}
		case model.KindIndex:
			c.SQL = []string{sqlCreateIndex(schema, o), sqlCommentObject(o.Kind, ref, o.Digest)}
			c.Reason = fmt.Sprintf("index of %s on %s", v.ID, o.On)
			if len(o.Columns) == 0 {
				c.Reason = fmt.Sprintf("default index of %s on %s", v.ID, o.On)
			}
		default:
			continue
		}
		if in.replace[o.Name] {
			c.SQL = append([]string{sqlDropObject(o.Kind, ref)}, c.SQL...)
			c.Reason = "replace the unmarked " + strings.ReplaceAll(string(o.Kind), "-", " ") + " left by an interrupted pass; " + c.Reason
			c.Destructive = true
		}
		out = append(out, c)
	}
	return out
}

func targetOf(refs []model.Ref) string {
	names := make([]string, len(refs))
	for i, r := range refs {
		names[i] = r.String()
	}
	return strings.Join(names, ", ")
}

// diffSchema plans one declared schema: builds of the versions to keep
// (oldest first) with their findings, the readiness wait and the cutover,
// then the drops beyond retention.
//
// A version's lifecycle is read from its schema marker: building until the
// last step of its build records built, and live once a cutover made it
// the alias. A version that has never been live is mutable: when its
// manifests change, or its build went wrong, its schema is torn down and
// built again. A version that has been live is immutable.
func diffSchema(ix *index, s *model.Schema, opts Options) []Change {
	lc := newLifecycle(ix, s.Name, s.Active)
	var out []Change
	for _, v := range s.Versions {
		loc := lc.canon[v.ID.Version]
		if loc != nil && loc.Marker.Digest != v.Digest && lc.everLive(v.ID.Version) {
			out = append(out, Change{Op: OpBlocked, Kind: KindVersion, Target: v.ID.String(), Version: v.ID,
				Reason: fmt.Sprintf("immutable: %s has been live (schema %s, digest %s) but its manifests now say %s; declare a new version. Nothing of schema %s changes until then",
					v.ID, loc.Name, loc.Marker.Digest, v.Digest, s.Name)})
		}
	}
	if len(out) > 0 {
		return out
	}
	alias, aliasOwned, aliasVersion := lc.alias, lc.aliasOwned, lc.aliasVersion
	keep := lc.keep(s)
	activeIdx := 0
	for i, v := range s.Versions {
		if v.ID.Version == s.Active {
			activeIdx = i
		}
	}

	var (
		activeLoc    string
		activeBroken bool
		activeBuilt  bool // something of the active version is created or marked by this plan
	)
	for i := range s.Versions {
		v := &s.Versions[i]
		if !keep[v.ID.Version] {
			continue
		}
		changes, locName, broken := diffVersion(ix, lc, s, v, i, activeIdx, opts.token)
		building := false
		for _, c := range changes {
			if c.Op.Executable() {
				building = true
			}
		}
		if i == activeIdx {
			activeLoc, activeBroken, activeBuilt = locName, broken, building
		}
		out = append(out, changes...)
		// A built version's grants are compared with spec.grants; what is
		// missing is granted again before any cutover of the schema.
		if loc := lc.canon[v.ID.Version]; loc != nil && !building && !broken && loc.Marker.Built() && loc.Marker.Digest == v.Digest {
			out = append(out, grantDriftChanges(v, loc.Name, versionGrantDrift(ix, s, v, loc))...)
		}
	}

	active := &s.Versions[activeIdx]
	liveMarker := model.SchemaMarker{Schema: s.Name, Version: s.Active, Digest: active.Digest,
		State: model.StateBuilt, Live: lc.maxLive + 1, Revision: opts.revision, History: lc.history}
	recordLive := Change{Op: OpComment, Kind: KindSchema, Target: s.Name, Version: active.ID,
		SQL:    []string{sqlCommentSchema(s.Name, liveMarker)},
		Reason: fmt.Sprintf("record that %s is live (cutover %d)", active.ID, liveMarker.Live)}
	cutover := aliasVersion != s.Active
	cutoverPlanned := false
	if cutover {
		var why string
		retiredName := model.VersionID{Schema: s.Name, Version: aliasVersion}.BuildSchema()
		switch {
		case alias != nil && !aliasOwned && alias.Marker != nil:
			why = fmt.Sprintf("schema %s holds %s, not a version of %s", s.Name, alias.Marker.ID(), s.Name)
		case alias != nil && !aliasOwned:
			why = fmt.Sprintf("schema %s exists without mzsync's marker; mzsync never touches it (to take it over as a version without rebuilding, declare adoptFrom: %s on that version)", s.Name, s.Name)
		case activeBroken:
			why = fmt.Sprintf("%s is not fully built or has drift (see above)", active.ID)
		case aliasOwned && retiredName != activeLoc && ix.schemas[retiredName] != nil:
			why = fmt.Sprintf("cannot retire %s to %s: a schema with that name exists", alias.Marker.ID(), retiredName)
		}
		if why != "" {
			out = append(out, Change{Op: OpBlocked, Kind: KindVersion, Target: active.ID.String(), Version: active.ID,
				Reason: "cutover refused: " + why})
		} else {
			cutoverPlanned = true
			if r := readiness(ix, active, s); activeBuilt || !r.Ready {
				reason := fmt.Sprintf("wait until %s is ready (%d objects)", active.ID, len(active.Objects))
				if len(r.Broken) > 0 && !activeBuilt {
					// Apply's readiness gate fails at once on it.
					reason = fmt.Sprintf("cutover blocked: %s can never become ready: %s", active.ID, strings.Join(r.Broken, "; "))
				}
				out = append(out, Change{Op: OpWait, Kind: KindVersion, Target: active.ID.String(), Version: active.ID, Reason: reason})
			}
			if alias == nil {
				out = append(out, Change{Op: OpRename, Kind: KindSchema, Target: active.ID.String(), Version: active.ID,
					SQL:    []string{sqlRenameSchema(activeLoc, s.Name)},
					Reason: fmt.Sprintf("first cutover: %s becomes %s", activeLoc, s.Name)})
			} else {
				out = append(out, Change{Op: OpSwap, Kind: KindSchema, Target: active.ID.String(), Version: active.ID,
					SQL:         []string{sqlSwapSchema(s.Name, activeLoc), sqlRenameSchema(activeLoc, retiredName)},
					Transaction: true,
					Reason:      fmt.Sprintf("cutover: %s replaces %s under %s; %s is retired to %s", active.ID.Version, aliasVersion, s.Name, aliasVersion, retiredName)})
			}
			out = append(out, recordLive)
		}
	} else if alias.Marker.Live == 0 || !alias.Marker.Built() {
		// The alias holds the active version but its marker does not say
		// so: a pass stopped between the cutover and this record, or the
		// marker predates build states.
		recordLive.Reason += "; the record was missing"
		out = append(out, recordLive)
	}

	// Drops: owned versions not kept, oldest first.
	var gone []string
	for v := range lc.canon {
		if !keep[v] {
			gone = append(gone, v)
		}
	}
	slices.SortFunc(gone, model.CompareVersions)
	for _, ver := range gone {
		loc := lc.canon[ver]
		id := model.VersionID{Schema: s.Name, Version: ver}
		name := loc.Name
		if loc == alias {
			if !cutoverPlanned {
				continue // still live; the refused cutover is reported above
			}
			name = id.BuildSchema()
		}
		c := Change{Op: OpDrop, Kind: KindSchema, Target: name, Version: id, Destructive: true}
		_, declared := s.Version(ver)
		switch {
		case !declared && !lc.everLive(ver):
			c.Reason = fmt.Sprintf("%s is no longer declared and was never live", id)
		case !declared:
			c.Reason = fmt.Sprintf("%s is no longer declared and not among the %d version(s) retained", id, s.Retain)
		case lc.everLive(ver):
			c.Reason = fmt.Sprintf("%s is not among the %d version(s) most recently live before %s", id, s.Retain, s.Active)
		default:
			c.Reason = fmt.Sprintf("%s was never live and is older than the active %s", id, s.Active)
		}
		// A schema still building is mzsync's work area: leftovers of an
		// interrupted pass in it never block its drop.
		if why := dropBlocker(ix, loc, !lc.everLive(ver) && !loc.Marker.Built()); why != "" {
			c = Change{Op: OpBlocked, Kind: KindSchema, Target: name, Version: id, Reason: "drop refused: " + why}
		} else if !opts.AllowDrop && !s.Prune {
			c = Change{Op: OpBlocked, Kind: KindSchema, Target: name, Version: id, Reason: c.Reason + "; drop needs --allow-drop or prune: true"}
		} else {
			c.SQL = []string{sqlDropSchema(name)}
		}
		out = append(out, c)
	}
	for _, d := range lc.dups {
		out = append(out, Change{Op: OpBlocked, Kind: KindSchema, Target: d.Name, Version: d.Marker.ID(),
			Reason: fmt.Sprintf("also carries the marker of %s, which %s holds; left alone", d.Marker.ID(), lc.canon[d.Marker.Version].Name)})
	}
	return out
}

// diffVersion plans one kept version: its build (from nothing, finished
// after an interrupted pass, or torn down and built again when it was
// never live and went wrong), or the check of a version that has been
// live. It returns the changes, the schema that holds (or will hold) the
// version, and whether the version cannot be cut over to.
func diffVersion(ix *index, lc *lifecycle, s *model.Schema, v *model.Version, i, activeIdx int, token string) (changes []Change, locName string, broken bool) {
	ver := v.ID.Version
	loc := lc.canon[ver]
	// pub is the name the version is published under once built; a plan
	// made under the lease builds it in a private schema first.
	pub := v.ID.BuildSchema()
	private := pub
	if token != "" {
		private = model.PrivateBuildName(token, v.ID)
	}
	locName = pub
	marker := func(state string) model.SchemaMarker {
		return model.SchemaMarker{Schema: s.Name, Version: ver, Digest: v.Digest, State: state}
	}
	needBuilt := false
	build := func(reason string) {
		changes = append(changes, Change{
			Op: OpCreate, Kind: KindSchema, Target: locName, Version: v.ID,
			SQL:    []string{sqlCreateSchema(locName), sqlCommentSchema(locName, marker(model.StateBuilding))},
			Reason: reason,
		})
		changes = append(changes, buildChanges(locName, v, inspect(ix, nil, locName, v, false))...)
		needBuilt = true
	}
	switch {
	case loc == nil:
		sb := ix.schemas[locName]
		switch {
		case sb == nil:
			locName = private
			build(buildReason(s, v, i, activeIdx))
		case sb.Marker != nil:
			return append(changes, Change{
				Op: OpBlocked, Kind: KindSchema, Target: locName, Version: v.ID,
				Reason: fmt.Sprintf("the build schema of %s already exists and holds %s", v.ID, sb.Marker.ID()),
			}), locName, true
		case len(sb.Objects) == 0:
			changes = append(changes, Change{
				Op: OpComment, Kind: KindSchema, Target: locName, Version: v.ID,
				SQL:    []string{sqlCommentSchema(locName, marker(model.StateBuilding))},
				Reason: fmt.Sprintf("adopt the empty build schema of %s (created by an interrupted pass)", v.ID),
			})
			changes = append(changes, buildChanges(locName, v, inspect(ix, nil, locName, v, false))...)
			needBuilt = true
		default:
			return append(changes, Change{
				Op: OpBlocked, Kind: KindSchema, Target: locName, Version: v.ID,
				Reason: "exists without mzsync's marker and is not empty; rename or drop it",
			}), locName, true
		}
	case lc.everLive(ver):
		// Immutable: only checked. The digest was compared in diffSchema.
		locName = loc.Name
		in := inspect(ix, loc, locName, v, true)
		changes = append(changes, in.findings...)
		broken = in.broken
	default:
		// Never live: mutable. Finish it, or tear it down and build again.
		locName = loc.Name
		var why string
		var in inspection
		if loc.Marker.Digest != v.Digest {
			why = fmt.Sprintf("its manifests changed (built with digest %s, now %s)", loc.Marker.Digest, v.Digest)
		} else {
			in = inspect(ix, loc, locName, v, loc.Marker.Built())
			if in.broken {
				why = "its build went wrong: " + findingsSummary(in.findings)
			}
		}
		if why == "" {
			changes = append(changes, buildChanges(locName, v, in)...)
			changes = append(changes, in.findings...)
			needBuilt = !loc.Marker.Built()
			break
		}
		// While a version builds, everything in its schema is mzsync's
		// work; once built, objects someone added by hand block the drop.
		if block := dropBlocker(ix, loc, !loc.Marker.Built()); block != "" {
			return append(changes, Change{Op: OpBlocked, Kind: KindSchema, Target: loc.Name, Version: v.ID,
				Reason: fmt.Sprintf("%s was never live and %s, but it cannot be torn down: %s", v.ID, why, block)}), locName, true
		}
		changes = append(changes, Change{Op: OpDrop, Kind: KindSchema, Target: loc.Name, Version: v.ID,
			SQL: []string{sqlDropSchema(loc.Name)}, Destructive: true,
			Reason: fmt.Sprintf("tear down %s to build it again: it was never live and %s", v.ID, why)})
		if loc.Name != pub && ix.schemas[pub] != nil {
			return append(changes, Change{Op: OpBlocked, Kind: KindSchema, Target: pub, Version: v.ID,
				Reason: fmt.Sprintf("cannot rebuild %s: schema %s exists", v.ID, pub)}), pub, true
		}
		locName = private
		build("rebuild " + v.ID.String() + " from its manifests")
	}
	for _, c := range changes {
		if c.Op == OpBlocked || c.Op == OpDrift {
			broken = true
		}
	}
	if needBuilt && !broken {
		if g, ok := grantChange(s, v, locName); ok {
			changes = append(changes, g)
		}
		changes = append(changes, Change{Op: OpComment, Kind: KindSchema, Target: locName, Version: v.ID,
			SQL:    []string{sqlCommentSchema(locName, marker(model.StateBuilt))},
			Reason: fmt.Sprintf("record that %s is built (the last step of its build)", v.ID)})
	}
	if !broken && locName != pub && model.IsPrivateBuild(locName) {
		// Built in this holding's private schema: publish it under its
		// build schema name, in a DDL transaction fenced by the lease.
		if sb := ix.schemas[pub]; sb != nil && sb != loc {
			return append(changes, Change{Op: OpBlocked, Kind: KindSchema, Target: pub, Version: v.ID,
				Reason: fmt.Sprintf("cannot publish the build of %s: schema %s exists", v.ID, pub)}), pub, true
		}
		// (An OpCreate, its last step: OpRename and OpSwap are cutovers.)
		changes = append(changes, Change{Op: OpCreate, Kind: KindSchema, Target: pub, Version: v.ID,
			SQL: []string{sqlRenameSchema(locName, pub)}, Transaction: true,
			Reason: fmt.Sprintf("publish %s, built in %s, as %s", v.ID, locName, pub)})
		locName = pub
	}
	return changes, locName, broken
}

// findingsSummary joins the blocking findings of an inspection for a
// reason.
func findingsSummary(fs []Change) string {
	var parts []string
	for _, f := range fs {
		if f.Op == OpBlocked || f.Op == OpDrift {
			parts = append(parts, f.Target+" "+f.Reason)
		}
	}
	return strings.Join(parts, "; ")
}

func buildReason(s *model.Schema, v *model.Version, i, activeIdx int) string {
	switch {
	case i == activeIdx:
		return fmt.Sprintf("build %s, the active version", v.ID)
	case i < activeIdx:
		return fmt.Sprintf("build %s, retained for rollback (retain: %d)", v.ID, s.Retain)
	}
	return fmt.Sprintf("build %s, staged (newer than the active %s)", v.ID, s.Active)
}

// dropBlocker says why a version schema may not be dropped, or "": an
// object outside it depends on an object inside it (DROP ... CASCADE would
// take the dependent along), or, unless anyUnowned, it holds objects
// mzsync does not own.
func dropBlocker(ix *index, s *model.ObservedSchema, anyUnowned bool) string {
	inside := make(map[string]bool, len(s.Objects))
	for _, o := range s.Objects {
		inside[o.ID] = true
	}
	var deps, unowned []string
	seen := map[string]bool{}
	for _, o := range s.Objects {
		if o.Marker == nil && !anyUnowned && !model.IsTrash(o.Name) {
			// (An unmarked object with a trash name is one mzsync retired
			// and did not get to drop; it goes with the schema.)
			unowned = append(unowned, s.Name+"."+o.Name)
		}
		for _, d := range ix.dependents[o.ID] {
			if !inside[d] && !seen[d] {
				seen[d] = true
				deps = append(deps, ix.displayID(d))
			}
		}
	}
	slices.Sort(deps)
	var why []string
	if len(deps) > 0 {
		why = append(why, "depended on by "+strings.Join(deps, ", "))
	}
	if len(unowned) > 0 {
		why = append(why, "holds objects mzsync does not own: "+strings.Join(unowned, ", "))
	}
	return strings.Join(why, "; ")
}

// sourceCreateReason says why a source is created and, when the manifest
// names no cluster, where Materialize will put it.
func sourceCreateReason(s *model.Source) string {
	if s.Cluster == "" {
		return "declared source does not exist; no cluster declared, so it runs on the active cluster of mzsync's session (session variable cluster, default quickstart)"
	}
	return "declared source does not exist"
}
