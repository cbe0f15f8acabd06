package daemon

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/mzsync/mzsync/internal/desired"
	"github.com/mzsync/mzsync/internal/drift"
	"github.com/mzsync/mzsync/internal/model"
	"github.com/mzsync/mzsync/internal/mzemu"
	"github.com/mzsync/mzsync/internal/mzemu/mzemutest"
	"github.com/mzsync/mzsync/internal/observed"
	"github.com/mzsync/mzsync/internal/pgtest"
	"github.com/mzsync/mzsync/internal/reconcile"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// realPass wires a pass the way cmd/mzsync's run does: the same
// sessions for the daemon's life, and reconcile.LeasedPass without
// waiting for readiness, with a catalog read (upstream inspection) for
// status and drift.
func realPass(t *testing.T, mzURL string, lookupEnv func(string) (string, bool), owner string) PassFunc {
	conn := func(ctx context.Context) (*pgx.Conn, error) { return observed.Connect(ctx, mzURL, "test") }
	db, leaseDB := reconcile.NewPgxDB(conn), reconcile.NewPgxDB(conn)
	t.Cleanup(func() { db.Close(context.Background()); leaseDB.Close(context.Background()) })
	obs := &observed.Observer{Conn: func(ctx context.Context) (observed.Querier, error) { return db.Conn(ctx) }}
	status := &observed.Observer{Conn: obs.Conn, LookupEnv: lookupEnv}
	return func(ctx context.Context, des *model.Desired) (Outcome, error) {
		status.Desired = des
		res, err := reconcile.LeasedPass(ctx, db, obs, des, reconcile.PassOptions{
			Apply:   reconcile.ApplyOptions{Poll: 25 * time.Millisecond},
			Lease:   reconcile.LeaseOptions{Owner: owner, TTL: 30 * time.Second},
			LeaseDB: leaseDB,
			Status:  status,
		})
		out := Outcome{Apply: res.Apply}
		if o := res.Observed; o != nil {
			st := reconcile.Status(o, des)
			out.Status = &st
			out.Drift = drift.Compute(o, des)
		}
		return out, err
	}
}

