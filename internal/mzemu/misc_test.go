package mzemu_test

import (
	"context"
	"database/sql"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/mzsync/mzsync/internal/mzemu"
	"github.com/mzsync/mzsync/internal/mzemu/mzemutest"
)

func TestDropMessages(t *testing.T) {
	e := mzemutest.New(t)
	c := connect(t, e.MaterializeURL)
	mustExec(t, c, `CREATE TABLE t1 (a int)`, `CREATE MATERIALIZED VIEW mv AS SELECT a FROM t1`, `CREATE DEFAULT INDEX ON mv`,
		`CREATE SCHEMA v1`, `CREATE VIEW v1.v AS SELECT a FROM public.mv`, `CREATE SCHEMA other`, `CREATE VIEW other.w AS SELECT a FROM v1.v`)
	cases := []struct{ name, sql, code, msg, hint string }{
		{"table with dependent", `DROP TABLE t1`, "XX000", `cannot drop table "t1": still depended upon by materialized view "mv"`, "Use DROP ... CASCADE to drop the dependent objects too."},
		{"explicit RESTRICT", `DROP MATERIALIZED VIEW mv RESTRICT`, "XX000", `cannot drop materialized view "mv": still depended upon by view "v1.v"`, ""},
		{"non-empty schema", `DROP SCHEMA v1`, "XX000", `schema 'materialize.v1' cannot be dropped without CASCADE while it contains objects`, ""},
		{"missing item", `DROP VIEW nope`, "XX000", `unknown catalog item 'nope'`, ""},
		{"missing schema", `DROP SCHEMA nope`, "XX000", `unknown schema 'nope'`, ""},
		{"DROP VIEW of a materialized view", `DROP VIEW mv`, "XX000", `mv is not a view`, ""},
		{"wrong type", `DROP TABLE mv`, "XX000", `mv is a materialized view not a table`, ""},
		{"wrong type, an index", `DROP TABLE mv_primary_idx`, "XX000", `mv_primary_idx is an index not a table`, ""},
		{"name clash", `CREATE VIEW mv AS SELECT 1`, "XX000", `materialized view "materialize.public.mv" already exists`, ""},
		{"schema swap with a qualified name", `ALTER SCHEMA v1 SWAP WITH materialize.other`, "42601", `Expected end of statement, found dot`, ""},
		{"swap of a table", `ALTER TABLE t1 SWAP WITH t2`, "XX000", `ALTER TABLE .. SWAP WITH ... not yet supported`, ""},
		{"unknown cluster", `CREATE MATERIALIZED VIEW m2 IN CLUSTER nope AS SELECT 1`, "XX000", `unknown cluster 'nope'`, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.Exec(testCtx(t), tc.sql)
			wantErr(t, err, tc.code, tc.msg)
		})
	}
	// IF EXISTS on a missing object succeeds.
	mustExec(t, c, `DROP VIEW IF EXISTS nope`, `DROP SCHEMA IF EXISTS nope CASCADE`, `CREATE SCHEMA IF NOT EXISTS v1`)
	// A swap moves names, not objects: other.w keeps reading v1.v's object.
	mustExec(t, c, `DROP SCHEMA v1 CASCADE`)
	got := queryRows(t, c, `SELECT s.name, o.name FROM mz_objects o JOIN mz_schemas s ON s.id = o.schema_id WHERE s.name IN ('public', 'v1', 'other') ORDER BY 1, 2`)
	if d := cmp.Diff([][]string{{"public", "mv"}, {"public", "mv_primary_idx"}, {"public", "t1"}}, got); d != "" {
		t.Errorf("after DROP SCHEMA v1 CASCADE, which crosses schemas (-want +got):\n%s", d)
	}
	mustExec(t, c, `DROP TABLE t1 CASCADE`)
	if n := queryInt(t, c, `SELECT count(*) FROM mz_objects`); n != 0 {
		t.Errorf("objects after cascade: %d", n)
	}
}

