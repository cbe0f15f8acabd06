package mzemu_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// queryRows runs a query and renders every value with fmt.Sprint (NULL as
// "<nil>").
func queryRows(t *testing.T, c *pgx.Conn, sql string, args ...any) [][]string {
	t.Helper()
	rows, err := c.Query(testCtx(t), sql, args...)
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	defer rows.Close()
	var out [][]string
	for rows.Next() {
		vals, err := rows.Values()
		if err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
		r := make([]string, len(vals))
		for i, v := range vals {
			r[i] = fmt.Sprint(v)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return out
}

func mustExec(t *testing.T, c *pgx.Conn, sql ...string) {
	t.Helper()
	for _, s := range sql {
		if _, err := c.Exec(testCtx(t), s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

// wantErr checks that err is a server error with the SQLSTATE code (when
// given) and a message containing msg.
func wantErr(t *testing.T, err error, code, msg string) {
	t.Helper()
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		t.Fatalf("error = %v, want server error %s %q", err, code, msg)
	}
	if (code != "" && pe.Code != code) || !strings.Contains(pe.Message, msg) {
		t.Fatalf("error = %s %q, want %s containing %q", pe.Code, pe.Message, code, msg)
	}
}

// eventually polls cond until it holds, failing after a generous deadline
// (only a bound against hanging, never a timing assertion).
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func itemID(t *testing.T, c *pgx.Conn, schema, name string) string {
	t.Helper()
	r := queryRows(t, c, `SELECT o.id FROM mz_objects o JOIN mz_schemas s ON s.id = o.schema_id WHERE s.name = $1 AND o.name = $2`, schema, name)
	if len(r) != 1 {
		t.Fatalf("object %s.%s: %v", schema, name, r)
	}
	return r[0][0]
}
