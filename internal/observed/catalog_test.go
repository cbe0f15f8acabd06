package observed

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/mzsync/mzsync/internal/model"
)

// rawFixture is a small catalog as the batch returns it, in no particular
// order: an owned version schema with a table, a materialized view and an
// index, an unowned schema, the lease schema, a source.
func rawFixture() *rawCatalog {
	return &rawCatalog{
		database: "materialize",
		schemas: []model.ObservedSchema{
			{ID: "u9", Name: "mzsync_lease", Comment: "mzsync:lease owner=host%2F12%2Fab expires=2030-01-02T03:04:05Z"},
			{ID: "u7", Name: "app_v1", Comment: "mzsync:v1 schema=app version=v1 digest=sha256:aa"},
			{ID: "u3", Name: "public"},
		},
		objects: []rawObject{
			{id: "u12", schemaID: "u7", name: "mv_total_idx", typ: "index", comment: "mzsync:v1 digest=sha256:ix"},
			{id: "u11", schemaID: "u7", name: "mv", typ: "materialized-view", comment: "mzsync:v1 digest=sha256:mv"},
			{id: "u10", schemaID: "u7", name: "t", typ: "table", comment: "mzsync:v1 digest=sha256:t"},
			{id: "u2", schemaID: "u3", name: "pg", typ: "source"},
			{id: "u1", schemaID: "u3", name: "pg_conn", typ: "connection"},
			{id: "u5", schemaID: "u3", name: "handmade", typ: "view", comment: "made by alice"},
			{id: "u99", schemaID: "u9", name: "junk", typ: "view"},
		},
		sourceTables: map[string]rawSourceTable{
			"u10": {sourceID: "u2", upSchema: "public", upTable: "t",
				createSQL: `CREATE TABLE "app_v1"."t" FROM SOURCE "public"."pg" (REFERENCE "public"."t") WITH (TEXT COLUMNS ("c"))`},
		},
		mvClusters: map[string]string{"u11": "compute"},
		indexes:    map[string][2]string{"u12": {"u11", "compute"}},
		sources: []rawSource{
			{id: "u2", schema: "public", name: "pg", typ: "postgres", cluster: "ingest", connSchema: "public", connName: "pg_conn", comment: "mzsync:v1 digest=sha256:src"},
		},
		columns: map[string][]model.Column{
			"u10": {{Name: "c", Position: 2, Type: "text", Nullable: true}, {Name: "a", Position: 1, Type: "integer"}},
			"u11": {{Name: "total", Position: 1, Type: "bigint", Nullable: true}},
		},
		deps: []model.Dependency{
			{Object: "u12", Referenced: "u11"}, {Object: "u11", Referenced: "u10"},
			{Object: "u10", Referenced: "u2"}, {Object: "u2", Referenced: "u1"}, {Object: "u11", Referenced: "u10"},
		},
		clusters: []model.Cluster{{ID: "u2", Name: "ingest"}, {ID: "u3", Name: "compute"}, {ID: "u1", Name: "quickstart"}},
		replicas: []rawReplica{
			{id: "u4", name: "r2", clusterID: "u3"}, {id: "u3", name: "r1", clusterID: "u3"},
			{id: "u2", name: "r1", clusterID: "u2"},
		},
		snapshots:       map[string]bool{"u10": true},
		statuses:        map[string][2]string{"u10": {"running", ""}, "u2": {"stalled", "publication \"mz_source\" does not exist"}},
		hydrated:        map[string]bool{"u11": true},
		lags:            map[string]time.Duration{"u11": 300 * time.Millisecond},
		replicaStatuses: map[string]string{"u3": "online", "u4": "offline", "u2": "online"},
	}
}

