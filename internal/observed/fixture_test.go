package observed

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"

	"github.com/mzsync/mzsync/internal/model"
	"github.com/mzsync/mzsync/internal/pgtest"
)

// fakeCatalogDDL builds, in a plain PostgreSQL database, the Materialize
// catalog relations Read and ReadReadiness query, with Materialize's
// column names (reference §2) and types close enough (uint8 as numeric,
// which the queries' casts turn into int8 as they do uint8). It lets the
// queries' joins, filters and aggregations be checked against rows chosen
// to be awkward, which a live emulator cannot easily be made to hold.
const fakeCatalogDDL = `
CREATE SCHEMA mz_catalog;
CREATE SCHEMA mz_internal;
CREATE TABLE mz_catalog.mz_databases (id text, oid oid, name text);
CREATE TABLE mz_catalog.mz_schemas (id text, oid oid, database_id text, name text);
CREATE TABLE mz_catalog.mz_objects (id text, oid oid, schema_id text, name text, type text, cluster_id text);
CREATE TABLE mz_catalog.mz_tables (id text, schema_id text, name text, create_sql text, source_id text);
CREATE TABLE mz_catalog.mz_materialized_views (id text, schema_id text, name text, cluster_id text, definition text);
CREATE TABLE mz_catalog.mz_indexes (id text, name text, on_id text, cluster_id text);
CREATE TABLE mz_catalog.mz_sources (id text, schema_id text, name text, type text, connection_id text, cluster_id text);
CREATE TABLE mz_catalog.mz_connections (id text, schema_id text, name text, type text);
CREATE TABLE mz_catalog.mz_columns (id text, name text, position numeric(20,0), nullable bool, type text, type_oid oid, type_mod int4);
CREATE TABLE mz_catalog.mz_clusters (id text, name text);
CREATE TABLE mz_catalog.mz_cluster_replicas (id text, name text, cluster_id text);
CREATE TABLE mz_internal.mz_comments (id text, object_type text, object_sub_id int4, comment text);
CREATE TABLE mz_internal.mz_object_dependencies (object_id text, referenced_object_id text);
CREATE TABLE mz_internal.mz_postgres_source_tables (id text, schema_name text, table_name text);
CREATE TABLE mz_internal.mz_source_statistics (id text, replica_id text, snapshot_committed bool);
CREATE TABLE mz_internal.mz_source_statuses (id text, name text, type text, status text, error text);
CREATE TABLE mz_internal.mz_hydration_statuses (object_id text, replica_id text, hydrated bool);
CREATE TABLE mz_internal.mz_wallclock_global_lag (object_id text, lag interval);
CREATE TABLE mz_internal.mz_cluster_replica_statuses (replica_id text, process_id numeric(20,0), status text);
`

