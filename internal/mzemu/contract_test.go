package mzemu_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/mzsync/mzsync/internal/mzemu/mzemutest"
)

// contractUpstream creates upstream table t (a pk, b, c, d) and u, both in
// publication mz_source.
func contractUpstream(e *mzemutest.Env) {
	e.UpstreamExec(
		`CREATE TABLE t (a int PRIMARY KEY, b text, c numeric(6,2), d int)`,
		`CREATE TABLE u (x int)`,
		`ALTER TABLE t REPLICA IDENTITY FULL`,
		`ALTER TABLE u REPLICA IDENTITY FULL`,
		`INSERT INTO t VALUES (1, 'one', 1.5, 10), (2, 'two', 2.5, 20)`,
		`INSERT INTO u VALUES (7)`,
		`CREATE PUBLICATION mz_source FOR TABLE t, u`,
	)
}

// deployVersion runs the contract's statements for one version schema.
func deployVersion(t *testing.T, e *mzemutest.Env, schema, digest string) {
	c := connect(t, e.MaterializeURL)
	mustExec(t, c,
		`CREATE SCHEMA "`+schema+`"`,
		`COMMENT ON SCHEMA "`+schema+`" IS 'mzsync:v1 schema=app version=`+strings.TrimPrefix(schema, "app_")+` digest=`+digest+`'`,
		`BEGIN; CREATE TABLE "`+schema+`"."t" FROM SOURCE "public"."pg" (REFERENCE "public"."t") WITH (TEXT COLUMNS ("c"), EXCLUDE COLUMNS ("d")); CREATE TABLE "`+schema+`"."u" FROM SOURCE "public"."pg" (REFERENCE "public"."u"); COMMIT;`,
		`COMMENT ON TABLE "`+schema+`"."t" IS 'mzsync:v1 digest=t-`+digest+`'`,
		`SET search_path TO "`+schema+`"`,
		`CREATE VIEW "`+schema+`"."v" AS SELECT a, b FROM t WHERE a > 0`,
		`COMMENT ON VIEW "`+schema+`"."v" IS 'mzsync:v1 digest=v'`,
		`CREATE MATERIALIZED VIEW "`+schema+`"."mv" IN CLUSTER "compute" AS SELECT count(*) AS total FROM v`,
		`COMMENT ON MATERIALIZED VIEW "`+schema+`"."mv" IS 'mzsync:v1 digest=mv'`,
		`CREATE INDEX "mv_total_idx" IN CLUSTER "compute" ON "`+schema+`"."mv" ("total")`,
		`COMMENT ON INDEX "`+schema+`"."mv_total_idx" IS 'mzsync:v1 digest=idx'`,
		`CREATE DEFAULT INDEX IN CLUSTER "compute" ON "`+schema+`"."mv"`,
	)
}

