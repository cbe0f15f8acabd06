package mzemu_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/mzsync/mzsync/internal/mzemu/mzemutest"
)

// TestClusterSwap: ALTER CLUSTER ... SWAP WITH exchanges names, objects
// keep their cluster by ID, inside and outside DDL transactions and
// together with a schema swap in one transaction.
func TestClusterSwap(t *testing.T) {
	e := mzemutest.New(t)
	c := connect(t, e.MaterializeURL)
	mustExec(t, c,
		`CREATE CLUSTER blue (SIZE = '25cc', REPLICATION FACTOR = 2)`,
		`CREATE CLUSTER green SIZE '50cc'`,
		`CREATE SCHEMA s_blue`, `CREATE SCHEMA s_green`,
		`CREATE MATERIALIZED VIEW s_blue.mv IN CLUSTER blue AS SELECT 1 AS x`,
		`CREATE DEFAULT INDEX IN CLUSTER green ON s_blue.mv`)
	reps := `SELECT c.name, r.name, r.size, c.managed::text, c.size, c.replication_factor::text FROM mz_cluster_replicas r
 JOIN mz_clusters c ON c.id = r.cluster_id WHERE c.name IN ('blue', 'green') ORDER BY 1, 2`
	if d := cmp.Diff([][]string{
		{"blue", "r1", "25cc", "true", "25cc", "2"}, {"blue", "r2", "25cc", "true", "25cc", "2"},
		{"green", "r1", "50cc", "true", "50cc", "1"},
	}, queryRows(t, c, reps)); d != "" {
		t.Fatalf("managed cluster replicas (-want +got):\n%s", d)
	}
	where := `SELECT o.name, cl.name FROM mz_objects o JOIN mz_clusters cl ON cl.id = o.cluster_id
 WHERE o.name IN ('mv', 'mv_primary_idx') ORDER BY 1`
	ids := queryRows(t, c, `SELECT name, id FROM mz_clusters WHERE name IN ('blue', 'green') ORDER BY 1`)

	mustExec(t, c, `ALTER CLUSTER blue SWAP WITH green`)
	if d := cmp.Diff([][]string{{"mv", "green"}, {"mv_primary_idx", "blue"}}, queryRows(t, c, where)); d != "" {
		t.Errorf("objects after a swap (-want +got):\n%s", d)
	}
	swapped := queryRows(t, c, `SELECT name, id FROM mz_clusters WHERE name IN ('blue', 'green') ORDER BY 1`)
	if d := cmp.Diff([][]string{{"blue", ids[1][1]}, {"green", ids[0][1]}}, swapped); d != "" {
		t.Errorf("cluster IDs after a swap (-want +got):\n%s", d)
	}

	// A cluster swap and a schema swap in one DDL transaction.
	mustExec(t, c, `BEGIN`, `ALTER SCHEMA s_blue SWAP WITH s_green`, `ALTER CLUSTER green SWAP WITH blue`, `COMMIT`)
	if d := cmp.Diff([][]string{{"mv", "blue"}, {"mv_primary_idx", "green"}}, queryRows(t, c, where)); d != "" {
		t.Errorf("objects after the transaction (-want +got):\n%s", d)
	}
	if got := queryRows(t, c, `SELECT s.name FROM mz_objects o JOIN mz_schemas s ON s.id = o.schema_id WHERE o.name = 'mv'`); !cmp.Equal(got, [][]string{{"s_green"}}) {
		t.Errorf("schema of mv after the schema swap = %v", got)
	}
	// An implicit transaction with both swaps, and a rollback that keeps nothing.
	mustExec(t, c, `ALTER SCHEMA s_blue SWAP WITH s_green; ALTER CLUSTER green SWAP WITH blue`)
	mustExec(t, c, `BEGIN`, `ALTER CLUSTER green SWAP WITH blue`, `ROLLBACK`)
	if d := cmp.Diff([][]string{{"mv", "green"}, {"mv_primary_idx", "blue"}}, queryRows(t, c, where)); d != "" {
		t.Errorf("objects after the implicit transaction and a rollback (-want +got):\n%s", d)
	}

	cases := []struct{ name, sql, code, msg string }{
		{"IF EXISTS does not make a swap of a missing cluster succeed", `ALTER CLUSTER IF EXISTS nope SWAP WITH blue`, "XX000", `unknown cluster 'nope'`},
		{"missing second cluster", `ALTER CLUSTER blue SWAP WITH nope`, "XX000", `unknown cluster 'nope'`},
		{"reserved schema name on rename", `ALTER SCHEMA s_blue RENAME TO mz_x`, "XX000", `unacceptable schema name 'mz_x'`},
		{"reserved cluster name", `CREATE CLUSTER mz_x SIZE '25cc'`, "XX000", `cluster name "mz_x" is reserved`},
		{"reserved cluster name on rename", `ALTER CLUSTER blue RENAME TO mz_x`, "XX000", `cluster name "mz_x" is reserved`},
		{"no options", `CREATE CLUSTER c`, "42601", `Expected one of AVAILABILITY or DISK or INTROSPECTION or MANAGED or REPLICAS or REPLICATION or SIZE or SCHEDULE, found EOF`},
		{"managed without size", `CREATE CLUSTER c (REPLICATION FACTOR 1)`, "XX000", `SIZE must be specified for managed clusters`},
		{"managed with replicas", `CREATE CLUSTER c (SIZE '1', REPLICAS (r1 (SIZE '1')), MANAGED)`, "XX000", `REPLICAS not supported for managed clusters`},
		{"option twice", `CREATE CLUSTER c SIZE '1', SIZE '2'`, "XX000", `SIZE specified more than once`},
		{"cluster exists", `CREATE CLUSTER blue SIZE '1'`, "XX000", `cluster 'blue' already exists`},
		{"drop with dependents", `DROP CLUSTER blue`, "XX000", `cannot drop cluster "blue" because other objects depend on it`},
		{"rename onto an existing cluster", `ALTER CLUSTER blue RENAME TO green`, "XX000", `cluster 'green' already exists`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.Exec(testCtx(t), tc.sql)
			wantErr(t, err, tc.code, tc.msg)
		})
	}

	// Unmanaged clusters name their replicas.
	mustExec(t, c, `CREATE CLUSTER un REPLICAS (a (SIZE '1'), b (SIZE '2'))`)
	if got := queryRows(t, c, `SELECT r.name, r.size, c.managed::text FROM mz_cluster_replicas r JOIN mz_clusters c ON c.id = r.cluster_id
 WHERE c.name = 'un' ORDER BY 1`); !cmp.Equal(got, [][]string{{"a", "1", "false"}, {"b", "2", "false"}}) {
		t.Errorf("unmanaged replicas = %v", got)
	}
	mustExec(t, c, `ALTER CLUSTER IF EXISTS nope RENAME TO other`, `DROP CLUSTER un`, `DROP CLUSTER blue CASCADE`)
	if n := queryInt(t, c, `SELECT count(*) FROM mz_objects WHERE name = 'mv_primary_idx'`); n != 0 {
		t.Errorf("index left after DROP CLUSTER CASCADE: %d", n)
	}
}

