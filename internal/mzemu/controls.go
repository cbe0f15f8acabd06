package mzemu

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

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

// CloseLagBucket closes the current wallclock-lag bucket now: every table,
// source, materialized view and index gets the bucket's lag (NULL when it
// was unreadable at any point of it). It returns how many objects got one.
func (s *Server) CloseLagBucket(ctx context.Context) (int, error) {
	var n int
	err := s.withBacking(ctx, func(c *pgx.Conn) error {
		return c.QueryRow(ctx, `SELECT mzemu_meta.close_lag_bucket()`).Scan(&n)
	})
	return n, err
}

// SetLag makes objects matching pattern report a lag of seconds in the
// buckets that close from now on (while readable); 0 removes the setting.
func (s *Server) SetLag(ctx context.Context, pattern string, seconds int64) error {
	return s.withBacking(ctx, func(c *pgx.Conn) error {
		if seconds == 0 {
			_, err := c.Exec(ctx, `DELETE FROM mzemu_meta.lag_settings WHERE pattern = $1`, pattern)
			return err
		}
		_, err := c.Exec(ctx, `INSERT INTO mzemu_meta.lag_settings VALUES ($1, $2)
 ON CONFLICT (pattern) DO UPDATE SET seconds = EXCLUDED.seconds`, pattern, seconds)
		return err
	})
}

// SetReplicaStatus sets a replica ("cluster.replica") online or offline;
// the change is recorded in mz_cluster_replica_status_history. Objects of
// its cluster are not hydrated on an offline replica.
func (s *Server) SetReplicaStatus(ctx context.Context, replica, status string) error {
	if status != "online" && status != "offline" {
		return fmt.Errorf("mzemu: replica status %q is neither online nor offline", status)
	}
	return s.replicaEvent(ctx, replica, status, "")
}

// OOMKill records that a replica ("cluster.replica") was killed for
// running out of memory: an offline event with reason oom-killed, then
// online again, in mz_cluster_replica_status_history.
func (s *Server) OOMKill(ctx context.Context, replica string) error {
	return s.replicaEvent(ctx, replica, "offline", "oom-killed")
}

func (s *Server) replicaEvent(ctx context.Context, replica, status, reason string) error {
	cluster, name, ok := strings.Cut(replica, ".")
	if !ok {
		return fmt.Errorf("mzemu: replica %q is not cluster.replica", replica)
	}
	return s.withBacking(ctx, func(c *pgx.Conn) error {
		var id string
		err := c.QueryRow(ctx, `SELECT r.id FROM mzemu_meta.replicas r JOIN mzemu_meta.clusters c ON c.id = r.cluster_id
 WHERE c.name = $1 AND r.name = $2`, cluster, name).Scan(&id)
		if err == pgx.ErrNoRows {
			return fmt.Errorf("mzemu: unknown replica %q", replica)
		}
		if err != nil {
			return err
		}
		if _, err := c.Exec(ctx, `INSERT INTO mzemu_meta.replica_events (replica_id, status, reason) VALUES ($1, $2, NULLIF($3, ''))`, id, status, reason); err != nil {
			return err
		}
		if reason == "oom-killed" {
			// The replica restarts at once.
			_, err := c.Exec(ctx, `INSERT INTO mzemu_meta.replica_events (replica_id, status) VALUES ($1, 'online')`, id)
			return err
		}
		_, err = c.Exec(ctx, `UPDATE mzemu_meta.replicas SET status = $2, status_changed_at = clock_timestamp() WHERE id = $1 AND status <> $2`, id, status)
		return err
	})
}

// closeLagBuckets closes a lag bucket every LagBucket.
func (s *Server) closeLagBuckets() {
	defer close(s.lagsDone)
	every := s.opts.LagBucket
	if every == 0 {
		every = time.Minute
	}
	if every < 0 {
		return
	}
	t := time.NewTicker(every)
	defer t.Stop()
	var c *pgx.Conn
	defer func() {
		if c != nil {
			c.Close(context.Background())
		}
	}()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-t.C:
		}
		if c == nil || c.IsClosed() {
			var err error
			if c, err = pgx.Connect(s.ctx, s.opts.BackingURL); err != nil {
				c = nil
				continue
			}
		}
		if _, err := c.Exec(s.ctx, `SELECT mzemu_meta.close_lag_bucket()`); err != nil && s.ctx.Err() == nil {
			s.log.Debug("close lag bucket", "err", err)
		}
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
	case "close_lag_bucket":
		if err := want(0, ""); err != nil {
			return "", err
		}
		n, err := s.CloseLagBucket(ctx)
		return fmt.Sprintf("closed %d", n), err
	case "lag":
		if err := want(2, ", 'pattern', 'seconds'"); err != nil {
			return "", err
		}
		secs, err := strconv.ParseInt(args[1], 10, 64)
		if err != nil || secs < 0 {
			return "", fmt.Errorf("mzemu_control: seconds %q is not a whole number of seconds", args[1])
		}
		return "ok", s.SetLag(ctx, args[0], secs)
	case "replica_status":
		if err := want(2, ", 'cluster.replica', 'online|offline'"); err != nil {
			return "", err
		}
		return "ok", s.SetReplicaStatus(ctx, args[0], args[1])
	case "oom_kill":
		if err := want(1, ", 'cluster.replica'"); err != nil {
			return "", err
		}
		return "ok", s.OOMKill(ctx, args[0])
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