func TestShowAndComments(t *testing.T) {
	e := mzemutest.New(t)
	c := connect(t, e.MaterializeURL)
	mustExec(t, c, `CREATE SCHEMA a`, `CREATE SCHEMA b`, `CREATE VIEW a.v AS SELECT 1 AS x`, `CREATE VIEW b.v AS SELECT 2 AS x`,
		`COMMENT ON VIEW a.v IS 'from a'`, `COMMENT ON COLUMN a.v.x IS 'the x'`, `COMMENT ON SCHEMA a IS 'schema a'`,
		`CREATE TABLE a.t (id int NOT NULL, name text)`, `COMMENT ON TABLE a.t IS 'tbl'`)
	aView := itemID(t, c, "a", "v")
	mustExec(t, c, `ALTER SCHEMA a SWAP WITH b`)
	if d := cmp.Diff([][]string{{"view", "<nil>", "from a"}, {"view", "1", "the x"}},
		queryRows(t, c, `SELECT object_type, object_sub_id, comment FROM mz_internal.mz_comments WHERE id = $1 ORDER BY 2 NULLS FIRST`, aView)); d != "" {
		t.Errorf("comments follow the ID (-want +got):\n%s", d)
	}
	if id := itemID(t, c, "b", "v"); id != aView {
		t.Errorf("b.v id = %s, want %s", id, aView)
	}
	if got := queryInt(t, c, `SELECT x FROM b.v`); got != 1 {
		t.Errorf("b.v = %d, want 1", got)
	}
	cases := []struct {
		sql  string
		want [][]string
	}{
		{`SHOW CREATE VIEW b.v`, [][]string{{"materialize.b.v", "CREATE VIEW materialize.b.v AS SELECT 1 AS x"}}},
		{`SHOW TABLES FROM b`, [][]string{{"t", "tbl"}}},
		{`SHOW VIEWS FROM b`, [][]string{{"v", "from a"}}},
		{`SHOW COLUMNS FROM b.t`, [][]string{{"id", "false", "integer", ""}, {"name", "true", "text", ""}}},
		{`SHOW SCHEMAS`, [][]string{{"a", ""}, {"b", "schema a"}, {"information_schema", ""}, {"mz_catalog", ""}, {"mz_internal", ""}, {"pg_catalog", ""}, {"public", ""}}},
		{`SHOW CLUSTER`, [][]string{{"quickstart"}}},
		{`SELECT mz_version(), mz_version_num() >= 2600000, current_database()`, [][]string{{"v26.7.0 (mzemu)", "true", "materialize"}}},
		{`SELECT count(*) FROM mz_tables WHERE name = 't'`, [][]string{{"1"}}},
	}
	for _, tc := range cases {
		if d := cmp.Diff(tc.want, queryRows(t, c, tc.sql)); d != "" {
			t.Errorf("%s (-want +got):\n%s", tc.sql, d)
		}
	}
	if v := c.PgConn().ParameterStatus("mz_version"); v != "v26.7.0 (mzemu)" {
		t.Errorf("ParameterStatus mz_version = %q", v)
	}
	mustExec(t, c, `SET search_path TO b`)
	if d := cmp.Diff([][]string{{"b"}}, queryRows(t, c, `SHOW search_path`)); d != "" {
		t.Errorf("search_path (-want +got):\n%s", d)
	}
	if got := queryInt(t, c, `SELECT x FROM v`); got != 1 {
		t.Errorf("unqualified v = %d, want 1", got)
	}
	if got := queryInt(t, c, `SELECT count(*) FROM mz_schemas WHERE name = 'b'`); got != 1 {
		t.Errorf("mz_catalog is not implicitly on the search path")
	}
}