// TestDDLDoesNotWaitForABlockedRead: a read waiting for a held hydration
// holds its view's backing lock; dropping the view from another session
// applies at once and the read fails instead of the DROP waiting.
func TestDDLDoesNotWaitForABlockedRead(t *testing.T) {
	e := mzemutest.New(t)
	c := connect(t, e.MaterializeURL)
	r := connect(t, e.MaterializeURL)
	e.Hold("hydration", "public.mv_blocked_read")
	mustExec(t, c, `CREATE MATERIALIZED VIEW mv_blocked_read AS SELECT 1 AS x`)
	id := itemID(t, c, "public", "mv_blocked_read")
	done := make(chan error, 1)
	go func() {
		_, err := r.Exec(testCtx(t), `SELECT * FROM mv_blocked_read`)
		done <- err
	}()
	// Wait until the read runs inside the backing database (the cluster's
	// activity is visible from the upstream database).
	up := connect(t, e.UpstreamURL)
	eventually(t, "the read to wait for the hydration", func() bool {
		return queryInt(t, up, `SELECT count(*) FROM pg_stat_activity
 WHERE application_name = 'mzemu' AND state = 'active' AND query LIKE '%mv_blocked_read%'`) > 0
	})
	mustExec(t, c, `DROP MATERIALIZED VIEW mv_blocked_read`)
	wantErr(t, <-done, "XX000", "unknown catalog item '"+id+"'")
	// The reader's session goes on.
	if got := queryRows(t, r, `SELECT 1`); !cmp.Equal(got, [][]string{{"1"}}) {
		t.Errorf("reader after the drop = %v", got)
	}
}
