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
