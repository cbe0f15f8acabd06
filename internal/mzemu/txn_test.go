package mzemu_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/mzsync/mzsync/internal/mzemu"
	"github.com/mzsync/mzsync/internal/mzemu/mzemutest"
)

// TestTransactionRules replays reference §1.11: each case runs its steps
// on a fresh connection; a step with code/msg set must fail that way, any
// other step must succeed. check, when set, must return the given rows
// afterwards.
func TestTransactionRules(t *testing.T) {
	e := mzemutest.New(t)
	setup := connect(t, e.MaterializeURL)
	mustExec(t, setup, `CREATE TABLE public.w (i int)`)
	type step struct{ sql, code, msg string }
	ok := func(sql string) step { return step{sql: sql} }
	schemas := `SELECT name FROM mz_schemas WHERE name IN ('blue', 'green', 'pink', 'purple', 'red', 'other') ORDER BY name`
	cases := []struct {
		name  string
		steps []step
		check [][]string
	}{
		{"renames share a DDL transaction and see each other",
			[]step{ok("BEGIN"), ok("ALTER SCHEMA blue RENAME TO pink"), ok("ALTER SCHEMA pink RENAME TO purple"), ok("COMMIT")},
			[][]string{{"green"}, {"purple"}}},
		{"swap then rename",
			[]step{ok("BEGIN"), ok("ALTER SCHEMA blue SWAP WITH green"), ok("ALTER SCHEMA green RENAME TO purple"), ok("COMMIT")},
			[][]string{{"blue"}, {"purple"}}},
		{"one string with BEGIN and COMMIT",
			[]step{ok("BEGIN; ALTER SCHEMA blue SWAP WITH green; ALTER SCHEMA blue RENAME TO red; COMMIT;")},
			[][]string{{"green"}, {"red"}}},
		{"implicit transaction of renames",
			[]step{ok("ALTER SCHEMA blue RENAME TO pink; ALTER SCHEMA pink RENAME TO purple")},
			[][]string{{"green"}, {"purple"}}},
		{"failing statement rolls the whole transaction back",
			[]step{ok("BEGIN"), ok("ALTER SCHEMA blue RENAME TO pink"), {"ALTER SCHEMA pink RENAME TO green", "XX000", "schema 'green' already exists"},
				{"SELECT 1", "25P02", "current transaction is aborted"}, ok("COMMIT")},
			[][]string{{"blue"}, {"green"}}},
		{"rollback discards DDL",
			[]step{ok("BEGIN"), ok("ALTER SCHEMA blue RENAME TO pink"), ok("ROLLBACK")},
			[][]string{{"blue"}, {"green"}}},
		{"single-statement DDL is deferred to COMMIT",
			[]step{ok("BEGIN"), ok("CREATE SCHEMA other"), ok("COMMIT")},
			[][]string{{"blue"}, {"green"}, {"other"}}},
		{"deferred DDL fails at COMMIT",
			[]step{ok("BEGIN"), ok("CREATE VIEW v AS SELECT * FROM nope"), {"COMMIT", "XX000", "unknown catalog item 'nope'"}},
			[][]string{{"blue"}, {"green"}}},
		{"second statement after single-statement DDL",
			[]step{ok("BEGIN"), ok("CREATE SCHEMA other"), {"SELECT 1", "25000", "this transaction can only execute a single statement"}},
			nil},
		{"DDL-transaction statement after single-statement DDL",
			[]step{ok("BEGIN"), ok("COMMENT ON SCHEMA blue IS 'x'"), {"ALTER SCHEMA blue RENAME TO pink", "25000", "this transaction can only execute a single statement"}},
			nil},
		{"SELECT after DDL-transaction statement",
			[]step{ok("BEGIN"), ok("ALTER SCHEMA blue RENAME TO pink"), {"SELECT 1", "25000", "transactions which modify objects are restricted to just modifying objects"}},
			nil},
		{"CREATE VIEW after DDL-transaction statement",
			[]step{ok("BEGIN"), ok("ALTER SCHEMA blue RENAME TO pink"), {"CREATE VIEW v AS SELECT 1", "25000", "transactions which modify objects are restricted to just modifying objects"}},
			nil},
		{"COMMENT after DDL-transaction statement",
			[]step{ok("BEGIN"), ok("ALTER SCHEMA blue RENAME TO pink"), {"COMMENT ON SCHEMA pink IS 'x'", "25000", "transactions which modify objects are restricted"}},
			nil},
		{"rename after INSERT",
			[]step{ok("BEGIN"), ok("INSERT INTO public.w VALUES (1)"), {"ALTER SCHEMA blue RENAME TO pink", "25000", "transaction in write-only mode"}},
			nil},
		{"rename after SELECT",
			[]step{ok("BEGIN"), ok("SELECT 1"), {"ALTER SCHEMA blue RENAME TO pink", "25006", "transaction in read-only mode"}},
			nil},
		{"implicit transaction refuses other DDL",
			[]step{{"CREATE TABLE u (i INT); SELECT 1;", "25001", "CREATE TABLE u (i INT) cannot be run inside a transaction block"}},
			nil},
		{"SELECTs batch freely",
			[]step{ok("SELECT 1; SELECT 2")},
			nil},
		{"SET cluster inside a transaction",
			[]step{ok("BEGIN"), {"SET cluster = 'quickstart'", "25001", "SET cluster cannot be called in an active transaction"}},
			nil},
		{"SET TRANSACTION ISOLATION LEVEL after a query",
			[]step{ok("BEGIN"), ok("SELECT 1"), {"SET TRANSACTION ISOLATION LEVEL SERIALIZABLE", "25001", "must be called before any query"}},
			nil},
		{"SAVEPOINT does not parse",
			[]step{{"SAVEPOINT s", "42601", `Expected a keyword at the beginning of a statement, found identifier "savepoint"`}},
			nil},
		{"LISTEN does not parse",
			[]step{{"LISTEN x", "42601", `found identifier "listen"`}},
			nil},
		{"ROLLBACK TO SAVEPOINT does not parse",
			[]step{ok("BEGIN"), {"ROLLBACK TO SAVEPOINT s", "42601", "Expected end of statement"}},
			nil},
		{"no advisory locks",
			[]step{{"SELECT pg_advisory_lock(1)", "42883", "pg_advisory_lock"}},
			nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			mustExec(t, setup, `DROP SCHEMA IF EXISTS blue, green, pink, purple, red, other CASCADE`, `CREATE SCHEMA blue`, `CREATE SCHEMA green`)
			c := connect(t, e.MaterializeURL)
			for _, s := range tc.steps {
				_, err := c.Exec(testCtx(t), s.sql)
				if s.msg == "" {
					if err != nil {
						t.Fatalf("%s: %v", s.sql, err)
					}
					continue
				}
				wantErr(t, err, s.code, s.msg)
			}
			if tc.check != nil {
				if d := cmp.Diff(tc.check, queryRows(t, setup, schemas)); d != "" {
					t.Errorf("schemas (-want +got):\n%s", d)
				}
			}
		})
	}
}

