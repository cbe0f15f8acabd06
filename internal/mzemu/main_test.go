package mzemu_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/mzsync/mzsync/internal/mzemu/mzemutest"
	"github.com/mzsync/mzsync/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func connect(t *testing.T, url string) *pgx.Conn {
	t.Helper()
	ctx := testCtx(t)
	c, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

// queryInt reads one integer (NULL as -1).
func queryInt(t *testing.T, c *pgx.Conn, sql string, args ...any) int64 {
	t.Helper()
	var v *int64
	if err := c.QueryRow(testCtx(t), sql, args...).Scan(&v); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	if v == nil {
		return -1
	}
	return *v
}

// seedUpstream prepares the upstream of the seed guide: table t(a) with 10,
// replica identity full, publication mz_source.
func seedUpstream(e *mzemutest.Env) {
	e.UpstreamExec(
		`CREATE TABLE T (A INT)`,
		`ALTER TABLE T REPLICA IDENTITY FULL`,
		`INSERT INTO T (A) VALUES (10)`,
		`CREATE PUBLICATION mz_source FOR ALL TABLES`,
	)
}

type pgxConn = *pgx.Conn
