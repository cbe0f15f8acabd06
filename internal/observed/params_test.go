package observed

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/mzsync/mzsync/internal/mzemu"
	"github.com/mzsync/mzsync/internal/mzemu/mzemutest"
	"github.com/mzsync/mzsync/internal/pgtest"
)

// arrayTracer records every parameter pgx binds on a connection, batches
// included, and flags each one pgx would send as a binary array.
type arrayTracer struct {
	mu     sync.Mutex
	bound  int
	arrays []string
}

func (a *arrayTracer) note(sql string, args []any) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, arg := range args {
		a.bound++
		if arg == nil {
			continue
		}
		t := reflect.TypeOf(arg)
		if (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) && t.Elem().Kind() != reflect.Uint8 {
			a.arrays = append(a.arrays, firstLine(sql))
		}
	}
}

func (a *arrayTracer) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	a.note(d.SQL, d.Args)
	return ctx
}
func (a *arrayTracer) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}
func (a *arrayTracer) TraceBatchStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchStartData) context.Context {
	return ctx
}
func (a *arrayTracer) TraceBatchQuery(_ context.Context, _ *pgx.Conn, d pgx.TraceBatchQueryData) {
	a.note(d.SQL, d.Args)
}
func (a *arrayTracer) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData) {}

// TestNoArrayParametersToMaterialize runs every catalog read mzsync sends
// to Materialize (the whole-catalog batch, the readiness poll directly and
// through the Observer) over a traced connection, and fails if any binds
// a Go slice: pgx sends those as binary arrays, which Materialize rejects
// with 22023 ("input of array types is not implemented"). It also proves
// the readiness poll still finds its objects by ID, and that mzemu answers
// it (mzemu rejects binary array parameters as Materialize does, once that
// fidelity landed there).
func TestNoArrayParametersToMaterialize(t *testing.T) {
	env := mzemutest.New(t, func(o *mzemu.Options) { o.HydrationDelay = time.Hour })
	env.UpstreamExec(appUpstream)
	env.MaterializeExec(
		env.ConnectionSQL("pg_conn"),
		`CREATE SOURCE "public"."pg" FROM POSTGRES CONNECTION "public"."pg_conn" (PUBLICATION 'mz_source')`,
		`CREATE SCHEMA "app_v1"`,
		`BEGIN; CREATE TABLE "app_v1"."t" FROM SOURCE "public"."pg" (REFERENCE "public"."t"); COMMIT;`,
		`CREATE MATERIALIZED VIEW "app_v1"."mv" AS SELECT sum(a) AS total FROM "app_v1"."t"`,
	)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cfg, err := pgx.ParseConfig(env.MaterializeURL)
	if err != nil {
		t.Fatal(err)
	}
	tr := &arrayTracer{}
	cfg.Tracer = tr
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())

	obs, err := Read(ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, s := range obs.Schemas {
		for _, o := range s.Objects {
			if s.Name == "app_v1" {
				ids = append(ids, o.ID)
			}
		}
	}
	if len(ids) != 2 {
		t.Fatalf("observed %d objects, want 2 (t, mv)", len(ids))
	}
	// A duplicate and an ID that does not exist (any more) on top.
	rs, err := ReadReadiness(ctx, conn, append(ids, ids[0], "u999999"))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range rs {
		if r.Exists {
			got = append(got, r.ID)
		}
	}
	slices.Sort(ids)
	if !slices.Equal(got, ids) || len(rs) != 3 {
		t.Fatalf("readiness rows %+v, want the existing %v plus one missing", rs, ids)
	}
	o := &Observer{Conn: func(context.Context) (Querier, error) { return conn, nil }}
	if err := o.RefreshReadiness(ctx, obs); err != nil {
		t.Fatal(err)
	}
	if tr.bound == 0 {
		t.Fatal("no parameter was bound at all: the tracer saw nothing, the test proves nothing")
	}
	if len(tr.arrays) > 0 {
		t.Fatalf("queries bind a Go slice, which pgx sends as a binary array Materialize rejects:\n%v", tr.arrays)
	}
}

// TestMaterializeQuerierRefusesArrays: the guard every observer read goes
// through refuses a slice parameter before sending anything, in a single
// query and in a batch, and lets []byte and scalars through.
func TestMaterializeQuerierRefusesArrays(t *testing.T) {
	inner := &CountingQuerier{}
	m := MaterializeQuerier{Q: inner}
	ctx := context.Background()
	if _, err := m.Query(ctx, "SELECT $1", []string{"u1"}); !errors.Is(err, ErrArrayParameter) {
		t.Fatalf("Query with []string: %v, want ErrArrayParameter", err)
	}
	b := &pgx.Batch{}
	b.Queue("SELECT 1")
	b.Queue("SELECT $1", []int64{1})
	if err := m.SendBatch(ctx, b).Close(); !errors.Is(err, ErrArrayParameter) {
		t.Fatalf("batch with []int64: %v, want ErrArrayParameter", err)
	}
	if inner.Requests() != 0 {
		t.Fatalf("%d requests reached the server, want 0", inner.Requests())
	}
	for _, ok := range []any{"x", 1, []byte("x"), nil, TextArray([]string{"a"})} {
		if err := checkParams("SELECT $1", []any{ok}); err != nil {
			t.Errorf("%T refused: %v", ok, err)
		}
	}
}

// TestTextArrayRoundTrip: the literal TextArray renders, cast on the
// server, gives back exactly the strings, whatever they contain.
func TestTextArrayRoundTrip(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, pgtest.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	for _, in := range [][]string{{}, {"u1"}, {"u1", "u22"}, {`a"b`, `c\d`, "e,f", "{g}", " h ", "NULL", ""}} {
		var out []string
		if err := conn.QueryRow(ctx, `SELECT COALESCE(array_agg(x ORDER BY o), '{}') FROM unnest(CAST($1::text AS text[])) WITH ORDINALITY AS u(x, o)`, TextArray(in)).Scan(&out); err != nil {
			t.Fatalf("%q: %v", in, err)
		}
		if !slices.Equal(in, out) {
			t.Errorf("TextArray(%q) came back as %q", in, out)
		}
	}
}
