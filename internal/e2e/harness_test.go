package e2e_test

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/mzsync/mzsync/internal/desired"
	"github.com/mzsync/mzsync/internal/model"
	"github.com/mzsync/mzsync/internal/mzemu"
	"github.com/mzsync/mzsync/internal/mzemu/mzemutest"
	"github.com/mzsync/mzsync/internal/observed"
	"github.com/mzsync/mzsync/internal/pgtest"
	"github.com/mzsync/mzsync/internal/reconcile"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// repoPath returns a path inside the repository.
func repoPath(elem ...string) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(append([]string{filepath.Dir(file), "..", ".."}, elem...)...)
}

// world is one emulated Materialize with its upstream database, set up as
// the seed guide's prerequisites say: upstream table t(a) holding 10, a
// publication mz_source, and a connection pg_conn.
type world struct {
	t   *testing.T
	env *mzemutest.Env
	mz  *pgx.Conn
	up  *pgx.Conn
}

func newWorld(t *testing.T, opts ...func(*mzemu.Options)) *world {
	t.Helper()
	env := mzemutest.New(t, opts...)
	ctx := context.Background()
	w := &world{t: t, env: env, mz: connect(t, env.MaterializeURL), up: connect(t, env.UpstreamURL)}
	w.upExec(
		"CREATE TABLE t (a int)",
		"ALTER TABLE t REPLICA IDENTITY FULL",
		"INSERT INTO t VALUES (10)",
		"CREATE PUBLICATION mz_source FOR TABLE t",
	)
	if _, err := w.mz.Exec(ctx, env.ConnectionSQL("pg_conn")); err != nil {
		t.Fatalf("create connection: %v", err)
	}
	return w
}

func connect(t *testing.T, url string) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

func (w *world) upExec(stmts ...string) {
	w.t.Helper()
	for _, s := range stmts {
		if _, err := w.up.Exec(context.Background(), s); err != nil {
			w.t.Fatalf("upstream %s: %v", s, err)
		}
	}
}

// total reads app.matview's single value.
func (w *world) total(relation string) int64 {
	w.t.Helper()
	var n int64
	if err := w.mz.QueryRow(context.Background(), "SELECT total FROM "+relation).Scan(&n); err != nil {
		w.t.Fatalf("read %s: %v", relation, err)
	}
	return n
}

func (w *world) columns(schema, table string) []string {
	w.t.Helper()
	rows, err := w.mz.Query(context.Background(), `SELECT c.name FROM mz_columns c
	  JOIN mz_objects o ON o.id = c.id JOIN mz_schemas s ON s.id = o.schema_id
	 WHERE s.name = $1 AND o.name = $2 ORDER BY c.position`, schema, table)
	if err != nil {
		w.t.Fatal(err)
	}
	cols, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		w.t.Fatal(err)
	}
	return cols
}

// load reads a manifest directory, e.g. examples/manifests.
func load(t *testing.T, dir string) *model.Desired {
	t.Helper()
	d, err := desired.Load(os.DirFS(dir))
	if err != nil {
		t.Fatalf("load %s: %v", dir, err)
	}
	return d
}

// withActive returns a copy of d whose schema app has another active version.
func withActive(d *model.Desired, schema, active string) *model.Desired {
	c := *d
	c.Schemas = append([]model.Schema(nil), d.Schemas...)
	for i := range c.Schemas {
		if c.Schemas[i].Name == schema {
			c.Schemas[i].Active = active
		}
	}
	return &c
}

// recorder keeps every statement string an applier sent.
type recorder struct {
	mu    sync.Mutex
	stmts []string
	// crashAt, when positive, makes the crashAt-th statement fail before it
	// is sent, as if the process died there.
	crashAt int
}

var errCrash = &crashError{}

type crashError struct{}

func (*crashError) Error() string { return "simulated crash" }

func (r *recorder) hook(sql string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.crashAt > 0 && len(r.stmts)+1 == r.crashAt {
		return errCrash
	}
	r.stmts = append(r.stmts, sql)
	return nil
}

func (r *recorder) sent() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.stmts...)
}

// applier is one mzsync writer: its own sessions for DDL and the lease.
type applier struct {
	db    *reconcile.PgxDB
	lease *reconcile.PgxDB
	obs   *observed.Observer
	rec   *recorder
}

func (w *world) applier() *applier {
	url := w.env.MaterializeURL
	mk := func() *reconcile.PgxDB {
		db := reconcile.NewPgxDB(func(ctx context.Context) (*pgx.Conn, error) { return pgx.Connect(ctx, url) })
		w.t.Cleanup(func() { db.Close(context.Background()) })
		return db
	}
	a := &applier{db: mk(), lease: mk(), rec: &recorder{}}
	a.db.OnExec = a.rec.hook
	a.obs = &observed.Observer{Conn: func(ctx context.Context) (observed.Querier, error) { return a.db.Conn(ctx) }}
	return a
}

// apply runs one leased apply pass, as `mzsync apply` does
// (reconcile.LeasedPass), waiting for another writer's lease.
func (a *applier) apply(ctx context.Context, des *model.Desired, opts reconcile.ApplyOptions) (*reconcile.ApplyResult, error) {
	if opts.Poll == 0 {
		opts.Poll = 25 * time.Millisecond
	}
	res, err := reconcile.LeasedPass(ctx, a.db, a.obs, des, reconcile.PassOptions{
		Apply:    opts,
		Lease:    reconcile.LeaseOptions{TTL: 30 * time.Second, Poll: 20 * time.Millisecond},
		LeaseDB:  a.lease,
		LockWait: time.Minute,
	})
	return res.Apply, err
}

func (a *applier) plan(t *testing.T, des *model.Desired) *reconcile.Plan {
	t.Helper()
	o, err := a.obs.Observe(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	p, err := reconcile.Diff(o, des, reconcile.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// waitFor polls cond until it holds, failing after a generous deadline
// (a bound against hanging, never a timing assertion).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func mustApply(t *testing.T, a *applier, des *model.Desired) *reconcile.ApplyResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, err := a.apply(ctx, des, reconcile.ApplyOptions{Wait: true, Timeout: 30 * time.Second})
	if err != nil {
		t.Fatalf("apply: %v", err)
	}
	return res
}

func mustApplyOpts(t *testing.T, a *applier, des *model.Desired, opts reconcile.Options) *reconcile.ApplyResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, err := a.apply(ctx, des, reconcile.ApplyOptions{Diff: opts, Wait: true, Timeout: 30 * time.Second})
	if err != nil {
		t.Fatalf("apply: %v", err)
	}
	return res
}

func (a *applier) planOpts(t *testing.T, des *model.Desired, opts reconcile.Options) *reconcile.Plan {
	t.Helper()
	o, err := a.obs.Observe(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	p, err := reconcile.Diff(o, des, opts)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// close ends the applier's sessions. Tests that create many appliers on
// one world close them, so mzemu's sessions (each holding a backing
// connection) do not pile up until the test ends.
func (a *applier) close() {
	a.db.Close(context.Background())
	a.lease.Close(context.Background())
}

// observeOnce reads the catalog on a session of its own, then closes it.
func (w *world) observeOnce(t testing.TB) *model.Observed {
	t.Helper()
	a := w.applier()
	defer a.close()
	o, err := a.obs.Observe(context.Background())
	if err != nil {
		t.Fatalf("observe: %v", err)
	}
	return o
}
