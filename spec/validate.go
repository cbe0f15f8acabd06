package spec

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"
)

// Validate checks a decoded manifest set as a whole and returns every
// problem, joined; each is an *Error naming file, document, line and field.
// ms should be in a stable order (by file, then document) so that errors
// and "first declared" notes are deterministic.
func Validate(ms []*Manifest) error {
	var errs []error
	sources := map[string]*Manifest{}
	schemas := map[string]*Manifest{}
	versions := map[string]map[string]*Manifest{} // schema -> version -> manifest

	for _, m := range ms {
		l := &errList{m: m}
		if err := CheckName(m.Metadata.Name); err != nil {
			l.add("metadata.name", "%v", err)
		}
		var firsts map[string]*Manifest
		key := m.Metadata.Name
		what := m.Kind + " " + key
		switch {
		case m.Source != nil:
			checkSource(l, m.Source)
			firsts = sources
		case m.Schema != nil:
			checkSchema(l, m.Schema)
			firsts = schemas
		case m.Version != nil:
			checkVersion(l, m.Metadata.Name, m.Version)
			if versions[m.Version.Schema] == nil {
				versions[m.Version.Schema] = map[string]*Manifest{}
			}
			firsts = versions[m.Version.Schema]
			what = fmt.Sprintf("Version %s/%s", m.Version.Schema, key)
		}
		if firsts != nil && key != "" {
			if first, dup := firsts[key]; dup {
				l.add("metadata.name", "duplicate %s (first declared in %s document %d)", what, first.File, first.Document)
			} else {
				firsts[key] = m
			}
		}
		errs = append(errs, l.errs...)
	}

	// References between documents.
	for _, m := range ms {
		l := &errList{m: m}
		switch {
		case m.Schema != nil:
			if a := m.Schema.Active; a != "" && versions[m.Metadata.Name][a] == nil {
				l.add("spec.active", "unknown version %q of schema %s%s", a, m.Metadata.Name, declared(versions[m.Metadata.Name]))
			}
		case m.Version != nil:
			if s := m.Version.Schema; s != "" && CheckName(s) == nil && schemas[s] == nil {
				l.add("spec.schema", "unknown schema %q: declare it with a Schema document", s)
			}
			for i, t := range m.Version.Tables {
				if t.Source != "" && CheckName(t.Source) == nil && sources[t.Source] == nil {
					l.add(fmt.Sprintf("spec.tables[%d].source", i), "unknown source %q%s", t.Source, declared(sources))
				}
			}
		}
		errs = append(errs, l.errs...)
	}
	errs = append(errs, checkSchemaNames(ms, schemas)...)
	errs = append(errs, checkAdoptFrom(ms, schemas)...)
	return errors.Join(errs...)
}

// checkAdoptFrom refuses adoptFrom names that cannot be meant: a schema
// adopted by two versions, another declared schema, or the version schema
// of another version.
func checkAdoptFrom(ms []*Manifest, schemas map[string]*Manifest) []error {
	var errs []error
	first := map[string]*Manifest{}
	versionSchemas := map[string]string{} // <schema>_<version> -> schema/version
	for _, m := range ms {
		if m.Version != nil {
			versionSchemas[m.Version.Schema+"_"+m.Metadata.Name] = m.Version.Schema + "/" + m.Metadata.Name
		}
	}
	for _, m := range ms {
		if m.Version == nil || m.Version.AdoptFrom == "" || CheckName(m.Version.AdoptFrom) != nil {
			continue
		}
		a := m.Version.AdoptFrom
		l := &errList{m: m}
		own := m.Version.Schema + "_" + m.Metadata.Name
		switch {
		case first[a] != nil:
			l.add("spec.adoptFrom", "schema %q is already adopted by Version %s/%s (%s document %d)", a, first[a].Version.Schema, first[a].Metadata.Name, first[a].File, first[a].Document)
		case a != m.Version.Schema && schemas[a] != nil:
			l.add("spec.adoptFrom", "%q is another declared Schema; adoptFrom names the hand-built schema to take over", a)
		case a != own && versionSchemas[a] != "":
			l.add("spec.adoptFrom", "%q is the version schema of %s", a, versionSchemas[a])
		default:
			first[a] = m
		}
		errs = append(errs, l.errs...)
	}
	return errs
}

// declared lists the names in m for an "unknown" error.
func declared(m map[string]*Manifest) string {
	if len(m) == 0 {
		return ""
	}
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	return " (declared: " + strings.Join(names, ", ") + ")"
}