// TestDaemonConvergesExample runs the daemon against mzemu in the seed
// scenario (upstream t(a, b), replica identity full, publication
// mz_source; connection pg_conn): it builds v2, requeues while v2
// hydrates, cuts over, and /status then reports the applied revision, v2
// active and no drift. A pass that meets another writer's lease is
// recorded as locked and leaves Ready alone.
func TestDaemonConvergesExample(t *testing.T) {
	env := mzemutest.New(t)
	env.UpstreamExec(
		"CREATE TABLE t (a int, b boolean)",
		"ALTER TABLE t REPLICA IDENTITY FULL",
		"INSERT INTO t VALUES (10, false), (20, true)",
		"CREATE PUBLICATION mz_source FOR TABLE t",
	)
	env.MaterializeExec(env.ConnectionSQL("pg_conn"))

	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS(filepath.Join("..", "..", "examples", "manifests"))); err != nil {
		t.Fatal(err)
	}
	src := desired.DirSource{Dir: dir}
	snap, err := src.Fetch(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	lookup := func(k string) (string, bool) {
		if k == "PG_UPSTREAM_URL" {
			return env.UpstreamURL, true
		}
		return "", false
	}
	d := New(Config{
		Source:       src,
		Pass:         realPass(t, env.MaterializeURL, lookup, "daemon-under-test"),
		Interval:     time.Hour,
		RequeueReady: 20 * time.Millisecond,
		Jitter:       -1,
	})
	srv := httptest.NewServer(d.Handler(HTTPConfig{}))
	defer srv.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// Hold hydration until a pass has found v2 not ready, so the test sees
	// the requeue whatever the machine's speed.
	if err := env.Server.Hold(ctx, mzemu.HoldHydration, "*"); err != nil {
		t.Fatal(err)
	}
	released := false
	runCtx, stopRun := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- d.Run(runCtx) }()
	for d.Status().LastAppliedRevision != snap.Revision {
		if ctx.Err() != nil {
			t.Fatalf("daemon did not converge; status: %+v", d.Status())
		}
		h := d.Status().History
		if len(h) > 0 && h[0].Result == ResultFailed {
			t.Fatalf("pass failed: %s", h[0].Error)
		}
		if !released && len(h) > 0 && h[0].Result == ResultNotReady {
			if _, err := env.Server.Release(ctx, mzemu.HoldHydration, "*"); err != nil {
				t.Fatal(err)
			}
			released = true
		}
		time.Sleep(10 * time.Millisecond)
	}
	stopRun()
	if err := <-done; err != nil {
		t.Fatalf("Run = %v", err)
	}

	resp, err := http.Get(srv.URL + "/status")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var st Status
	if err := json.Unmarshal(body, &st); err != nil {
		t.Fatalf("/status: %v\n%s", err, body)
	}
	if st.LastAttemptedRevision != snap.Revision || st.LastAppliedRevision != snap.Revision {
		t.Fatalf("revisions attempted %q applied %q, want %q", st.LastAttemptedRevision, st.LastAppliedRevision, snap.Revision)
	}
	if c := st.Condition(ConditionReady); c.Status != StatusTrue {
		t.Fatalf("Ready = %+v, want True", c)
	}
	if st.Catalog == nil || len(st.Catalog.Schemas) != 1 || st.Catalog.Schemas[0].Name != "app" || st.Catalog.Schemas[0].Active != "v2" {
		t.Fatalf("catalog status does not show app at v2: %s", body)
	}
	if st.Drift == nil || len(st.Drift.Tables) != 0 || len(st.Drift.Unchecked) != 0 {
		t.Fatalf("drift = %+v, want checked and none", st.Drift)
	}
	results := map[Result]int{}
	changes := 0
	for _, h := range st.History {
		results[h.Result]++
		changes += h.Changes
	}
	if results[ResultNotReady] == 0 || st.History[0].Result != ResultSucceeded || changes == 0 {
		t.Fatalf("history = %+v, want not-ready passes then a succeeded cutover", st.History)
	}
	var total int64
	conn, err := pgx.Connect(ctx, env.MaterializeURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if err := conn.QueryRow(ctx, "SELECT total FROM app.matview").Scan(&total); err != nil || total != 20 {
		t.Fatalf("app.matview = %d (%v), want v2's 20", total, err)
	}

	// Idle: many passes send no DDL at all (no lease is taken for an empty
	// plan), counted by the server.
	ddlBefore := env.Server.DDLReceived()
	for range 10 {
		d.Reconcile(ctx)
		if h := d.Status().History[0]; h.Result != ResultSucceeded || h.Changes != 0 {
			t.Fatalf("idle pass = %+v, want succeeded with no change", h)
		}
	}
	if sent := env.Server.DDLReceived() - ddlBefore; sent != 0 {
		t.Fatalf("10 idle passes sent %d DDL statements, want none", sent)
	}

	// Another writer holds the lease: an idle pass does not care; a pass
	// with work to do is locked and leaves Ready alone.
	other := reconcile.NewPgxDB(func(ctx context.Context) (*pgx.Conn, error) { return pgx.Connect(ctx, env.MaterializeURL) })
	defer other.Close(context.Background())
	lease, err := reconcile.AcquireLease(ctx, other, reconcile.LeaseOptions{Owner: "other-writer", TTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	d.Reconcile(ctx)
	if h := d.Status().History[0]; h.Result != ResultSucceeded {
		t.Fatalf("idle pass under another writer's lease = %+v, want succeeded", h)
	}
	// Work to do: a rollback to v1 is merged.
	schemaFile := filepath.Join(dir, "app", "schema.yaml")
	b, err := os.ReadFile(schemaFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(schemaFile, []byte(strings.Replace(string(b), "active: v2", "active: v1", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	readyBefore := d.Status().Condition(ConditionReady)
	if delay := d.Reconcile(ctx); delay != 20*time.Millisecond {
		t.Fatalf("locked pass requeue = %v, want RequeueReady", delay)
	}
	after := d.Status()
	if after.History[0].Result != ResultLocked {
		t.Fatalf("pass under another writer's lease = %+v, want locked", after.History[0])
	}
	if got := after.Condition(ConditionReady); got != readyBefore {
		t.Fatalf("Ready changed under a lock: %+v -> %+v", readyBefore, got)
	}
	if err := lease.Release(ctx); err != nil {
		t.Fatal(err)
	}
	// Lease free again. A new environment built only the active version,
	// so v1 was never built here: the first pass builds it and, with its
	// hydration held, reports not ready without swapping; once released,
	// the passes go on until the rollback cuts over.
	if err := env.Server.Hold(ctx, mzemu.HoldHydration, "*"); err != nil {
		t.Fatal(err)
	}
	d.Reconcile(ctx)
	if h := d.Status().History[0]; h.Result != ResultNotReady || h.Changes == 0 {
		t.Fatalf("pass after the lock = %+v, want v1 built and not ready", h)
	}
	if err := conn.QueryRow(ctx, "SELECT total FROM app.matview").Scan(&total); err != nil || total != 20 {
		t.Fatalf("before v1 is ready app.matview = %d (%v), want v2's 20", total, err)
	}
	if _, err := env.Server.Release(ctx, mzemu.HoldHydration, "*"); err != nil {
		t.Fatal(err)
	}
	for d.Status().History[0].Result != ResultSucceeded {
		if ctx.Err() != nil {
			t.Fatalf("rollback did not converge; last pass %+v", d.Status().History[0])
		}
		if h := d.Status().History[0]; h.Result == ResultFailed {
			t.Fatalf("rollback pass failed: %s", h.Error)
		}
		d.Reconcile(ctx)
	}
	if err := conn.QueryRow(ctx, "SELECT total FROM app.matview").Scan(&total); err != nil || total != 30 {
		t.Fatalf("after rollback app.matview = %d (%v), want v1's 30", total, err)
	}
}
