package reconcile

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mzsync/mzsync/internal/model"
)

// Hand-made desired and observed states. The desired state is what
// internal/desired would produce for the example manifests: source pg and
// schema app with versions v1, v2 and v3.

var pgRef = model.Ref{Schema: "public", Name: "pg"}

func versionV(name string, objs ...model.Object) model.Version {
	id := model.VersionID{Schema: "app", Version: name}
	for i := range objs {
		objs[i].Digest = "sha256:" + name + "." + objs[i].Name
	}
	return model.Version{ID: id, Objects: objs, Digest: "sha256:" + name}
}

func fxTable(name, upstream string, text ...string) model.Object {
	return model.Object{Kind: model.KindTable, Name: name, Source: pgRef,
		Reference: model.UpstreamRef{Schema: "public", Table: upstream}, TextColumns: text}
}

func fxMatview(name, sql string, deps ...string) model.Object {
	return model.Object{Kind: model.KindMaterializedView, Name: name, SQL: sql, DependsOn: deps, Cluster: "compute"}
}

func fxView(name, sql string, deps ...string) model.Object {
	return model.Object{Kind: model.KindView, Name: name, SQL: sql, DependsOn: deps}
}

func fxIndex(name, on string, cols ...string) model.Object {
	return model.Object{Kind: model.KindIndex, Name: name, On: on, Columns: cols, DependsOn: []string{on}, Cluster: "compute"}
}

func fxV1() model.Version {
	return versionV("v1",
		fxTable("t", "t"),
		fxMatview("matview", "SELECT sum(a) AS total FROM t", "t"),
		fxIndex("matview_total_idx", "matview", "total"),
	)
}

func fxV2() model.Version {
	return versionV("v2",
		fxTable("t", "t", "b"),
		fxTable("u", "u"),
		fxView("filtered", "SELECT a FROM t WHERE b = 'yes'", "t"),
		fxMatview("matview", "SELECT sum(a) AS total FROM filtered", "filtered"),
		fxIndex("matview_primary_idx", "matview"),
	)
}

func fxV3() model.Version {
	return versionV("v3",
		fxTable("t", "t", "b"),
		fxMatview("matview", "SELECT count(*) AS total FROM t", "t"),
	)
}

func fxDesired(active string, retain int, versions ...model.Version) *model.Desired {
	return &model.Desired{
		Revision: "rev1",
		Sources: []model.Source{{Name: "pg", Schema: "public", Cluster: "ingest", Connection: "pg_conn",
			Publication: "mz_source", UpstreamURLEnv: "PG_UPSTREAM_URL", Digest: "sha256:pg"}},
		Schemas: []model.Schema{{Name: "app", Active: active, Retain: retain, Cluster: "compute",
			Readiness: model.Readiness{MaxLag: time.Second, Timeout: 30 * time.Minute}, Versions: versions}},
	}
}

// simCatalog is a tiny in-memory Materialize: it executes the statements of
// the SQL contract against a model.Observed, with Materialize's name rules,
// so a test can apply a plan and observe the result.
type simCatalog struct {
	t      *testing.T
	obs    *model.Observed
	nextID int
}

func newSimCatalog(t *testing.T) *simCatalog {
	t.Helper()
	c := &simCatalog{t: t, obs: &model.Observed{
		Database: "materialize",
		Schemas:  []model.ObservedSchema{{ID: "u1", Name: "public"}},
		Sources: []model.ObservedSource{{ID: "u2", Schema: "public", Name: "pg", Type: "postgres", Cluster: "ingest",
			Connection: "pg_conn", Status: "running", Comment: "mzsync:v1 digest=sha256:pg", Marker: &model.ObjectMarker{Digest: "sha256:pg"}}},
		Clusters: []model.Cluster{{ID: "u1", Name: "compute", Replicas: []model.Replica{{ID: "u1", Name: "r1", Status: "online"}}}},
	}, nextID: 100}
	c.fingerprint()
	return c
}

// deploy executes whole plans for the given desired states in turn,
// failing the test on any error.
func (c *simCatalog) deploy(des *model.Desired, opts Options) *simCatalog {
	c.t.Helper()
	p, err := Diff(c.obs, des, opts)
	if err != nil {
		c.t.Fatalf("diff: %v", err)
	}
	c.apply(p)
	return c
}

func (c *simCatalog) apply(p *Plan) {
	c.t.Helper()
	for _, ch := range p.Changes {
		for _, stmt := range ch.SQL {
			if err := c.exec(stmt); err != nil {
				c.t.Fatalf("apply %s %s: %q: %v", ch.Op, ch.Target, stmt, err)
			}
		}
	}
	c.fingerprint()
}

func (c *simCatalog) fingerprint() {
	var b strings.Builder
	for _, s := range c.obs.Schemas {
		fmt.Fprintf(&b, "%s=%s[%s];", s.ID, s.Name, s.Comment)
		for _, o := range s.Objects {
			fmt.Fprintf(&b, "%s=%s[%s];", o.ID, o.Name, o.Comment)
		}
	}
	c.obs.Fingerprint = fmt.Sprintf("fp%d", len(b.String()))
}