// fakeCatalogRows fills the fake catalog. Awkward on purpose: schema u3
// and item u3 both exist and both have comments; a second database has
// objects that must not show; a replica has a process offline; a table
// has one replica with its snapshot committed and one without; a column
// comment (object_sub_id) must not be taken for the object's.
const fakeCatalogRows = `
INSERT INTO mz_catalog.mz_databases VALUES ('u1', 1, current_database()), ('u2', 2, 'other');
INSERT INTO mz_catalog.mz_schemas VALUES
  ('s1', 10, NULL, 'mz_catalog'),
  ('u3', 11, 'u1', 'public'),
  ('u7', 12, 'u1', 'app_v1'),
  ('u8', 13, 'u1', 'mzsync_lease'),
  ('u9', 14, 'u2', 'public');
INSERT INTO mz_internal.mz_comments VALUES
  ('u3', 'schema', NULL, 'the public schema'),
  ('u7', 'schema', NULL, 'mzsync:v1 schema=app version=v1 digest=sha256:v1'),
  ('u8', 'schema', NULL, 'mzsync:lease owner=w1 expires=2030-01-01T00:00:00Z'),
  ('u3', 'connection', NULL, 'the connection'),
  ('u10', 'table', NULL, 'mzsync:v1 digest=sha256:t'),
  ('u10', 'table', 1, 'a column comment'),
  ('u11', 'materialized-view', NULL, 'mzsync:v1 digest=sha256:mv'),
  ('u12', 'index', NULL, 'mzsync:v1 digest=sha256:ix'),
  ('u2', 'source', NULL, 'mzsync:v1 digest=sha256:src'),
  ('u1', 'cluster', NULL, 'a cluster comment');
INSERT INTO mz_catalog.mz_objects VALUES
  ('u3', 20, 'u3', 'pg_conn', 'connection', NULL),
  ('u2', 21, 'u3', 'pg', 'source', 'u2'),
  ('u10', 22, 'u7', 't', 'table', NULL),
  ('u11', 23, 'u7', 'mv', 'materialized-view', 'u1'),
  ('u12', 24, 'u7', 'mv_total_idx', 'index', 'u1'),
  ('u13', 25, 'u7', 'v', 'view', NULL),
  ('u50', 26, 'u9', 'elsewhere', 'view', NULL),
  ('s5', 27, 's1', 'mz_tables', 'table', NULL);
INSERT INTO mz_catalog.mz_connections VALUES ('u3', 'u3', 'pg_conn', 'postgres');
INSERT INTO mz_catalog.mz_sources VALUES ('u2', 'u3', 'pg', 'postgres', 'u3', 'u2');
INSERT INTO mz_catalog.mz_tables VALUES
  ('u10', 'u7', 't', 'CREATE TABLE materialize.app_v1.t (a pg_catalog.int4, b pg_catalog.bool) FROM SOURCE materialize.public.pg (REFERENCE = upstream.public.t) WITH (TEXT COLUMNS = (b), DETAILS = ''00'')', 'u2'),
  ('s5', 's1', 'mz_tables', NULL, NULL);
INSERT INTO mz_internal.mz_postgres_source_tables VALUES ('u10', 'public', 't');
INSERT INTO mz_catalog.mz_materialized_views VALUES ('u11', 'u7', 'mv', 'u1', 'SELECT 1;');
INSERT INTO mz_catalog.mz_indexes VALUES ('u12', 'mv_total_idx', 'u11', 'u1');
INSERT INTO mz_catalog.mz_columns VALUES
  ('u10', 'b', 2, true, 'text', 25, -1),
  ('u10', 'a', 1, false, 'integer', 23, -1),
  ('u11', 'total', 1, true, 'bigint', 20, -1),
  ('u13', 'x', 1, true, 'integer', 23, -1),
  ('u2', 'lsn', 1, true, 'uint8', 16464, -1),
  ('u50', 'y', 1, true, 'integer', 23, -1);
INSERT INTO mz_internal.mz_object_dependencies VALUES
  ('u2', 'u3'), ('u10', 'u2'), ('u11', 'u10'), ('u12', 'u11'), ('u13', 'u11'), ('u50', 'u11'), ('s9', 's5');
INSERT INTO mz_catalog.mz_clusters VALUES ('u1', 'compute'), ('u2', 'ingest'), ('s1', 'mz_catalog_server');
INSERT INTO mz_catalog.mz_cluster_replicas VALUES ('u1', 'r1', 'u1'), ('u2', 'r1', 'u2'), ('u3', 'r2', 'u1');
INSERT INTO mz_internal.mz_cluster_replica_statuses VALUES
  ('u1', 0, 'online'), ('u1', 1, 'online'), ('u2', 0, 'online'), ('u3', 0, 'online'), ('u3', 1, 'offline');
INSERT INTO mz_internal.mz_source_statistics VALUES
  ('u10', 'u2', true), ('u10', 'u9', false), ('u2', 'u2', true);
INSERT INTO mz_internal.mz_source_statuses VALUES
  ('u10', 't', 'table', 'running', NULL), ('u2', 'pg', 'postgres', 'running', NULL);
INSERT INTO mz_internal.mz_hydration_statuses VALUES
  ('u11', 'u1', false), ('u11', 'u3', true), ('u12', 'u1', NULL), ('u2', 'u2', true);
INSERT INTO mz_internal.mz_wallclock_global_lag VALUES ('u11', '00:00:01.5'), ('u12', NULL), ('u10', '2 days 00:00:03');
`

