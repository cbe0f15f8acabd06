package observed

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/mzsync/mzsync/internal/model"
)

// The catalog queries. They filter on current_database() through
// mz_schemas/mz_databases (system schemas have no database and drop out),
// cast every Materialize-only type (uint8 positions) so pgx can decode it,
// and never touch a user relation.
const (
	qDatabase = `SELECT current_database()`

	qSchemas = `SELECT s.id, s.name, COALESCE(c.comment, '')
  FROM mz_catalog.mz_schemas s
  JOIN mz_catalog.mz_databases d ON d.id = s.database_id
  LEFT JOIN mz_internal.mz_comments c
    ON c.id = s.id AND c.object_type = 'schema' AND c.object_sub_id IS NULL
 WHERE d.name = current_database()`

	// Schema, cluster and role IDs live in namespaces of their own, so an
	// item's comment is matched on its ID and a non-schema object type.
	qObjects = `SELECT o.id, o.schema_id, o.name, o.type, COALESCE(c.comment, '')
  FROM mz_catalog.mz_objects o
  JOIN mz_catalog.mz_schemas s ON s.id = o.schema_id
  JOIN mz_catalog.mz_databases d ON d.id = s.database_id
  LEFT JOIN mz_internal.mz_comments c
    ON c.id = o.id AND c.object_sub_id IS NULL
   AND c.object_type NOT IN ('schema', 'database', 'cluster', 'cluster-replica', 'role', 'network-policy')
 WHERE d.name = current_database()`

	qSourceTables = `SELECT t.id, t.source_id, COALESCE(p.schema_name, ''), COALESCE(p.table_name, ''), COALESCE(t.create_sql, '')
  FROM mz_catalog.mz_tables t
  JOIN mz_catalog.mz_schemas s ON s.id = t.schema_id
  JOIN mz_catalog.mz_databases d ON d.id = s.database_id
  LEFT JOIN mz_internal.mz_postgres_source_tables p ON p.id = t.id
 WHERE d.name = current_database() AND t.source_id IS NOT NULL`

	qMaterializedViews = `SELECT mv.id, COALESCE(cl.name, ''), COALESCE(mv.definition, '')
  FROM mz_catalog.mz_materialized_views mv
  JOIN mz_catalog.mz_schemas s ON s.id = mv.schema_id
  JOIN mz_catalog.mz_databases d ON d.id = s.database_id
  LEFT JOIN mz_catalog.mz_clusters cl ON cl.id = mv.cluster_id
 WHERE d.name = current_database()`

	// View definitions, compared with the manifests' SQL when a hand-built
	// schema is adopted.
	qViews = `SELECT v.id, COALESCE(v.definition, '')
  FROM mz_catalog.mz_views v
  JOIN mz_catalog.mz_schemas s ON s.id = v.schema_id
  JOIN mz_catalog.mz_databases d ON d.id = s.database_id
 WHERE d.name = current_database()`

	// Index keys: a column's position in the indexed object, or the text
	// of an expression.
	qIndexColumns = `SELECT ic.index_id, ic.index_position::int8, COALESCE(ic.on_position::int8, 0), COALESCE(ic.on_expression, '')
  FROM mz_catalog.mz_index_columns ic
 WHERE ic.index_id LIKE 'u%'`

	// Indexes and columns are read for every user object and matched to
	// this database's objects in Go: joining them to mz_objects and
	// mz_schemas costs the server more (ten to twenty times more on mzemu)
	// than sending the rows of other databases, which are few.
	qIndexes = `SELECT i.id, i.on_id, COALESCE(cl.name, '')
  FROM mz_catalog.mz_indexes i
  LEFT JOIN mz_catalog.mz_clusters cl ON cl.id = i.cluster_id
 WHERE i.id LIKE 'u%'`

	qSources = `SELECT so.id, s.name, so.name, so.type, COALESCE(cl.name, ''),
       COALESCE(cs.name, ''), COALESCE(cn.name, ''), COALESCE(c.comment, '')
  FROM mz_catalog.mz_sources so
  JOIN mz_catalog.mz_schemas s ON s.id = so.schema_id
  JOIN mz_catalog.mz_databases d ON d.id = s.database_id
  LEFT JOIN mz_catalog.mz_clusters cl ON cl.id = so.cluster_id
  LEFT JOIN mz_catalog.mz_connections cn ON cn.id = so.connection_id
  LEFT JOIN mz_catalog.mz_schemas cs ON cs.id = cn.schema_id
  LEFT JOIN mz_internal.mz_comments c
    ON c.id = so.id AND c.object_type = 'source' AND c.object_sub_id IS NULL
 WHERE d.name = current_database()`

	qColumns = `SELECT c.id, c.name, c.position::int8, c.type, c.nullable, c.type_oid, COALESCE(c.type_mod, -1)
  FROM mz_catalog.mz_columns c
 WHERE c.id LIKE 'u%'`

	// Dependencies are read for every user object, not only this
	// database's: a view in another database that reads a retired version
	// still blocks dropping it.
	qDependencies = `SELECT object_id, referenced_object_id
  FROM mz_internal.mz_object_dependencies
 WHERE object_id LIKE 'u%'`

	qClusters = `SELECT id, name FROM mz_catalog.mz_clusters`

	qReplicas = `SELECT id, name, cluster_id FROM mz_catalog.mz_cluster_replicas`

	qSnapshots = `SELECT id, bool_and(snapshot_committed)
  FROM mz_internal.mz_source_statistics
 WHERE id LIKE 'u%'
 GROUP BY id`

	qSourceStatuses = `SELECT id, status, COALESCE(error, '')
  FROM mz_internal.mz_source_statuses
 WHERE id LIKE 'u%'`

	qHydration = `SELECT object_id, bool_or(COALESCE(hydrated, false))
  FROM mz_internal.mz_hydration_statuses
 WHERE object_id LIKE 'u%'
 GROUP BY object_id`

	qLag = `SELECT object_id, lag
  FROM mz_internal.mz_wallclock_global_lag
 WHERE object_id LIKE 'u%' AND lag IS NOT NULL`

	// Out-of-memory kills per replica over the last day: a cluster whose
	// every replica keeps being killed cannot hydrate anything.
	qOOMKills = `SELECT replica_id, count(*)::int8
  FROM mz_internal.mz_cluster_replica_status_history
 WHERE reason = 'oom-killed' AND occurred_at + INTERVAL '24 hours' > mz_now()
 GROUP BY replica_id`

	// Last in the batch: newer Materialize versions may not have it, and
	// everything before it is read by then.
	qReplicaStatuses = `SELECT replica_id, status FROM mz_internal.mz_cluster_replica_statuses`
)

