package reconcile

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/mzsync/mzsync/internal/model"
)

// handBuild creates schema name the seed guide's way, by hand and without
// markers, holding the objects of fxV1 as Materialize stores them: view
// definitions normalized and fully qualified, dependencies recorded.
// edit may change the objects before they are added.
func handBuild(t *testing.T, c *simCatalog, name string, edit func(objs []model.ObservedObject) []model.ObservedObject) map[string]string {
	t.Helper()
	c.obs.Schemas = append(c.obs.Schemas, model.ObservedSchema{ID: c.id(), Name: name})
	c.sortSchemas()
	objs := []model.ObservedObject{
		{Kind: model.KindTable, Name: "t", SourceID: "u2", Reference: model.UpstreamRef{Schema: "public", Table: "t"}},
		{Kind: model.KindMaterializedView, Name: "matview", Cluster: "compute",
			Definition: `SELECT "pg_catalog"."sum"("a") AS "total" FROM "materialize"."` + name + `"."t";`},
		{Kind: model.KindIndex, Name: "matview_total_idx", Cluster: "compute", IndexKeys: []string{"total"}},
	}
	if edit != nil {
		objs = edit(objs)
	}
	ids := map[string]string{}
	for _, o := range objs {
		if o.Kind == model.KindIndex && o.OnID == "" {
			o.OnID = ids["matview"]
		}
		if err := c.addObject(name, o); err != nil {
			t.Fatal(err)
		}
		ids[o.Name] = c.object(name, o.Name).ID
	}
	if ids["matview"] != "" && ids["t"] != "" {
		c.obs.Dependencies = append(c.obs.Dependencies, model.Dependency{Object: ids["matview"], Referenced: ids["t"]})
	}
	if ids["matview_total_idx"] != "" {
		c.obs.Dependencies = append(c.obs.Dependencies, model.Dependency{Object: ids["matview_total_idx"], Referenced: ids["matview"]})
	}
	c.fingerprint()
	return ids
}

func adopting(v model.Version, from string) model.Version {
	v.AdoptFrom = from
	return v
}

func ops(p *Plan) map[Op]int {
	m := map[Op]int{}
	for _, c := range p.Changes {
		m[c.Op]++
	}
	return m
}

func objectIDs(c *simCatalog) map[string]string {
	ids := map[string]string{}
	for _, s := range c.obs.Schemas {
		for _, o := range s.Objects {
			ids[o.ID] = s.Name + "." + o.Name
		}
	}
	return ids
}

func TestAdoptAliasInPlace(t *testing.T) {
	c := newSimCatalog(t)
	ids := handBuild(t, c, "app", nil)
	des := fxDesired("v1", 1, adopting(fxV1(), "app"))
	p, err := Diff(c.obs, des, Options{})
	if err != nil {
		t.Fatal(err)
	}
	got := ops(p)
	if got[OpAdopt] != 4 || got[OpCreate] != 0 || got[OpDrop] != 0 || got[OpSwap]+got[OpRename] != 0 || p.Blocked() {
		t.Fatalf("plan: want 4 adopt steps and nothing else, got %v:\n%s", got, strings.Join(lines(p), "\n"))
	}
	if !strings.Contains(p.Summary().String(), "4 adoption step(s)") {
		t.Errorf("summary %q does not count the adoption", p.Summary())
	}
	last := p.Changes[len(p.Changes)-1]
	if last.Kind != KindSchema || !strings.Contains(last.SQL[0], "state=built live=1") {
		t.Fatalf("the schema's marker must be the last step, with the live record: %+v", last)
	}
	c.apply(p)
	m := c.schema("app").Marker
	if m == nil || m.Version != "v1" || !m.Built() || m.Live != 1 || m.Revision != "rev1" {
		t.Fatalf("app marker after adoption: %+v", m)
	}
	for name, id := range ids {
		if o := c.object("app", name); o == nil || o.ID != id || o.Marker == nil {
			t.Fatalf("app.%s after adoption: %+v, want ID %s, marked", name, o, id)
		}
	}
	if p2, _ := Diff(c.obs, des, Options{}); !p2.Empty() || p2.Blocked() {
		t.Fatalf("plan after adoption is not empty:\n%s", strings.Join(lines(p2), "\n"))
	}

	// The next version is cut over as usual; the adopted one is retained.
	des2 := fxDesired("v2", 1, adopting(fxV1(), "app"), fxV2())
	c.deploy(des2, Options{})
	if m := c.schema("app").Marker; m == nil || m.Version != "v2" {
		t.Fatalf("app after v2: %+v", m)
	}
	if o := c.object("app_v1", "matview"); o == nil || o.ID != ids["matview"] {
		t.Fatalf("app_v1.matview after v2 = %+v, want the adopted object %s", o, ids["matview"])
	}
	if p3, _ := Diff(c.obs, des2, Options{}); !p3.Empty() || p3.Blocked() {
		t.Fatalf("plan after v2 is not empty:\n%s", strings.Join(lines(p3), "\n"))
	}
}