func TestAssemble(t *testing.T) {
	lag := 300 * time.Millisecond
	want := &model.Observed{
		Database: "materialize",
		Schemas: []model.ObservedSchema{
			{
				ID: "u7", Name: "app_v1", Comment: "mzsync:v1 schema=app version=v1 digest=sha256:aa",
				Marker: &model.SchemaMarker{Schema: "app", Version: "v1", Digest: "sha256:aa"},
				Objects: []model.ObservedObject{
					{
						ID: "u11", Kind: model.KindMaterializedView, Name: "mv", Comment: "mzsync:v1 digest=sha256:mv",
						Marker: &model.ObjectMarker{Digest: "sha256:mv"}, Cluster: "compute",
						Columns:  []model.Column{{Name: "total", Position: 1, Type: "bigint", Nullable: true}},
						Hydrated: true, Lag: &lag,
					},
					{
						ID: "u12", Kind: model.KindIndex, Name: "mv_total_idx", Comment: "mzsync:v1 digest=sha256:ix",
						Marker: &model.ObjectMarker{Digest: "sha256:ix"}, Cluster: "compute", OnID: "u11",
					},
					{
						ID: "u10", Kind: model.KindTable, Name: "t", Comment: "mzsync:v1 digest=sha256:t",
						Marker: &model.ObjectMarker{Digest: "sha256:t"}, SourceID: "u2",
						Reference:   model.UpstreamRef{Schema: "public", Table: "t"},
						TextColumns: []string{"c"},
						Columns: []model.Column{
							{Name: "a", Position: 1, Type: "integer"}, {Name: "c", Position: 2, Type: "text", Nullable: true},
						},
						SnapshotCommitted: true, Status: "running",
					},
				},
			},
			{
				ID: "u3", Name: "public",
				Objects: []model.ObservedObject{
					{ID: "u5", Kind: "view", Name: "handmade", Comment: "made by alice"},
					{ID: "u2", Kind: "source", Name: "pg", Status: "stalled", Error: "publication \"mz_source\" does not exist"},
					{ID: "u1", Kind: "connection", Name: "pg_conn"},
				},
			},
		},
		Sources: []model.ObservedSource{{
			ID: "u2", Schema: "public", Name: "pg", Type: "postgres", Cluster: "ingest", Connection: "pg_conn",
			Status: "stalled", Error: "publication \"mz_source\" does not exist",
			Comment: "mzsync:v1 digest=sha256:src", Marker: &model.ObjectMarker{Digest: "sha256:src"},
		}},
		Clusters: []model.Cluster{
			{ID: "u3", Name: "compute", Replicas: []model.Replica{{ID: "u3", Name: "r1", Status: "online"}, {ID: "u4", Name: "r2", Status: "offline"}}},
			{ID: "u2", Name: "ingest", Replicas: []model.Replica{{ID: "u2", Name: "r1", Status: "online"}}},
			{ID: "u1", Name: "quickstart"},
		},
		Dependencies: []model.Dependency{
			{Object: "u10", Referenced: "u2"}, {Object: "u11", Referenced: "u10"},
			{Object: "u12", Referenced: "u11"}, {Object: "u2", Referenced: "u1"},
		},
		Lease: &model.Lease{Owner: "host/12/ab", Expires: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)},
	}
	got := assemble(rawFixture())
	want.Fingerprint = got.Fingerprint
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("assemble (-want +got):\n%s", diff)
	}
	if got.Fingerprint != Fingerprint(want) || len(got.Fingerprint) != len("sha256:")+64 {
		t.Fatalf("fingerprint %q is not the fingerprint of the assembled state", got.Fingerprint)
	}
}

func TestAssembleConnectionInOtherSchema(t *testing.T) {
	raw := rawFixture()
	raw.sources[0].connSchema = "ops"
	got := assemble(raw)
	if got.Sources[0].Connection != "ops.pg_conn" {
		t.Fatalf("connection = %q, want the schema-qualified ops.pg_conn", got.Sources[0].Connection)
	}
}

func TestAssembleReferenceFallsBackOnCreateSQL(t *testing.T) {
	raw := rawFixture()
	st := raw.sourceTables["u10"]
	st.upSchema, st.upTable = "", ""
	raw.sourceTables["u10"] = st
	got := assemble(raw)
	want := model.UpstreamRef{Schema: "public", Table: "t"}
	if ref := got.Schemas[0].Objects[2].Reference; ref != want {
		t.Fatalf("reference = %v, want %v from create_sql", ref, want)
	}
}

func TestDecodeLease(t *testing.T) {
	tests := []struct {
		name    string
		comment string
		want    *model.Lease
	}{
		{"owner and expiry", "mzsync:lease owner=ci-7 expires=2026-03-01T10:00:00Z",
			&model.Lease{Owner: "ci-7", Expires: time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)}},
		{"escaped owner and nanoseconds", "mzsync:lease owner=a%20b%2Fc expires=2026-03-01T10:00:00.5Z",
			&model.Lease{Owner: "a b/c", Expires: time.Date(2026, 3, 1, 10, 0, 0, 5e8, time.UTC)}},
		{"no comment: being acquired", "", &model.Lease{}},
		{"foreign comment", "made by hand", &model.Lease{}},
		{"bad expiry", "mzsync:lease owner=x expires=tomorrow", &model.Lease{}},
		{"missing expiry", "mzsync:lease owner=x", &model.Lease{}},
		{"bad escape", "mzsync:lease owner=%zz expires=2026-03-01T10:00:00Z", &model.Lease{}},
		{"renewed: the fence's expiry wins", "mzsync:lease owner=ci-7 expires=2026-03-01T10:00:00Z token=t1",
			&model.Lease{Owner: "ci-7", Expires: time.Date(2026, 3, 1, 10, 5, 0, 0, time.UTC), Token: "t1"}},
		{"another holding's fence is not read", "mzsync:lease owner=ci-7 expires=2026-03-01T10:00:00Z token=t2",
			&model.Lease{Owner: "ci-7", Expires: time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC), Token: "t2"}},
	}
	helpers := map[string]string{
		model.LeaseFencePrefix + "t1": "mzsync:lease owner=ci-7 expires=2026-03-01T10:05:00Z token=t1",
		model.LeaseFencePrefix + "t3": "mzsync:lease owner=ci-7 expires=2026-03-01T10:09:00Z token=t3",
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, decodeLease(tt.comment, helpers)); diff != "" {
				t.Errorf("decodeLease(%q) (-want +got):\n%s", tt.comment, diff)
			}
		})
	}
}