// Read reads the catalog of the current database into a model.Observed:
// schemas and their objects with markers decoded, sources, clusters,
// dependencies, readiness facts, the lease and the fingerprint. All
// queries go out as one batch, so a pass costs one round trip however many
// objects there are (see CountingQuerier). Upstream is left nil: see ReadUpstream.
func Read(ctx context.Context, q Querier) (*model.Observed, error) {
	return read(ctx, q)
}

// rawCatalog is the catalog as the queries return it, keyed by ID.
type rawCatalog struct {
	database        string
	schemas         []model.ObservedSchema
	objects         []rawObject
	sourceTables    map[string]rawSourceTable
	mvClusters      map[string]string
	definitions     map[string]string    // view or materialized view id -> definition
	indexes         map[string][2]string // id -> on_id, cluster
	indexKeys       map[string][]rawIndexKey
	sources         []rawSource
	columns         map[string][]model.Column
	deps            []model.Dependency
	clusters        []model.Cluster
	replicas        []rawReplica
	snapshots       map[string]bool
	statuses        map[string][2]string // id -> status, error
	hydrated        map[string]bool
	lags            map[string]time.Duration
	oomKills        map[string]int
	replicaStatuses map[string]string
}

type rawObject struct {
	id, schemaID, name, typ, comment string
}

type rawIndexKey struct {
	pos, onPos int64
	expr       string
}

type rawSourceTable struct {
	sourceID, upSchema, upTable, createSQL string
}

type rawSource struct {
	id, schema, name, typ, cluster, connSchema, connName, comment string
}

type rawReplica struct {
	id, name, clusterID string
}

