package observed

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/mzsync/mzsync/internal/model"
	"github.com/mzsync/mzsync/internal/mzemu/mzemutest"
)

// scaleEnv is an emulator whose upstream has one published table that
// any number of versions can ingest.
func scaleEnv(t testing.TB) *mzemutest.Env {
	t.Helper()
	env := mzemutest.New(t)
	env.UpstreamExec(`CREATE TABLE public.t (a int PRIMARY KEY, b boolean);
ALTER TABLE public.t REPLICA IDENTITY FULL;
INSERT INTO public.t VALUES (1, true);
CREATE PUBLICATION mz_source FOR TABLE public.t;`)
	env.MaterializeExec(
		env.ConnectionSQL("pg_conn"),
		`CREATE SOURCE "public"."pg" FROM POSTGRES CONNECTION "public"."pg_conn" (PUBLICATION 'mz_source')`,
	)
	return env
}

// buildOwned creates version schema <schema>_v1 holding n owned objects,
// each with its marker, as apply would: a tenth are tables from the
// source (at most 20, in one DDL transaction: mzemu sets up a foreign
// table for each, which is slow), and the rest views, materialized views
// and indexes on them in the proportions 5:3:2.
func buildOwned(t testing.TB, env *mzemutest.Env, schema string, n int) {
	t.Helper()
	ver := model.VersionID{Schema: schema, Version: "v1"}
	s := model.QuoteIdent(ver.BuildSchema())
	mark := func(kind, name string) string {
		return fmt.Sprintf("COMMENT ON %s %s.%s IS 'mzsync:v1 digest=sha256:%s'", kind, s, model.QuoteIdent(name), name)
	}
	stmts := []string{
		"CREATE SCHEMA " + s,
		"COMMENT ON SCHEMA " + s + " IS " + model.QuoteLiteral(model.SchemaMarker{Schema: schema, Version: "v1", Digest: "sha256:x"}.String()),
	}
	tables := min(max(1, n/10), 20)
	tx := "BEGIN;"
	for i := range tables {
		tx += fmt.Sprintf(` CREATE TABLE %s."t%d" FROM SOURCE "public"."pg" (REFERENCE "public"."t");`, s, i)
	}
	stmts = append(stmts, tx+" COMMIT;")
	for i := range tables {
		stmts = append(stmts, mark("TABLE", fmt.Sprintf("t%d", i)))
	}
	var mvs []string
	for i := range n - tables {
		src := fmt.Sprintf(`%s."t%d"`, s, i%tables)
		switch i % 10 {
		case 0, 1, 2, 3, 4:
			name := fmt.Sprintf("v%d", i)
			stmts = append(stmts, fmt.Sprintf(`CREATE VIEW %s.%s AS SELECT a FROM %s WHERE b`, s, model.QuoteIdent(name), src), mark("VIEW", name))
		case 5, 6, 7:
			name := fmt.Sprintf("mv%d", i)
			mvs = append(mvs, name)
			stmts = append(stmts, fmt.Sprintf(`CREATE MATERIALIZED VIEW %s.%s AS SELECT sum(a) AS total FROM %s`, s, model.QuoteIdent(name), src), mark("MATERIALIZED VIEW", name))
		default:
			name := fmt.Sprintf("ix%d", i)
			on := mvs[len(mvs)-1]
			stmts = append(stmts, fmt.Sprintf(`CREATE INDEX %s ON %s.%s ("total")`, model.QuoteIdent(name), s, model.QuoteIdent(on)), mark("INDEX", name))
		}
	}
	// Building 220 objects is slow on a loaded machine (mzemu sets up a
	// foreign table per source-fed table): bound it generously, so the
	// test measures round trips, not the machine's speed.
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, env.MaterializeURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	for _, st := range stmts {
		if _, err := conn.Exec(ctx, st); err != nil {
			t.Fatalf("exec %q: %v", st, err)
		}
	}
}

// TestReadRoundTripsDoNotGrowMzemu reads a catalog of 20 owned objects,
// then of 220, and asserts the same number of network round trips, once
// pgx has prepared the batch.
func TestReadRoundTripsDoNotGrowMzemu(t *testing.T) {
	env := scaleEnv(t)
	conn, wire := connectCounted(t, env.MaterializeURL)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	pass := func(want int) int {
		t.Helper()
		if _, err := Read(ctx, conn); err != nil { // warm the statement cache
			t.Fatal(err)
		}
		wire.Reset()
		cq := &CountingQuerier{Q: conn}
		obs, err := Read(ctx, cq)
		if err != nil {
			t.Fatal(err)
		}
		owned := 0
		for _, s := range obs.Schemas {
			for _, o := range s.Objects {
				if o.Marker != nil {
					owned++
				}
			}
		}
		if owned != want {
			t.Fatalf("read %d owned objects, want %d", owned, want)
		}
		if cq.Requests() != 1 {
			t.Errorf("requests = %d at %d objects, want 1", cq.Requests(), want)
		}
		return wire.Trips()
	}
	buildOwned(t, env, "small", 20)
	small := pass(20)
	buildOwned(t, env, "big", 200)
	big := pass(220)
	if small != big || small != 1 {
		t.Fatalf("network round trips per pass: %d at 20 objects, %d at 220; want 1 at both", small, big)
	}
}
