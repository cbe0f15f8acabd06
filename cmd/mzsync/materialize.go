package main

import (
	"context"
	"errors"
	"flag"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/mzsync/mzsync/internal/model"
	"github.com/mzsync/mzsync/internal/observed"
	"github.com/mzsync/mzsync/internal/reconcile"
)

// mzFlags holds the Materialize connection flags.
type mzFlags struct {
	url              string
	connectTimeout   time.Duration
	statementTimeout time.Duration
}

func (m *mzFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&m.url, "materialize", "", "Materialize connection URL, e.g. postgres://user@host:6875/materialize (env MZSYNC_MATERIALIZE)")
	fs.DurationVar(&m.connectTimeout, "connect-timeout", observed.DefaultConnectTimeout, "give up connecting to Materialize after this long; a connect_timeout in the URL wins")
	fs.DurationVar(&m.statementTimeout, "statement-timeout", observed.DefaultStatementTimeout, "give up on any one catalog read or statement after this long")
}

func (m *mzFlags) check() error {
	if m.url == "" {
		return errors.New("--materialize (or MZSYNC_MATERIALIZE) is required")
	}
	if m.connectTimeout <= 0 || m.statementTimeout <= 0 {
		return errors.New("--connect-timeout and --statement-timeout must be positive")
	}
	return nil
}

// db returns a reconnecting session to Materialize for the job named by
// what, with a second session for catalog reads on mz_catalog_server
// (checked to be a Materialize that mzsync can drive). Errors never carry
// the password; every statement and read has a deadline.
func (m *mzFlags) db(what string) *reconcile.PgxDB {
	url := m.url
	opts := observed.ConnectOptions{Timeout: m.connectTimeout}
	db := reconcile.NewPgxDB(func(ctx context.Context) (*pgx.Conn, error) {
		return observed.Connect(ctx, url, what, opts)
	})
	db.Timeout = m.statementTimeout
	db.CatalogSetup = func(ctx context.Context, c *pgx.Conn) error {
		_, err := observed.PrepareCatalogSession(ctx, c)
		return err
	}
	return db
}

// observerFor reads the catalog over db. With des set, observation also
// inspects the upstream databases named by the sources' urlEnv variables.
func observerFor(db *reconcile.PgxDB, des *model.Desired, e *env) *observed.Observer {
	o := &observed.Observer{Conn: func(ctx context.Context) (observed.Querier, error) { return db.Conn(ctx) }, Timeout: db.Timeout}
	if des != nil {
		o.Desired = des
		o.LookupEnv = func(k string) (string, bool) {
			v := e.getenv(k)
			return v, v != ""
		}
	}
	return o
}