// checkSchemaNames refuses schema names that collide: a managed schema, a
// version schema (<schema>_<version>) and a source's schema must all be
// different, and none may be reserved.
func checkSchemaNames(ms []*Manifest, schemas map[string]*Manifest) []error {
	type claim struct {
		m    *Manifest
		path string
		what string
	}
	claims := map[string]claim{}
	var errs []error
	claimName := func(name string, c claim) {
		l := &errList{m: c.m}
		if why, ok := reservedSchemas[name]; ok && !strings.HasPrefix(c.what, "source") {
			l.add(c.path, "%s %q is reserved (%s)", c.what, name, why)
		} else if len(name) > MaxNameLen {
			l.add(c.path, "%s %q is longer than %d bytes", c.what, name, MaxNameLen)
		} else if first, dup := claims[name]; dup {
			if strings.HasPrefix(c.what, "source") && strings.HasPrefix(first.what, "source") {
				return // sources may share a schema
			}
			l.add(c.path, "%s %q collides with %s %q (%s document %d)", c.what, name, first.what, name, first.m.File, first.m.Document)
		} else {
			claims[name] = c
		}
		errs = append(errs, l.errs...)
	}
	for _, m := range ms {
		if m.Schema != nil && CheckName(m.Metadata.Name) == nil {
			claimName(m.Metadata.Name, claim{m, "metadata.name", "schema"})
		}
	}
	for _, m := range ms {
		if m.Version != nil && schemas[m.Version.Schema] != nil && CheckName(m.Metadata.Name) == nil {
			claimName(m.Version.Schema+"_"+m.Metadata.Name, claim{m, "metadata.name", "version schema"})
			if n := markerBound(m.Version.Schema, m.Metadata.Name); n > MaxCommentBytes {
				l := &errList{m: m}
				l.add("metadata.name", "the marker comment of version %s/%s would take %d bytes; Materialize allows %d: use shorter names", m.Version.Schema, m.Metadata.Name, n, MaxCommentBytes)
				errs = append(errs, l.errs...)
			}
		}
	}
	for _, m := range ms {
		if m.Source != nil {
			s := m.Source.Schema
			if s == "" {
				s = DefaultSourceSchema
			}
			if CheckName(s) == nil {
				claimName(s, claim{m, "spec.schema", "source schema"})
			}
		}
	}
	return errs
}

func checkSource(l *errList, s *SourceSpec) {
	if s.Schema != "" {
		if err := CheckName(s.Schema); err != nil {
			l.add("spec.schema", "%v", err)
		}
	}
	if s.Cluster != "" {
		if err := checkRefName(s.Cluster); err != nil {
			l.add("spec.cluster", "%v", err)
		}
	}
	if _, _, err := ParseQualifiedName(s.Postgres.Connection, "x"); err != nil {
		l.add("spec.postgres.connection", "%v", err)
	}
	if err := checkColumn(s.Postgres.Publication); err != nil {
		if s.Postgres.Publication == "" {
			err = errors.New("required")
		}
		l.add("spec.postgres.publication", "%v", err)
	}
	if s.Upstream != nil {
		if err := checkEnvName(s.Upstream.URLEnv); err != nil {
			l.add("spec.upstream.urlEnv", "%v", err)
		}
	}
}

func checkSchema(l *errList, s *SchemaSpec) {
	if s.SwapGroup != "" {
		if err := checkRefName(s.SwapGroup); err != nil {
			l.add("spec.swapGroup", "%v", err)
		}
	}
	seenRole := map[string]bool{}
	for i, g := range s.Grants {
		p := fmt.Sprintf("spec.grants[%d]", i)
		if err := checkRefName(g.Role); err != nil {
			l.add(p+".role", "%v", err)
		} else if seenRole[g.Role] {
			l.add(p+".role", "role %q is granted twice; list its privileges once", g.Role)
		}
		seenRole[g.Role] = true
		if len(g.Privileges) == 0 {
			l.add(p+".privileges", "required: list USAGE and/or SELECT")
		}
		for j, pr := range g.Privileges {
			if !slices.Contains(GrantPrivileges, pr) {
				l.add(fmt.Sprintf("%s.privileges[%d]", p, j), "%q is not a privilege mzsync grants: use USAGE (schema) or SELECT (its relations), in upper case", pr)
			}
		}
	}
	if err := CheckName(s.Active); err != nil {
		l.add("spec.active", "%v", err)
	}
	if s.Retain != nil && *s.Retain < 0 {
		l.add("spec.retain", "must be 0 or more, got %d", *s.Retain)
	}
	if s.Cluster != "" {
		if err := checkRefName(s.Cluster); err != nil {
			l.add("spec.cluster", "%v", err)
		}
	}
	if r := s.Readiness; r != nil {
		if r.MaxLag != "" {
			if d, err := time.ParseDuration(r.MaxLag); err != nil {
				l.add("spec.readiness.maxLag", "not a duration (e.g. 1s, 500ms): %q", r.MaxLag)
			} else if d < 0 {
				l.add("spec.readiness.maxLag", "must not be negative, got %s", r.MaxLag)
			}
		}
		if r.Timeout != "" {
			if d, err := time.ParseDuration(r.Timeout); err != nil {
				l.add("spec.readiness.timeout", "not a duration (e.g. 30m, 1h): %q", r.Timeout)
			} else if d <= 0 {
				l.add("spec.readiness.timeout", "must be positive, got %s", r.Timeout)
			}
		}
	}
}

