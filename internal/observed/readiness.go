package observed

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgtype"
)

// Readiness is what the catalog says about one object's readiness at the
// moment of a poll.
type Readiness struct {
	ID string
	// Exists is false when no object has the ID (it was dropped).
	Exists bool
	// SnapshotCommitted: a source-fed table's initial snapshot committed
	// on every replica that reports on it.
	SnapshotCommitted bool
	// Status and Error come from mz_source_statuses (source-fed tables and
	// sources); empty for other objects.
	Status string
	Error  string
	// Hydrated: a materialized view or index is hydrated on at least one
	// replica.
	Hydrated bool
	// Lag is the wallclock global lag, nil when unknown.
	Lag *time.Duration
}

// qReadiness reads the readiness facts of a list of object IDs in one
// query. The per-replica relations are aggregated before the join so each
// ID yields exactly one row. The IDs travel as one text parameter holding
// an array literal ('{"u1","u2"}') cast on the server: Materialize cannot
// decode an array parameter sent in binary, which is how pgx sends a Go
// slice (SQLSTATE 22023, "input of array types is not implemented").
const qReadiness = `SELECT i.id,
       o.id IS NOT NULL,
       COALESCE(st.committed, false),
       COALESCE(ss.status, ''),
       COALESCE(ss.error, ''),
       COALESCE(h.hydrated, false),
       l.lag
  FROM unnest(CAST($1::text AS text[])) AS i(id)
  LEFT JOIN mz_catalog.mz_objects o ON o.id = i.id
  LEFT JOIN (SELECT id, bool_and(snapshot_committed) AS committed
               FROM mz_internal.mz_source_statistics GROUP BY id) st ON st.id = i.id
  LEFT JOIN mz_internal.mz_source_statuses ss ON ss.id = i.id
  LEFT JOIN (SELECT object_id, bool_or(COALESCE(hydrated, false)) AS hydrated
               FROM mz_internal.mz_hydration_statuses GROUP BY object_id) h ON h.object_id = i.id
  LEFT JOIN mz_internal.mz_wallclock_global_lag l ON l.object_id = i.id`

// ReadReadiness reads the readiness facts of the objects with the given
// IDs in one query, for polling while apply waits. The result has one
// entry per distinct ID, sorted by ID.
func ReadReadiness(ctx context.Context, q Querier, ids []string) ([]Readiness, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	ids = slices.Clone(ids)
	slices.Sort(ids)
	ids = slices.Compact(ids)
	rows, err := q.Query(ctx, qReadiness, TextArray(ids))
	if err != nil {
		return nil, fmt.Errorf("read readiness of %d objects: %w", len(ids), err)
	}
	defer rows.Close()
	var out []Readiness
	for rows.Next() {
		var r Readiness
		var lag pgtype.Interval
		if err := rows.Scan(&r.ID, &r.Exists, &r.SnapshotCommitted, &r.Status, &r.Error, &r.Hydrated, &lag); err != nil {
			return nil, fmt.Errorf("read readiness: %w", err)
		}
		if d, ok := intervalDuration(lag); ok {
			r.Lag = &d
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read readiness of %d objects: %w", len(ids), err)
	}
	slices.SortFunc(out, func(a, b Readiness) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}
