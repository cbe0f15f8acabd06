package mzemu

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"
)

// Deterministic test controls. Tests never wait for hydration by the clock:
// they hold what must not be ready yet and release it when they want it
// ready. Every control is a Go method of *Server and a SQL statement
//
//	SELECT mzemu_control('verb', 'arg', ...)
//
// (mzemu only; Materialize has no such function), which answers one row
// with one text column mzemu_control. See README.md for the verbs.

// Hold kinds.
const (
	// HoldIngestion holds the start of ingestion of source-fed tables: the
	// table stays starting, mz_source_statistics has no row for it, reads
	// wait.
	HoldIngestion = "ingestion"
	// HoldSnapshot holds the initial snapshot of source-fed tables: the
	// table is running but snapshot_committed stays false and reads wait.
	HoldSnapshot = "snapshot"
	// HoldHydration holds the hydration of materialized views and indexes:
	// hydrated stays false and reads of a materialized view wait.
	HoldHydration = "hydration"
)

// Hold makes objects of the kind's class whose name matches pattern stay
// unready until released: objects created from now on, and matching ones
// not ready yet. pattern is an object name, schema.name, or a glob with *
// (e.g. "app_v2.*", "*"). Holds live in the backing database, so every
// mzemu over it sees them.
func (s *Server) Hold(ctx context.Context, kind, pattern string) error {
	if err := checkHoldKind(kind); err != nil {
		return err
	}
	return s.withBacking(ctx, func(c *pgx.Conn) error {
		if _, err := c.Exec(ctx, `INSERT INTO mzemu_meta.holds (kind, pattern) VALUES ($1, $2) ON CONFLICT DO NOTHING`, kind, pattern); err != nil {
			return err
		}
		_, err := c.Exec(ctx, `UPDATE mzemu_meta.objects o SET held = $1
  FROM mzemu_meta.items i
 WHERE i.id = o.id AND NOT i.ready AND (o.held IS NULL OR $1 = 'ingestion') AND mzemu_meta.hold_applies($1, i.kind, i.source_id)
   AND mzemu_meta.hold_matches($2, i.schema_name, i.name)`, kind, pattern)
		return err
	})
}

// Release ends holds: the hold rule with exactly this pattern (every rule
// of the kind when pattern is "*") is removed, and every held object of
// the kind that matches pattern becomes ready now. It returns how many
// objects were released.
func (s *Server) Release(ctx context.Context, kind, pattern string) (int, error) {
	if err := checkHoldKind(kind); err != nil {
		return 0, err
	}
	var n int
	err := s.withBacking(ctx, func(c *pgx.Conn) error {
		if _, err := c.Exec(ctx, `DELETE FROM mzemu_meta.holds WHERE kind = $1 AND (pattern = $2 OR $2 = '*')`, kind, pattern); err != nil {
			return err
		}
		// An object released from ingestion may still be held by a
		// snapshot rule.
		tag, err := c.Exec(ctx, `UPDATE mzemu_meta.objects o SET held = nh.kind, ready_at = clock_timestamp()
  FROM mzemu_meta.items i
  LEFT JOIN LATERAL (SELECT h.kind FROM mzemu_meta.holds h WHERE $1 = 'ingestion' AND h.kind = 'snapshot'
                        AND mzemu_meta.hold_matches(h.pattern, i.schema_name, i.name) LIMIT 1) nh ON true
 WHERE i.id = o.id AND o.held = $1 AND mzemu_meta.hold_matches($2, i.schema_name, i.name)`, kind, pattern)
		n = int(tag.RowsAffected())
		return err
	})
	return n, err
}

func checkHoldKind(kind string) error {
	if kind != HoldSnapshot && kind != HoldHydration && kind != HoldIngestion {
		return fmt.Errorf("mzemu: unknown hold kind %q (want %q, %q or %q)", kind, HoldIngestion, HoldSnapshot, HoldHydration)
	}
	return nil
}

