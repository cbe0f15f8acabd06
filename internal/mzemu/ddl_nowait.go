package mzemu

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"
)

// DDL never waits on another session (Materialize applies it at once).
// Backing PostgreSQL locks would make it wait: a write transaction holds
// its tables' locks until COMMIT, and a read blocked on a hydration holds
// its view's lock. So while a DDL transaction runs, a watchdog looks for
// other sessions' backing connections that block it, dooms them and
// terminates their backing connection; the DDL then goes ahead. A doomed
// session reconnects and fails its running or next statement (or COMMIT)
// with Materialize's error: "unknown catalog item '<id>'" when the object
// it used was dropped, otherwise 40001 "catalog item '<id>' was
// concurrently modified". Reads in a transaction hold no backing
// transaction at all (see run), so they never block DDL.

// doom is why a session's backing connection was terminated: the IDs of
// the objects whose locks a DDL statement waited for, and the backing
// process it was for. A terminated backend stays in pg_blocking_pids for a
// moment, so the watchdog can doom the same connection twice; a doom for a
// connection the session has already replaced is stale and ignored.
type doom struct {
	ids []string
	pid uint32
}

// connectBacking opens the session's backing connection.
func (ss *session) connectBacking(ctx context.Context) error {
	cfg, err := pgconn.ParseConfig(ss.srv.opts.BackingURL)
	if err != nil {
		return fmt.Errorf("parse backing URL: %w", redactErr(err))
	}
	cfg.RuntimeParams["search_path"] = backingSearchPath(ss.backingPath)
	cfg.RuntimeParams["application_name"] = "mzemu"
	ss.backingLoginRoleParam(cfg)
	cfg.OnNotice = func(_ *pgconn.PgConn, n *pgconn.Notice) {
		if ss.mute {
			return
		}
		ss.be.Send(&pgproto3.NoticeResponse{Severity: n.Severity, SeverityUnlocalized: n.Severity, Code: n.Code, Message: n.Message, Detail: n.Detail, Hint: n.Hint})
	}
	conn, err := pgconn.ConnectConfig(ctx, cfg)
	if err != nil {
		return fmt.Errorf("connect backing: %w", redactErr(err))
	}
	ss.db = conn
	ss.pid.Store(conn.PID())
	return nil
}

// checkDoom reports the error of a session whose backing connection a DDL
// statement terminated (nil when it was not doomed): it waits for that
// DDL to finish, reconnects and ends the backing transaction's part of
// the session's transaction.
func (ss *session) checkDoom(ctx context.Context) error {
	d := ss.doomed.Swap(nil)
	if d == nil {
		return nil
	}
	if d.pid != ss.pid.Load() {
		return nil // stale: that connection was replaced already
	}
	ss.srv.ddlMu.Lock()
	//lint:ignore SA2001 waiting for the DDL that doomed this session to commit
	ss.srv.ddlMu.Unlock()
	ss.db.Close(context.Background())
	if err := ss.connectBacking(ctx); err != nil {
		return err
	}
	ss.tx.backingOpen = false
	if ss.tx.open && !ss.tx.implicit {
		ss.tx.failed = true
	}
	var dropped, changed []string
	for _, id := range d.ids {
		rows, err := ss.q(ctx, `SELECT 1 FROM mzemu_meta.objects WHERE id = $1`, id)
		if err != nil {
			return err
		}
		if len(rows) == 0 {
			dropped = append(dropped, id)
		} else {
			changed = append(changed, id)
		}
	}
	switch {
	case len(dropped) > 0:
		return errf(codeInternal, "unknown catalog item '%s'", dropped[0])
	case len(changed) > 0:
		return errf(codeSerialization, "catalog item '%s' was concurrently modified", changed[0]).
			withHint("Another session modified one of this statement's dependencies before it could commit. Retry the statement.")
	}
	return errf(codeSerialization, "another session modified the catalog while this transaction was open")
}

// doomError turns the error of a statement whose backing connection was
// terminated under it into the doom's error.
func (ss *session) doomError(ctx context.Context, err error) error {
	if d := ss.doomed.Load(); d == nil || d.pid != ss.pid.Load() {
		return err
	}
	if derr := ss.checkDoom(ctx); derr != nil {
		return derr
	}
	return err
}

// watchBlockers dooms the sessions whose backing connections block the
// DDL session's backing connection, until stop is called.
func (s *Server) watchBlockers(ddl *session) (stop func()) {
	ctx, cancel := context.WithCancel(s.ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		// Most DDL is done before the first look; a blocked one waits
		// about 50 ms.
		t := time.NewTimer(40 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				t.Reset(20 * time.Millisecond)
			}
			if err := s.doomBlockers(ctx, ddl.pid.Load()); err != nil && ctx.Err() == nil {
				s.log.Debug("watch DDL blockers", "err", err)
			}
		}
	}()
	return func() { cancel(); <-done }
}

func (s *Server) doomBlockers(ctx context.Context, pid uint32) error {
	if s.admin == nil || s.admin.IsClosed() {
		conn, err := pgconn.Connect(ctx, s.opts.BackingURL)
		if err != nil {
			return redactErr(err)
		}
		s.admin = conn
	}
	res := s.admin.ExecParams(ctx, `SELECT b.pid::text, COALESCE(string_agg(DISTINCT o.id, ','), '')
  FROM unnest(pg_catalog.pg_blocking_pids($1::int4)) AS b(pid)
  LEFT JOIN pg_catalog.pg_locks l ON l.pid = $1::int4 AND NOT l.granted AND l.relation IS NOT NULL
  LEFT JOIN mzemu_meta.objects o ON o.oid = l.relation
 GROUP BY b.pid`, [][]byte{[]byte(fmt.Sprint(pid))}, nil, nil, nil).Read()
	if res.Err != nil {
		return res.Err
	}
	for _, r := range res.Rows {
		var blocker uint32
		fmt.Sscan(string(r[0]), &blocker)
		ss := s.sessionByPID(blocker)
		if ss == nil || blocker == pid {
			continue
		}
		var ids []string
		if len(r[1]) > 0 {
			ids = strings.Split(string(r[1]), ",")
		}
		ss.doomed.Store(&doom{ids: ids, pid: blocker})
		if term := s.admin.ExecParams(ctx, `SELECT pg_catalog.pg_terminate_backend($1::int4)`, [][]byte{r[0]}, nil, nil, nil).Read(); term.Err != nil {
			return term.Err
		}
	}
	return nil
}

func (s *Server) sessionByPID(pid uint32) *session {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, ss := range s.sessions {
		if ss.pid.Load() == pid {
			return ss
		}
	}
	return nil
}