func TestAdoptVersionSchemaRenamedThenCutOver(t *testing.T) {
	c := newSimCatalog(t)
	ids := handBuild(t, c, "v1", nil)
	des := fxDesired("v1", 1, adopting(fxV1(), "v1"))
	p, err := Diff(c.obs, des, Options{})
	if err != nil {
		t.Fatal(err)
	}
	first := p.Changes[0]
	if first.Op != OpAdopt || !first.Transaction || first.SQL[0] != `ALTER SCHEMA "v1" RENAME TO "app_v1"` {
		t.Fatalf("first step must rename v1 into mzsync's naming in a transaction: %+v", first)
	}
	find(t, p, OpRename, "app/v1") // the first cutover follows in the same plan
	if got := ops(p); got[OpCreate] != 0 || got[OpDrop] != 0 {
		t.Fatalf("adoption must not create or drop: %v", got)
	}
	c.apply(p)
	m := c.schema("app").Marker
	if m == nil || m.Version != "v1" || m.Live != 1 || c.schema("v1") != nil {
		t.Fatalf("after adoption and cutover: app=%+v, v1 exists=%v", m, c.schema("v1") != nil)
	}
	for name, id := range ids {
		if o := c.object("app", name); o == nil || o.ID != id {
			t.Fatalf("app.%s = %+v, want the hand-built %s", name, o, id)
		}
	}
	if p2, _ := Diff(c.obs, des, Options{}); !p2.Empty() || p2.Blocked() {
		t.Fatalf("plan after adoption is not empty:\n%s", strings.Join(lines(p2), "\n"))
	}
}

