package observed

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// TextArray renders ss as a PostgreSQL array literal, every element
// double-quoted with '"' and '\' escaped: {"u1","u2"}. Pass it as a text
// parameter and cast it on the server (CAST($1::text AS text[])):
// Materialize rejects array parameters sent in binary, and pgx sends every
// Go slice in binary.
func TextArray(ss []string) string {
	var b strings.Builder
	b.WriteByte('{')
	for i, s := range ss {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('"')
		for _, r := range s {
			if r == '"' || r == '\\' {
				b.WriteByte('\\')
			}
			b.WriteRune(r)
		}
		b.WriteByte('"')
	}
	b.WriteByte('}')
	return b.String()
}

// MaterializeQuerier wraps a Querier connected to Materialize and refuses,
// before anything is sent, a query that binds a parameter pgx would send
// as a binary array (any Go slice or array other than []byte): Materialize
// cannot decode those. Every catalog read of the observer goes through
// it, so a query that binds a slice fails in every test that runs it, not
// only on a real Materialize.
type MaterializeQuerier struct{ Q Querier }

// ErrArrayParameter is wrapped by the error MaterializeQuerier returns for
// a query that binds an array.
var ErrArrayParameter = errors.New("array parameter: Materialize cannot decode an array sent in binary; pass it as a text literal with a cast")

// Query implements Querier.
func (m MaterializeQuerier) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	if err := checkParams(sql, args); err != nil {
		return nil, err
	}
	return m.Q.Query(ctx, sql, args...)
}

// SendBatch implements Querier.
func (m MaterializeQuerier) SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults {
	for _, qq := range b.QueuedQueries {
		if err := checkParams(qq.SQL, qq.Arguments); err != nil {
			return errBatch{err}
		}
	}
	return m.Q.SendBatch(ctx, b)
}

func checkParams(sql string, args []any) error {
	for i, a := range args {
		if a == nil {
			continue
		}
		t := reflect.TypeOf(a)
		if t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		if (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) && t.Elem().Kind() != reflect.Uint8 {
			return fmt.Errorf("parameter $%d (%s) of %q: %w", i+1, t, firstLine(sql), ErrArrayParameter)
		}
	}
	return nil
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}

// errBatch is the BatchResults of a batch that was never sent.
type errBatch struct{ err error }

func (e errBatch) Exec() (pgconn.CommandTag, error) { return pgconn.CommandTag{}, e.err }
func (e errBatch) Query() (pgx.Rows, error)         { return nil, e.err }
func (e errBatch) QueryRow() pgx.Row                { return errRow(e) }
func (e errBatch) Close() error                     { return e.err }
func (e errBatch) Tx() pgx.Tx                       { return nil }

type errRow struct{ err error }

func (e errRow) Scan(...any) error { return e.err }