func checkVersion(l *errList, name string, v *VersionSpec) {
	if err := CheckName(v.Schema); err != nil {
		l.add("spec.schema", "%v", err)
	}
	if v.AdoptFrom != "" {
		if err := CheckName(v.AdoptFrom); err != nil {
			l.add("spec.adoptFrom", "%v", err)
		}
	}
	if len(v.Tables) == 0 && len(v.Views) == 0 {
		l.add("spec", "a version needs at least one table or view")
	}
	// Tables, views and indexes share one namespace in a schema.
	objects := map[string]string{} // name -> path of its declaration
	claim := func(n, path string) {
		if n == "" || CheckName(n) != nil {
			return
		}
		if first, dup := objects[n]; dup {
			l.add(path, "duplicate object name %q (also %s)", n, first)
			return
		}
		objects[n] = path
	}
	relations := map[string]bool{}
	for i, t := range v.Tables {
		p := fmt.Sprintf("spec.tables[%d]", i)
		if err := CheckName(t.Name); err != nil {
			l.add(p+".name", "%v", err)
		}
		claim(t.Name, p+".name")
		relations[t.Name] = true
		if err := CheckName(t.Source); err != nil {
			l.add(p+".source", "%v", err)
		}
		if _, _, err := ParseReference(t.Reference); err != nil {
			l.add(p+".reference", "%v", err)
		}
		cols := map[string]string{}
		for _, c := range []struct {
			field string
			cols  []string
		}{{"textColumns", t.TextColumns}, {"excludeColumns", t.ExcludeColumns}} {
			for j, col := range c.cols {
				cp := fmt.Sprintf("%s.%s[%d]", p, c.field, j)
				if err := checkColumn(col); err != nil {
					l.add(cp, "%v", err)
					continue
				}
				if first, dup := cols[col]; dup {
					l.add(cp, "column %q already listed at %s", col, first)
					continue
				}
				cols[col] = cp
			}
		}
	}
	for i, vw := range v.Views {
		p := fmt.Sprintf("spec.views[%d]", i)
		if err := CheckName(vw.Name); err != nil {
			l.add(p+".name", "%v", err)
		}
		claim(vw.Name, p+".name")
		relations[vw.Name] = true
		if vw.Cluster != "" {
			if !vw.Materialized {
				l.add(p+".cluster", "only a materialized view runs on a cluster; set materialized: true or remove cluster")
			} else if err := checkRefName(vw.Cluster); err != nil {
				l.add(p+".cluster", "%v", err)
			}
		}
	}
	for i, vw := range v.Views {
		p := fmt.Sprintf("spec.views[%d].sql", i)
		if err := CheckQuery(vw.SQL); err != nil {
			l.add(p, "%v", err)
			continue
		}
		if ReadsUnstable(vw.SQL) {
			l.add(p, "reads mz_internal, which Materialize refuses in a view (\"cannot create view with unstable dependencies\"); read mz_catalog instead")
		}
		for _, r := range Relations(vw.SQL) {
			if r == vw.Name {
				l.add(p, "view %q reads itself", vw.Name)
			} else if !relations[r] && !strings.HasPrefix(r, "mz_") && !strings.HasPrefix(r, "pg_") {
				l.add(p, "reads %q, which is not a table or view of version %s/%s; a view reads its own version's objects by short name (qualify other schemas' objects)", r, v.Schema, name)
			}
		}
	}
	if _, err := ViewOrder(v.Views); err != nil {
		l.add("spec.views", "%v", err)
	}
	for i, ix := range v.Indexes {
		p := fmt.Sprintf("spec.indexes[%d]", i)
		if err := CheckName(ix.On); err != nil {
			l.add(p+".on", "%v", err)
		} else if !relations[ix.On] {
			l.add(p+".on", "%q is not a table or view of version %s/%s", ix.On, v.Schema, name)
		}
		if ix.Name != "" {
			if err := CheckName(ix.Name); err != nil {
				l.add(p+".name", "%v", err)
			} else if len(ix.Columns) == 0 && ix.Name != ix.DefaultName() && relations[ix.On] {
				// CREATE DEFAULT INDEX takes no name: Materialize calls it
				// <on>_primary_idx (or _primary_idx1 when that is taken).
				l.add(p+".name", "a default index (no columns) is always named %q by Materialize; remove name or list the key columns", ix.DefaultName())
			}
		} else if len(ix.DefaultName()) > MaxNameLen {
			l.add(p+".name", "the default name %q is longer than %d bytes; set name", clip(ix.DefaultName()), MaxNameLen)
		}
		claim(ix.ResolvedName(), p+".name")
		seen := map[string]bool{}
		for j, c := range ix.Columns {
			cp := fmt.Sprintf("%s.columns[%d]", p, j)
			if err := checkColumn(c); err != nil {
				l.add(cp, "%v", err)
			} else if seen[c] {
				l.add(cp, "column %q listed twice", c)
			}
			seen[c] = true
		}
		if ix.Cluster != "" {
			if err := checkRefName(ix.Cluster); err != nil {
				l.add(p+".cluster", "%v", err)
			}
		}
	}
}

