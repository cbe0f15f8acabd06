package reconcile

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/mzsync/mzsync/internal/model"
	"github.com/mzsync/mzsync/spec"
)

// Adoption takes a schema built by hand (the seed guide's way: tables FROM
// SOURCE, views, materialized views and indexes in a schema such as v1,
// then swapped or renamed to the consumer-facing name) over as an owned
// version without rebuilding anything. A user asks for it explicitly with
// a Version's adoptFrom, so a pull request shows it; it applies only while
// the version has no schema of its own yet.
//
// The schema is adopted only when it matches the version exactly: the same
// objects by kind and name (nothing missing, nothing more), tables fed from
// the declared source and reference with the same TEXT and EXCLUDE
// COLUMNS, views and materialized views whose stored definitions equal the
// declared SQL once normalized (see definitionDiff; when in doubt it is a
// difference), reading only objects of the schema, materialized views and
// indexes in the declared clusters, indexes on the declared object with the
// declared keys. Otherwise every difference is a blocked finding, object
// by object, and nothing of the schema changes.
//
// The steps, each safe to interrupt: a schema that is not the alias is
// first renamed to the version's schema name in a DDL transaction (fenced
// by the lease like every transaction); then each object's marker is
// written; then, last, the schema's marker, state=built, with the live
// record when the schema is the alias. The declared grants are given as
// for any built version: what is missing of them, by the grant drift that
// follows (or, when the catalog's privileges were not read, all of them
// before the schema's marker). Until that last step
// the schema carries no marker, so an interrupted adoption is found again
// by the next pass (under its new name, with some objects already marked
// with the declared digests) and finished; nothing is dropped or created.
// Unmarked objects that do not match are never touched.

// adoptPlan is what Diff does about the adoptFrom versions of one schema.
type adoptPlan struct {
	// changes are the adoption steps, in order.
	changes []Change
	// refused are the blocked findings of schemas that do not match; when
	// set, nothing of the schema changes.
	refused []Change
	// notes are informational findings.
	notes []Change
	// virtual is the observed state as it will be once changes ran; nil
	// when nothing is adopted.
	virtual *model.Observed
}

// adoptCandidate is a hand-built schema to be adopted as a version.
type adoptCandidate struct {
	v      *model.Version
	from   *model.ObservedSchema
	target string // its name once adopted
	alias  bool   // it is the consumer-facing schema: adopted where it is, as live
}

// diffDeclared plans a declared schema: its adoptions, then diffSchema over
// the state as it will be once they ran.
func diffDeclared(ix *index, s *model.Schema, opts Options) []Change {
	ap := planAdoptions(ix, s, opts)
	if len(ap.refused) > 0 {
		return ap.refused
	}
	out := slices.Clone(ap.notes)
	if ap.virtual == nil {
		return append(out, diffSchema(ix, s, opts)...)
	}
	out = append(out, ap.changes...)
	return append(out, diffSchema(newIndex(ap.virtual, opts.token), s, opts)...)
}

