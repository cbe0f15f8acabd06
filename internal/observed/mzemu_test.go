package observed

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/jackc/pgx/v5"

	"github.com/mzsync/mzsync/internal/model"
	"github.com/mzsync/mzsync/internal/mzemu"
	"github.com/mzsync/mzsync/internal/mzemu/mzemutest"
)

const appUpstream = `
CREATE TABLE public.t (a int NOT NULL PRIMARY KEY, b boolean, c int, d text);
ALTER TABLE public.t REPLICA IDENTITY FULL;
INSERT INTO public.t VALUES (1, true, 10, 'x'), (2, false, 20, 'y');
CREATE PUBLICATION mz_source FOR TABLE public.t;
`

// buildAppV1 replays, statement by statement, what apply sends for a
// first deployment of app/v1 (sql-contract.md), plus an unowned view and
// the lease.
func buildAppV1(t *testing.T, env *mzemutest.Env) {
	t.Helper()
	env.UpstreamExec(appUpstream)
	stmts := []string{
		`CREATE CLUSTER "ingest" (SIZE = '25cc')`,
		`CREATE CLUSTER "compute" (SIZE = '25cc')`,
		env.ConnectionSQL("pg_conn"),
		`CREATE SOURCE "public"."pg" IN CLUSTER "ingest" FROM POSTGRES CONNECTION "public"."pg_conn" (PUBLICATION 'mz_source')`,
		`COMMENT ON SOURCE "public"."pg" IS 'mzsync:v1 digest=sha256:src'`,
		`CREATE SCHEMA "app_v1"`,
		`COMMENT ON SCHEMA "app_v1" IS ` + model.QuoteLiteral(model.SchemaMarker{Schema: "app", Version: "v1", Digest: "sha256:v1"}.String()),
		`BEGIN; CREATE TABLE "app_v1"."t" FROM SOURCE "public"."pg" (REFERENCE "public"."t") WITH (TEXT COLUMNS ("c"), EXCLUDE COLUMNS ("d")); COMMIT;`,
		`COMMENT ON TABLE "app_v1"."t" IS 'mzsync:v1 digest=sha256:t'`,
		`SET search_path TO "app_v1"`,
		`CREATE VIEW "app_v1"."v" AS SELECT a, c FROM t`,
		`COMMENT ON VIEW "app_v1"."v" IS 'mzsync:v1 digest=sha256:v'`,
		`CREATE MATERIALIZED VIEW "app_v1"."mv" IN CLUSTER "compute" AS SELECT sum(a) AS total FROM t WHERE b`,
		`COMMENT ON MATERIALIZED VIEW "app_v1"."mv" IS 'mzsync:v1 digest=sha256:mv'`,
		`CREATE INDEX "mv_total_idx" IN CLUSTER "compute" ON "app_v1"."mv" ("total")`,
		`COMMENT ON INDEX "app_v1"."mv_total_idx" IS 'mzsync:v1 digest=sha256:ix'`,
		`CREATE DEFAULT INDEX IN CLUSTER "compute" ON "app_v1"."v"`,
		`COMMENT ON INDEX "app_v1"."v_primary_idx" IS 'mzsync:v1 digest=sha256:vix'`,
		`ALTER SCHEMA "app_v1" RENAME TO "app"`,
		`SET search_path TO "public"`,
		`CREATE VIEW "public"."handmade" AS SELECT total FROM app.mv`,
		`CREATE SCHEMA "mzsync_lease"`,
		`COMMENT ON SCHEMA "mzsync_lease" IS 'mzsync:lease owner=ci%2F1 expires=2030-01-02T03:04:05Z'`,
	}
	conn := connectMZ(t, env)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, s := range stmts {
		if _, err := conn.Exec(ctx, s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

func connectMZ(t testing.TB, env *mzemutest.Env) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := Connect(ctx, env.MaterializeURL, "read the Materialize catalog")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// symbolic replaces catalog IDs, which depend on the order mzemu
// allocates them in, with names, so an exact comparison says something.
func symbolic(obs *model.Observed) *model.Observed {
	names := map[string]string{}
	for _, s := range obs.Schemas {
		for _, o := range s.Objects {
			names[o.ID] = s.Name + "." + o.Name
		}
	}
	sym := func(id string) string {
		if n, ok := names[id]; ok {
			return n
		}
		return id
	}
	for i := range obs.Schemas {
		s := &obs.Schemas[i]
		s.ID = "schema"
		for j := range s.Objects {
			o := &s.Objects[j]
			o.ID, o.OnID, o.SourceID = sym(o.ID), sym(o.OnID), sym(o.SourceID)
		}
	}
	for i := range obs.Sources {
		obs.Sources[i].ID = sym(obs.Sources[i].ID)
	}
	for i := range obs.Dependencies {
		d := &obs.Dependencies[i]
		d.Object, d.Referenced = sym(d.Object), sym(d.Referenced)
	}
	for i := range obs.Clusters {
		obs.Clusters[i].ID = "cluster"
		for j := range obs.Clusters[i].Replicas {
			obs.Clusters[i].Replicas[j].ID = "replica"
		}
	}
	obs.Fingerprint = ""
	return obs
}

// upstreamOID is pg_class.oid of the upstream table name.
func upstreamOID(t *testing.T, env *mzemutest.Env, name string) uint32 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, env.UpstreamURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var oid uint32
	if err := conn.QueryRow(ctx, `SELECT $1::regclass::oid`, name).Scan(&oid); err != nil {
		t.Fatal(err)
	}
	return oid
}

// waitReady polls ReadReadiness until every ID is ready or ctx ends.
func waitReady(ctx context.Context, t *testing.T, q Querier, tables, compute []string) {
	t.Helper()
	isTable := map[string]bool{}
	for _, id := range tables {
		isTable[id] = true
	}
	for {
		rs, err := ReadReadiness(ctx, q, append(append([]string(nil), tables...), compute...))
		if err != nil {
			t.Fatal(err)
		}
		ready := true
		for _, r := range rs {
			if isTable[r.ID] && !(r.SnapshotCommitted && r.Status == "running") || !isTable[r.ID] && !r.Hydrated {
				ready = false
			}
		}
		if ready {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("not ready: %+v", rs)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

func TestReadMzemu(t *testing.T) {
	env := mzemutest.New(t)
	buildAppV1(t, env)
	conn := connectMZ(t, env)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cq := &CountingQuerier{Q: conn}
	first, err := Read(ctx, cq)
	if err != nil {
		t.Fatal(err)
	}
	if cq.Requests() != 1 {
		t.Errorf("requests = %d, want 1", cq.Requests())
	}
	var tables, compute []string
	for _, s := range first.Schemas {
		for _, o := range s.Objects {
			switch o.Kind {
			case model.KindTable:
				tables = append(tables, o.ID)
			case model.KindMaterializedView, model.KindIndex:
				compute = append(compute, o.ID)
			}
		}
	}
	waitReady(ctx, t, conn, tables, compute)
	// Lag is known only once a whole bucket has passed with the object
	// readable: close the bucket under way, then a whole one, rather than
	// racing mzemutest's 200 ms closer.
	for range 2 {
		if _, err := env.Server.CloseLagBucket(ctx); err != nil {
			t.Fatal(err)
		}
	}
	got, err := Read(ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	if got.Fingerprint != first.Fingerprint {
		t.Errorf("fingerprint changed while only readiness moved: %s then %s", first.Fingerprint, got.Fingerprint)
	}
	// Lag is a measurement: check it is there for what has one, then
	// leave it out of the exact comparison.
	for i := range got.Schemas {
		for j := range got.Schemas[i].Objects {
			o := &got.Schemas[i].Objects[j]
			hasLag := o.Kind == model.KindTable || o.Kind == model.KindMaterializedView || o.Kind == model.KindIndex || o.Kind == "source"
			if (o.Lag != nil) != hasLag {
				t.Errorf("%s.%s: lag %v, want present=%v", got.Schemas[i].Name, o.Name, o.Lag, hasLag)
			}
			o.Lag = nil
		}
	}
	compute1 := []model.Replica{{ID: "replica", Name: "r1", Status: "online"}}
	want := &model.Observed{
		Database: "materialize",
		Schemas: []model.ObservedSchema{
			{
				ID: "schema", Name: "app", Comment: "mzsync:v1 schema=app version=v1 digest=sha256:v1",
				Marker: &model.SchemaMarker{Schema: "app", Version: "v1", Digest: "sha256:v1"},
				Objects: []model.ObservedObject{
					{
						ID: "app.mv", Kind: model.KindMaterializedView, Name: "mv", Comment: "mzsync:v1 digest=sha256:mv",
						Marker: &model.ObjectMarker{Digest: "sha256:mv"}, Cluster: "compute",
						Definition: "SELECT sum(a) AS total FROM t WHERE b;",
						Columns:    []model.Column{{Name: "total", Position: 1, Type: "bigint", Nullable: true}},
						Hydrated:   true,
					},
					{
						ID: "app.mv_total_idx", Kind: model.KindIndex, Name: "mv_total_idx", Comment: "mzsync:v1 digest=sha256:ix",
						Marker: &model.ObjectMarker{Digest: "sha256:ix"}, Cluster: "compute", OnID: "app.mv", Hydrated: true,
						IndexKeys: []string{"total"},
					},
					{
						ID: "app.t", Kind: model.KindTable, Name: "t", Comment: "mzsync:v1 digest=sha256:t",
						Marker: &model.ObjectMarker{Digest: "sha256:t"}, SourceID: "public.pg",
						Reference:   model.UpstreamRef{Schema: "public", Table: "t"},
						TextColumns: []string{"c"}, ExcludeColumns: []string{"d"},
						Keys: [][]string{{"a"}},
						// The upstream description Materialize stored in
						// DETAILS: c keeps its upstream int4, d is left out.
						Pinned: &model.PinnedUpstream{
							OID: upstreamOID(t, env, "public.t"), Ref: model.UpstreamRef{Schema: "public", Table: "t"},
							Columns: []model.UpstreamColumn{
								{Name: "a", Attnum: 1, TypeOID: 23, TypeMod: -1},
								{Name: "b", Attnum: 2, TypeOID: 16, TypeMod: -1, Nullable: true},
								{Name: "c", Attnum: 3, TypeOID: 23, TypeMod: -1, Nullable: true},
							},
						},
						Columns: []model.Column{
							{Name: "a", Position: 1, Type: "integer"},
							{Name: "b", Position: 2, Type: "boolean", Nullable: true},
							{Name: "c", Position: 3, Type: "text", Nullable: true}, // TEXT COLUMNS: int4 upstream
						},
						SnapshotCommitted: true, Status: "running",
					},
					{
						ID: "app.v", Kind: model.KindView, Name: "v", Comment: "mzsync:v1 digest=sha256:v",
						Marker:     &model.ObjectMarker{Digest: "sha256:v"},
						Definition: "SELECT a, c FROM t;",
						Columns: []model.Column{
							{Name: "a", Position: 1, Type: "integer", Nullable: true},
							{Name: "c", Position: 2, Type: "text", Nullable: true},
						},
					},
					{
						ID: "app.v_primary_idx", Kind: model.KindIndex, Name: "v_primary_idx", Comment: "mzsync:v1 digest=sha256:vix",
						Marker: &model.ObjectMarker{Digest: "sha256:vix"}, Cluster: "compute", OnID: "app.v", Hydrated: true,
						IndexKeys: []string{"a", "c"},
					},
				},
			},
			{
				ID: "schema", Name: "public",
				Objects: []model.ObservedObject{
					{
						ID: "public.handmade", Kind: model.KindView, Name: "handmade",
						Definition: "SELECT total FROM app.mv;",
						Columns:    []model.Column{{Name: "total", Position: 1, Type: "bigint", Nullable: true}},
					},
					{
						ID: "public.pg", Kind: "source", Name: "pg", Comment: "mzsync:v1 digest=sha256:src",
						Marker:            &model.ObjectMarker{Digest: "sha256:src"},
						Columns:           []model.Column{{Name: "lsn", Position: 1, Type: "uint8", Nullable: true}},
						SnapshotCommitted: true, Status: "running", Hydrated: true,
					},
					{ID: "public.pg_conn", Kind: "connection", Name: "pg_conn"},
				},
			},
		},
		Sources: []model.ObservedSource{{
			ID: "public.pg", Schema: "public", Name: "pg", Type: "postgres", Cluster: "ingest", Connection: "pg_conn",
			Status: "running", Comment: "mzsync:v1 digest=sha256:src", Marker: &model.ObjectMarker{Digest: "sha256:src"},
		}},
		Clusters: []model.Cluster{
			{ID: "cluster", Name: "compute", Replicas: compute1},
			{ID: "cluster", Name: "ingest", Replicas: compute1},
			{ID: "cluster", Name: "quickstart", Replicas: compute1},
		},
		Dependencies: []model.Dependency{
			{Object: "public.pg", Referenced: "public.pg_conn"},
			{Object: "app.t", Referenced: "public.pg"},
			{Object: "app.v", Referenced: "app.t"},
			{Object: "app.mv", Referenced: "app.t"},
			{Object: "app.mv_total_idx", Referenced: "app.mv"},
			{Object: "app.v_primary_idx", Referenced: "app.v"},
			{Object: "public.handmade", Referenced: "app.mv"},
		},
		Lease: &model.Lease{Owner: "ci/1", Expires: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)},
	}
	// Dependencies are sorted by ID; compare them as a set of names.
	sortDeps := cmpopts.SortSlices(func(a, b model.Dependency) bool {
		return a.Object+"\x00"+a.Referenced < b.Object+"\x00"+b.Referenced
	})
	// Type OIDs and modifiers are checked where drift uses them.
	noTypeIDs := cmpopts.IgnoreFields(model.Column{}, "TypeOID", "TypeMod")
	if diff := cmp.Diff(want, symbolic(got), sortDeps, noTypeIDs); diff != "" {
		t.Fatalf("Read after app/v1 was built (-want +got):\n%s", diff)
	}

	// The next version is built beside it and swapped in: the markers
	// follow the schemas' IDs, so the alias now says v2, and the
	// fingerprint changes.
	env.MaterializeExec(
		`CREATE SCHEMA "app_v2"`,
		`COMMENT ON SCHEMA "app_v2" IS `+model.QuoteLiteral(model.SchemaMarker{Schema: "app", Version: "v2", Digest: "sha256:v2"}.String()),
		`BEGIN; ALTER SCHEMA "app" SWAP WITH "app_v2"; ALTER SCHEMA "app_v2" RENAME TO "app_v1"; COMMIT;`,
	)
	after, err := Read(ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	if after.Fingerprint == got.Fingerprint {
		t.Error("fingerprint unchanged after a cutover")
	}
	holds := map[string]string{}
	for _, s := range after.Schemas {
		if s.Marker != nil {
			holds[s.Name] = s.Marker.ID().String() + fmt.Sprintf(" (%d objects)", len(s.Objects))
		}
	}
	wantHolds := map[string]string{"app": "app/v2 (0 objects)", "app_v1": "app/v1 (5 objects)"}
	if diff := cmp.Diff(wantHolds, holds); diff != "" {
		t.Fatalf("versions held after the swap (-want +got):\n%s", diff)
	}
}

// TestReadinessWhileHydrating reads a version whose tables are still
// snapshotting and whose materialized view is still hydrating: the
// catalog's facts must say so, in Read and in ReadReadiness alike.
func TestReadinessWhileHydrating(t *testing.T) {
	env := mzemutest.New(t)
	env.Hold(mzemu.HoldSnapshot, "app_v1.*")
	env.Hold(mzemu.HoldHydration, "app_v1.*")
	env.UpstreamExec(appUpstream)
	env.MaterializeExec(
		env.ConnectionSQL("pg_conn"),
		`CREATE SOURCE "public"."pg" FROM POSTGRES CONNECTION "public"."pg_conn" (PUBLICATION 'mz_source')`,
		`CREATE SCHEMA "app_v1"`,
		`BEGIN; CREATE TABLE "app_v1"."t" FROM SOURCE "public"."pg" (REFERENCE "public"."t"); COMMIT;`,
		`CREATE MATERIALIZED VIEW "app_v1"."mv" AS SELECT sum(a) AS total FROM "app_v1"."t"`,
	)
	conn := connectMZ(t, env)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	obs, err := Read(ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]string{}
	for _, s := range obs.Schemas {
		for _, o := range s.Objects {
			ids[o.Name] = o.ID
			// A source-fed table is running before its snapshot completes.
			if s.Name == "app_v1" && (o.SnapshotCommitted || o.Hydrated) {
				t.Errorf("%s reads as ready while hydrating: %+v", o.Name, o)
			}
		}
	}
	rs, err := ReadReadiness(ctx, conn, []string{ids["t"], ids["mv"]})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rs {
		if !r.Exists || r.SnapshotCommitted || r.Hydrated {
			t.Errorf("readiness of %s while hydrating: %+v", r.ID, r)
		}
	}
	if len(rs) != 2 {
		t.Fatalf("got %d readiness rows, want 2", len(rs))
	}
}
