package mzemu_test

import (
	"strconv"
	"strings"
	"testing"
	"time"

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

// TestUpstreamChanges: an incompatible upstream change ceases exactly the
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
	// Every table's snapshot first, so "running" below means "not ceased"
	// and not "no longer starting" on a loaded machine.
	eventually(t, "every table to be running", func() bool {
		r := queryRows(t, c, `SELECT count(*) FROM mz_internal.mz_source_statuses WHERE type = 'table' AND status = 'running'`)
		return r[0][0] == strconv.Itoa(len(upstreamTables))
	})
	// Compatible changes first: once the incompatible ones (made after
	// them) are seen, the watcher has also seen these.
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
	ceased := []string{"t_drop", "t_gone", "t_rename", "t_type"}
	eventually(t, "incompatible tables to cease", func() bool {
		r := queryRows(t, c, `SELECT count(*) FROM mz_internal.mz_source_statuses WHERE status = 'ceased'`)
		return r[0][0] == "4"
	})
	got := map[string]string{}
	for tb, id := range ids {
		r := queryRows(t, c, `SELECT status, COALESCE(error, '') FROM mz_internal.mz_source_statuses WHERE id = $1`, id)
		got[tb] = r[0][0]
		if r[0][0] == "ceased" && !strings.Contains(r[0][1], "incompatible schema change") {
			t.Errorf("%s error = %q", tb, r[0][1])
		}
	}
	want := map[string]string{}
	for _, tb := range upstreamTables {
		want[tb] = "running"
	}
	for _, tb := range ceased {
		want[tb] = "ceased"
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

// TestHydrationDelay: snapshot_committed and hydrated turn true only after
// the delay, and reads wait for it.
func TestHydrationDelay(t *testing.T) {
	e := mzemutest.New(t, func(o *mzemu.Options) { o.HydrationDelay = 3 * time.Second })
	sourceWithTables(t, e, "t")
	c := connect(t, e.MaterializeURL)
	mustExec(t, c, `CREATE TABLE t FROM SOURCE pg (REFERENCE t)`, `CREATE MATERIALIZED VIEW mv AS SELECT count(*) AS n FROM t`, `CREATE DEFAULT INDEX ON mv`)
	tid, mvid := itemID(t, c, "public", "t"), itemID(t, c, "public", "mv")
	ixid := itemID(t, c, "public", "mv_primary_idx")
	before := queryRows(t, c, `SELECT
  (SELECT bool_and(snapshot_committed) FROM mz_internal.mz_source_statistics WHERE id = $1),
  (SELECT bool_or(hydrated) FROM mz_internal.mz_hydration_statuses WHERE object_id = $2),
  (SELECT bool_or(hydrated) FROM mz_internal.mz_hydration_statuses WHERE object_id = $3),
  (SELECT status FROM mz_internal.mz_source_statuses WHERE id = $1)`, tid, mvid, ixid)
	if d := cmp.Diff([][]string{{"false", "false", "false", "starting"}}, before); d != "" {
		t.Errorf("before hydration (-want +got):\n%s", d)
	}
	// The read waits for the snapshot instead of failing or returning nothing.
	if n := queryInt(t, c, `SELECT n FROM mv`); n != 1 {
		t.Errorf("mv = %d, want 1", n)
	}
	after := queryRows(t, c, `SELECT
  (SELECT bool_and(snapshot_committed) FROM mz_internal.mz_source_statistics WHERE id = $1),
  (SELECT bool_or(hydrated) FROM mz_internal.mz_hydration_statuses WHERE object_id = $2),
  (SELECT status FROM mz_internal.mz_source_statuses WHERE id = $1)`, tid, mvid)
	if d := cmp.Diff([][]string{{"true", "true", "running"}}, after); d != "" {
		t.Errorf("after hydration (-want +got):\n%s", d)
	}
}
