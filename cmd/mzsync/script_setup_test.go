package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/rogpeppe/go-internal/testscript"

	"github.com/mzsync/mzsync/internal/mzemu/mzemutest"
)

// setupScript gives every script the repository root as $REPO, so scripts
// can use examples/manifests. Scripts whose name starts with "mz_" also
// get their own mzemu over a real PostgreSQL, set up as the seed guide
// says (upstream table t(a) = 10, publication mz_source, connection
// pg_conn), with $MZSYNC_MATERIALIZE and $PG_UPSTREAM_URL pointing at it.
// Objects hydrate at once; a script holds what must not be ready, e.g.
// with mzemu_control('hold', 'hydration', 'app_v1.*') through mzsql
// (quotes doubled inside the script's single-quoted argument).
func setupScript(e *testscript.Env) error {
	_, file, _, _ := runtime.Caller(0)
	e.Setenv("REPO", filepath.Clean(filepath.Join(filepath.Dir(file), "..", "..")))
	tb, ok := e.T().(testing.TB)
	if !ok || !strings.HasPrefix(filepath.Base(tb.Name()), "mz_") {
		return nil
	}
	env := mzemutest.New(tb)
	env.UpstreamExec(
		"CREATE TABLE t (a int)",
		"ALTER TABLE t REPLICA IDENTITY FULL",
		"INSERT INTO t VALUES (10)",
		"CREATE PUBLICATION mz_source FOR TABLE t",
	)
	env.MaterializeExec(env.ConnectionSQL("pg_conn"))
	e.Setenv("MZSYNC_MATERIALIZE", env.MaterializeURL)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	e.Setenv("HTTP_ADDR", l.Addr().String())
	l.Close()
	e.Setenv("PG_UPSTREAM_URL", env.UpstreamURL)
	return nil
}

// scriptCmds are extra testscript commands:
//
//	mzsql SQL   runs SQL against $MZSYNC_MATERIALIZE and prints rows (tab-separated)
//	mzsqlas ROLE SQL   the same, logged in as ROLE
//	mzurlas VAR ROLE   sets VAR to $MZSYNC_MATERIALIZE logged in as ROLE
//	upsql SQL   the same against $PG_UPSTREAM_URL
//	httpwait URL REGEXP   polls GET URL (up to 60s) until the body matches
var scriptCmds = map[string]func(ts *testscript.TestScript, neg bool, args []string){
	"httpwait": httpWait,
	"mzsql": func(ts *testscript.TestScript, neg bool, args []string) {
		sqlCmd(ts, neg, ts.Getenv("MZSYNC_MATERIALIZE"), args)
	},
	// mzsqlas ROLE SQL... runs SQL on $MZSYNC_MATERIALIZE logged in as ROLE.
	"mzsqlas": func(ts *testscript.TestScript, neg bool, args []string) {
		if len(args) < 2 {
			ts.Fatalf("usage: mzsqlas ROLE SQL...")
		}
		u, err := url.Parse(ts.Getenv("MZSYNC_MATERIALIZE"))
		ts.Check(err)
		u.User = url.User(args[0])
		sqlCmd(ts, neg, u.String(), args[1:])
	},
	// mzurlas VAR ROLE sets VAR to $MZSYNC_MATERIALIZE logged in as ROLE,
	// for mzsync --materialize $VAR.
	"mzurlas": func(ts *testscript.TestScript, neg bool, args []string) {
		if len(args) != 2 || neg {
			ts.Fatalf("usage: mzurlas VAR ROLE")
		}
		u, err := url.Parse(ts.Getenv("MZSYNC_MATERIALIZE"))
		ts.Check(err)
		u.User = url.User(args[1])
		ts.Setenv(args[0], u.String())
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

func httpWait(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: httpwait URL REGEXP")
	}
	re, err := regexp.Compile(args[1])
	ts.Check(err)
	deadline := time.Now().Add(60 * time.Second)
	var last string
	for time.Now().Before(deadline) {
		resp, err := http.Get(args[0])
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			last = string(b)
			if re.MatchString(last) {
				ts.Stdout().Write(b)
				return
			}
		} else {
			last = err.Error()
		}
		time.Sleep(100 * time.Millisecond)
	}
	ts.Fatalf("GET %s never matched %q; last answer:\n%s", args[0], args[1], last)
}
