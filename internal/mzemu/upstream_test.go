package mzemu_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/mzsync/mzsync/internal/mzemu"
	"github.com/mzsync/mzsync/internal/mzemu/mzemutest"
)

func sourceWithTables(t *testing.T, e *mzemutest.Env, tables ...string) {
	t.Helper()
	for _, tb := range tables {
		e.UpstreamExec(`CREATE TABLE `+tb+` (a int NOT NULL, b text, c varchar(2))`, `ALTER TABLE `+tb+` REPLICA IDENTITY FULL`,
			`INSERT INTO `+tb+` VALUES (1, 'x', 'y')`)
	}
	e.UpstreamExec(`CREATE PUBLICATION mz_source FOR ALL TABLES`)
	e.MaterializeExec(e.ConnectionSQL("pg_conn"), `CREATE SOURCE pg FROM POSTGRES CONNECTION pg_conn (PUBLICATION 'mz_source')`)
}

// TestUpstreamChanges: an incompatible upstream change stalls exactly the
// table that ingests the column; a compatible one does not.
func TestUpstreamChanges(t *testing.T) {
	e := mzemutest.New(t)
	upstreamTables := []string{"t_drop", "t_rename", "t_type", "t_text", "t_add", "t_excl", "t_gone", "t_nullable"}
	sourceWithTables(t, e, upstreamTables...)
	c := connect(t, e.MaterializeURL)
	for _, tb := range upstreamTables {
		with := ""
		switch tb {
		case "t_text":
			with = " WITH (TEXT COLUMNS (c))"
		case "t_excl":
			with = " WITH (EXCLUDE COLUMNS (b))"
		}
		mustExec(t, c, `CREATE TABLE `+tb+` FROM SOURCE pg (REFERENCE `+tb+`)`+with)
	}
	mustExec(t, c, `CREATE MATERIALIZED VIEW mv_drop AS SELECT count(*) FROM t_drop`)
	ids := map[string]string{}
	for _, tb := range upstreamTables {
		ids[tb] = itemID(t, c, "public", tb)
	}
	e.Revalidate()
	if n := queryInt(t, c, `SELECT count(*) FROM mz_internal.mz_source_statuses WHERE type = 'table' AND status = 'running'`); n != int64(len(upstreamTables)) {
		t.Fatalf("%d tables running before any upstream change, want %d", n, len(upstreamTables))
	}
	e.UpstreamExec(
		`ALTER TABLE t_add ADD COLUMN z int`,
		`ALTER TABLE t_excl DROP COLUMN b`,
		`ALTER TABLE t_text ALTER COLUMN c TYPE varchar(20)`,
		`ALTER TABLE t_nullable ALTER COLUMN b SET NOT NULL`,
		`ALTER TABLE t_drop DROP COLUMN b`,
		`ALTER TABLE t_rename RENAME COLUMN b TO bb`,
		`ALTER TABLE t_type ALTER COLUMN c TYPE varchar(20)`,
		`DROP TABLE t_gone`,
	)
	stalled := []string{"t_drop", "t_gone", "t_rename", "t_type"}
	// Nothing is detected before the re-validation tick.
	if n := queryInt(t, c, `SELECT count(*) FROM mz_internal.mz_source_statuses WHERE status = 'stalled'`); n != 0 {
		t.Fatalf("%d tables stalled before the re-validation tick", n)
	}
	e.Revalidate()
	got := map[string]string{}
	for tb, id := range ids {
		r := queryRows(t, c, `SELECT status, COALESCE(error, '') FROM mz_internal.mz_source_statuses WHERE id = $1`, id)
		got[tb] = r[0][0]
		if r[0][0] == "stalled" && tb != "t_gone" && !strings.Contains(r[0][1], "incompatible schema change") {
			t.Errorf("%s error = %q", tb, r[0][1])
		}
	}
	want := map[string]string{}
	for _, tb := range upstreamTables {
		want[tb] = "running"
	}
	for _, tb := range stalled {
		want[tb] = "stalled"
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("statuses (-want +got):\n%s", d)
	}
	if r := queryRows(t, c, `SELECT status FROM mz_internal.mz_source_statuses WHERE name = 'pg'`); !cmp.Equal(r, [][]string{{"running"}}) {
		t.Errorf("source status = %v, want running", r)
	}
	for _, q := range []string{`SELECT * FROM t_drop`, `SELECT * FROM mv_drop`} {
		_, err := c.Exec(testCtx(t), q)
		wantErr(t, err, "XX000", "source must be dropped and recreated due to failure: incompatible schema change: source table t_drop with oid")
	}
	if n := queryInt(t, c, `SELECT count(*) FROM t_add`); n != 1 {
		t.Errorf("t_add rows = %d, want 1", n)
	}
	if r := queryRows(t, c, `SELECT * FROM t_excl`); !cmp.Equal(r, [][]string{{"1", "y"}}) {
		t.Errorf("t_excl = %v", r)
	}
}

