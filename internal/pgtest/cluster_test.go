package pgtest

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
)

func TestMain(m *testing.M) { Main(m) }

func TestHarnessRoundTrip(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := NewDatabase(t)
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)

	var level string
	if err := conn.QueryRow(ctx, "SHOW wal_level").Scan(&level); err != nil {
		t.Fatal(err)
	}
	if level != "logical" {
		t.Fatalf("wal_level = %q, want logical", level)
	}
	for _, stmt := range []string{
		"CREATE TABLE t (a int PRIMARY KEY, b text)",
		"ALTER TABLE t REPLICA IDENTITY FULL",
		"CREATE PUBLICATION mz_source FOR TABLE t",
		"INSERT INTO t VALUES (1, 'x'), (2, 'y')",
	} {
		if _, err := conn.Exec(ctx, stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	var pubTables int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM pg_publication_tables WHERE pubname = 'mz_source' AND tablename = 't'").Scan(&pubTables); err != nil {
		t.Fatal(err)
	}
	if pubTables != 1 {
		t.Fatalf("publication has %d rows for t, want 1", pubTables)
	}
	rows, _ := conn.Query(ctx, "SELECT a, b FROM t ORDER BY a")
	got, err := pgx.CollectRows(rows, pgx.RowToStructByPos[struct {
		A int
		B string
	}])
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].A != 1 || got[1].B != "y" {
		t.Fatalf("rows = %+v", got)
	}
}

func TestDatabasesAreIsolated(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	a, b := NewDatabase(t), NewDatabase(t)
	if a == b {
		t.Fatalf("two databases share a URL: %s", a)
	}
	ca, err := pgx.Connect(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	defer ca.Close(ctx)
	if _, err := ca.Exec(ctx, "CREATE TABLE only_in_a (x int)"); err != nil {
		t.Fatal(err)
	}
	cb, err := pgx.Connect(ctx, b)
	if err != nil {
		t.Fatal(err)
	}
	defer cb.Close(ctx)
	var n int
	if err := cb.QueryRow(ctx, "SELECT count(*) FROM pg_tables WHERE tablename = 'only_in_a'").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatal("table created in one test database is visible in another")
	}
}

func TestFindBinDir(t *testing.T) {
	dir, err := FindBinDir()
	if err != nil {
		t.Fatal(err)
	}
	if !hasServer(dir) {
		t.Fatalf("FindBinDir returned %s without initdb and postgres", dir)
	}
}
