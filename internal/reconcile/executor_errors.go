package reconcile

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"
)

// Materialize reports most planner and catalog errors as XX000 with a
// descriptive message, so errors are classified by SQLSTATE where it is
// meaningful (40001) and otherwise by message text, as the reference
// recommends.

// sqlStater is satisfied by pgconn.PgError without importing pgx here.
type sqlStater interface{ SQLState() string }

func sqlState(err error) string {
	var s sqlStater
	if errors.As(err, &s) {
		return s.SQLState()
	}
	return ""
}

// isRetryable reports errors after which the pass may be retried from a
// fresh observation: serialization failures (a concurrent DDL in
// Materialize), and lost or refused connections.
func isRetryable(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	// Judge the server's error, not the statement text a StatementError
	// shows beside it.
	var se *StatementError
	if errors.As(err, &se) {
		err = se.Err
	}
	if st := sqlState(err); st != "" {
		// 40001 serialization failure; 57P01 admin shutdown; 08xxx connection exceptions.
		return st == "40001" || st == "57P01" || strings.HasPrefix(st, "08")
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.EPIPE) || errors.Is(err, net.ErrClosed) {
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	msg := err.Error()
	for _, s := range []string{"conn closed", "connection reset", "broken pipe", "unexpected EOF", "failed to connect", "connection refused"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

func isAlreadyExists(err error) bool {
	return err != nil && strings.Contains(err.Error(), "already exists")
}

func isUnknown(err error) bool {
	if err == nil {
		return false
	}
	msg := err.Error()
	return strings.Contains(msg, "unknown schema") || strings.Contains(msg, "unknown catalog item") || strings.Contains(msg, "does not exist")
}