// ViewOrder returns the indexes of views in creation order: every view
// after the views it reads (see Relations), ties broken by name. It fails
// naming the views of a dependency cycle.
func ViewOrder(views []View) ([]int, error) {
	byName := map[string]int{}
	for i, v := range views {
		if _, dup := byName[v.Name]; !dup {
			byName[v.Name] = i
		}
	}
	deps := make([][]int, len(views))
	for i, v := range views {
		for _, r := range Relations(v.SQL) {
			if j, ok := byName[r]; ok && j != i {
				deps[i] = append(deps[i], j)
			}
		}
	}
	const (
		unvisited = iota
		visiting
		done
	)
	state := make([]int, len(views))
	order := make([]int, 0, len(views))
	idx := make([]int, len(views))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return views[idx[a]].Name < views[idx[b]].Name })
	var stack []int
	var visit func(i int) error
	visit = func(i int) error {
		switch state[i] {
		case done:
			return nil
		case visiting:
			var cycle []string
			for k := len(stack) - 1; k >= 0; k-- {
				cycle = append([]string{views[stack[k]].Name}, cycle...)
				if stack[k] == i {
					break
				}
			}
			return fmt.Errorf("dependency cycle: %s -> %s", strings.Join(cycle, " -> "), views[i].Name)
		}
		state[i] = visiting
		stack = append(stack, i)
		ds := append([]int(nil), deps[i]...)
		sort.Slice(ds, func(a, b int) bool { return views[ds[a]].Name < views[ds[b]].Name })
		for _, d := range ds {
			if err := visit(d); err != nil {
				return err
			}
		}
		stack = stack[:len(stack)-1]
		state[i] = done
		order = append(order, i)
		return nil
	}
	for _, i := range idx {
		if err := visit(i); err != nil {
			return nil, err
		}
	}
	return order, nil
}

// MaxCommentBytes is the longest comment Materialize accepts.
const MaxCommentBytes = 1024

// markerBound is an upper bound on the length of the marker comment
// mzsync writes on a version schema (internal/model.SchemaMarker): prefix,
// schema, version, a sha256 digest, the longest state word and a live
// count. History entries are dropped to fit, so they do not count.
func markerBound(schema, version string) int {
	return len("mzsync:v1 schema= version= digest=sha256: state=building live=9999999999") + 64 + 3*len(schema) + 3*len(version)
}

// ReadsUnstable reports whether a query names the mz_internal schema,
// which Materialize refuses as a view's dependency.
func ReadsUnstable(sql string) bool {
	toks, err := LexSQL(sql)
	if err != nil {
		return false
	}
	for i, t := range toks {
		if (t.Kind == TokIdent || t.Kind == TokQuotedIdent) && t.Value == "mz_internal" &&
			i+1 < len(toks) && toks[i+1].Kind == TokPunct && toks[i+1].Text == "." {
			return true
		}
	}
	return false
}