// TestExtendedProtocol: pgx's cached statements, parameters and binary
// results, and a result shape change on a cached statement.
func TestExtendedProtocol(t *testing.T) {
	e := mzemutest.New(t)
	c := connect(t, e.MaterializeURL)
	mustExec(t, c, `CREATE TABLE t (a int, b text)`, `INSERT INTO t VALUES (1, 'one'), (2, 'two')`)
	for i := 0; i < 3; i++ {
		var b string
		if err := c.QueryRow(testCtx(t), `SELECT b FROM t WHERE a = $1`, 2).Scan(&b); err != nil || b != "two" {
			t.Fatalf("round %d: %q, %v", i, b, err)
		}
	}
	batch := &pgx.Batch{}
	batch.Queue(`SELECT count(*) FROM mz_tables`)
	batch.Queue(`SELECT id FROM mz_schemas WHERE name = $1`, "public")
	br := c.SendBatch(testCtx(t), batch)
	var n int64
	var id string
	if err := br.QueryRow().Scan(&n); err != nil || n != 1 {
		t.Fatalf("batch count = %d, %v", n, err)
	}
	if err := br.QueryRow().Scan(&id); err != nil || id != "u3" {
		t.Fatalf("batch public id = %q, %v", id, err)
	}
	br.Close()
	_, err := c.Exec(testCtx(t), `CREATE VIEW v AS SELECT $1::int`, 1)
	wantErr(t, err, "42P02", "there is no parameter $1")
}