func (c *simCatalog) id() string {
	c.nextID++
	return fmt.Sprintf("u%d", c.nextID)
}

func (c *simCatalog) schema(name string) *model.ObservedSchema {
	for i := range c.obs.Schemas {
		if c.obs.Schemas[i].Name == name {
			return &c.obs.Schemas[i]
		}
	}
	return nil
}

func (c *simCatalog) object(schema, name string) *model.ObservedObject {
	s := c.schema(schema)
	if s == nil {
		return nil
	}
	for i := range s.Objects {
		if s.Objects[i].Name == name {
			return &s.Objects[i]
		}
	}
	return nil
}

func (c *simCatalog) addObject(schema string, o model.ObservedObject) error {
	s := c.schema(schema)
	if s == nil {
		return fmt.Errorf("unknown schema '%s'", schema)
	}
	if c.object(schema, o.Name) != nil {
		return fmt.Errorf("%s.%s already exists", schema, o.Name)
	}
	o.ID = c.id()
	// Everything a plan creates becomes ready at once in this simCatalog.
	o.SnapshotCommitted, o.Hydrated = true, true
	if o.Kind == model.KindTable {
		o.Status = "running"
	}
	lag := 100 * time.Millisecond
	o.Lag = &lag
	s.Objects = append(s.Objects, o)
	slices.SortFunc(s.Objects, func(a, b model.ObservedObject) int { return strings.Compare(a.Name, b.Name) })
	return nil
}

// dropObject removes an object as a DROP by hand would.
func (c *simCatalog) dropObject(schema, name string) {
	s := c.schema(schema)
	i := slices.IndexFunc(s.Objects, func(o model.ObservedObject) bool { return o.Name == name })
	if i < 0 {
		c.t.Fatalf("no object %s.%s to drop", schema, name)
	}
	s.Objects = slices.Delete(s.Objects, i, i+1)
}

func (c *simCatalog) sortSchemas() {
	slices.SortFunc(c.obs.Schemas, func(a, b model.ObservedSchema) int { return strings.Compare(a.Name, b.Name) })
}

const ident = `"((?:[^"]|"")+)"`

var (
	reCreateSchema = regexp.MustCompile(`^CREATE SCHEMA ` + ident + `$`)
	reComment      = regexp.MustCompile(`^COMMENT ON (SCHEMA|TABLE|VIEW|MATERIALIZED VIEW|INDEX|SOURCE) (?:` + ident + `\.)?` + ident + ` IS '((?:[^']|'')*)'$`)
	reCreateTable  = regexp.MustCompile(`^CREATE TABLE ` + ident + `\.` + ident + ` FROM SOURCE ` + ident + `\.` + ident +
		` \(REFERENCE ` + ident + `\.` + ident + `\)(?: WITH \((.*)\))?$`)
	reCreateView  = regexp.MustCompile(`^CREATE (VIEW|MATERIALIZED VIEW) ` + ident + `\.` + ident + `(?: IN CLUSTER ` + ident + `)? AS (.+)$`)
	reCreateIndex = regexp.MustCompile(`^CREATE (?:DEFAULT INDEX|INDEX ` + ident + `)(?: IN CLUSTER ` + ident + `)? ON ` + ident + `\.` + ident + `(?: \((.*)\))?$`)
	reSwap        = regexp.MustCompile(`^ALTER SCHEMA ` + ident + ` SWAP WITH ` + ident + `$`)
	reRename      = regexp.MustCompile(`^ALTER SCHEMA ` + ident + ` RENAME TO ` + ident + `$`)
	reDrop        = regexp.MustCompile(`^DROP SCHEMA ` + ident + ` CASCADE$`)
	reCreateSrc   = regexp.MustCompile(`^CREATE SOURCE ` + ident + `\.` + ident + ` IN CLUSTER ` + ident + ` FROM POSTGRES CONNECTION ` + ident + `\.` + ident + ` \(PUBLICATION '([^']*)'\)$`)
	reIdent       = regexp.MustCompile(ident)
)

func unq(s string) string { return strings.ReplaceAll(s, `""`, `"`) }

func identList(s string) []string {
	var out []string
	for _, m := range reIdent.FindAllStringSubmatch(s, -1) {
		out = append(out, unq(m[1]))
	}
	return out
}

