package reconcile

import (
	"slices"
	"strings"
	"testing"

	"github.com/mzsync/mzsync/internal/model"
)

// TestSourceWithoutCluster: a source declared without a cluster is
// created without IN CLUSTER, as the seed guide's CREATE SOURCE is, and
// the plan says where Materialize puts it.
func TestSourceWithoutCluster(t *testing.T) {
	des := fxDesired("v1", 0, fxV1())
	des.Sources[0].Cluster = ""
	p, err := Diff(&model.Observed{}, des, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var found bool
	for _, c := range p.Changes {
		if c.Op != OpCreate || c.Kind != KindSource {
			continue
		}
		found = true
		if strings.Contains(c.SQL[0], "IN CLUSTER") || !strings.HasPrefix(c.SQL[0], `CREATE SOURCE "public"."pg" FROM POSTGRES CONNECTION`) {
			t.Errorf("SQL %q", c.SQL[0])
		}
		if !strings.Contains(c.Reason, "active cluster of mzsync's session") {
			t.Errorf("reason %q does not say where the source goes", c.Reason)
		}
	}
	if !found {
		t.Fatalf("no source creation in %+v", p.Changes)
	}
}

// TestGrantsBeforeCutover: a schema's grants are given on every version
// as part of its build, after its objects and before it is recorded built
// (so long before the swap).
func TestGrantsBeforeCutover(t *testing.T) {
	des := fxDesired("v1", 0, fxV1())
	des.Schemas[0].Grants = []model.Grant{{Role: "reader", Privileges: []string{"SELECT", "USAGE"}}}
	p, err := Diff(&model.Observed{}, des, Options{})
	if err != nil {
		t.Fatal(err)
	}
	grantAt, builtAt, lastCreate := -1, -1, -1
	var grants []string
	for i, c := range p.Changes {
		switch {
		case c.Kind == KindGrant:
			grantAt, grants = i, c.SQL
		case c.Op == OpComment && c.Kind == KindSchema && strings.Contains(c.Reason, "is built"):
			builtAt = i
		case c.Op == OpCreate && grantAt < 0:
			lastCreate = i
		}
	}
	if grantAt < 0 || builtAt < grantAt || lastCreate > grantAt {
		t.Fatalf("grant at %d, last create at %d, built record at %d: %+v", grantAt, lastCreate, builtAt, p.Changes)
	}
	want := []string{`GRANT SELECT ON TABLE "app_v1"."t" TO "reader"`, `GRANT SELECT ON TABLE "app_v1"."matview" TO "reader"`, `GRANT USAGE ON SCHEMA "app_v1" TO "reader"`}
	for _, w := range want {
		if !slices.Contains(grants, w) {
			t.Errorf("missing %s in %q", w, grants)
		}
	}
	for _, g := range grants {
		if strings.Contains(g, "_idx") {
			t.Errorf("an index is granted: %s", g)
		}
	}
}