func read(ctx context.Context, q Querier) (*model.Observed, error) {
	raw := rawCatalog{
		sourceTables:    map[string]rawSourceTable{},
		mvClusters:      map[string]string{},
		definitions:     map[string]string{},
		indexes:         map[string][2]string{},
		indexKeys:       map[string][]rawIndexKey{},
		columns:         map[string][]model.Column{},
		snapshots:       map[string]bool{},
		statuses:        map[string][2]string{},
		hydrated:        map[string]bool{},
		lags:            map[string]time.Duration{},
		oomKills:        map[string]int{},
		replicaStatuses: map[string]string{},
	}
	steps := []struct {
		what string
		sql  string
		scan func(pgx.Rows) error
	}{
		{"current database", qDatabase, func(r pgx.Rows) error { return r.Scan(&raw.database) }},
		{"schemas", qSchemas, func(r pgx.Rows) error {
			var s model.ObservedSchema
			if err := r.Scan(&s.ID, &s.Name, &s.Comment); err != nil {
				return err
			}
			raw.schemas = append(raw.schemas, s)
			return nil
		}},
		{"objects", qObjects, func(r pgx.Rows) error {
			var o rawObject
			if err := r.Scan(&o.id, &o.schemaID, &o.name, &o.typ, &o.comment); err != nil {
				return err
			}
			raw.objects = append(raw.objects, o)
			return nil
		}},
		{"source-fed tables", qSourceTables, func(r pgx.Rows) error {
			var id string
			var t rawSourceTable
			if err := r.Scan(&id, &t.sourceID, &t.upSchema, &t.upTable, &t.createSQL); err != nil {
				return err
			}
			raw.sourceTables[id] = t
			return nil
		}},
		{"materialized views", qMaterializedViews, func(r pgx.Rows) error {
			var id, cluster, def string
			if err := r.Scan(&id, &cluster, &def); err != nil {
				return err
			}
			raw.mvClusters[id] = cluster
			raw.definitions[id] = def
			return nil
		}},
		{"views", qViews, func(r pgx.Rows) error {
			var id, def string
			if err := r.Scan(&id, &def); err != nil {
				return err
			}
			raw.definitions[id] = def
			return nil
		}},
		{"indexes", qIndexes, func(r pgx.Rows) error {
			var id, on, cluster string
			if err := r.Scan(&id, &on, &cluster); err != nil {
				return err
			}
			raw.indexes[id] = [2]string{on, cluster}
			return nil
		}},
		{"index columns", qIndexColumns, func(r pgx.Rows) error {
			var id string
			var k rawIndexKey
			if err := r.Scan(&id, &k.pos, &k.onPos, &k.expr); err != nil {
				return err
			}
			raw.indexKeys[id] = append(raw.indexKeys[id], k)
			return nil
		}},
		{"sources", qSources, func(r pgx.Rows) error {
			var s rawSource
			if err := r.Scan(&s.id, &s.schema, &s.name, &s.typ, &s.cluster, &s.connSchema, &s.connName, &s.comment); err != nil {
				return err
			}
			raw.sources = append(raw.sources, s)
			return nil
		}},
		{"columns", qColumns, func(r pgx.Rows) error {
			var id string
			var c model.Column
			var pos int64
			var oid pgtype.Uint32
			if err := r.Scan(&id, &c.Name, &pos, &c.Type, &c.Nullable, &oid, &c.TypeMod); err != nil {
				return err
			}
			c.Position = int(pos)
			c.TypeOID = oid.Uint32
			raw.columns[id] = append(raw.columns[id], c)
			return nil
		}},
		{"dependencies", qDependencies, func(r pgx.Rows) error {
			var d model.Dependency
			if err := r.Scan(&d.Object, &d.Referenced); err != nil {
				return err
			}
			raw.deps = append(raw.deps, d)
			return nil
		}},
		{"clusters", qClusters, func(r pgx.Rows) error {
			var c model.Cluster
			if err := r.Scan(&c.ID, &c.Name); err != nil {
				return err
			}
			raw.clusters = append(raw.clusters, c)
			return nil
		}},
		{"cluster replicas", qReplicas, func(r pgx.Rows) error {
			var rr rawReplica
			if err := r.Scan(&rr.id, &rr.name, &rr.clusterID); err != nil {
				return err
			}
			raw.replicas = append(raw.replicas, rr)
			return nil
		}},
		{"source statistics", qSnapshots, func(r pgx.Rows) error {
			var id string
			var committed pgtype.Bool
			if err := r.Scan(&id, &committed); err != nil {
				return err
			}
			raw.snapshots[id] = committed.Valid && committed.Bool
			return nil
		}},
		{"source statuses", qSourceStatuses, func(r pgx.Rows) error {
			var id, status, msg string
			if err := r.Scan(&id, &status, &msg); err != nil {
				return err
			}
			raw.statuses[id] = [2]string{status, msg}
			return nil
		}},
		{"hydration statuses", qHydration, func(r pgx.Rows) error {
			var id string
			var hydrated pgtype.Bool
			if err := r.Scan(&id, &hydrated); err != nil {
				return err
			}
			raw.hydrated[id] = hydrated.Valid && hydrated.Bool
			return nil
		}},
		{"wallclock lag", qLag, func(r pgx.Rows) error {
			var id string
			var lag pgtype.Interval
			if err := r.Scan(&id, &lag); err != nil {
				return err
			}
			if d, ok := intervalDuration(lag); ok {
				raw.lags[id] = d
			}
			return nil
		}},
		{"replica OOM kills", qOOMKills, func(r pgx.Rows) error {
			var id string
			var n int64
			if err := r.Scan(&id, &n); err != nil {
				return err
			}
			raw.oomKills[id] = int(n)
			return nil
		}},
	}
	steps = append(steps, struct {
		what string
		sql  string
		scan func(pgx.Rows) error
	}{"cluster replica statuses", qReplicaStatuses, func(r pgx.Rows) error {
		var id, status string
		if err := r.Scan(&id, &status); err != nil {
			return err
		}
		// A replica is as healthy as its least healthy process.
		if prev, ok := raw.replicaStatuses[id]; !ok || prev == "online" {
			raw.replicaStatuses[id] = status
		}
		return nil
	}})

	b := &pgx.Batch{}
	for _, s := range steps {
		b.Queue(s.sql)
	}
	br := q.SendBatch(ctx, b)
	for _, s := range steps {
		if err := scanAll(br, s.scan); err != nil {
			br.Close()
			return nil, fmt.Errorf("read catalog %s: %w", s.what, err)
		}
	}
	if err := br.Close(); err != nil {
		return nil, fmt.Errorf("read catalog: %w", err)
	}
	return assemble(&raw), nil
}

