package mzemu_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/mzsync/mzsync/internal/mzemu"
	"github.com/mzsync/mzsync/internal/mzemu/mzemutest"
)

// TestObservationQueries runs the observation queries of reference §2
// unchanged, and dbt's cluster readiness query, and checks their rows.
func TestObservationQueries(t *testing.T) {
	e := mzemutest.New(t, func(o *mzemu.Options) { o.LagBucket = -1 })
	sourceWithTables(t, e, "t")
	c := connect(t, e.MaterializeURL)
	mustExec(t, c, `CREATE SCHEMA v1`, `CREATE TABLE v1.t FROM SOURCE pg (REFERENCE public.t)`,
		`CREATE MATERIALIZED VIEW v1.mv AS SELECT count(*) AS n FROM v1.t`)
	tid, mvid := itemID(t, c, "v1", "t"), itemID(t, c, "v1", "mv")
	if r := queryRows(t, c, `SELECT bool_and(hydrated) FROM mz_internal.mz_hydration_statuses WHERE object_id = $1`, mvid); r[0][0] != "true" {
		t.Fatalf("mv not hydrated at once: %v", r)
	}
	// Lag is known once a whole bucket passed with the MV readable.
	for range 2 {
		if _, err := e.Server.CloseLagBucket(testCtx(t)); err != nil {
			t.Fatal(err)
		}
	}
	v1 := queryRows(t, c, `SELECT id FROM mz_schemas WHERE name = 'v1'`)[0][0]
	src := itemID(t, c, "public", "pg")
	cases := []struct {
		name, sql string
		args      []any
		want      [][]string
	}{
		{"schemas of the current database", `SELECT s.id, s.name FROM mz_schemas s JOIN mz_databases d ON d.id = s.database_id
 WHERE d.name = current_database() ORDER BY s.name`, nil, [][]string{{"u3", "public"}, {v1, "v1"}}},
		{"source-fed tables", `SELECT t.id, sc.name AS schema, t.name, t.source_id, p.schema_name, p.table_name
  FROM mz_tables t JOIN mz_schemas sc ON sc.id = t.schema_id
  LEFT JOIN mz_internal.mz_postgres_source_tables p ON p.id = t.id
 WHERE t.source_id IS NOT NULL`, nil, [][]string{{tid, "v1", "t", src, "public", "t"}}},
		{"columns", `SELECT name, position::int8, type, nullable FROM mz_columns WHERE id = $1 ORDER BY position`, []any{tid},
			[][]string{{"a", "1", "integer", "false"}, {"b", "2", "text", "true"}, {"c", "3", "character varying", "true"}}},
		{"snapshot", `SELECT bool_and(snapshot_committed) FROM mz_internal.mz_source_statistics WHERE id = $1`, []any{tid}, [][]string{{"true"}}},
		{"health", `SELECT status, error FROM mz_internal.mz_source_statuses WHERE id = $1`, []any{tid}, [][]string{{"running", "<nil>"}}},
		{"hydration and lag", `SELECT h.replica_id, h.hydrated, l.lag IS NOT NULL FROM mz_internal.mz_hydration_statuses h
  LEFT JOIN mz_internal.mz_wallclock_global_lag l ON l.object_id = h.object_id
 WHERE h.object_id = $1`, []any{mvid}, [][]string{{"u1", "true", "true"}}},
		{"source references", `SELECT namespace, name, columns FROM mz_internal.mz_source_references WHERE source_id = $1`, []any{src},
			[][]string{{"public", "t", "[a b c]"}}},
		{"postgres sources", `SELECT id, replication_slot LIKE 'materialize_%' FROM mz_internal.mz_postgres_sources`, nil, [][]string{{src, "true"}}},
		{"dependencies", `SELECT object_id, referenced_object_id FROM mz_internal.mz_object_dependencies WHERE object_id IN ($1, $2) ORDER BY 1`,
			[]any{tid, mvid}, [][]string{{tid, src}, {mvid, tid}}},
		{"dbt cluster readiness", dbtReady, nil, [][]string{{"quickstart", "ready"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if d := cmp.Diff(tc.want, queryRows(t, c, tc.sql, tc.args...)); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
}

const dbtReady = `WITH problematic_replicas AS (
    SELECT replica_id FROM mz_internal.mz_cluster_replica_status_history
    WHERE occurred_at + INTERVAL '24 hours' > mz_now() AND reason = 'oom-killed'
    GROUP BY replica_id HAVING COUNT(*) >= 3),
cluster_health AS (
    SELECT c.name AS cluster_name, c.id AS cluster_id,
           COUNT(r.id) AS total_replicas, COUNT(pr.replica_id) AS problematic_replicas
    FROM mz_clusters c LEFT JOIN mz_cluster_replicas r ON c.id = r.cluster_id
    LEFT JOIN problematic_replicas pr ON r.id = pr.replica_id
    WHERE c.name = 'quickstart' GROUP BY c.name, c.id),
hydration_counts AS (
    SELECT c.name AS cluster_name, r.id AS replica_id,
           COUNT(*) FILTER (WHERE mhs.hydrated) AS hydrated, COUNT(*) AS total
    FROM mz_clusters c JOIN mz_cluster_replicas r ON c.id = r.cluster_id
    LEFT JOIN mz_internal.mz_hydration_statuses mhs ON mhs.replica_id = r.id
    WHERE c.name = 'quickstart' GROUP BY c.name, r.id),
hydration_best AS (SELECT cluster_name, MAX(hydrated) AS hydrated, MAX(total) AS total
                   FROM hydration_counts GROUP BY cluster_name),
cluster_lag AS (
    SELECT c.name AS cluster_name, MAX(EXTRACT(EPOCH FROM wgl.lag)) AS max_lag_secs
    FROM mz_clusters c JOIN mz_cluster_replicas r ON c.id = r.cluster_id
    JOIN mz_internal.mz_hydration_statuses mhs ON mhs.replica_id = r.id
    JOIN mz_internal.mz_wallclock_global_lag wgl ON wgl.object_id = mhs.object_id
    WHERE c.name = 'quickstart' GROUP BY c.name),
lag_threshold_secs AS (SELECT EXTRACT(EPOCH FROM INTERVAL '1s') AS threshold_secs)
SELECT ch.cluster_name,
  CASE WHEN ch.total_replicas = 0 THEN 'failing'
       WHEN ch.total_replicas = ch.problematic_replicas THEN 'failing'
       WHEN COALESCE(hb.hydrated,0) < COALESCE(hb.total,0) THEN 'hydrating'
       WHEN COALESCE(cl.max_lag_secs,0) > (SELECT threshold_secs FROM lag_threshold_secs) THEN 'lagging'
       ELSE 'ready' END AS status
FROM cluster_health ch LEFT JOIN hydration_best hb USING (cluster_name) LEFT JOIN cluster_lag cl USING (cluster_name)`