func planAdoptions(ix *index, s *model.Schema, opts Options) adoptPlan {
	var ap adoptPlan
	lc := newLifecycle(ix, s.Name, s.Active)
	var cands []*adoptCandidate
	for i := range s.Versions {
		v := &s.Versions[i]
		if v.AdoptFrom == "" {
			continue
		}
		if loc := lc.canon[v.ID.Version]; loc != nil {
			// Owned already: adopted earlier, or built by mzsync. A
			// hand-built schema still named by adoptFrom is left alone.
			if a := ix.schemas[v.AdoptFrom]; a != nil && a.Marker == nil && loc.Name != a.Name {
				ap.notes = append(ap.notes, Change{Op: OpIgnored, Kind: KindVersion, Target: v.ID.String(), Version: v.ID,
					Reason: fmt.Sprintf("adoptFrom: %s is already held by mzsync's schema %s, so schema %s is not adopted; to take it over, declare it as another version with adoptFrom: %s",
						v.ID, loc.Name, a.Name, a.Name)})
			}
			continue
		}
		build := v.ID.BuildSchema()
		var from *model.ObservedSchema
		if b := ix.schemas[build]; b != nil && b.Marker == nil && len(b.Objects) > 0 {
			from = b // renamed by an interrupted adoption, or built there by hand
		} else if a := ix.schemas[v.AdoptFrom]; a != nil && a.Marker == nil {
			from = a
		}
		if from == nil {
			why := "does not exist"
			if a := ix.schemas[v.AdoptFrom]; a != nil {
				why = "carries mzsync's marker of " + a.Marker.ID().String()
			}
			ap.notes = append(ap.notes, Change{Op: OpIgnored, Kind: KindVersion, Target: v.ID.String(), Version: v.ID,
				Reason: fmt.Sprintf("adoptFrom: schema %s %s, so there is nothing to adopt; %s is built from its manifests", v.AdoptFrom, why, v.ID)})
			continue
		}
		c := &adoptCandidate{v: v, from: from, target: build, alias: from.Name == s.Name}
		if c.alias {
			c.target = s.Name
		}
		if diffs := adoptMismatches(ix, c); len(diffs) > 0 {
			ap.refused = append(ap.refused, Change{Op: OpBlocked, Kind: KindVersion, Target: v.ID.String(), Version: v.ID,
				Reason: fmt.Sprintf("adopt refused: schema %s does not match %s (%d difference(s), listed below); nothing of schema %s changes. Make the manifests describe the schema as it is, or fix the schema by hand",
					from.Name, v.ID, len(diffs), s.Name)})
			ap.refused = append(ap.refused, diffs...)
			continue
		}
		if from.Name != c.target && ix.schemas[c.target] != nil {
			ap.refused = append(ap.refused, Change{Op: OpBlocked, Kind: KindSchema, Target: from.Name, Version: v.ID,
				Reason: fmt.Sprintf("adopt refused: schema %s matches %s but cannot be renamed to %s, which exists", from.Name, v.ID, c.target)})
			continue
		}
		cands = append(cands, c)
	}
	if len(ap.refused) > 0 || len(cands) == 0 {
		return ap
	}

	// The alias's live record lists, as the versions live before it, the
	// older versions adopted beside it: after the seed guide's swap, the
	// schema beside the alias holds what was live before.
	var aliasCand *adoptCandidate
	for _, c := range cands {
		if c.alias {
			aliasCand = c
		}
	}
	markers := map[*adoptCandidate]model.SchemaMarker{}
	for _, c := range cands {
		m := model.SchemaMarker{Schema: s.Name, Version: c.v.ID.Version, Digest: c.v.Digest, State: model.StateBuilt}
		if c.alias {
			m.Live = lc.maxLive + 1
			m.Revision = opts.revision
			var older []string
			for _, o := range cands {
				if !o.alias && model.CompareVersions(o.v.ID.Version, c.v.ID.Version) < 0 {
					older = append(older, o.v.ID.Version)
				}
			}
			slices.SortFunc(older, func(a, b string) int { return model.CompareVersions(b, a) })
			m.History = append(older, lc.history...)
		}
		markers[c] = m
	}
	ap.virtual = adoptedState(ix.obs, cands, markers)

	// A version adopted only to be dropped at once is refused.
	vlc := newLifecycle(newIndex(ap.virtual, opts.token), s.Name, s.Active)
	keep := vlc.keep(s)
	for _, c := range cands {
		if !keep[c.v.ID.Version] {
			ap.refused = append(ap.refused, Change{Op: OpBlocked, Kind: KindVersion, Target: c.v.ID.String(), Version: c.v.ID,
				Reason: fmt.Sprintf("adopt refused: %s matches schema %s, but it is older than the active %s and retention would not keep it (it was never live under mzsync%s); nothing of schema %s changes",
					c.v.ID, c.from.Name, s.Active, aliasHint(aliasCand, s), s.Name)})
		}
	}
	if len(ap.refused) > 0 {
		ap.virtual = nil
		return ap
	}

	for _, c := range cands {
		if c.alias {
			continue // last: the others are recorded in its history
		}
		ap.changes = append(ap.changes, adoptSteps(s, c, markers[c], ix)...)
	}
	if aliasCand != nil {
		ap.changes = append(ap.changes, adoptSteps(s, aliasCand, markers[aliasCand], ix)...)
	}
	return ap
}

