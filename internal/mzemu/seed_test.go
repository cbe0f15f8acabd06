package mzemu_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/mzsync/mzsync/internal/mzemu/mzemutest"
)

// TestSeedGuidePgx replays the source-versioning guide (its two typos
// fixed) through pgx and checks every result the guide promises.
func TestSeedGuidePgx(t *testing.T) {
	e := mzemutest.New(t)
	seedUpstream(e)
	c := connect(t, e.MaterializeURL)
	ctx := testCtx(t)
	exec := func(sql string) {
		t.Helper()
		if _, err := c.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	exec(e.ConnectionSQL("my_connection"))
	exec(`CREATE SOURCE IF NOT EXISTS my_source
    FROM POSTGRES CONNECTION my_connection (PUBLICATION mz_source)`)
	exec(`CREATE SCHEMA v1`)
	exec(`CREATE TABLE v1.T
    FROM SOURCE my_source(REFERENCE public.T)`)
	exec(`CREATE MATERIALIZED VIEW v1.matview AS
    SELECT SUM(A) from v1.T`)
	if got := queryInt(t, c, `SELECT * FROM v1.matview`); got != 10 {
		t.Fatalf("v1.matview = %d, want 10", got)
	}
	e.UpstreamExec(`ALTER TABLE T
    ADD COLUMN B BOOLEAN DEFAULT false`, `INSERT INTO T (A, B) VALUES
    (20, true)`)
	if got := queryInt(t, c, `SELECT * FROM v1.matview`); got != 30 {
		t.Fatalf("v1.matview after upstream insert = %d, want 30", got)
	}
	if got := columns(t, c, "v1", "t"); !cmp.Equal(got, []string{"a"}) {
		t.Fatalf("v1.t columns = %v, want [a]", got)
	}
	exec(`CREATE SCHEMA v2`)
	exec(`CREATE TABLE v2.T
    FROM SOURCE my_source(REFERENCE public.T)`)
	if got := columns(t, c, "v2", "t"); !cmp.Equal(got, []string{"a", "b"}) {
		t.Fatalf("v2.t columns = %v, want [a b]", got)
	}
	exec(`CREATE MATERIALIZED VIEW v2.matview AS
    SELECT SUM(A) FROM v2.T
    WHERE B = true`)
	if got := queryInt(t, c, `SELECT * FROM v2.matview`); got != 20 {
		t.Fatalf("v2.matview = %d, want 20", got)
	}
	exec(`ALTER SCHEMA v1 SWAP WITH v2`)
	exec(`DROP SCHEMA v2 CASCADE`)
	if got := queryInt(t, c, `SELECT * FROM v1.matview`); got != 20 {
		t.Fatalf("v1.matview after swap = %d, want 20", got)
	}
}

// columns lists an object's columns from mz_columns, in order.
func columns(t *testing.T, c pgxConn, schema, name string) []string {
	t.Helper()
	rows, err := c.Query(testCtx(t), `SELECT c.name FROM mz_columns c JOIN mz_objects o ON o.id = c.id
 JOIN mz_schemas s ON s.id = o.schema_id WHERE s.name = $1 AND o.name = $2 ORDER BY c.position`, schema, name)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		out = append(out, n)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
