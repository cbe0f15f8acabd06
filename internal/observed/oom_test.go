package observed

import (
	"context"
	"testing"
	"time"

	"github.com/mzsync/mzsync/internal/mzemu/mzemutest"
)

// TestReadCountsOOMKills: the catalog batch reads each replica's
// out-of-memory kills of the last day (mz_cluster_replica_status_history),
// which readiness uses to call a cluster unhealthy.
func TestReadCountsOOMKills(t *testing.T) {
	env := mzemutest.New(t)
	env.MaterializeExec(`CREATE CLUSTER "compute" (SIZE = '25cc')`)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for range 3 {
		if err := env.Server.OOMKill(ctx, "compute.r1"); err != nil {
			t.Fatal(err)
		}
	}
	obs, err := Read(ctx, connectMZ(t, env))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, c := range obs.Clusters {
		for _, r := range c.Replicas {
			got[c.Name+"."+r.Name] = r.OOMKills
		}
	}
	if got["compute.r1"] != 3 {
		t.Fatalf("OOM kills per replica %v, want compute.r1: 3", got)
	}
	if n, ok := got["quickstart.r1"]; ok && n != 0 {
		t.Fatalf("quickstart.r1 has %d OOM kills, want 0", n)
	}
}
