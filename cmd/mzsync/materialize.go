package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"slices"

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

// catalogObserver implements reconcile.Observer over internal/observed.
type catalogObserver struct {
	db *reconcile.PgxDB
	// des, when set with upstream true, says which sources' upstream
	// databases to inspect (through their urlEnv variables).
	des      *model.Desired
	upstream bool
	getenv   func(string) string
}

// Observe implements reconcile.Observer.
func (c *catalogObserver) Observe(ctx context.Context) (*model.Observed, error) {
	conn, err := c.db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	o, err := observed.Read(ctx, conn)
	if err != nil {
		return nil, fmt.Errorf("read the Materialize catalog: %w", err)
	}
	if c.upstream && c.des != nil {
		if err := c.readUpstream(ctx, o); err != nil {
			return nil, err
		}
	}
	return o, nil
}

// readUpstream inspects each declared source's upstream database whose
// urlEnv variable is set. Sources without one stay out of o.Upstream, and
// drift reports them as unchecked.
func (c *catalogObserver) readUpstream(ctx context.Context, o *model.Observed) error {
	for _, src := range c.des.Sources {
		if src.UpstreamURLEnv == "" || c.getenv(src.UpstreamURLEnv) == "" {
			continue
		}
		var tables []model.UpstreamRef
		for _, s := range c.des.Schemas {
			for _, v := range s.Versions {
				for _, obj := range v.Objects {
					if obj.Kind == model.KindTable && obj.Source == src.Ref() && !slices.Contains(tables, obj.Reference) {
						tables = append(tables, obj.Reference)
					}
				}
			}
		}
		what := fmt.Sprintf("inspect upstream of source %s (from $%s)", src.Name, src.UpstreamURLEnv)
		conn, err := observed.Connect(ctx, c.getenv(src.UpstreamURLEnv), what)
		if err != nil {
			return err
		}
		st, err := observed.ReadUpstream(ctx, conn, src.Publication, tables)
		conn.Close(ctx)
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		if o.Upstream == nil {
			o.Upstream = map[string]model.UpstreamState{}
		}
		o.Upstream[src.Name] = st
	}
	return nil
}

// RefreshReadiness implements reconcile.Observer with one catalog query.
func (c *catalogObserver) RefreshReadiness(ctx context.Context, o *model.Observed) error {
	var ids []string
	for _, s := range o.Schemas {
		for _, obj := range s.Objects {
			ids = append(ids, obj.ID)
		}
	}
	conn, err := c.db.Conn(ctx)
	if err != nil {
		return err
	}
	rs, err := observed.ReadReadiness(ctx, conn, ids)
	if err != nil {
		return err
	}
	byID := make(map[string]observed.Readiness, len(rs))
	for _, r := range rs {
		byID[r.ID] = r
	}
	for si := range o.Schemas {
		for oi := range o.Schemas[si].Objects {
			obj := &o.Schemas[si].Objects[oi]
			r, ok := byID[obj.ID]
			if !ok {
				continue
			}
			obj.SnapshotCommitted, obj.Status, obj.Error = r.SnapshotCommitted, r.Status, r.Error
			obj.Hydrated, obj.Lag = r.Hydrated, r.Lag
		}
	}
	return nil
}