// TestAdoptSeedAfterSwap: after the seed guide's swap the alias holds the
// new version and the schema beside it the old one. Both are adopted; the
// old one is recorded as live before, so retention keeps it.
func TestAdoptSeedAfterSwap(t *testing.T) {
	c := newSimCatalog(t)
	handBuild(t, c, "old", nil)
	handBuild(t, c, "app", func(objs []model.ObservedObject) []model.ObservedObject {
		objs[1].Definition = `SELECT "pg_catalog"."count"(*) AS "total" FROM "materialize"."app"."t";`
		return objs[:2]
	})
	c.object("app", "t").TextColumns = []string{"b"}
	v2 := versionV("v2", fxTable("t", "t", "b"), fxMatview("matview", "select count(*) as total from t", "t"))
	des := fxDesired("v2", 1, adopting(fxV1(), "old"), adopting(v2, "app"))
	p, err := Diff(c.obs, des, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if p.Blocked() || ops(p)[OpCreate]+ops(p)[OpDrop] != 0 {
		t.Fatalf("plan:\n%s", strings.Join(lines(p), "\n"))
	}
	c.apply(p)
	if m := c.schema("app").Marker; m == nil || m.Version != "v2" || m.Live != 1 || !slices.Equal(m.History, []string{"v1"}) {
		t.Fatalf("app marker: %+v, want v2 live=1 history=v1", m)
	}
	if m := c.schema("app_v1").Marker; m == nil || m.Version != "v1" || !m.Built() {
		t.Fatalf("app_v1 marker: %+v", m)
	}
	if p2, _ := Diff(c.obs, des, Options{AllowDrop: true}); !p2.Empty() || p2.Blocked() {
		t.Fatalf("plan after adoption is not empty (retention must keep v1):\n%s", strings.Join(lines(p2), "\n"))
	}
}

func TestAdoptMismatchNamesEveryDifference(t *testing.T) {
	c := newSimCatalog(t)
	handBuild(t, c, "app", func(objs []model.ObservedObject) []model.ObservedObject {
		objs[0].TextColumns = []string{"a"}
		objs[1].Definition = `SELECT "pg_catalog"."sum"("a") AS "total" FROM "materialize"."app"."t" WHERE "a" > 1;`
		objs[2].IndexKeys = []string{"other"}
		return append(objs, model.ObservedObject{Kind: model.KindView, Name: "debug", Definition: "SELECT 1;"})
	})
	before := objectIDs(c)
	des := fxDesired("v1", 1, adopting(fxV1(), "app"))
	p, err := Diff(c.obs, des, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !p.Empty() || !p.Blocked() {
		t.Fatalf("a mismatched schema must block with nothing to do:\n%s", strings.Join(lines(p), "\n"))
	}
	for _, want := range []struct{ target, text string }{
		{"app/v1", "adopt refused: schema app does not match app/v1 (4 difference(s)"},
		{"app.t", "text columns [a], declared []"},
		{"app.matview", `definition differs: stored "select sum ( a ) as total from t where a > 1"`},
		{"app.matview_total_idx", "keys (other), declared (total)"},
		{"app.debug", "view debug is not declared in app/v1"},
	} {
		if f := find(t, p, OpBlocked, want.target); !strings.Contains(f.Reason, want.text) {
			t.Errorf("%s: reason %q does not say %q", want.target, f.Reason, want.text)
		}
	}
	if _, err := Diff(c.obs, des, Options{}); err != nil {
		t.Fatal(err)
	}
	if after := objectIDs(c); len(after) != len(before) {
		t.Fatalf("objects changed")
	}
}

func TestAdoptMissingObjectAndColumnSet(t *testing.T) {
	c := newSimCatalog(t)
	handBuild(t, c, "v1", func(objs []model.ObservedObject) []model.ObservedObject {
		objs[0].ExcludeColumns = []string{"b"}
		return objs[:2]
	})
	p, err := Diff(c.obs, fxDesired("v1", 1, adopting(fxV1(), "v1")), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !p.Empty() || !p.Blocked() {
		t.Fatalf("plan:\n%s", strings.Join(lines(p), "\n"))
	}
	if f := find(t, p, OpBlocked, "v1.t"); !strings.Contains(f.Reason, "exclude columns [b], declared []") {
		t.Errorf("t: %q", f.Reason)
	}
	if f := find(t, p, OpBlocked, "v1.matview_total_idx"); !strings.Contains(f.Reason, "missing") {
		t.Errorf("index: %q", f.Reason)
	}
}

// TestAdoptInterrupted stops the adoption after each of its statements in
// turn; the next plan finishes it without creating or dropping anything.
func TestAdoptInterrupted(t *testing.T) {
	for _, from := range []string{"app", "v1"} {
		des := fxDesired("v1", 1, adopting(fxV1(), from))
		c0 := newSimCatalog(t)
		handBuild(t, c0, from, nil)
		full, err := Diff(c0.obs, des, Options{})
		if err != nil {
			t.Fatal(err)
		}
		var stmts int
		for _, ch := range full.Changes {
			if ch.Op == OpAdopt {
				stmts += len(ch.SQL)
			}
		}
		for stop := 0; stop < stmts; stop++ {
			c := newSimCatalog(t)
			ids := handBuild(t, c, from, nil)
			p, _ := Diff(c.obs, des, Options{})
			n := 0
		run:
			for _, ch := range p.Changes {
				for _, s := range ch.SQL {
					if n == stop {
						break run
					}
					if err := c.exec(s); err != nil {
						t.Fatal(err)
					}
					n++
				}
			}
			c.fingerprint()
			p2, err := Diff(c.obs, des, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if got := ops(p2); got[OpCreate] != 0 || got[OpDrop] != 0 || p2.Blocked() {
				t.Fatalf("from %s, stopped after %d statement(s): the next plan must finish the adoption:\n%s", from, stop, strings.Join(lines(p2), "\n"))
			}
			c.apply(p2)
			if m := c.schema("app").Marker; m == nil || m.Version != "v1" || m.Live != 1 {
				t.Fatalf("from %s, stopped after %d: app = %+v", from, stop, m)
			}
			for name, id := range ids {
				if o := c.object("app", name); o == nil || o.ID != id || o.Marker == nil {
					t.Fatalf("from %s, stopped after %d: app.%s = %+v", from, stop, name, o)
				}
			}
		}
	}
}

func TestAdoptFromAbsentBuilds(t *testing.T) {
	c := newSimCatalog(t)
	p, err := Diff(c.obs, fxDesired("v1", 1, adopting(fxV1(), "v1")), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if f := find(t, p, OpIgnored, "app/v1"); !strings.Contains(f.Reason, "schema v1 does not exist") {
		t.Errorf("note: %q", f.Reason)
	}
	find(t, p, OpCreate, "app_v1")
}

func TestUnownedAliasHintsAdoptFrom(t *testing.T) {
	c := newSimCatalog(t)
	handBuild(t, c, "app", nil)
	p, err := Diff(c.obs, fxDesired("v1", 1, fxV1()), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if f := find(t, p, OpBlocked, "app/v1"); !strings.Contains(f.Reason, "declare adoptFrom: app") {
		t.Errorf("refused cutover: %q", f.Reason)
	}
}

func TestDefinitionDiff(t *testing.T) {
	own := func(n string) bool { return n == "t" || n == "u" }
	for _, tc := range []struct {
		stored, declared string
		same             bool
	}{
		{`SELECT "pg_catalog"."sum"("a") AS "total" FROM "materialize"."app"."t";`, "select sum(a) as total\n  from t -- all", true},
		{`SELECT sum(a) AS total FROM v1.t;`, "SELECT sum(a) AS total FROM t", true}, // a hand-written text naming the schema's old name
		{`SELECT "a" FROM "materialize"."app"."t" JOIN "materialize"."app"."u" ON "t"."k" = "u"."k";`, `SELECT a FROM t JOIN u ON t.k = u.k`, true},
		{`SELECT "a"::"pg_catalog"."int4" FROM "materialize"."app"."t";`, `SELECT a::int FROM t`, false},
		{`SELECT "a" FROM "materialize"."other"."x";`, `SELECT a FROM x`, false},
		{`SELECT "a" FROM "materialize"."app"."t";`, `SELECT b FROM t`, false},
		{`SELECT "from" FROM "materialize"."app"."t";`, `SELECT from FROM t`, false},
		{`SELECT "A" FROM "materialize"."app"."t";`, `SELECT A FROM t`, false},
		{`SELECT 'x' FROM "materialize"."app"."t";`, `SELECT 'X' FROM t`, false},
		{``, `SELECT 1`, false},
	} {
		d := definitionDiff("materialize", tc.stored, tc.declared, own)
		if (d == "") != tc.same {
			t.Errorf("stored %q, declared %q: diff %q, want same=%v", tc.stored, tc.declared, d, tc.same)
		}
	}
}

// TestAdoptPreflightNamesOwnership: objects built by hand by another role
// keep their owner; the privileges preflight names the ownership adoption
// needs (the schema to rename, each object to mark) before anything is
// sent.
func TestAdoptPreflightNamesOwnership(t *testing.T) {
	c := newSimCatalog(t)
	handBuild(t, c, "v1", nil)
	des := fxDesired("v1", 1, adopting(fxV1(), "v1"))
	p, err := Diff(c.obs, des, Options{})
	if err != nil {
		t.Fatal(err)
	}
	acc := &model.Access{Role: "mzsync", RoleID: "u9", MemberOf: []string{"u9"}, Database: []string{"CREATE", "USAGE"},
		Schemas: map[string]model.Grantable{}, Objects: map[string]model.Grantable{}}
	for _, s := range c.obs.Schemas {
		acc.Schemas[s.ID] = model.Grantable{OwnerID: "u8"}
		for _, o := range s.Objects {
			acc.Objects[o.ID] = model.Grantable{OwnerID: "u8"}
		}
	}
	o := *c.obs
	o.Access = acc
	err = Preflight(&o, des, p)
	var pe *PrivilegeError
	if !errors.As(err, &pe) {
		t.Fatalf("preflight: %v, want a PrivilegeError", err)
	}
	for _, want := range []string{`ownership of SCHEMA "v1" (for adopting it as app/v1)`, `ownership of TABLE "v1"."t"`,
		`ownership of MATERIALIZED VIEW "v1"."matview"`, `ownership of INDEX "v1"."matview_total_idx"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("preflight does not name %s:\n%v", want, err)
		}
	}
}

// TestAdoptGrants: the declared grants are given to an adopted version
// once: all of them when the catalog's privileges were not read, only the
// missing ones (by grant drift) when they were.
func TestAdoptGrants(t *testing.T) {
	grants := func(p *Plan) []string {
		var out []string
		for _, c := range p.Changes {
			if c.Kind == KindGrant && c.Op.Executable() {
				out = append(out, c.SQL...)
			}
		}
		return out
	}
	c := newSimCatalog(t)
	handBuild(t, c, "app", nil)
	des := fxDesired("v1", 1, adopting(fxV1(), "app"))
	des.Schemas[0].Grants = []model.Grant{{Role: "reader", Privileges: []string{"SELECT", "USAGE"}}}
	p, err := Diff(c.obs, des, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := grants(p); len(got) != 3 {
		t.Fatalf("without privileges read: grants %q, want USAGE on app and SELECT on t and matview", got)
	}

	o := *c.obs
	o.Access = &model.Access{Role: "mzsync", RoleID: "u9", MemberOf: []string{"u9"}, RoleNames: map[string]string{"u7": "reader", "u9": "mzsync"},
		Schemas: map[string]model.Grantable{}, Objects: map[string]model.Grantable{}}
	for _, s := range o.Schemas {
		o.Access.Schemas[s.ID] = model.Grantable{OwnerID: "u9", Privileges: map[string][]string{"u7": {"USAGE"}}}
		for _, ob := range s.Objects {
			o.Access.Objects[ob.ID] = model.Grantable{OwnerID: "u9"}
		}
	}
	o.Access.Objects[c.object("app", "t").ID] = model.Grantable{OwnerID: "u9", Privileges: map[string][]string{"u7": {"SELECT"}}}
	p, err = Diff(&o, des, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := grants(p); len(got) != 1 || !strings.Contains(got[0], `"app"."matview"`) || !strings.Contains(got[0], "SELECT") {
		t.Fatalf("with privileges read: grants %q, want only the missing SELECT on app.matview", got)
	}
}

// TestAdoptFromOfABuiltVersionIsANote: a version mzsync built already is
// not adopted again; the hand-built schema adoptFrom names is left alone,
// and the plan says how to take it over.
func TestAdoptFromOfABuiltVersionIsANote(t *testing.T) {
	c := newSimCatalog(t)
	handBuild(t, c, "app", nil)
	c.deploy(fxDesired("v1", 1, fxV1()), Options{}) // builds app_v1 beside it; the cutover is refused
	if m := c.schema("app_v1").Marker; m == nil || !m.Built() {
		t.Fatalf("app_v1 not built: %+v", m)
	}
	before := objectIDs(c)
	p, err := Diff(c.obs, fxDesired("v1", 1, adopting(fxV1(), "app")), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if f := find(t, p, OpIgnored, "app/v1"); !strings.Contains(f.Reason, "already held by mzsync's schema app_v1") {
		t.Errorf("note: %q", f.Reason)
	}
	for _, ch := range p.Changes {
		if ch.Op == OpAdopt {
			t.Fatalf("adopts although v1 is built: %+v", ch)
		}
	}
	c.apply(p)
	if after := objectIDs(c); len(after) != len(before) || c.schema("app").Marker != nil {
		t.Fatalf("the hand-built app was touched")
	}
}
