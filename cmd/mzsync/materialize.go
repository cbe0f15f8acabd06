package main

import (
	"context"
	"errors"
	"flag"

	"github.com/jackc/pgx/v5"

	"github.com/mzsync/mzsync/internal/model"
	"github.com/mzsync/mzsync/internal/observed"
	"github.com/mzsync/mzsync/internal/reconcile"
)

// mzFlags holds the Materialize connection flag.
type mzFlags struct {
	url string
}

func (m *mzFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&m.url, "materialize", "", "Materialize connection URL, e.g. postgres://user@host:6875/materialize (env MZSYNC_MATERIALIZE)")
}

func (m *mzFlags) check() error {
	if m.url == "" {
		return errors.New("--materialize (or MZSYNC_MATERIALIZE) is required")
	}
	return nil
}

// db returns a reconnecting session to Materialize for the job named by
// what. Errors never carry the password.
func (m *mzFlags) db(what string) *reconcile.PgxDB {
	url := m.url
	return reconcile.NewPgxDB(func(ctx context.Context) (*pgx.Conn, error) {
		return observed.Connect(ctx, url, what)
	})
}

// observerFor reads the catalog over db. With des set, observation also
// inspects the upstream databases named by the sources' urlEnv variables.
func observerFor(db *reconcile.PgxDB, des *model.Desired, e *env) *observed.Observer {
	o := &observed.Observer{Conn: func(ctx context.Context) (observed.Querier, error) { return db.Conn(ctx) }}
	if des != nil {
		o.Desired = des
		o.LookupEnv = func(k string) (string, bool) {
			v := e.getenv(k)
			return v, v != ""
		}
	}
	return o
}
