package mzemu_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/mzsync/mzsync/internal/mzemu"
	"github.com/mzsync/mzsync/internal/mzemu/mzemutest"
)

// TestStartupTransientErrorKeepsMetadata (issue 10 point 10): a transient
// error at any step where startup reads its metadata fails the start and
// leaves the metadata alone; the next start sees every object with its
// ID, and new objects get new IDs.
func TestStartupTransientErrorKeepsMetadata(t *testing.T) {
	env := mzemutest.New(t)
	ctx := testCtx(t)
	c := connect(t, env.MaterializeURL)
	mustExec(t, c,
		`CREATE SCHEMA app`,
		`CREATE TABLE app.t (a int)`,
		`INSERT INTO app.t VALUES (5)`,
		`CREATE VIEW app.v AS SELECT a FROM app.t`,
		`CREATE SCHEMA `+strings.Repeat("l", 100),
		`COMMENT ON VIEW app.v IS 'kept'`,
	)
	catalog := func(c pgxConn) string {
		rows := queryRows(t, c, `SELECT o.id || ' ' || s.id || ' ' || s.name || '.' || o.name FROM mz_objects o
 JOIN mz_schemas s ON s.id = o.schema_id WHERE o.id LIKE 'u%' ORDER BY o.id`)
		rows = append(rows, queryRows(t, c, `SELECT id || ' ' || name FROM mz_schemas WHERE id LIKE 'u%' ORDER BY id`)...)
		rows = append(rows, queryRows(t, c, `SELECT id || ' ' || comment FROM mz_internal.mz_comments`)...)
		var out []string
		for _, r := range rows {
			out = append(out, r[0])
		}
		return strings.Join(out, "\n")
	}
	before := catalog(c)
	if !strings.Contains(before, "app.v") || !strings.Contains(before, strings.Repeat("l", 100)) || !strings.Contains(before, "kept") {
		t.Fatalf("catalog before restart:\n%s", before)
	}
	c.Close(ctx)
	if err := env.Server.Close(); err != nil {
		t.Fatal(err)
	}

	// A backing connection dropped by the server, as PostgreSQL reports
	// it: transient.
	transient := &pgconn.PgError{Severity: "FATAL", Code: "57P01", Message: "terminating connection due to administrator command"}
	backing := connect(t, env.BackingURL)
	for _, step := range []string{"connect", "find-catalog", "read-version", "read-schemas", "read-long-names"} {
		restore := mzemu.SetStartupFault(func(u, s string) error {
			if u == env.BackingURL && s == step {
				return transient
			}
			return nil
		})
		sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		srv, err := mzemu.Start(sctx, mzemu.Options{BackingURL: env.BackingURL, RevalidateInterval: -1, LagBucket: -1})
		cancel()
		restore()
		if err == nil {
			srv.Close()
			t.Fatalf("start with a transient error at %s succeeded", step)
		}
		if !errors.Is(err, transient) {
			t.Fatalf("start with a transient error at %s: %v, want the transient error", step, err)
		}
		// The metadata is untouched, read directly from the backing
		// database.
		if got := queryInt(t, backing, `SELECT count(*) FROM mzemu_meta.objects`); got != 2 {
			t.Fatalf("after a transient error at %s the backing database has %d objects, want 2", step, got)
		}
	}

	srv, err := mzemu.Start(ctx, mzemu.Options{BackingURL: env.BackingURL, RevalidateInterval: -1, LagBucket: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	c2 := connect(t, srv.URL())
	if after := catalog(c2); after != before {
		t.Fatalf("catalog after restart:\n%s\nwant:\n%s", after, before)
	}
	if got := queryInt(t, c2, `SELECT a FROM app.v`); got != 5 {
		t.Fatalf("app.v after restart: %d", got)
	}
	mustExec(t, c2, `CREATE VIEW app.w AS SELECT 1 AS x`)
	if id := itemID(t, c2, "app", "w"); id != "u3" {
		t.Fatalf("new object after restart has ID %s, want u3 (IDs are never reused)", id)
	}
}