func TestDatabaseSQL(t *testing.T) {
	e := mzemutest.New(t)
	db, err := sql.Open("pgx", e.MaterializeURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := testCtx(t)
	if _, err := db.ExecContext(ctx, `CREATE SCHEMA app`); err != nil {
		t.Fatal(err)
	}
	var v string
	if err := db.QueryRowContext(ctx, `SELECT mz_version()`).Scan(&v); err != nil || v != "v26.7.0 (mzemu)" {
		t.Fatalf("mz_version = %q, %v", v, err)
	}
	stmt, err := db.PrepareContext(ctx, `SELECT id FROM mz_schemas WHERE name = $1`)
	if err != nil {
		t.Fatal(err)
	}
	defer stmt.Close()
	var id string
	if err := stmt.QueryRowContext(ctx, "app").Scan(&id); err != nil || !strings.HasPrefix(id, "u") {
		t.Fatalf("app id = %q, %v", id, err)
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.ExecContext(ctx, `ALTER SCHEMA app RENAME TO app2`); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRowContext(ctx, `SELECT name FROM mz_schemas WHERE id = $1`, id).Scan(&v); err != nil || v != "app2" {
		t.Fatalf("renamed = %q, %v", v, err)
	}
}

func TestFaults(t *testing.T) {
	e := mzemutest.New(t)
	f := e.Server.Faults()
	c := connect(t, e.MaterializeURL)
	if err := f.FailStatement(`^SELECT 42`, 2, "57P01"); err != nil {
		t.Fatal(err)
	}
	mustExec(t, c, `SELECT 42`, `SELECT 1`)
	_, err := c.Exec(testCtx(t), `SELECT 42`)
	wantErr(t, err, "57P01", "injected fault")
	mustExec(t, c, `SELECT 42`)

	f.SetDDLConflictRate(1)
	mustExec(t, c, `CREATE SCHEMA a`)
	_, err = c.Exec(testCtx(t), `BEGIN; ALTER SCHEMA a RENAME TO b; COMMIT;`)
	wantErr(t, err, "40001", "another session modified the catalog")
	f.Reset()
	mustExec(t, c, `BEGIN; ALTER SCHEMA a RENAME TO b; COMMIT;`)

	f.DropConnectionAfter(2)
	mustExec(t, c, `SELECT 1`)
	if _, err := c.Exec(testCtx(t), `SELECT 2`); err == nil {
		t.Fatal("connection not dropped")
	}
	c2 := connect(t, e.MaterializeURL)
	mustExec(t, c2, `SELECT 3`)

	// Per-session counting: another session's statements do not advance
	// the count; the fault fires in the session that sends its own 2nd.
	if err := f.Add(mzemu.Fault{Pattern: `^SELECT`, Nth: 2, Scope: mzemu.ScopeSession, Action: mzemu.FaultFail, Code: "57P01"}); err != nil {
		t.Fatal(err)
	}
	c3 := connect(t, e.MaterializeURL)
	mustExec(t, c2, `SELECT 1`)
	mustExec(t, c3, `SELECT 1`)
	_, err = c3.Exec(testCtx(t), `SELECT 2`)
	wantErr(t, err, "57P01", "injected fault")
	mustExec(t, c2, `SELECT 2`, `SELECT 3`)

	// The statement ran but its reply was lost, set through SQL.
	mustExec(t, c2, `SELECT mzemu_control('lose_reply', '^CREATE SCHEMA lost', '1', 'session')`)
	if _, err := c3.Exec(testCtx(t), `CREATE SCHEMA lost`); err == nil {
		t.Fatal("reply of CREATE SCHEMA was not lost")
	}
	if n := queryInt(t, c2, `SELECT count(*) FROM mz_schemas WHERE name = 'lost'`); n != 1 {
		t.Errorf("the statement whose reply was lost did not run (%d schemas)", n)
	}
	mustExec(t, c2, `SELECT mzemu_control('fail', 'DROP SCHEMA', '1', '40001')`)
	_, err = c2.Exec(testCtx(t), `DROP SCHEMA lost`)
	wantErr(t, err, "40001", "injected fault")
	mustExec(t, c2, `DROP SCHEMA lost`)
}

// TestSeedGuidePsql replays the seed guide through psql.
func TestSeedGuidePsql(t *testing.T) {
	psql, err := exec.LookPath("psql")
	if err != nil {
		t.Fatal("psql is required: ", err)
	}
	e := mzemutest.New(t)
	seedUpstream(e)
	dir := t.TempDir()
	run := func(url, script string) string {
		t.Helper()
		f := filepath.Join(dir, "s.sql")
		if err := os.WriteFile(f, []byte(script), 0o600); err != nil {
			t.Fatal(err)
		}
		cmd := exec.CommandContext(testCtx(t), psql, "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-f", f, url)
		cmd.Env = append(os.Environ(), "PGCONNECT_TIMEOUT=10")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("psql: %v\n%s", err, out)
		}
		return strings.TrimSpace(string(out))
	}
	if got := run(e.MaterializeURL, e.ConnectionSQL("my_connection")+`;
CREATE SOURCE IF NOT EXISTS my_source
    FROM POSTGRES CONNECTION my_connection (PUBLICATION mz_source);
CREATE SCHEMA v1;
CREATE TABLE v1.T
    FROM SOURCE my_source(REFERENCE public.T);
CREATE MATERIALIZED VIEW v1.matview AS
    SELECT SUM(A) from v1.T;
SELECT * FROM v1.matview;
`); got != "10" {
		t.Fatalf("v1.matview = %q, want 10", got)
	}
	run(e.UpstreamURL, `ALTER TABLE T
    ADD COLUMN B BOOLEAN DEFAULT false;

INSERT INTO T (A, B) VALUES
    (20, true);
`)
	got := run(e.MaterializeURL, `SELECT * FROM v1.matview;
SELECT string_agg(name, ',' ORDER BY position) FROM mz_columns WHERE id = (SELECT id FROM mz_tables WHERE name = 't' AND schema_id = (SELECT id FROM mz_schemas WHERE name = 'v1'));
CREATE SCHEMA v2;
CREATE TABLE v2.T
    FROM SOURCE my_source(REFERENCE public.T);
SELECT string_agg(name, ',' ORDER BY position) FROM mz_columns WHERE id = (SELECT id FROM mz_tables WHERE name = 't' AND schema_id = (SELECT id FROM mz_schemas WHERE name = 'v2'));
CREATE MATERIALIZED VIEW v2.matview AS
    SELECT SUM(A) FROM v2.T
    WHERE B = true;
SELECT * FROM v2.matview;
ALTER SCHEMA v1 SWAP WITH v2;

DROP SCHEMA v2 CASCADE;
SELECT * FROM v1.matview;
`)
	if d := cmp.Diff([]string{"30", "a", "a,b", "20", "20"}, strings.Split(got, "\n")); d != "" {
		t.Errorf("psql output (-want +got):\n%s", d)
	}
}

var _ = context.Background
