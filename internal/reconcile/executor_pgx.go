package reconcile

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// DefaultStatementTimeout bounds every statement PgxDB sends when its
// Timeout is zero: a server that stops answering fails the statement
// instead of hanging the pass.
const DefaultStatementTimeout = time.Minute

// PgxDB implements DB over one pgx connection to Materialize. It
// reconnects on the next call after the connection was lost, so a retried
// pass can go on. It is the only place in this package that knows pgx.
type PgxDB struct {
	mu      sync.Mutex
	connect func(ctx context.Context) (*pgx.Conn, error)
	conn    *pgx.Conn
	catalog *pgx.Conn
	// OnExec, when set, is called before every statement string is sent;
	// tests use it to record and to inject crashes.
	OnExec func(sql string) error
	// Timeout bounds each statement (and each QueryString); zero means
	// DefaultStatementTimeout. An expired statement fails with an error
	// naming the server, and the connection is replaced on the next call.
	Timeout time.Duration
	// CatalogSetup, when set, gives catalog reads (Conn) a session of
	// their own, distinct from the one statements run on, and prepares
	// it on every (re)connect: cmd/mzsync sets it to put that session on
	// the mz_catalog_server cluster and to check the server's version.
	// Without it, Conn returns the statement session.
	CatalogSetup func(ctx context.Context, c *pgx.Conn) error
}

// NewPgxDB returns a DB that connects with connect on first use.
func NewPgxDB(connect func(ctx context.Context) (*pgx.Conn, error)) *PgxDB {
	return &PgxDB{connect: connect}
}

func (d *PgxDB) get(ctx context.Context) (*pgx.Conn, error) {
	if d.conn != nil && !d.conn.IsClosed() {
		return d.conn, nil
	}
	c, err := d.connect(ctx)
	if err != nil {
		return nil, err
	}
	d.conn = c
	return c, nil
}

func (d *PgxDB) timeout() time.Duration {
	if d.Timeout > 0 {
		return d.Timeout
	}
	return DefaultStatementTimeout
}

// bounded returns ctx with the statement deadline, unless ctx ends
// sooner.
func (d *PgxDB) bounded(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, d.timeout())
}

// timedOut turns the error of a statement whose deadline (not the
// caller's) expired into one that says so and names the server.
func (d *PgxDB) timedOut(parent, ctx context.Context, c *pgx.Conn, err error) error {
	if err == nil || parent.Err() != nil || !errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return err
	}
	cfg := c.Config()
	return fmt.Errorf("no answer from %s within %s: %w", net.JoinHostPort(cfg.Host, strconv.Itoa(int(cfg.Port))), d.timeout(), err)
}

// Exec implements DB.
func (d *PgxDB) Exec(parent context.Context, sql string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.OnExec != nil {
		if err := d.OnExec(sql); err != nil {
			return err
		}
	}
	ctx, cancel := d.bounded(parent)
	defer cancel()
	c, err := d.get(ctx)
	if err != nil {
		return err
	}
	// No arguments: pgx sends the simple protocol, so a BEGIN ... COMMIT
	// block travels as one message, as Materialize's DDL transactions need.
	_, err = c.Exec(ctx, sql)
	err = d.timedOut(parent, ctx, c, err)
	if err != nil && c.IsClosed() {
		d.conn = nil
	}
	if err != nil && !c.IsClosed() && c.PgConn().TxStatus() != 'I' {
		// A statement of a BEGIN ... COMMIT block failed: the server skipped
		// the rest and left the session in an aborted transaction. Roll it
		// back so the session is usable for the retried pass.
		rctx, rcancel := d.bounded(context.WithoutCancel(ctx))
		defer rcancel()
		if _, rerr := c.Exec(rctx, "ROLLBACK"); rerr != nil {
			c.Close(rctx)
			d.conn = nil
		}
	}
	return err
}

// QueryString implements DB.
func (d *PgxDB) QueryString(parent context.Context, sql string) (string, bool, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	ctx, cancel := d.bounded(parent)
	defer cancel()
	c, err := d.get(ctx)
	if err != nil {
		return "", false, err
	}
	var s string
	err = c.QueryRow(ctx, sql, pgx.QueryExecModeSimpleProtocol).Scan(&s)
	err = d.timedOut(parent, ctx, c, err)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		if c.IsClosed() {
			d.conn = nil
		}
		return "", false, fmt.Errorf("query: %w", err)
	}
	return s, true, nil
}

// QueryRows implements DB.
func (d *PgxDB) QueryRows(parent context.Context, sql string) ([][]string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	ctx, cancel := d.bounded(parent)
	defer cancel()
	c, err := d.get(ctx)
	if err != nil {
		return nil, err
	}
	rows, err := c.Query(ctx, sql, pgx.QueryExecModeSimpleProtocol)
	if err != nil {
		err = d.timedOut(parent, ctx, c, err)
		if c.IsClosed() {
			d.conn = nil
		}
		return nil, fmt.Errorf("query: %w", err)
	}
	defer rows.Close()
	var out [][]string
	for rows.Next() {
		vals := rows.RawValues()
		row := make([]string, len(vals))
		for i, v := range vals {
			row[i] = string(v)
		}
		out = append(out, row)
	}
	if err := rows.Err(); err != nil {
		err = d.timedOut(parent, ctx, c, err)
		if c.IsClosed() {
			d.conn = nil
		}
		return nil, fmt.Errorf("query: %w", err)
	}
	return out, nil
}

// Conn returns the session catalog reads run on, connecting if needed;
// observation runs its batch on it. With CatalogSetup it is a session of
// its own, prepared by CatalogSetup; otherwise the statement session.
func (d *PgxDB) Conn(ctx context.Context) (*pgx.Conn, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.CatalogSetup == nil {
		return d.get(ctx)
	}
	if d.catalog != nil && !d.catalog.IsClosed() {
		return d.catalog, nil
	}
	c, err := d.connect(ctx)
	if err != nil {
		return nil, err
	}
	if err := d.CatalogSetup(ctx, c); err != nil {
		c.Close(context.WithoutCancel(ctx))
		return nil, err
	}
	d.catalog = c
	return c, nil
}

// Close closes the connections.
func (d *PgxDB) Close(ctx context.Context) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	var errs []error
	for _, c := range []**pgx.Conn{&d.conn, &d.catalog} {
		if *c != nil {
			errs = append(errs, (*c).Close(ctx))
			*c = nil
		}
	}
	return errors.Join(errs...)
}