func fakeCatalog(t *testing.T, extra string) *pgx.Conn {
	t.Helper()
	url := pgtest.NewDatabase(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	if _, err := conn.Exec(ctx, fakeCatalogDDL+fakeCatalogRows+extra); err != nil {
		t.Fatalf("fake catalog: %v", err)
	}
	return conn
}

func TestReadFakeCatalog(t *testing.T) {
	conn := fakeCatalog(t, "")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cq := &CountingQuerier{Q: conn}
	got, err := Read(ctx, cq)
	if err != nil {
		t.Fatal(err)
	}
	if cq.Requests() != 1 {
		t.Errorf("requests = %d, want 1", cq.Requests())
	}
	lagMV := 1500 * time.Millisecond
	lagT := 48*time.Hour + 3*time.Second
	want := &model.Observed{
		Database: got.Database,
		Schemas: []model.ObservedSchema{
			{
				ID: "u7", Name: "app_v1", Comment: "mzsync:v1 schema=app version=v1 digest=sha256:v1",
				Marker: &model.SchemaMarker{Schema: "app", Version: "v1", Digest: "sha256:v1"},
				Objects: []model.ObservedObject{
					{
						ID: "u11", Kind: model.KindMaterializedView, Name: "mv", Comment: "mzsync:v1 digest=sha256:mv",
						Marker: &model.ObjectMarker{Digest: "sha256:mv"}, Cluster: "compute",
						Columns:  []model.Column{{Name: "total", Position: 1, Type: "bigint", Nullable: true}},
						Hydrated: true, Lag: &lagMV,
					},
					{
						ID: "u12", Kind: model.KindIndex, Name: "mv_total_idx", Comment: "mzsync:v1 digest=sha256:ix",
						Marker: &model.ObjectMarker{Digest: "sha256:ix"}, Cluster: "compute", OnID: "u11",
					},
					{
						ID: "u10", Kind: model.KindTable, Name: "t", Comment: "mzsync:v1 digest=sha256:t",
						Marker: &model.ObjectMarker{Digest: "sha256:t"}, SourceID: "u2",
						Reference:   model.UpstreamRef{Schema: "public", Table: "t"},
						TextColumns: []string{"b"},
						Columns: []model.Column{
							{Name: "a", Position: 1, Type: "integer"}, {Name: "b", Position: 2, Type: "text", Nullable: true},
						},
						Status: "running", Lag: &lagT,
					},
					{
						ID: "u13", Kind: model.KindView, Name: "v",
						Columns: []model.Column{{Name: "x", Position: 1, Type: "integer", Nullable: true}},
					},
				},
			},
			{
				ID: "u3", Name: "public", Comment: "the public schema",
				Objects: []model.ObservedObject{
					{
						ID: "u2", Kind: "source", Name: "pg", Comment: "mzsync:v1 digest=sha256:src",
						Marker:  &model.ObjectMarker{Digest: "sha256:src"},
						Columns: []model.Column{{Name: "lsn", Position: 1, Type: "uint8", Nullable: true}},
						// A source's own statistics row is not a table snapshot,
						// but the catalog says it, so it is reported as read.
						SnapshotCommitted: true, Status: "running", Hydrated: true,
					},
					{ID: "u3", Kind: "connection", Name: "pg_conn", Comment: "the connection"},
				},
			},
		},
		Sources: []model.ObservedSource{{
			ID: "u2", Schema: "public", Name: "pg", Type: "postgres", Cluster: "ingest", Connection: "pg_conn",
			Status: "running", Comment: "mzsync:v1 digest=sha256:src", Marker: &model.ObjectMarker{Digest: "sha256:src"},
		}},
		Clusters: []model.Cluster{
			{ID: "u1", Name: "compute", Replicas: []model.Replica{
				{ID: "u1", Name: "r1", Status: "online"}, {ID: "u3", Name: "r2", Status: "offline"},
			}},
			{ID: "u2", Name: "ingest", Replicas: []model.Replica{{ID: "u2", Name: "r1", Status: "online"}}},
			{ID: "s1", Name: "mz_catalog_server"},
		},
		Dependencies: []model.Dependency{
			{Object: "u10", Referenced: "u2"}, {Object: "u11", Referenced: "u10"}, {Object: "u12", Referenced: "u11"},
			{Object: "u13", Referenced: "u11"}, {Object: "u2", Referenced: "u3"}, {Object: "u50", Referenced: "u11"},
		},
		Lease:       &model.Lease{Owner: "w1", Expires: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)},
		Fingerprint: got.Fingerprint,
	}
	if !strings.HasPrefix(got.Database, "testreadfakecatalog") {
		t.Errorf("database = %q, want the test's database", got.Database)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("Read (-want +got):\n%s", diff)
	}
}