func TestContract(t *testing.T) {
	e := mzemutest.New(t)
	contractUpstream(e)
	c := connect(t, e.MaterializeURL)
	mustExec(t, c,
		e.ConnectionSQL("pg_conn"),
		`CREATE CLUSTER "ingest" (SIZE = '25cc')`,
		`CREATE CLUSTER "compute" (SIZE = '25cc', REPLICATION FACTOR = 2)`,
		`CREATE SOURCE "public"."pg" IN CLUSTER "ingest" FROM POSTGRES CONNECTION "public"."pg_conn" (PUBLICATION 'mz_source')`,
		`COMMENT ON SOURCE "public"."pg" IS 'mzsync:v1 digest=src'`,
	)
	deployVersion(t, e, "app_v1", "d1")
	mustExec(t, c, `ALTER SCHEMA "app_v1" RENAME TO "app"`)
	appID := queryRows(t, c, `SELECT id FROM mz_schemas WHERE name = 'app'`)[0][0]
	deployVersion(t, e, "app_v2", "d2")
	v2ID := queryRows(t, c, `SELECT id FROM mz_schemas WHERE name = 'app_v2'`)[0][0]
	mvV1 := itemID(t, c, "app", "mv")

	t.Run("catalog before cutover", func(t *testing.T) {
		tid := itemID(t, c, "app_v2", "t")
		got := queryRows(t, c, `SELECT t.id, sc.name AS schema, t.name, t.source_id IS NOT NULL, p.schema_name, p.table_name
  FROM mz_tables t JOIN mz_schemas sc ON sc.id = t.schema_id
  LEFT JOIN mz_internal.mz_postgres_source_tables p ON p.id = t.id
 WHERE t.source_id IS NOT NULL ORDER BY sc.name, t.name`)
		want := [][]string{
			{itemID(t, c, "app", "t"), "app", "t", "true", "public", "t"},
			{itemID(t, c, "app", "u"), "app", "u", "true", "public", "u"},
			{tid, "app_v2", "t", "true", "public", "t"},
			{itemID(t, c, "app_v2", "u"), "app_v2", "u", "true", "public", "u"},
		}
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("source tables (-want +got):\n%s", d)
		}
		cols := queryRows(t, c, `SELECT name, position::int8, type, nullable FROM mz_columns WHERE id = $1 ORDER BY position`, tid)
		if d := cmp.Diff([][]string{{"a", "1", "integer", "false"}, {"b", "2", "text", "true"}, {"c", "3", "text", "true"}}, cols); d != "" {
			t.Errorf("columns (-want +got):\n%s", d)
		}
		cs := queryRows(t, c, `SELECT create_sql FROM mz_tables WHERE id = $1`, tid)[0][0]
		for _, w := range []string{"CREATE TABLE materialize.app_v2.t (", "FROM SOURCE materialize.public.pg (REFERENCE = ", ".public.t)", "TEXT COLUMNS = (c)", "EXCLUDE COLUMNS = (d)", "CONSTRAINT t_pkey PRIMARY KEY (a)", "DETAILS = '"} {
			if !strings.Contains(cs, w) {
				t.Errorf("create_sql %q lacks %q", cs, w)
			}
		}
		show := queryRows(t, c, `SHOW CREATE TABLE "app_v2"."t"`)
		if len(show) != 1 || len(show[0]) != 2 || show[0][0] != "materialize.app_v2.t" || show[0][1] != cs {
			t.Errorf("SHOW CREATE TABLE = %v", show)
		}
		mv := queryRows(t, c, `SELECT mv.name, cl.name, mv.definition FROM mz_materialized_views mv JOIN mz_clusters cl ON cl.id = mv.cluster_id
 JOIN mz_schemas s ON s.id = mv.schema_id WHERE s.name = 'app_v2'`)
		if d := cmp.Diff([][]string{{"mv", "compute", "SELECT count(*) AS total FROM v;"}}, mv); d != "" {
			t.Errorf("materialized views (-want +got):\n%s", d)
		}
		mvID := itemID(t, c, "app_v2", "mv")
		idx := queryRows(t, c, `SELECT i.name, i.on_id = $1, cl.name FROM mz_indexes i JOIN mz_clusters cl ON cl.id = i.cluster_id WHERE i.on_id = $1 ORDER BY i.name`, mvID)
		if d := cmp.Diff([][]string{{"mv_primary_idx", "true", "compute"}, {"mv_total_idx", "true", "compute"}}, idx); d != "" {
			t.Errorf("indexes (-want +got):\n%s", d)
		}
		deps := queryRows(t, c, `SELECT referenced_object_id FROM mz_internal.mz_object_dependencies WHERE object_id = $1`, mvID)
		if d := cmp.Diff([][]string{{itemID(t, c, "app_v2", "v")}}, deps); d != "" {
			t.Errorf("mv dependencies (-want +got):\n%s", d)
		}
		src := queryRows(t, c, `SELECT so.name, so.type, cl.name, cn.name, cm.comment FROM mz_sources so
 JOIN mz_clusters cl ON cl.id = so.cluster_id JOIN mz_connections cn ON cn.id = so.connection_id
 JOIN mz_internal.mz_comments cm ON cm.id = so.id AND cm.object_type = 'source'`)
		if d := cmp.Diff([][]string{{"pg", "postgres", "ingest", "pg_conn", "mzsync:v1 digest=src"}}, src); d != "" {
			t.Errorf("sources (-want +got):\n%s", d)
		}
		reps := queryRows(t, c, `SELECT r.name FROM mz_cluster_replicas r JOIN mz_clusters c ON c.id = r.cluster_id WHERE c.name = 'compute' ORDER BY 1`)
		if d := cmp.Diff([][]string{{"r1"}, {"r2"}}, reps); d != "" {
			t.Errorf("replicas (-want +got):\n%s", d)
		}
		eventually(t, "hydration of app_v2", func() bool {
			r := queryRows(t, c, `SELECT bool_and(snapshot_committed) FROM mz_internal.mz_source_statistics WHERE id = $1`, tid)
			h := queryRows(t, c, `SELECT bool_and(h.hydrated), count(*), count(l.lag) FROM mz_internal.mz_hydration_statuses h
  LEFT JOIN mz_internal.mz_wallclock_global_lag l ON l.object_id = h.object_id WHERE h.object_id = $1`, mvID)
			return r[0][0] == "true" && h[0][0] == "true" && h[0][1] == "2" && h[0][2] == "2"
		})
		st := queryRows(t, c, `SELECT status, error FROM mz_internal.mz_source_statuses WHERE id = $1`, tid)
		if d := cmp.Diff([][]string{{"running", "<nil>"}}, st); d != "" {
			t.Errorf("status (-want +got):\n%s", d)
		}
		if got := queryInt(t, c, `SELECT total FROM app_v2.mv`); got != 2 {
			t.Errorf("app_v2.mv = %d, want 2", got)
		}
	})

	t.Run("cutover and retention", func(t *testing.T) {
		mustExec(t, c, `BEGIN; ALTER SCHEMA "app" SWAP WITH "app_v2"; ALTER SCHEMA "app_v2" RENAME TO "app_v1"; COMMIT;`)
		got := queryRows(t, c, `SELECT s.id, s.name, c.comment FROM mz_schemas s JOIN mz_internal.mz_comments c ON c.id = s.id AND c.object_type = 'schema' WHERE s.name LIKE 'app%' ORDER BY s.name`)
		want := [][]string{
			{v2ID, "app", "mzsync:v1 schema=app version=v2 digest=d2"},
			{appID, "app_v1", "mzsync:v1 schema=app version=v1 digest=d1"},
		}
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("schemas after swap (-want +got):\n%s", d)
		}
		if id := itemID(t, c, "app_v1", "mv"); id != mvV1 {
			t.Errorf("old mv id = %s, want %s (IDs follow objects through swaps)", id, mvV1)
		}
		// A view in another schema reads the object it was created on.
		mustExec(t, c, `CREATE VIEW public.reader AS SELECT total FROM app.mv`)
		mustExec(t, c, `DROP SCHEMA "app_v1" CASCADE`)
		if got := queryInt(t, c, `SELECT total FROM public.reader`); got != 2 {
			t.Errorf("public.reader = %d, want 2", got)
		}
		if n := queryInt(t, c, `SELECT count(*) FROM mz_objects o JOIN mz_schemas s ON s.id = o.schema_id WHERE s.name = 'app_v1'`); n != 0 {
			t.Errorf("objects left in dropped schema: %d", n)
		}
	})

	t.Run("lease", func(t *testing.T) {
		mustExec(t, c, `CREATE SCHEMA "mzsync_lease"`, `COMMENT ON SCHEMA "mzsync_lease" IS 'mzsync:lease owner=a expires=2030-01-01T00:00:00Z'`)
		_, err := c.Exec(testCtx(t), `CREATE SCHEMA "mzsync_lease"`)
		wantErr(t, err, "XX000", "schema 'mzsync_lease' already exists")
		mustExec(t, c, `ALTER SCHEMA "mzsync_lease" RENAME TO "mzsync_lease_stale_1"`, `DROP SCHEMA "mzsync_lease_stale_1"`, `CREATE SCHEMA "mzsync_lease"`)
		if n := queryInt(t, c, `SELECT count(*) FROM mz_internal.mz_comments c JOIN mz_schemas s ON s.id = c.id WHERE s.name = 'mzsync_lease'`); n != 0 {
			t.Errorf("new lease schema has %d comments, want 0", n)
		}
	})
}