func scanAll(br pgx.BatchResults, scan func(pgx.Rows) error) error {
	rows, err := br.Query()
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := scan(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

// assemble joins the raw rows into the model, decodes markers and the
// lease, sorts everything and computes the fingerprint.
func assemble(raw *rawCatalog) *model.Observed {
	obs := &model.Observed{Database: raw.database}

	schemaIdx := map[string]int{}
	leaseComments := map[string]string{}
	for _, s := range raw.schemas {
		if model.IsLeaseSchema(s.Name) {
			leaseComments[s.Name] = s.Comment
			continue // the lease protocol's helper schemas are not managed
		}
		if m, ok := model.ParseSchemaMarker(s.Comment); ok {
			s.Marker = &m
		}
		schemaIdx[s.ID] = len(obs.Schemas)
		obs.Schemas = append(obs.Schemas, s)
	}

	if c, ok := leaseComments[model.LeaseSchema]; ok {
		obs.Lease = decodeLease(c, leaseComments)
	}

	for _, ro := range raw.objects {
		i, ok := schemaIdx[ro.schemaID]
		if !ok {
			continue // the lease schema's contents, if anyone put any there
		}
		o := model.ObservedObject{ID: ro.id, Kind: model.Kind(ro.typ), Name: ro.name, Comment: ro.comment}
		if m, ok := model.ParseObjectMarker(ro.comment); ok {
			o.Marker = &m
		}
		if t, ok := raw.sourceTables[ro.id]; ok {
			opts := parseTableFromSource(t.createSQL)
			o.SourceID = t.sourceID
			o.Reference = model.UpstreamRef{Schema: t.upSchema, Table: t.upTable}
			if o.Reference.Table == "" {
				// No mz_postgres_source_tables row: fall back on the
				// stored statement's REFERENCE.
				o.Reference = opts.Reference
			}
			o.TextColumns = opts.TextColumns
			o.ExcludeColumns = opts.ExcludeColumns
			o.Keys = opts.Keys
			if opts.Details != "" {
				// Undecodable details leave the baseline unknown; drift
				// then falls back on what mz_columns tells.
				if p, err := decodeDetails(opts.Details); err == nil {
					o.Pinned = p
				}
			}
		}
		if c, ok := raw.mvClusters[ro.id]; ok {
			o.Cluster = c
		}
		o.Definition = raw.definitions[ro.id]
		if ix, ok := raw.indexes[ro.id]; ok {
			o.OnID, o.Cluster = ix[0], ix[1]
			o.IndexKeys = indexKeys(raw.indexKeys[ro.id], raw.columns[o.OnID])
		}
		if cols := raw.columns[ro.id]; len(cols) > 0 {
			slices.SortFunc(cols, func(a, b model.Column) int { return cmp.Compare(a.Position, b.Position) })
			o.Columns = cols
		}
		o.SnapshotCommitted = raw.snapshots[ro.id]
		if st, ok := raw.statuses[ro.id]; ok {
			o.Status, o.Error = st[0], st[1]
		}
		o.Hydrated = raw.hydrated[ro.id]
		if d, ok := raw.lags[ro.id]; ok {
			o.Lag = &d
		}
		obs.Schemas[i].Objects = append(obs.Schemas[i].Objects, o)
	}
	slices.SortFunc(obs.Schemas, func(a, b model.ObservedSchema) int {
		return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.ID, b.ID))
	})
	for i := range obs.Schemas {
		slices.SortFunc(obs.Schemas[i].Objects, func(a, b model.ObservedObject) int {
			return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.ID, b.ID))
		})
	}

	for _, rs := range raw.sources {
		s := model.ObservedSource{
			ID: rs.id, Schema: rs.schema, Name: rs.name, Type: rs.typ,
			Cluster: rs.cluster, Connection: rs.connName, Comment: rs.comment,
		}
		// Like a manifest: the bare name when the connection sits beside
		// the source, schema-qualified otherwise.
		if rs.connName != "" && rs.connSchema != rs.schema {
			s.Connection = rs.connSchema + "." + rs.connName
		}
		if m, ok := model.ParseObjectMarker(rs.comment); ok {
			s.Marker = &m
		}
		if st, ok := raw.statuses[rs.id]; ok {
			s.Status, s.Error = st[0], st[1]
		}
		obs.Sources = append(obs.Sources, s)
	}
	slices.SortFunc(obs.Sources, func(a, b model.ObservedSource) int {
		return cmp.Or(cmp.Compare(a.Schema, b.Schema), cmp.Compare(a.Name, b.Name), cmp.Compare(a.ID, b.ID))
	})

	clusterIdx := map[string]int{}
	for i, c := range raw.clusters {
		clusterIdx[c.ID] = i
	}
	for _, r := range raw.replicas {
		if i, ok := clusterIdx[r.clusterID]; ok {
			raw.clusters[i].Replicas = append(raw.clusters[i].Replicas,
				model.Replica{ID: r.id, Name: r.name, Status: raw.replicaStatuses[r.id], OOMKills: raw.oomKills[r.id]})
		}
	}
	for i := range raw.clusters {
		slices.SortFunc(raw.clusters[i].Replicas, func(a, b model.Replica) int {
			return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.ID, b.ID))
		})
	}
	slices.SortFunc(raw.clusters, func(a, b model.Cluster) int {
		return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.ID, b.ID))
	})
	obs.Clusters = raw.clusters

	slices.SortFunc(raw.deps, func(a, b model.Dependency) int {
		return cmp.Or(cmp.Compare(a.Object, b.Object), cmp.Compare(a.Referenced, b.Referenced))
	})
	obs.Dependencies = slices.Compact(raw.deps)

	obs.Fingerprint = Fingerprint(obs)
	return obs
}

