package mzemu_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/mzsync/mzsync/internal/mzemu/mzemutest"
)

// waitingOnReplica reports whether a backing session is waiting in
// mzemu_meta.await_replica, i.e. a client read is blocked on its cluster.
func waitingOnReplica(t *testing.T, backing *pgx.Conn) bool {
	t.Helper()
	return queryInt(t, backing, `SELECT count(*) FROM pg_stat_activity
 WHERE state = 'active' AND query LIKE '%mzemu_meta.await_replica%' AND pid <> pg_backend_pid()`) > 0
}

// TestReadWaitsForOnlineReplica: a read of a user object on a cluster whose
// replicas are all offline waits (Materialize sends the peek to the
// replicas and waits for an answer) and answers once a replica comes
// online; catalog reads on the same session are not affected.
func TestReadWaitsForOnlineReplica(t *testing.T) {
	env := mzemutest.New(t)
	ctx := testCtx(t)
	c := connect(t, env.MaterializeURL)
	mustExec(t, c,
		`CREATE CLUSTER c1 SIZE '25cc'`,
		`CREATE TABLE t (a int)`,
		`INSERT INTO t VALUES (7)`,
	)
	if err := env.Server.SetReplicaStatus(ctx, "c1.r1", "offline"); err != nil {
		t.Fatal(err)
	}
	reader := connect(t, env.MaterializeURL)
	mustExec(t, reader, `SET cluster = c1`)
	// Catalog reads are answered by mz_catalog_server.
	if got := queryInt(t, reader, `SELECT count(*) FROM mz_catalog.mz_tables WHERE name = 't'`); got != 1 {
		t.Fatalf("catalog read on an offline cluster: %d", got)
	}
	if got := queryInt(t, reader, `SELECT count(*) FROM mz_internal.mz_cluster_replica_statuses`); got < 1 {
		t.Fatalf("catalog read on an offline cluster: %d", got)
	}
	backing := connect(t, env.BackingURL)
	type result struct {
		v   int64
		err error
	}
	done := make(chan result, 1)
	go func() {
		var v int64
		err := reader.QueryRow(ctx, `SELECT a FROM t`).Scan(&v)
		done <- result{v, err}
	}()
	eventually(t, "the read to wait on the cluster", func() bool { return waitingOnReplica(t, backing) })
	select {
	case r := <-done:
		t.Fatalf("read answered while every replica was offline: %+v", r)
	default:
	}
	if err := env.Server.SetReplicaStatus(ctx, "c1.r1", "online"); err != nil {
		t.Fatal(err)
	}
	r := <-done
	if r.err != nil || r.v != 7 {
		t.Fatalf("read after the replica came online: %v, %v", r.v, r.err)
	}
}

// TestReadOnOfflineClusterTimesOutOrCancels: the waiting read ends with
// Materialize's texts when statement_timeout lapses (AdapterError::
// StatementTimeout) or the client cancels it (AdapterError::Canceled), and
// the session is usable afterwards.
func TestReadOnOfflineClusterTimesOutOrCancels(t *testing.T) {
	env := mzemutest.New(t)
	ctx := testCtx(t)
	c := connect(t, env.MaterializeURL)
	mustExec(t, c, `CREATE CLUSTER c1 SIZE '25cc'`, `CREATE TABLE t (a int)`)
	if err := env.Server.SetReplicaStatus(ctx, "c1.r1", "offline"); err != nil {
		t.Fatal(err)
	}
	mustExec(t, c, `SET cluster = c1`, `SET statement_timeout = '100ms'`)
	_, err := c.Exec(ctx, `SELECT * FROM t`)
	wantErr(t, err, "57014", "canceling statement due to statement timeout")
	mustExec(t, c, `SET statement_timeout = 0`)

	backing := connect(t, env.BackingURL)
	done := make(chan error, 1)
	go func() {
		_, err := c.Exec(ctx, `SELECT * FROM t`)
		done <- err
	}()
	eventually(t, "the read to wait on the cluster", func() bool { return waitingOnReplica(t, backing) })
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if err := c.PgConn().CancelRequest(cctx); err != nil {
		t.Fatal(err)
	}
	wantErr(t, <-done, "57014", "canceling statement due to user request")
	mustExec(t, c, `SET cluster = quickstart`)
	if got := queryInt(t, c, `SELECT count(*) FROM t`); got != 0 {
		t.Fatalf("read after cancel: %d", got)
	}
}
