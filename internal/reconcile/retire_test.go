package reconcile

import (
	"strings"
	"testing"

	"github.com/mzsync/mzsync/internal/model"
)

// A schema an interrupted drop left in the trash is no version's location
// (the version it held is built again when kept), and the next plan drops
// it without --allow-drop; an object outside it that depends on it blocks
// that drop.
func TestTrashLeftoverIsDroppedByTheNextPlan(t *testing.T) {
	c := newSimCatalog(t).
		deploy(fxDesired("v1", 1, fxV1()), Options{}).
		deploy(fxDesired("v2", 1, fxV1(), fxV2()), Options{})
	// v1 was retired to the trash by a pass that died before its DROP.
	trash := model.TrashName("0123456789abcdef", "app_v1")
	mustExec(c, `ALTER SCHEMA "app_v1" RENAME TO "`+trash+`"`)
	c.fingerprint()

	p, err := Diff(c.obs, fxDesired("v2", 1, fxV1(), fxV2()), Options{})
	if err != nil {
		t.Fatal(err)
	}
	var dropped, rebuilt bool
	for _, ch := range p.Changes {
		switch {
		case ch.Op == OpDrop && ch.Target == trash:
			dropped = true
			if len(ch.SQL) != 1 || ch.SQL[0] != `DROP SCHEMA "`+trash+`" CASCADE` {
				t.Errorf("trash drop SQL = %q", ch.SQL)
			}
			if _, ok := retirementOf(ch, ch.SQL[0]); ok {
				t.Error("the drop of a trash schema would be retired again")
			}
		case ch.Op == OpCreate && ch.Kind == KindSchema && ch.Target == "app_v1":
			rebuilt = true
		case ch.Op == OpBlocked:
			t.Errorf("blocked: %s %s", ch.Target, ch.Reason)
		}
	}
	if !dropped || !rebuilt {
		t.Fatalf("plan does not drop the trash (%v) and rebuild the retained v1 (%v): %+v", dropped, rebuilt, p.Changes)
	}
	if st := Status(c.obs, nil); len(st.Trash) != 1 || st.Trash[0].Schema != trash || st.Trash[0].Version != "app/v1" {
		t.Fatalf("status trash = %+v", st.Trash)
	}

	// Someone's view outside reads the trash: never dropped.
	tr := c.schema(trash)
	c.obs.Dependencies = append(c.obs.Dependencies, model.Dependency{Object: "u999", Referenced: tr.Objects[0].ID})
	p, err = Diff(c.obs, fxDesired("v2", 1, fxV1(), fxV2()), Options{AllowDrop: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, ch := range p.Changes {
		if ch.Target == trash && (ch.Op != OpBlocked || !strings.Contains(ch.Reason, "depended on by u999")) {
			t.Fatalf("trash with an outside dependent: %s %s", ch.Op, ch.Reason)
		}
	}
}

// The drops of the plan are recognized as retirements; nothing else is.
func TestRetirementOf(t *testing.T) {
	ref := model.Ref{Schema: "app_v2", Name: "matview"}
	cases := []struct {
		c    Change
		stmt string
		want bool
	}{
		{Change{Op: OpDrop, Kind: KindSchema, Target: "app_v1"}, sqlDropSchema("app_v1"), true},
		{Change{Op: OpDrop, Kind: KindSchema, Target: "app_v1"}, sqlDropSchema("app_v2"), false},
		{Change{Op: OpDrop, Kind: KindSchema, Target: model.TrashName("t", "app_v1")}, sqlDropSchema(model.TrashName("t", "app_v1")), false},
		{Change{Op: OpCreate, Kind: string(model.KindMaterializedView), Destructive: true, Objects: []model.Ref{ref}},
			sqlDropObject(model.KindMaterializedView, ref), true},
		{Change{Op: OpCreate, Kind: string(model.KindMaterializedView), Objects: []model.Ref{ref}},
			sqlDropObject(model.KindMaterializedView, ref), false},
	}
	for i, tc := range cases {
		if _, got := retirementOf(tc.c, tc.stmt); got != tc.want {
			t.Errorf("case %d: retirementOf = %v, want %v", i, got, tc.want)
		}
	}
	long := strings.Repeat("x", 250)
	if n := model.TrashName("0123456789abcdef", long); len(n) > 255 || !model.IsTrash(n) || n == model.TrashName("0123456789abcdef", long+"y") {
		t.Fatalf("trash name of a long name: %q (%d bytes)", n, len(n))
	}
}

// Under the lease a version is built in the holder's private schema and
// published by a rename; the catalog ends as a build in place would leave
// it. A private build of another holding is abandoned and dropped; one of
// the current lease holder, seen without the lease, is work in progress:
// plan leaves it alone and status shows it building.
func TestPrivateBuild(t *testing.T) {
	shape := func(c *simCatalog) []string {
		var out []string
		for _, s := range c.obs.Schemas {
			m := ""
			if s.Marker != nil {
				m = s.Marker.String()
			}
			out = append(out, s.Name+" "+m)
			for _, o := range s.Objects {
				out = append(out, "  "+o.Name+" "+o.Comment)
			}
		}
		return out
	}
	des := fxDesired("v1", 0, fxV1())
	inPlace := newSimCatalog(t).deploy(des, Options{})
	private := newSimCatalog(t)
	p, err := Diff(private.obs, des, Options{token: "aaaa"})
	if err != nil {
		t.Fatal(err)
	}
	priv := model.PrivateBuildName("aaaa", model.VersionID{Schema: "app", Version: "v1"})
	publish := -1
	for i, ch := range p.Changes {
		for _, o := range ch.Objects {
			if o.Schema != priv {
				t.Errorf("%s %s creates outside the private build: %s", ch.Op, ch.Target, o)
			}
		}
		if ch.Op == OpCreate && ch.Target == "app_v1" && ch.Transaction && len(ch.SQL) == 1 && ch.SQL[0] == sqlRenameSchema(priv, "app_v1") {
			publish = i
		}
	}
	if publish < 0 || p.Changes[publish-1].Op != OpComment || !strings.Contains(p.Changes[publish-1].SQL[0], "state=built") {
		t.Fatalf("no publish right after the built record: %+v", p.Changes)
	}
	private.apply(p)
	private.deploy(des, Options{token: "bbbb"}) // the record of the first cutover, if any is left
	if got, want := strings.Join(shape(private), "\n"), strings.Join(shape(inPlace), "\n"); got != want {
		t.Fatalf("private build then publish:\n%s\nbuild in place:\n%s", got, want)
	}

	// A private build of v2 by holding cccc, abandoned or in progress.
	c := newSimCatalog(t).deploy(des, Options{})
	des2 := fxDesired("v2", 0, fxV1(), fxV2())
	p, err = Diff(c.obs, des2, Options{token: "cccc"})
	if err != nil {
		t.Fatal(err)
	}
	for _, ch := range p.Changes {
		if ch.Op == OpComment && strings.Contains(ch.Reason, "is built") {
			for _, stmt := range ch.SQL {
				if err := c.exec(stmt); err != nil {
					t.Fatal(err)
				}
			}
			break
		}
		for _, stmt := range ch.SQL {
			if err := c.exec(stmt); err != nil {
				t.Fatal(err)
			}
		}
	}
	c.fingerprint()
	cccc := model.PrivateBuildName("cccc", model.VersionID{Schema: "app", Version: "v2"})
	if c.schema(cccc) == nil {
		t.Fatal("no private build")
	}
	// Seen by the next holder (or by a plan while no one holds the lease):
	// abandoned, dropped, and v2 built again in its own private schema.
	for _, tok := range []string{"dddd", ""} {
		p, err = Diff(c.obs, des2, Options{token: tok})
		if err != nil {
			t.Fatal(err)
		}
		if p.Changes[0].Op != OpDrop || p.Changes[0].Target != cccc {
			t.Fatalf("token %q: the plan does not start by dropping the abandoned build: %+v", tok, p.Changes[0])
		}
	}
	// While cccc holds the lease, a plan without it leaves the build
	// alone, and status shows v2 building there.
	c.obs.Lease = &model.Lease{Owner: "x", Token: "cccc"}
	p, err = Diff(c.obs, des2, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, ch := range p.Changes {
		if ch.Target == cccc {
			t.Fatalf("a plan without the lease touches the holder's build: %+v", ch)
		}
	}
	st := Status(c.obs, des2)
	found := false
	for _, v := range st.Schemas[0].Versions {
		if v.Version == "v2" {
			found = v.Schema == cccc && v.State == model.StateBuilding
		}
	}
	if !found || len(st.Trash) != 0 {
		t.Fatalf("status does not show v2 building in %s: %+v, trash %v", cccc, st.Schemas[0].Versions, st.Trash)
	}
}
