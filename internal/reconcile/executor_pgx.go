package reconcile

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/jackc/pgx/v5"
)

// PgxDB implements DB over one pgx connection to Materialize. It
// reconnects on the next call after the connection was lost, so a retried
// pass can go on. It is the only place in this package that knows pgx.
type PgxDB struct {
	mu      sync.Mutex
	connect func(ctx context.Context) (*pgx.Conn, error)
	conn    *pgx.Conn
	// OnExec, when set, is called before every statement string is sent;
	// tests use it to record and to inject crashes.
	OnExec func(sql string) error
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

// Exec implements DB.
func (d *PgxDB) Exec(ctx context.Context, sql string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.OnExec != nil {
		if err := d.OnExec(sql); err != nil {
			return err
		}
	}
	c, err := d.get(ctx)
	if err != nil {
		return err
	}
	// No arguments: pgx sends the simple protocol, so a BEGIN ... COMMIT
	// block travels as one message, as Materialize's DDL transactions need.
	_, err = c.Exec(ctx, sql)
	if err != nil && c.IsClosed() {
		d.conn = nil
	}
	if err != nil && !c.IsClosed() && c.PgConn().TxStatus() != 'I' {
		// A statement of a BEGIN ... COMMIT block failed: the server skipped
		// the rest and left the session in an aborted transaction. Roll it
		// back so the session is usable for the retried pass.
		if _, rerr := c.Exec(context.WithoutCancel(ctx), "ROLLBACK"); rerr != nil {
			c.Close(context.WithoutCancel(ctx))
			d.conn = nil
		}
	}
	return err
}

// QueryString implements DB.
func (d *PgxDB) QueryString(ctx context.Context, sql string) (string, bool, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	c, err := d.get(ctx)
	if err != nil {
		return "", false, err
	}
	var s string
	err = c.QueryRow(ctx, sql, pgx.QueryExecModeSimpleProtocol).Scan(&s)
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
func (d *PgxDB) QueryRows(ctx context.Context, sql string) ([][]string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	c, err := d.get(ctx)
	if err != nil {
		return nil, err
	}
	rows, err := c.Query(ctx, sql, pgx.QueryExecModeSimpleProtocol)
	if err != nil {
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
		if c.IsClosed() {
			d.conn = nil
		}
		return nil, fmt.Errorf("query: %w", err)
	}
	return out, nil
}

// Conn returns the current connection, connecting if needed; observation
// runs its batch on it.
func (d *PgxDB) Conn(ctx context.Context) (*pgx.Conn, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.get(ctx)
}

// Close closes the connection.
func (d *PgxDB) Close(ctx context.Context) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.conn == nil {
		return nil
	}
	err := d.conn.Close(ctx)
	d.conn = nil
	return err
}