func aliasHint(alias *adoptCandidate, s *model.Schema) string {
	if alias == nil {
		return fmt.Sprintf("; adopting a newer version from %s at the same time records it as live before that one", s.Name)
	}
	return ""
}

// adoptSteps are the statements that adopt c: the rename into mzsync's
// naming, the objects' markers, the grants, and the schema's marker last.
func adoptSteps(s *model.Schema, c *adoptCandidate, m model.SchemaMarker, ix *index) []Change {
	var out []Change
	v := c.v
	if c.from.Name != c.target {
		out = append(out, Change{Op: OpAdopt, Kind: KindSchema, Target: c.from.Name, Version: v.ID,
			SQL: []string{sqlRenameSchema(c.from.Name, c.target)}, Transaction: true,
			Reason: fmt.Sprintf("adopt the hand-built schema %s as %s: rename it to %s (nothing is rebuilt)", c.from.Name, v.ID, c.target)})
	}
	for i := range v.Objects {
		o := &v.Objects[i]
		if ob := ix.object(c.from, o.Name); ob != nil && ob.Marker != nil {
			continue // marked by an interrupted adoption
		}
		ref := model.Ref{Schema: c.target, Name: o.Name}
		out = append(out, Change{Op: OpAdopt, Kind: string(o.Kind), Target: ref.String(), Version: v.ID, Objects: []model.Ref{ref},
			SQL:    []string{sqlCommentObject(o.Kind, ref, o.Digest)},
			Reason: fmt.Sprintf("adopt: matches %s's %s %s", v.ID, strings.ReplaceAll(string(o.Kind), "-", " "), o.Name)})
	}
	// With the catalog's privileges read, the grant drift of the adopted
	// (then built) version grants exactly what is missing; without them,
	// every declared grant is given, as for a build.
	if ix.obs.Access == nil {
		if g, ok := grantChange(s, v, c.target); ok {
			out = append(out, g)
		}
	}
	reason := fmt.Sprintf("record that schema %s holds %s, built (adopted: its objects were not rebuilt)", c.target, v.ID)
	if c.alias {
		reason = fmt.Sprintf("record that %s holds %s, built and live (cutover %d, adopted: its objects were not rebuilt)", c.target, v.ID, m.Live)
	}
	out = append(out, Change{Op: OpAdopt, Kind: KindSchema, Target: c.target, Version: v.ID,
		SQL: []string{sqlCommentSchema(c.target, m)}, Reason: reason})
	return out
}

// adoptedState is obs as it is once the candidates are adopted: renamed,
// their objects and schemas marked.
func adoptedState(obs *model.Observed, cands []*adoptCandidate, markers map[*adoptCandidate]model.SchemaMarker) *model.Observed {
	virt := *obs
	virt.Schemas = slices.Clone(obs.Schemas)
	for _, c := range cands {
		i := slices.IndexFunc(virt.Schemas, func(s model.ObservedSchema) bool { return s.ID == c.from.ID && s.Name == c.from.Name })
		if i < 0 {
			continue
		}
		sc := virt.Schemas[i]
		m := markers[c]
		sc.Name, sc.Marker, sc.Comment = c.target, &m, m.String()
		sc.Objects = slices.Clone(sc.Objects)
		digests := map[string]string{}
		for _, o := range c.v.Objects {
			digests[o.Name] = o.Digest
		}
		for j := range sc.Objects {
			if d, ok := digests[sc.Objects[j].Name]; ok {
				om := model.ObjectMarker{Digest: d}
				sc.Objects[j].Marker, sc.Objects[j].Comment = &om, om.String()
			}
		}
		virt.Schemas[i] = sc
	}
	return &virt
}

