package main

import (
	"context"
	"fmt"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/rogpeppe/go-internal/testscript"

	"github.com/mzsync/mzsync/internal/mzemu"
	"github.com/mzsync/mzsync/internal/mzemu/mzemutest"
)

// setupScript gives every script the repository root as $REPO, so scripts
// can use examples/manifests. Scripts whose name starts with "mz_" also
// get their own mzemu over a real PostgreSQL, set up as the seed guide
// says (upstream table t(a) = 10, publication mz_source, connection
// pg_conn), with $MZSYNC_MATERIALIZE and $PG_UPSTREAM_URL pointing at it.
func setupScript(e *testscript.Env) error {
	_, file, _, _ := runtime.Caller(0)
	e.Setenv("REPO", filepath.Clean(filepath.Join(filepath.Dir(file), "..", "..")))
	tb, ok := e.T().(testing.TB)
	if !ok || !strings.HasPrefix(filepath.Base(tb.Name()), "mz_") {
		return nil
	}
	env := mzemutest.New(tb, func(o *mzemu.Options) { o.HydrationDelay = 100 * time.Millisecond })
	env.UpstreamExec(
		"CREATE TABLE t (a int)",
		"ALTER TABLE t REPLICA IDENTITY FULL",
		"INSERT INTO t VALUES (10)",
		"CREATE PUBLICATION mz_source FOR TABLE t",
	)
	env.MaterializeExec(env.ConnectionSQL("pg_conn"))
	e.Setenv("MZSYNC_MATERIALIZE", env.MaterializeURL)
	e.Setenv("PG_UPSTREAM_URL", env.UpstreamURL)
	return nil
}

// scriptCmds are extra testscript commands:
//
//	mzsql SQL   runs SQL against $MZSYNC_MATERIALIZE and prints rows (tab-separated)
//	upsql SQL   the same against $PG_UPSTREAM_URL
var scriptCmds = map[string]func(ts *testscript.TestScript, neg bool, args []string){
	"mzsql": func(ts *testscript.TestScript, neg bool, args []string) {
		sqlCmd(ts, neg, ts.Getenv("MZSYNC_MATERIALIZE"), args)
	},
	"upsql": func(ts *testscript.TestScript, neg bool, args []string) {
		sqlCmd(ts, neg, ts.Getenv("PG_UPSTREAM_URL"), args)
	},
}

func sqlCmd(ts *testscript.TestScript, neg bool, url string, args []string) {
	if url == "" {
		ts.Fatalf("no database: only mz_* scripts have one")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	ts.Check(err)
	defer conn.Close(ctx)
	for _, q := range args {
		rows, err := conn.Query(ctx, q, pgx.QueryExecModeSimpleProtocol)
		if err == nil {
			for rows.Next() {
				vals, verr := rows.Values()
				if verr != nil {
					err = verr
					break
				}
				cells := make([]string, len(vals))
				for i, v := range vals {
					cells[i] = fmtCell(v)
				}
				ts.Stdout().Write([]byte(strings.Join(cells, "\t") + "\n"))
			}
			rows.Close()
			if err == nil {
				err = rows.Err()
			}
		}
		if err != nil {
			if neg {
				ts.Stderr().Write([]byte(err.Error() + "\n"))
				return
			}
			ts.Fatalf("%s: %v", q, err)
		}
	}
	if neg {
		ts.Fatalf("unexpected success")
	}
}

func fmtCell(v any) string {
	if v == nil {
		return "NULL"
	}
	switch x := v.(type) {
	case string:
		return x
	case []byte:
		return string(x)
	}
	return strings.TrimSpace(strings.ReplaceAll(strings.ReplaceAll(fmt.Sprint(v), "\n", " "), "\t", " "))
}