func (c *simCatalog) exec(stmt string) error {
	if m := reCreateSchema.FindStringSubmatch(stmt); m != nil {
		if c.schema(unq(m[1])) != nil {
			return fmt.Errorf("schema '%s' already exists", unq(m[1]))
		}
		c.obs.Schemas = append(c.obs.Schemas, model.ObservedSchema{ID: c.id(), Name: unq(m[1])})
		c.sortSchemas()
		return nil
	}
	if m := reComment.FindStringSubmatch(stmt); m != nil {
		text := strings.ReplaceAll(m[4], "''", "'")
		if m[1] == "SCHEMA" {
			s := c.schema(unq(m[3]))
			if s == nil {
				return fmt.Errorf("unknown schema '%s'", unq(m[3]))
			}
			s.Comment = text
			if mk, ok := model.ParseSchemaMarker(text); ok {
				s.Marker = &mk
			}
			return nil
		}
		if m[1] == "SOURCE" {
			for i := range c.obs.Sources {
				if c.obs.Sources[i].Ref() == (model.Ref{Schema: unq(m[2]), Name: unq(m[3])}) {
					mk, _ := model.ParseObjectMarker(text)
					c.obs.Sources[i].Comment, c.obs.Sources[i].Marker = text, &mk
					return nil
				}
			}
			return fmt.Errorf("unknown source")
		}
		o := c.object(unq(m[2]), unq(m[3]))
		if o == nil {
			return fmt.Errorf("unknown simCatalog item '%s.%s'", unq(m[2]), unq(m[3]))
		}
		if model.Kind(strings.ToLower(strings.ReplaceAll(m[1], " ", "-"))) != o.Kind {
			return fmt.Errorf("%s is a %s", o.Name, o.Kind)
		}
		mk, _ := model.ParseObjectMarker(text)
		o.Comment, o.Marker = text, &mk
		return nil
	}
	if m := reCreateTable.FindStringSubmatch(stmt); m != nil {
		o := model.ObservedObject{Kind: model.KindTable, Name: unq(m[2]),
			Reference: model.UpstreamRef{Schema: unq(m[5]), Table: unq(m[6])}}
		for _, s := range c.obs.Sources {
			if s.Ref() == (model.Ref{Schema: unq(m[3]), Name: unq(m[4])}) {
				o.SourceID = s.ID
			}
		}
		if o.SourceID == "" {
			return fmt.Errorf("unknown source")
		}
		for _, opt := range regexp.MustCompile(`(TEXT|EXCLUDE) COLUMNS \(([^)]*)\)`).FindAllStringSubmatch(m[7], -1) {
			if opt[1] == "TEXT" {
				o.TextColumns = identList(opt[2])
			} else {
				o.ExcludeColumns = identList(opt[2])
			}
		}
		return c.addObject(unq(m[1]), o)
	}
	if m := reCreateView.FindStringSubmatch(stmt); m != nil {
		k := model.KindView
		if m[1] == "MATERIALIZED VIEW" {
			k = model.KindMaterializedView
		}
		return c.addObject(unq(m[2]), model.ObservedObject{Kind: k, Name: unq(m[3]), Cluster: unq(m[4])})
	}
	if m := reCreateIndex.FindStringSubmatch(stmt); m != nil {
		on := c.object(unq(m[3]), unq(m[4]))
		if on == nil {
			return fmt.Errorf("unknown simCatalog item '%s'", unq(m[4]))
		}
		name := unq(m[1])
		if name == "" {
			name = on.Name + "_primary_idx"
		}
		return c.addObject(unq(m[3]), model.ObservedObject{Kind: model.KindIndex, Name: name, Cluster: unq(m[2]), OnID: on.ID})
	}
	if m := reSwap.FindStringSubmatch(stmt); m != nil {
		a, b := c.schema(unq(m[1])), c.schema(unq(m[2]))
		if a == nil || b == nil {
			return fmt.Errorf("unknown schema")
		}
		a.Name, b.Name = b.Name, a.Name
		c.sortSchemas()
		return nil
	}
	if m := reRename.FindStringSubmatch(stmt); m != nil {
		a := c.schema(unq(m[1]))
		if a == nil {
			return fmt.Errorf("unknown schema '%s'", unq(m[1]))
		}
		if c.schema(unq(m[2])) != nil {
			return fmt.Errorf("schema '%s' already exists", unq(m[2]))
		}
		a.Name = unq(m[2])
		c.sortSchemas()
		return nil
	}
	if m := reDrop.FindStringSubmatch(stmt); m != nil {
		i := slices.IndexFunc(c.obs.Schemas, func(s model.ObservedSchema) bool { return s.Name == unq(m[1]) })
		if i < 0 {
			return fmt.Errorf("unknown schema '%s'", unq(m[1]))
		}
		c.obs.Schemas = slices.Delete(c.obs.Schemas, i, i+1)
		return nil
	}
	if m := reCreateSrc.FindStringSubmatch(stmt); m != nil {
		c.obs.Sources = append(c.obs.Sources, model.ObservedSource{ID: c.id(), Schema: unq(m[1]), Name: unq(m[2]),
			Type: "postgres", Cluster: unq(m[3]), Connection: unq(m[5]), Status: "running"})
		return nil
	}
	return fmt.Errorf("statement not understood by the test simCatalog: %s", stmt)
}
