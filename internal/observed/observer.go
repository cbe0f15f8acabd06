package observed

import (
	"context"
	"fmt"

	"github.com/mzsync/mzsync/internal/model"
)

// Observer reads the catalog for reconcile.Apply: the whole state in one
// batch, and readiness facts in one query per poll. It only reads.
type Observer struct {
	// Conn returns the session to read over (reconnecting if needed).
	Conn func(ctx context.Context) (Querier, error)
	// Desired and LookupEnv, when both set, make Observe also inspect the
	// upstream database of every declared source whose urlEnv variable is
	// set (for drift). Leave them nil for apply.
	Desired   *model.Desired
	LookupEnv func(string) (string, bool)
}

// Observe reads the whole observed state. With Desired and LookupEnv set,
// it also inspects upstream; sources that cannot be inspected stay out of
// Observed.Upstream and the joined error says why, next to a usable state.
func (o *Observer) Observe(ctx context.Context) (*model.Observed, error) {
	q, err := o.conn(ctx)
	if err != nil {
		return nil, err
	}
	obs, err := Read(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("read the Materialize catalog: %w", err)
	}
	if o.Desired != nil && o.LookupEnv != nil {
		ups, err := ReadUpstreams(ctx, o.Desired, obs, o.LookupEnv)
		obs.Upstream = ups
		if err != nil {
			return obs, err
		}
	}
	return obs, nil
}

// RefreshReadiness updates the readiness facts of every object in obs with
// one catalog query.
func (o *Observer) RefreshReadiness(ctx context.Context, obs *model.Observed) error {
	var ids []string
	for _, s := range obs.Schemas {
		for _, obj := range s.Objects {
			ids = append(ids, obj.ID)
		}
	}
	q, err := o.conn(ctx)
	if err != nil {
		return err
	}
	rs, err := ReadReadiness(ctx, q, ids)
	if err != nil {
		return err
	}
	byID := make(map[string]Readiness, len(rs))
	for _, r := range rs {
		byID[r.ID] = r
	}
	for si := range obs.Schemas {
		for oi := range obs.Schemas[si].Objects {
			obj := &obs.Schemas[si].Objects[oi]
			if r, ok := byID[obj.ID]; ok {
				obj.SnapshotCommitted, obj.Status, obj.Error = r.SnapshotCommitted, r.Status, r.Error
				obj.Hydrated, obj.Lag = r.Hydrated, r.Lag
			}
		}
	}
	return nil
}

// conn returns the session, guarded against array parameters.
func (o *Observer) conn(ctx context.Context) (Querier, error) {
	q, err := o.Conn(ctx)
	if err != nil {
		return nil, err
	}
	return MaterializeQuerier{Q: q}, nil
}
