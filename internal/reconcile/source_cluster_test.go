package reconcile

import (
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