// adoptMismatches lists, object by object, how the candidate's schema
// differs from its version, as blocked findings; nil when it matches.
func adoptMismatches(ix *index, c *adoptCandidate) []Change {
	var out []Change
	v, from := c.v, c.from
	add := func(kind, name, reason string) {
		ref := model.Ref{Schema: from.Name, Name: name}
		out = append(out, Change{Op: OpBlocked, Kind: kind, Target: ref.String(), Version: v.ID, Objects: []model.Ref{ref},
			Reason: "adopt: " + reason})
	}
	inside := map[string]*model.ObservedObject{}
	for i := range from.Objects {
		inside[from.Objects[i].ID] = &from.Objects[i]
	}
	refs := map[string][]string{} // object ID -> referenced IDs
	for _, d := range ix.obs.Dependencies {
		if inside[d.Object] != nil {
			refs[d.Object] = append(refs[d.Object], d.Referenced)
		}
	}
	declared := map[string]bool{}
	for i := range v.Objects {
		o := &v.Objects[i]
		declared[o.Name] = true
		kind := strings.ReplaceAll(string(o.Kind), "-", " ")
		ob := ix.object(from, o.Name)
		if ob == nil {
			add(string(o.Kind), o.Name, fmt.Sprintf("missing: %s declares %s %s, the schema has no such object", v.ID, kind, o.Name))
			continue
		}
		if ob.Kind != o.Kind {
			add(string(o.Kind), o.Name, fmt.Sprintf("is a %s, %s declares a %s", strings.ReplaceAll(string(ob.Kind), "-", " "), v.ID, kind))
			continue
		}
		if ob.Marker != nil && ob.Marker.Digest != o.Digest {
			add(string(o.Kind), o.Name, fmt.Sprintf("carries mzsync's marker with digest %s, declared %s", ob.Marker.Digest, o.Digest))
			continue
		}
		var diffs []string
		switch o.Kind {
		case model.KindTable:
			if d := tableDiff(ix, ob, o); d != "" {
				diffs = append(diffs, d)
			}
		case model.KindView, model.KindMaterializedView:
			var outside []string
			names := map[string]bool{}    // names of the objects of the schema it reads
			outNames := map[string]bool{} // names of the user objects outside it reads
			for _, r := range refs[ob.ID] {
				if in := inside[r]; in != nil {
					names[in.Name] = true
					continue
				}
				if _, user := ix.objects[r]; user {
					outside = append(outside, ix.displayID(r))
					outNames[ix.objects[r].object.Name] = true
				} else if src, ok := ix.sources[r]; ok {
					outside = append(outside, ix.displayID(r))
					outNames[src.Name] = true
				}
			}
			slices.Sort(outside)
			if len(outside) > 0 {
				diffs = append(diffs, "reads objects outside the schema: "+strings.Join(outside, ", "))
			}
			if d := definitionDiff(ix.obs.Database, ob.Definition, o.SQL, func(name string) bool { return names[name] && !outNames[name] }); d != "" {
				diffs = append(diffs, d)
			}
			if o.Kind == model.KindMaterializedView && ob.Cluster != o.Cluster {
				diffs = append(diffs, fmt.Sprintf("runs in cluster %s, declared %s", orNone(ob.Cluster), o.Cluster))
			}
		case model.KindIndex:
			on := ix.object(from, o.On)
			switch {
			case on == nil || ob.OnID != on.ID:
				diffs = append(diffs, fmt.Sprintf("is on %s, declared on %s", ix.displayID(ob.OnID), o.On))
			case len(o.Columns) > 0 && !slices.Equal(ob.IndexKeys, o.Columns):
				diffs = append(diffs, fmt.Sprintf("keys (%s), declared (%s)", strings.Join(ob.IndexKeys, ", "), strings.Join(o.Columns, ", ")))
			}
			if ob.Cluster != o.Cluster {
				diffs = append(diffs, fmt.Sprintf("runs in cluster %s, declared %s", orNone(ob.Cluster), o.Cluster))
			}
		}
		if len(diffs) > 0 {
			add(string(o.Kind), o.Name, strings.Join(diffs, "; "))
		}
	}
	for _, ob := range from.Objects {
		if !declared[ob.Name] {
			add(string(ob.Kind), ob.Name, fmt.Sprintf("%s %s is not declared in %s (an adopted schema holds exactly the version's objects)", strings.ReplaceAll(string(ob.Kind), "-", " "), ob.Name, v.ID))
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

// definitionDiff compares a view's stored definition with its declared
// SQL, or says how they differ; "" when they are the same query.
//
// Materialize stores a view's query normalized: keywords in upper case,
// every identifier quoted, relations fully qualified
// ("materialize"."app"."t"), functions and types qualified with their
// system schema ("pg_catalog"."sum"), and a final ';'. Both sides are
// lexed and compared token by token, with these normalizations only:
// comments, whitespace and a final ';' are ignored; an unquoted word and a
// quoted identifier are equal when the quoting changes nothing (lower
// case, not a keyword); a pg_catalog or mz_catalog qualifier is dropped;
// and in the stored text a qualified relation [database.]schema.name
// after FROM or JOIN (or any three-part name in the current database) is
// reduced to name when name is an object of the adopted schema the view
// reads (by mz_object_dependencies) and no object outside it of that name
// is read. Everything else, even when equivalent (int vs int4, an alias
// without AS, != vs <>, a different layout of parentheses), is a
// difference: mzsync adopts only what it can tell is the same.
func definitionDiff(database, stored, declared string, ownName func(string) bool) string {
	if strings.TrimSpace(stored) == "" {
		return "its definition could not be read"
	}
	got, err1 := canonicalTokens(stored, database, ownName)
	want, err2 := canonicalTokens(declared, "", nil)
	if err1 != nil || err2 != nil {
		return "its definition could not be compared"
	}
	if slices.Equal(got, want) {
		return ""
	}
	return fmt.Sprintf("definition differs: stored %q, declared %q", clip(strings.Join(got, " ")), clip(strings.Join(want, " ")))
}

func clip(s string) string {
	const max = 240
	if len(s) > max {
		return s[:max] + "..."
	}
	return s
}

var plainIdent = regexp.MustCompile(`^[a-z_][a-z0-9_$]*$`)

// sqlKeywords are words a quoted identifier must keep its quotes for: a
// quoted "from" is a name, an unquoted from is not.
var sqlKeywords = map[string]bool{}

func init() {
	for _, k := range strings.Fields(`all and any array as asc between both by case cast collate cross
		current_date current_time current_timestamp default desc distinct do else end except exists
		false fetch filter first for from full group having ilike in inner intersect interval is join
		lateral leading left like limit natural not null nulls offset on only or order outer over
		partition right select similar some symmetric table then to trailing true union unique using
		values when where window with within`) {
		sqlKeywords[k] = true
	}
}

// canonicalTokens lexes sql into comparable tokens (see definitionDiff).
// ownName, when set, says which relation names a qualified reference may
// be reduced to.
func canonicalTokens(sql, database string, ownName func(string) bool) ([]string, error) {
	toks, err := spec.LexSQL(sql)
	if err != nil {
		return nil, err
	}
	code := toks[:0:0]
	for _, t := range toks {
		if t.Kind != spec.TokComment {
			code = append(code, t)
		}
	}
	for len(code) > 0 && code[len(code)-1].Kind == spec.TokSemicolon {
		code = code[:len(code)-1]
	}
	word := func(t spec.Token) (string, bool) {
		switch t.Kind {
		case spec.TokIdent:
			return t.Value, true
		case spec.TokQuotedIdent:
			if plainIdent.MatchString(t.Value) && !sqlKeywords[t.Value] {
				return t.Value, true
			}
			return `"` + t.Value + `"`, true
		}
		return "", false
	}
	var out []string
	for i := 0; i < len(code); {
		w, ok := word(code[i])
		if !ok {
			out = append(out, code[i].Text)
			i++
			continue
		}
		// A dotted name: w . w [. w ...]
		parts := []string{w}
		j := i + 1
		for j+1 < len(code) && code[j].Kind == spec.TokPunct && code[j].Text == "." {
			n, ok := word(code[j+1])
			if !ok {
				break
			}
			parts = append(parts, n)
			j += 2
		}
		if len(parts) >= 2 && (parts[0] == "pg_catalog" || parts[0] == "mz_catalog") {
			parts = parts[1:]
		}
		if ownName != nil && len(parts) >= 2 {
			name := parts[len(parts)-1]
			afterFrom := len(out) > 0 && (out[len(out)-1] == "from" || out[len(out)-1] == "join")
			switch {
			case len(parts) == 3 && database != "" && parts[0] == database && ownName(name):
				parts = parts[2:]
			case len(parts) == 2 && afterFrom && ownName(name):
				parts = parts[1:]
			}
		}
		out = append(out, strings.Join(parts, "."))
		i = j
	}
	return out, nil
}