// indexKeys names an index's keys in order: the column at each position
// of the indexed object, or "expr:" and an expression's text.
func indexKeys(keys []rawIndexKey, cols []model.Column) []string {
	if len(keys) == 0 {
		return nil
	}
	slices.SortFunc(keys, func(a, b rawIndexKey) int { return cmp.Compare(a.pos, b.pos) })
	out := make([]string, 0, len(keys))
	for _, k := range keys {
		name := "expr:" + k.expr
		if k.expr == "" {
			name = fmt.Sprintf("position %d", k.onPos)
			for _, c := range cols {
				if int64(c.Position) == k.onPos {
					name = c.Name
				}
			}
		}
		out = append(out, name)
	}
	return out
}

// decodeLease reads the lease schema's comment. A schema without a
// (valid) comment is a lease being acquired: Owner empty, Expires zero.
// The holder renews by commenting its fence schema (LeaseFencePrefix +
// token), so the fence's expiry, when there is one, is the current one.
func decodeLease(comment string, helpers map[string]string) *model.Lease {
	l, _ := model.ParseLeaseComment(comment)
	if l.Token != "" {
		if f, ok := model.ParseLeaseComment(helpers[model.LeaseFencePrefix+l.Token]); ok && !f.Expires.IsZero() {
			l.Expires = f.Expires
		}
	}
	return &l
}

// intervalDuration converts an interval to a duration, counting a month
// as 30 days (lags are never that long). ok is false for NULL.
func intervalDuration(iv pgtype.Interval) (time.Duration, bool) {
	if !iv.Valid {
		return 0, false
	}
	d := time.Duration(iv.Microseconds) * time.Microsecond
	d += time.Duration(iv.Days) * 24 * time.Hour
	d += time.Duration(iv.Months) * 30 * 24 * time.Hour
	return d, true
}
