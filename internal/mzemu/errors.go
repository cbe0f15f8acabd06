package mzemu

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"
)

// mzError is an error reported to the client with a SQLSTATE, as
// Materialize reports it.
type mzError struct {
	Code    string
	Message string
	Detail  string
	Hint    string
}

func (e *mzError) Error() string { return e.Message }

// errf makes an mzError. Most Materialize planner and catalog errors are
// XX000.
func errf(code, format string, args ...any) *mzError {
	return &mzError{Code: code, Message: fmt.Sprintf(format, args...)}
}

func (e *mzError) withHint(h string) *mzError   { e.Hint = h; return e }
func (e *mzError) withDetail(d string) *mzError { e.Detail = d; return e }

const (
	codeInternal       = "XX000"
	codeSyntax         = "42601"
	codeFeature        = "0A000"
	codeActiveTxn      = "25001"
	codeInvalidTxn     = "25000"
	codeReadOnly       = "25006"
	codeAborted        = "25P02"
	codeSerialization  = "40001"
	codeSystem         = "58000"
	codeUndefinedObj   = "42704"
	codeInvalidSchema  = "3F000"
	codeDuplicateObj   = "42710"
	codeDuplicateRel   = "42P07"
	codeDuplicateSchem = "42P06"
)

var (
	reRelMissing    = regexp.MustCompile(`^relation "([^"]*)" does not exist$`)
	reSchemaMissing = regexp.MustCompile(`^schema "([^"]*)" does not exist$`)
)

// toErrorResponse renders any error as a client ErrorResponse. PostgreSQL
// errors from the backing database that have a Materialize equivalent are
// translated to Materialize's text.
func toErrorResponse(err error) *pgproto3.ErrorResponse {
	var me *mzError
	if errors.As(err, &me) {
		return &pgproto3.ErrorResponse{Severity: "ERROR", SeverityUnlocalized: "ERROR", Code: me.Code, Message: fromBackingText(me.Message), Detail: fromBackingText(me.Detail), Hint: me.Hint}
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		code, msg := pe.Code, pe.Message
		if m := reRelMissing.FindStringSubmatch(msg); m != nil && code == "42P01" {
			code, msg = codeInternal, fmt.Sprintf("unknown catalog item '%s'", m[1])
		} else if m := reSchemaMissing.FindStringSubmatch(msg); m != nil && code == "3F000" {
			code, msg = codeInternal, fmt.Sprintf("unknown schema '%s'", m[1])
		}
		hint := pe.Hint
		if code == "57014" && msg == "canceling statement due to statement timeout" {
			// Materialize's AdapterError::StatementTimeout (src/adapter/src/error.rs).
			hint = "Consider increasing the maximum allowed statement duration for this session by setting the statement_timeout session variable. For example, `SET statement_timeout = '120s'`."
		}
		sev := pe.Severity
		if sev == "" || sev == "FATAL" || sev == "PANIC" {
			sev = "ERROR"
		}
		return &pgproto3.ErrorResponse{Severity: sev, SeverityUnlocalized: sev, Code: code, Message: fromBackingText(msg), Detail: fromBackingText(pe.Detail), Hint: hint, Position: pe.Position}
	}
	return &pgproto3.ErrorResponse{Severity: "ERROR", SeverityUnlocalized: "ERROR", Code: codeInternal, Message: err.Error()}
}

// notice is a NOTICE sent to the client.
func notice(code, format string, args ...any) *pgproto3.NoticeResponse {
	return &pgproto3.NoticeResponse{Severity: "NOTICE", SeverityUnlocalized: "NOTICE", Code: code, Message: fmt.Sprintf(format, args...)}
}

// translateErr turns a backing error about a qualified relation whose
// schema does not exist into Materialize's "unknown schema" (PostgreSQL
// reports the relation).
func (ss *session) translateErr(err error) error {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.Code != "42P01" {
		return err
	}
	m := reRelMissing.FindStringSubmatch(pe.Message)
	if m == nil {
		return err
	}
	schema, _, ok := strings.Cut(m[1], ".")
	if !ok || ss.srv.schemaExists(schema) {
		return err
	}
	return errf(codeInternal, "unknown schema '%s'", schema)
}

// schemaExists reports whether a schema of the backing database exists, as
// of the last catalog change.
func (s *Server) schemaExists(name string) bool {
	m := s.schemaNames.Load()
	return m == nil || (*m)[name]
}

// refreshSchemaNames reloads the schema names after a catalog change.
func (s *Server) refreshSchemaNames(ctx context.Context, ss *session) {
	rows, err := ss.q(ctx, `SELECT nspname FROM pg_catalog.pg_namespace`)
	if err != nil {
		return
	}
	m := map[string]bool{}
	for _, r := range rows {
		m[r[0]] = true
	}
	s.schemaNames.Store(&m)
}