// Revalidate runs a re-validation tick now (Materialize's periodic upstream
// schema check) and returns when it is done.
func (s *Server) Revalidate(ctx context.Context) error {
	done := make(chan error, 1)
	select {
	case s.tickReq <- done:
	case <-ctx.Done():
		return ctx.Err()
	case <-s.ctx.Done():
		return s.ctx.Err()
	}
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// withBacking runs f on a fresh connection to the backing database.
func (s *Server) withBacking(ctx context.Context, f func(*pgx.Conn) error) error {
	c, err := pgx.Connect(ctx, s.opts.BackingURL)
	if err != nil {
		return fmt.Errorf("mzemu: connect to backing database: %w", redactErr(err))
	}
	defer c.Close(context.Background())
	return f(c)
}

// Control runs one control by its SQL spelling: verb and its arguments as
// in SELECT mzemu_control('verb', 'arg', ...). It returns the text the SQL
// form answers.
func (s *Server) Control(ctx context.Context, verb string, args ...string) (string, error) {
	want := func(n int, usage string) error {
		if len(args) != n {
			return fmt.Errorf("mzemu_control: usage: mzemu_control('%s'%s)", verb, usage)
		}
		return nil
	}
	switch verb {
	case "hold":
		if err := want(2, ", 'ingestion|snapshot|hydration', 'pattern'"); err != nil {
			return "", err
		}
		return "ok", s.Hold(ctx, args[0], args[1])
	case "release":
		if err := want(2, ", 'ingestion|snapshot|hydration', 'pattern'"); err != nil {
			return "", err
		}
		n, err := s.Release(ctx, args[0], args[1])
		return fmt.Sprintf("released %d", n), err
	case "revalidate":
		if err := want(0, ""); err != nil {
			return "", err
		}
		return "ok", s.Revalidate(ctx)
	case "fail", "drop_connection", "lose_reply":
		// fail: pattern, nth, code[, scope]; others: pattern, nth[, scope]
		n := 2
		if verb == "fail" {
			n = 3
		}
		if len(args) != n && len(args) != n+1 {
			return "", fmt.Errorf("mzemu_control: usage: mzemu_control('%s', 'regexp', 'nth'%s[, 'pattern|session'])", verb,
				map[bool]string{true: ", 'SQLSTATE'"}[verb == "fail"])
		}
		nth, err := strconv.Atoi(args[1])
		if err != nil {
			return "", fmt.Errorf("mzemu_control: nth %q is not a number", args[1])
		}
		ft := Fault{Pattern: args[0], Nth: nth, Action: map[string]FaultAction{"fail": FaultFail, "drop_connection": FaultDrop, "lose_reply": FaultLoseReply}[verb]}
		if verb == "fail" {
			ft.Code = args[2]
		}
		if len(args) == n+1 {
			switch args[n] {
			case "pattern":
			case "session":
				ft.Scope = ScopeSession
			default:
				return "", fmt.Errorf("mzemu_control: scope %q is neither 'pattern' nor 'session'", args[n])
			}
		}
		return "ok", s.faults.Add(ft)
	case "ddl_conflict_rate":
		if err := want(1, ", 'rate'"); err != nil {
			return "", err
		}
		r, err := strconv.ParseFloat(args[0], 64)
		if err != nil {
			return "", fmt.Errorf("mzemu_control: rate %q is not a number", args[0])
		}
		s.faults.SetDDLConflictRate(r)
		return "ok", nil
	case "reset_faults":
		if err := want(0, ""); err != nil {
			return "", err
		}
		s.faults.Reset()
		return "ok", nil
	}
	return "", fmt.Errorf("mzemu_control: unknown control %q", verb)
}

// controlFields is the row description of SELECT mzemu_control(...).
var controlFields = []pgconn.FieldDescription{{Name: "mzemu_control", DataTypeOID: 25, DataTypeSize: -1, TypeModifier: -1}}

// parseControl parses SELECT mzemu_control('verb', 'arg', ...).
func parseControl(p *parser) (*stmt, error) {
	p.next()
	p.next()
	if err := p.expectOp("("); err != nil {
		return nil, err
	}
	var args []string
	for !p.op(")") {
		if len(args) > 0 {
			if err := p.expectOp(","); err != nil {
				return nil, err
			}
		}
		t := p.next()
		if t.kind != tokString {
			return nil, errf(codeSyntax, "mzemu_control takes only string literals, found %s", describeTok(t))
		}
		args = append(args, t.val)
	}
	if err := p.expectEnd(); err != nil {
		return nil, err
	}
	if len(args) == 0 {
		return nil, errf(codeSyntax, "mzemu_control needs a verb")
	}
	return &stmt{cls: clsNeutral, control: args}, nil
}

// runControl answers a control statement with one row.
func (ss *session) runControl(ctx context.Context, st *stmt, resultFormats []int16, simple bool) error {
	out, err := ss.srv.Control(ctx, st.control[0], st.control[1:]...)
	if err != nil {
		return errf(codeInternal, "%s", strings.TrimPrefix(err.Error(), "mzemu: "))
	}
	if simple {
		ss.sendRowDescription(controlFields, nil)
	}
	_ = resultFormats // text is the same in both formats
	ss.be.Send(&pgproto3.DataRow{Values: [][]byte{[]byte(out)}})
	return ss.complete("SELECT 1")
}