func TestReadWithoutReplicaStatuses(t *testing.T) {
	conn := fakeCatalog(t, "DROP TABLE mz_internal.mz_cluster_replica_statuses;")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	got, err := Read(ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range got.Clusters {
		for _, r := range c.Replicas {
			if r.Status != "" {
				t.Errorf("replica %s status = %q, want unknown", r.ID, r.Status)
			}
		}
	}
	if len(got.Schemas) != 2 || len(got.Clusters[0].Replicas) != 2 {
		t.Fatalf("catalog not read in full without replica statuses: %+v", got)
	}
}

func TestReadReportsWhichQueryFailed(t *testing.T) {
	conn := fakeCatalog(t, "DROP TABLE mz_internal.mz_object_dependencies;")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := Read(ctx, conn)
	if err == nil || !strings.Contains(err.Error(), "read catalog") {
		t.Fatalf("err = %v, want a read catalog error", err)
	}
}

func TestReadReadinessFakeCatalog(t *testing.T) {
	conn := fakeCatalog(t, "")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cq := &CountingQuerier{Q: conn}
	got, err := ReadReadiness(ctx, cq, []string{"u12", "u10", "u11", "u404", "u10"})
	if err != nil {
		t.Fatal(err)
	}
	lagMV := 1500 * time.Millisecond
	lagT := 48*time.Hour + 3*time.Second
	want := []Readiness{
		// Committed on one replica only: not committed.
		{ID: "u10", Exists: true, Status: "running", Lag: &lagT},
		// Hydrated on one of two replicas: hydrated.
		{ID: "u11", Exists: true, Hydrated: true, Lag: &lagMV},
		// NULL hydration and NULL lag: not hydrated, lag unknown.
		{ID: "u12", Exists: true},
		{ID: "u404"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("ReadReadiness (-want +got):\n%s", diff)
	}
	if cq.Requests() != 1 {
		t.Errorf("requests = %d, want 1", cq.Requests())
	}
	if got, err := ReadReadiness(ctx, cq, nil); err != nil || got != nil {
		t.Errorf("no ids: got %v, %v; want nothing and no query", got, err)
	}
}

// TestReadRoundTripsDoNotGrow reads a fake catalog with 20 and with 200
// objects and asserts the same number of network round trips.
func TestReadRoundTripsDoNotGrow(t *testing.T) {
	trips := map[int]int{}
	for _, n := range []int{20, 200} {
		var b strings.Builder
		for i := range n {
			fmt.Fprintf(&b, "INSERT INTO mz_catalog.mz_objects VALUES ('u%d', 0, 'u7', 'o%d', 'view', NULL);\n", 1000+i, i)
			fmt.Fprintf(&b, "INSERT INTO mz_catalog.mz_columns VALUES ('u%d', 'c', 1, true, 'integer', 23, -1);\n", 1000+i)
			fmt.Fprintf(&b, "INSERT INTO mz_internal.mz_comments VALUES ('u%d', 'view', NULL, 'mzsync:v1 digest=sha256:%d');\n", 1000+i, i)
		}
		conn := fakeCatalog(t, b.String())
		url := conn.Config().ConnString()
		counted, wire := connectCounted(t, url)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		// Warm pgx's statement cache, then count a steady-state pass.
		if _, err := Read(ctx, counted); err != nil {
			cancel()
			t.Fatal(err)
		}
		wire.Reset()
		obs, err := Read(ctx, counted)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		if got := len(obs.Schemas[0].Objects); got != n+4 {
			t.Fatalf("read %d objects in app_v1, want %d", got, n+4)
		}
		trips[n] = wire.Trips()
	}
	if trips[20] != trips[200] || trips[20] != 1 {
		t.Fatalf("round trips per pass: %v, want 1 at both sizes", trips)
	}
}