// TestHoldRelease: a held snapshot or hydration keeps snapshot_committed
// and hydrated false, reads wait, and release makes them ready.
func TestHoldRelease(t *testing.T) {
	e := mzemutest.New(t)
	sourceWithTables(t, e, "t", "u")
	e.Hold(mzemu.HoldSnapshot, "public.t")
	e.Hold(mzemu.HoldHydration, "mv*")
	c := connect(t, e.MaterializeURL)
	mustExec(t, c, `CREATE TABLE t FROM SOURCE pg (REFERENCE t)`, `CREATE TABLE u FROM SOURCE pg (REFERENCE u)`,
		`CREATE MATERIALIZED VIEW mv AS SELECT count(*) AS n FROM u`, `CREATE DEFAULT INDEX ON mv`)
	tid, uid, mvid := itemID(t, c, "public", "t"), itemID(t, c, "public", "u"), itemID(t, c, "public", "mv")
	ixid := itemID(t, c, "public", "mv_primary_idx")
	state := func() [][]string {
		return queryRows(t, c, `SELECT
  (SELECT bool_and(snapshot_committed) FROM mz_internal.mz_source_statistics WHERE id = $1),
  (SELECT bool_and(snapshot_committed) FROM mz_internal.mz_source_statistics WHERE id = $2),
  (SELECT bool_or(hydrated) FROM mz_internal.mz_hydration_statuses WHERE object_id = $3),
  (SELECT bool_or(hydrated) FROM mz_internal.mz_hydration_statuses WHERE object_id = $4)`, tid, uid, mvid, ixid)
	}
	if d := cmp.Diff([][]string{{"false", "true", "false", "false"}}, state()); d != "" {
		t.Errorf("while held (-want +got):\n%s", d)
	}
	// A read of the held table waits until another session releases it.
	got := make(chan int64, 1)
	go func() {
		c2 := connect(t, e.MaterializeURL)
		var n int64
		if err := c2.QueryRow(testCtx(t), `SELECT count(*) FROM t`).Scan(&n); err != nil {
			t.Errorf("read t: %v", err)
		}
		got <- n
	}()
	select {
	case n := <-got:
		t.Fatalf("read of a held table returned %d before release", n)
	default:
	}
	if n := e.Release(mzemu.HoldSnapshot, "t"); n != 1 {
		t.Errorf("released %d tables, want 1", n)
	}
	if n := <-got; n != 1 {
		t.Errorf("t = %d rows, want 1", n)
	}
	if d := cmp.Diff([][]string{{"true", "true", "false", "false"}}, state()); d != "" {
		t.Errorf("after releasing t (-want +got):\n%s", d)
	}
	// The hold rule stays until released by its own pattern: a new MV
	// matching it is held too; "*" releases every held object of a kind.
	mustExec(t, c, `CREATE MATERIALIZED VIEW mv2 AS SELECT 1 AS x`)
	if r := queryRows(t, c, `SELECT count(*) FROM mz_internal.mz_hydration_statuses WHERE NOT hydrated`); r[0][0] != "3" {
		t.Errorf("unhydrated = %v, want 3", r)
	}
	var out string
	if err := c.QueryRow(testCtx(t), `SELECT mzemu_control('release', 'hydration', '*')`).Scan(&out); err != nil || out != "released 3" {
		t.Fatalf("SQL release = %q, %v", out, err)
	}
	if d := cmp.Diff([][]string{{"true", "true", "true", "true"}}, state()); d != "" {
		t.Errorf("after release (-want +got):\n%s", d)
	}
	mustExec(t, c, `CREATE MATERIALIZED VIEW mv3 AS SELECT 1 AS x`)
	if n := queryInt(t, c, `SELECT count(*) FROM mv3`); n != 1 {
		t.Errorf("mv3 = %d", n)
	}
	_, err := c.Exec(testCtx(t), `SELECT mzemu_control('hold', 'bogus', '*')`)
	wantErr(t, err, "XX000", "unknown hold kind")
}
