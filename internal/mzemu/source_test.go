package mzemu_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/mzsync/mzsync/internal/mzemu/mzemutest"
)

func TestSourceStatements(t *testing.T) {
	e := mzemutest.New(t)
	sourceWithTables(t, e, "t")
	e.UpstreamExec(`CREATE SCHEMA other`, `CREATE TABLE other.t (x int)`, `CREATE TABLE noident (x int)`,
		`ALTER TABLE other.t REPLICA IDENTITY FULL`, `CREATE TYPE mood AS ENUM ('ok')`, `CREATE TABLE withenum (m mood)`,
		`ALTER TABLE withenum REPLICA IDENTITY FULL`, `CREATE PUBLICATION empty_pub`)
	c := connect(t, e.MaterializeURL)
	mustExec(t, c, `CREATE SECRET pw AS 'sekrit'`,
		strings.Replace(e.ConnectionSQL("pg2"), ")", ", PASSWORD SECRET pw) WITH (VALIDATE = false)", 1))
	cases := []struct{ name, sql, code, msg string }{
		{"legacy FOR ALL TABLES", `CREATE SOURCE s2 FROM POSTGRES CONNECTION pg_conn (PUBLICATION 'mz_source') FOR ALL TABLES`, "0A000", "legacy FOR ALL TABLES"},
		{"legacy FOR TABLES", `CREATE SOURCE s2 FROM POSTGRES CONNECTION pg_conn (PUBLICATION 'mz_source') FOR TABLES (t)`, "0A000", "only the new CREATE SOURCE syntax"},
		{"missing publication", `CREATE SOURCE s2 FROM POSTGRES CONNECTION pg_conn (PUBLICATION 'nope')`, "XX000", `publication "nope" does not exist`},
		{"empty publication", `CREATE SOURCE s2 FROM POSTGRES CONNECTION pg_conn (PUBLICATION 'empty_pub')`, "XX000", "PUBLICATION empty_pub is empty"},
		{"no publication", `CREATE SOURCE s2 FROM POSTGRES CONNECTION pg_conn`, "XX000", "CONNECTION must specify PUBLICATION"},
		{"not a connection", `CREATE SOURCE s2 FROM POSTGRES CONNECTION pw (PUBLICATION 'mz_source')`, "XX000", "is not a POSTGRES CONNECTION"},
		{"reference not found", `CREATE TABLE x FROM SOURCE pg (REFERENCE nope)`, "XX000", "reference to nope not found in source"},
		{"ambiguous reference", `CREATE TABLE x FROM SOURCE pg (REFERENCE t)`, "XX000", "reference t is ambiguous"},
		{"replica identity", `CREATE TABLE x FROM SOURCE pg (REFERENCE noident)`, "XX000", "referenced items not tables with REPLICA IDENTITY FULL"},
		{"unsupported type", `CREATE TABLE x FROM SOURCE pg (REFERENCE withenum)`, "XX000", "referenced tables use unsupported types"},
		{"text and exclude overlap", `CREATE TABLE x FROM SOURCE pg (REFERENCE public.t) WITH (TEXT COLUMNS (b), EXCLUDE COLUMNS (b))`, "XX000", `duplicated column name references: ["b"]`},
		{"column list", `CREATE TABLE x (a, b) FROM SOURCE pg (REFERENCE public.t)`, "XX000", "columns cannot be named for Postgres sources"},
		{"name clash", `CREATE TABLE pg FROM SOURCE pg (REFERENCE public.t)`, "XX000", `source "materialize.public.pg" already exists`},
		{"connection validation", `CREATE CONNECTION bad TO POSTGRES (HOST '127.0.0.1', PORT 1, USER 'x', DATABASE 'y')`, "58000", "error connecting to server"},
		{"missing HOST", `CREATE CONNECTION bad TO POSTGRES (USER 'x', DATABASE 'y')`, "XX000", "HOST option is required"},
		{"SSL MODE prefer", `CREATE CONNECTION bad TO POSTGRES (HOST 'h', USER 'x', DATABASE 'y', SSL MODE 'prefer')`, "XX000", `invalid CONNECTION: unknown SSL MODE "prefer"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.Exec(testCtx(t), tc.sql)
			wantErr(t, err, tc.code, tc.msg)
		})
	}
	mustExec(t, c, `CREATE TABLE x FROM SOURCE pg (REFERENCE other.t)`,
		`CREATE TABLE IF NOT EXISTS x FROM SOURCE pg (REFERENCE other.t)`, `CREATE TABLE y FROM SOURCE pg (REFERENCE withenum) WITH (TEXT COLUMNS (m))`)
	got := queryRows(t, c, `SELECT s.name, sc.name FROM mz_secrets s JOIN mz_schemas sc ON sc.id = s.schema_id`)
	if d := cmp.Diff([][]string{{"pw", "public"}}, got); d != "" {
		t.Errorf("secrets (-want +got):\n%s", d)
	}
	show := queryRows(t, c, `SHOW CREATE CONNECTION pg2`)
	if len(show) != 1 || !strings.Contains(show[0][1], "PASSWORD = SECRET materialize.public.pw") || strings.Contains(show[0][1], "sekrit") {
		t.Errorf("SHOW CREATE CONNECTION = %v", show)
	}
	if got := queryRows(t, c, `SELECT m FROM y`); !cmp.Equal(got, [][]string(nil)) {
		t.Errorf("y = %v", got)
	}
	if got := queryRows(t, c, `SHOW TABLES ON pg`); !cmp.Equal(got, [][]string{{"x", ""}, {"y", ""}}) {
		t.Errorf("SHOW TABLES ON pg = %v", got)
	}
	_, err := c.Exec(testCtx(t), `DROP SOURCE pg`)
	wantErr(t, err, "XX000", `cannot drop source "pg": still depended upon by table "x"`)
	mustExec(t, c, `DROP SOURCE pg CASCADE`)
	if n := queryInt(t, c, `SELECT count(*) FROM mz_tables`); n != 0 {
		t.Errorf("tables after DROP SOURCE CASCADE: %d", n)
	}
}

// TestCancel checks that a client's cancel request reaches the backing
// session.
func TestCancel(t *testing.T) {
	e := mzemutest.New(t)
	c := connect(t, e.MaterializeURL)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, err := c.Exec(ctx, `SELECT pg_sleep(30)`)
	if err == nil || !errors.Is(err, context.DeadlineExceeded) && !strings.Contains(err.Error(), "cancel") {
		t.Fatalf("error = %v, want a canceled statement", err)
	}
	c2 := connect(t, e.MaterializeURL)
	mustExec(t, c2, `SELECT 1`)
}
