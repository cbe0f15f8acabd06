package daemon

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/jackc/pgx/v5"

	"github.com/mzsync/mzsync/internal/desired"
	"github.com/mzsync/mzsync/internal/mzemu/mzemutest"
	"github.com/mzsync/mzsync/internal/observed"
	"github.com/mzsync/mzsync/internal/reconcile"
)

// commitDir replaces the work tree of repo with the files of dir and
// commits them.
func commitDir(t *testing.T, repo *git.Repository, root, dir string, n int) plumbing.Hash {
	t.Helper()
	wt, err := repo.Worktree()
	if err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name() != ".git" {
			if err := os.RemoveAll(filepath.Join(root, e.Name())); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := os.CopyFS(root, os.DirFS(dir)); err != nil {
		t.Fatal(err)
	}
	if err := wt.AddWithOptions(&git.AddOptions{All: true}); err != nil {
		t.Fatal(err)
	}
	h, err := wt.Commit("manifests", &git.CommitOptions{Author: &object.Signature{Name: "t", Email: "t@example.com", When: time.Unix(int64(1700000000+n), 0)}})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// TestStaleCacheNeverRollsBack: a daemon whose remote is unreachable at
// start-up finds only an old cached revision; the catalog records the
// revision the live version went live from, and the daemon refuses to
// apply the older one: the live version stays. A revision known to be
// older is refused with the remote reachable too.
func TestStaleCacheNeverRollsBack(t *testing.T) {
	env := mzemutest.New(t)
	env.UpstreamExec(
		"CREATE TABLE t (a int, b boolean)",
		"ALTER TABLE t REPLICA IDENTITY FULL",
		"INSERT INTO t VALUES (10, false), (20, true)",
		"CREATE PUBLICATION mz_source FOR TABLE t",
	)
	env.MaterializeExec(env.ConnectionSQL("pg_conn"))
	lookup := func(k string) (string, bool) {
		if k == "PG_UPSTREAM_URL" {
			return env.UpstreamURL, true
		}
		return "", false
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	remote := t.TempDir()
	repo, err := git.PlainInitWithOptions(remote, &git.PlainInitOptions{InitOptions: git.InitOptions{DefaultBranch: plumbing.NewBranchReferenceName("main")}})
	if err != nil {
		t.Fatal(err)
	}
	examples := filepath.Join("..", "..", "examples")
	c1 := commitDir(t, repo, remote, filepath.Join(examples, "manifests-v1"), 1)
	oldCache := t.TempDir()
	if s, err := (&desired.GitSource{URL: remote, Ref: "main", CacheDir: oldCache}).Fetch(ctx); err != nil || s.Revision != c1.String() {
		t.Fatalf("fill the old cache: %v", err)
	}
	c2 := commitDir(t, repo, remote, filepath.Join(examples, "manifests"), 2)

	conn := func(ctx context.Context) (*pgx.Conn, error) { return observed.Connect(ctx, env.MaterializeURL, "test") }
	db := reconcile.NewPgxDB(conn)
	t.Cleanup(func() { db.Close(context.Background()) })
	obs := &observed.Observer{Conn: func(ctx context.Context) (observed.Querier, error) { return db.Conn(ctx) }}
	daemonOn := func(src *desired.GitSource) *Daemon {
		return New(Config{Source: src, Pass: realPass(t, env.MaterializeURL, lookup, "d"), Guard: RevisionGuard(src, obs),
			Interval: time.Hour, RequeueReady: time.Millisecond, Jitter: -1})
	}

	// The current revision goes live; its live record names c2.
	fresh := &desired.GitSource{URL: remote, Ref: "main", CacheDir: t.TempDir()}
	d := daemonOn(fresh)
	for i := 0; d.Status().LastAppliedRevision != c2.String(); i++ {
		if i == 200 {
			t.Fatalf("c2 never applied: %+v", d.Status().History)
		}
		d.Reconcile(ctx)
	}
	mz, err := pgx.Connect(ctx, env.MaterializeURL)
	if err != nil {
		t.Fatal(err)
	}
	defer mz.Close(context.Background())
	const liveQuery = `SELECT c.comment FROM mz_schemas s JOIN mz_internal.mz_comments c ON c.id = s.id AND c.object_type = 'schema' WHERE s.name = 'app'`
	var comment string
	if err := mz.QueryRow(ctx, liveQuery).Scan(&comment); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(comment, "revision="+c2.String()) || !strings.Contains(comment, "version=v2") {
		t.Fatalf("live record %q does not name the revision %s", comment, c2)
	}

	// The remote goes away; a daemon starts on the old cache.
	gone := remote + ".gone"
	if err := os.Rename(remote, gone); err != nil {
		t.Fatal(err)
	}
	stale := daemonOn(&desired.GitSource{URL: remote, Ref: "main", CacheDir: oldCache})
	stale.Reconcile(ctx)
	h := stale.Status().History[0]
	if h.Revision != c1.String() || h.Result != ResultStalled || !strings.Contains(h.Error, "not applying a possibly older revision") {
		t.Fatalf("pass on the stale cache = %+v, want stalled, refusing c1", h)
	}
	assertLive := func(want string) {
		t.Helper()
		var got string
		if err := mz.QueryRow(ctx, liveQuery).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(got, "version="+want+" ") {
			t.Fatalf("live record %q, want %s live", got, want)
		}
	}
	assertLive("v2")

	// Back online, pinned to the old commit: known older, refused.
	if err := os.Rename(gone, remote); err != nil {
		t.Fatal(err)
	}
	pinned := daemonOn(&desired.GitSource{URL: remote, Ref: c1.String(), CacheDir: t.TempDir()})
	pinned.Reconcile(ctx)
	if h := pinned.Status().History[0]; h.Result != ResultStalled || !strings.Contains(h.Error, "is older than") {
		t.Fatalf("pass pinned to c1 = %+v, want stalled, older than the live revision", h)
	}
	assertLive("v2")
}