func TestLeaseSchemaWithoutCommentIsAnEmptyLease(t *testing.T) {
	raw := rawFixture()
	raw.schemas[0].Comment = ""
	got := assemble(raw)
	if diff := cmp.Diff(&model.Lease{}, got.Lease); diff != "" {
		t.Fatalf("lease (-want +got):\n%s", diff)
	}
	for _, s := range got.Schemas {
		if s.Name == model.LeaseSchema {
			t.Fatal("the lease schema is listed among the schemas")
		}
	}
	if assemble(&rawCatalog{}).Lease != nil {
		t.Fatal("no lease schema must mean a nil Lease")
	}
}

func TestFingerprint(t *testing.T) {
	base := assemble(rawFixture()).Fingerprint
	tests := []struct {
		name   string
		mutate func(*rawCatalog)
		same   bool
	}{
		{"rows in another order", func(r *rawCatalog) {
			r.objects[0], r.objects[3] = r.objects[3], r.objects[0]
			r.schemas[1], r.schemas[2] = r.schemas[2], r.schemas[1]
			r.deps[0], r.deps[2] = r.deps[2], r.deps[0]
			r.clusters[0], r.clusters[2] = r.clusters[2], r.clusters[0]
		}, true},
		{"lag moved", func(r *rawCatalog) { r.lags["u11"] = 5 * time.Second }, true},
		{"hydration and snapshot changed", func(r *rawCatalog) { r.hydrated = nil; r.snapshots = nil }, true},
		{"status changed", func(r *rawCatalog) { r.statuses["u10"] = [2]string{"ceased", "incompatible schema change"} }, true},
		{"replica went offline", func(r *rawCatalog) { r.replicaStatuses["u3"] = "offline" }, true},
		{"lease renewed", func(r *rawCatalog) {
			r.schemas[0].Comment = "mzsync:lease owner=other expires=2031-01-01T00:00:00Z"
		}, true},
		{"lease released", func(r *rawCatalog) { r.schemas = r.schemas[1:] }, true},
		{"stale lease schema appeared", func(r *rawCatalog) {
			r.schemas = append(r.schemas, model.ObservedSchema{ID: "u40", Name: "mzsync_lease_stale_1"})
		}, true},
		{"schema marker changed", func(r *rawCatalog) {
			r.schemas[1].Comment = "mzsync:v1 schema=app version=v1 digest=sha256:bb"
		}, false},
		{"schemas swapped names", func(r *rawCatalog) { r.schemas[1].Name, r.schemas[2].Name = "public", "app_v1" }, false},
		{"object marker removed", func(r *rawCatalog) { r.objects[1].comment = "" }, false},
		{"object dropped", func(r *rawCatalog) { r.objects = r.objects[1:] }, false},
		{"object added", func(r *rawCatalog) {
			r.objects = append(r.objects, rawObject{id: "u50", schemaID: "u7", name: "extra", typ: "view"})
		}, false},
		{"dependency added", func(r *rawCatalog) { r.deps = append(r.deps, model.Dependency{Object: "u60", Referenced: "u11"}) }, false},
		{"materialized view moved cluster", func(r *rawCatalog) { r.mvClusters["u11"] = "quickstart" }, false},
		{"text columns changed", func(r *rawCatalog) {
			st := r.sourceTables["u10"]
			st.createSQL = `CREATE TABLE "app_v1"."t" FROM SOURCE "public"."pg" (REFERENCE "public"."t")`
			r.sourceTables["u10"] = st
		}, false},
		{"column retyped", func(r *rawCatalog) { r.columns["u11"][0].Type = "numeric" }, false},
		{"source comment changed", func(r *rawCatalog) { r.sources[0].comment = "" }, false},
		{"cluster renamed", func(r *rawCatalog) { r.clusters[1].Name = "compute2" }, false},
		{"replica added", func(r *rawCatalog) {
			r.replicas = append(r.replicas, rawReplica{id: "u9", name: "r3", clusterID: "u3"})
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw := rawFixture()
			tt.mutate(raw)
			got := assemble(raw).Fingerprint
			if (got == base) != tt.same {
				t.Errorf("fingerprint same=%v, want same=%v", got == base, tt.same)
			}
		})
	}
}
