package observed

import (
	"context"
	"errors"
	"fmt"
	"time"

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
	// RefreshReferences, with Desired and LookupEnv, makes Observe fall
	// back, for each source whose upstream could not be inspected, on
	// ALTER SOURCE ... REFRESH REFERENCES and mz_source_references
	// (Observed.References). That is DDL: set it only when the user asked
	// (drift --refresh-references).
	RefreshReferences bool
	// Timeout bounds each catalog read (and each source's upstream
	// inspection); zero means DefaultStatementTimeout.
	Timeout time.Duration
}

func (o *Observer) timeout() time.Duration {
	if o.Timeout > 0 {
		return o.Timeout
	}
	return DefaultStatementTimeout
}

// Observe reads the whole observed state. With Desired and LookupEnv set,
// it also inspects upstream; sources that cannot be inspected stay out of
// Observed.Upstream and the joined error says why, next to a usable state.
func (o *Observer) Observe(parent context.Context) (*model.Observed, error) {
	ctx, cancel := context.WithTimeout(parent, o.timeout())
	defer cancel()
	q, err := o.conn(ctx)
	if err != nil {
		return nil, o.timedOut(parent, ctx, nil, err)
	}
	obs, err := Read(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("read the Materialize catalog: %w", o.timedOut(parent, ctx, q, err))
	}
	if obs.Access, err = ReadAccess(ctx, q); err != nil {
		return nil, fmt.Errorf("read the Materialize catalog: %w", o.timedOut(parent, ctx, q, err))
	}
	cancel()
	if o.Desired != nil && o.LookupEnv != nil {
		ups, why, err := readUpstreams(parent, o.Desired, obs, o.LookupEnv, o.timeout())
		obs.Upstream = ups
		if o.RefreshReferences && len(ups) < len(o.Desired.Sources) {
			obs.References = refreshMissingReferences(parent, q, o.Desired, obs, ups, why, o.timeout())
		}
		if len(why) > 0 {
			obs.UpstreamErrors = why
		}
		if err != nil {
			return obs, err
		}
	}
	return obs, nil
}

// timedOut says which server did not answer in time when the read's own
// deadline (not the caller's) expired.
func (o *Observer) timedOut(parent, ctx context.Context, q Querier, err error) error {
	if parent.Err() != nil || !errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return err
	}
	if m, ok := q.(MaterializeQuerier); ok {
		q = m.Q
	}
	if where := Where(q); where != "" {
		return fmt.Errorf("no answer from %s within %s: %w", where, o.timeout(), err)
	}
	return fmt.Errorf("no answer within %s: %w", o.timeout(), err)
}

// RefreshReadiness updates the readiness facts of every object in obs with
// one catalog query.
func (o *Observer) RefreshReadiness(parent context.Context, obs *model.Observed) error {
	var ids []string
	for _, s := range obs.Schemas {
		for _, obj := range s.Objects {
			ids = append(ids, obj.ID)
		}
	}
	// Sources too: a stalled source is what a stalled table may mean.
	for _, s := range obs.Sources {
		ids = append(ids, s.ID)
	}
	ctx, cancel := context.WithTimeout(parent, o.timeout())
	defer cancel()
	q, err := o.conn(ctx)
	if err != nil {
		return o.timedOut(parent, ctx, nil, err)
	}
	rs, err := ReadReadiness(ctx, q, ids)
	if err != nil {
		return o.timedOut(parent, ctx, q, err)
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
	for i := range obs.Sources {
		if r, ok := byID[obs.Sources[i].ID]; ok {
			obs.Sources[i].Status, obs.Sources[i].Error = r.Status, r.Error
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