// TestConcurrentDDL checks that DDL from another session while a DDL
// transaction is open makes that transaction fail with 40001.
func TestConcurrentDDL(t *testing.T) {
	e := mzemutest.New(t)
	a, b := connect(t, e.MaterializeURL), connect(t, e.MaterializeURL)
	mustExec(t, a, `CREATE SCHEMA blue`, `BEGIN`, `ALTER SCHEMA blue RENAME TO pink`)
	mustExec(t, b, `CREATE SCHEMA other`)
	_, err := a.Exec(testCtx(t), `COMMIT`)
	wantErr(t, err, "40001", "another session modified the catalog while this DDL transaction was open")
	if got := queryRows(t, b, `SELECT name FROM mz_schemas WHERE name IN ('blue', 'pink') ORDER BY 1`); !cmp.Equal(got, [][]string{{"blue"}}) {
		t.Errorf("schemas = %v, want only blue", got)
	}
}

// TestTwoProcessesOneCatalog: two mzemu processes over one backing database
// behave like one Materialize: the second start keeps the first's catalog,
// and a catalog change through one fails the other's open DDL transaction
// with 40001.
func TestTwoProcessesOneCatalog(t *testing.T) {
	e := mzemutest.New(t)
	c1 := connect(t, e.MaterializeURL)
	mustExec(t, c1, `CREATE SCHEMA a`, `CREATE SCHEMA other`, `CREATE VIEW other.v AS SELECT 1 AS x`)
	srv2, err := mzemu.Start(testCtx(t), mzemu.Options{BackingURL: e.BackingURL, RevalidateInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv2.Close() })
	c2 := connect(t, srv2.URL())
	if n := queryInt(t, c2, `SELECT count(*) FROM mz_views WHERE name = 'v'`); n != 1 {
		t.Fatalf("the second process sees %d views named v, want 1 (its start rebuilt the catalog?)", n)
	}
	mustExec(t, c1, `BEGIN`, `ALTER SCHEMA a RENAME TO a2`)
	mustExec(t, c2, `COMMENT ON SCHEMA other IS 'from the other process'`)
	_, err = c1.Exec(testCtx(t), `ALTER SCHEMA a2 RENAME TO a3`)
	wantErr(t, err, "40001", "another session modified the catalog while this DDL transaction was open")
	mustExec(t, c1, `ROLLBACK`)
	mustExec(t, c2, `BEGIN`, `ALTER SCHEMA a RENAME TO a2`, `ALTER SCHEMA a2 RENAME TO a3`, `COMMIT`)
	if n := queryInt(t, c1, `SELECT count(*) FROM mz_schemas WHERE name = 'a3'`); n != 1 {
		t.Errorf("the first process does not see the second's rename")
	}
}
