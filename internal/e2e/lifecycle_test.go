package e2e_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mzsync/mzsync/internal/model"
	"github.com/mzsync/mzsync/internal/reconcile"
)

// manifestDir copies examples/manifests into a temporary directory and
// applies edits (file -> old -> new) to it.
func manifestDir(t *testing.T, edits ...[3]string) string {
	t.Helper()
	dir := t.TempDir()
	src := repoPath("examples", "manifests")
	err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Join(dir, filepath.Dir(rel)), 0o755); err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dir, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	edit(t, dir, edits...)
	return dir
}

func edit(t *testing.T, dir string, edits ...[3]string) {
	t.Helper()
	for _, e := range edits {
		p := filepath.Join(dir, e[0])
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), e[1]) {
			t.Fatalf("%s does not contain %q", e[0], e[1])
		}
		if err := os.WriteFile(p, []byte(strings.Replace(string(b), e[1], e[2], 1)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestTypoFixedInTheSameVersion: a typo in view SQL (which validate cannot
// see) fails v2's build, visibly; fixed in the same version, v2's
// half-built schema is torn down and built again, and cut over. After a
// rollback to v1 (v2 was bad), v3 with retain 1 keeps v1, the last good
// version, and drops v2.
func TestTypoFixedInTheSameVersion(t *testing.T) {
	w := newWorld(t)
	a := w.applier()
	mustApply(t, a, manifestsV1(t))
	addColumnB(w)

	dir := manifestDir(t, [3]string{"app/v2.yaml", "SELECT sum(a) AS total", "SELECT summ(a) AS total"})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err := a.apply(ctx, load(t, dir), reconcile.ApplyOptions{Wait: true, Timeout: 30 * time.Second})
	var se *reconcile.StatementError
	// (Built in the applier's private schema, mzsync_build_<token>_app_v2.)
	if !errors.As(err, &se) || !strings.HasSuffix(se.Change.Target, "_app_v2.matview") || !strings.Contains(se.SQL, "summ(a)") {
		t.Fatalf("apply with a typo: %v; want the failed CREATE of app_v2.matview with its SQL", err)
	}
	if got := aliasVersion(t, w, "app"); got != "v1" {
		t.Fatalf("alias holds %s after a failed build", got)
	}

	edit(t, dir, [3]string{"app/v2.yaml", "SELECT summ(a) AS total", "SELECT sum(a) AS total"})
	fixed := load(t, dir)
	p := a.plan(t, fixed)
	if p.Changes[0].Op != reconcile.OpDrop || !model.IsPrivateBuild(p.Changes[0].Target) || !strings.Contains(p.Changes[0].Reason, "abandoned") {
		t.Fatalf("plan after the fix starts with %+v, want the drop of v2's abandoned private build", p.Changes[0])
	}
	mustApply(t, a, fixed)
	if got := w.total("app.matview"); got != 20 {
		t.Fatalf("app.matview = %d, want v2's 20", got)
	}

	// v2 turns out bad: roll back to v1, then declare v3 (v1's content).
	mustApply(t, a, withActive(fixed, "app", "v1"))
	b, err := os.ReadFile(filepath.Join(dir, "app", "v1.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "app", "v3.yaml"), []byte(strings.Replace(string(b), "name: v1", "name: v3", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	edit(t, dir, [3]string{"app/schema.yaml", "active: v2", "active: v3"})
	v3 := load(t, dir)
	mustApplyOpts(t, a, v3, reconcile.Options{AllowDrop: true})
	o, err := a.obs.Observe(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	held := map[string]*model.SchemaMarker{}
	for _, s := range o.Schemas {
		if s.Marker != nil {
			held[s.Name] = s.Marker
		}
	}
	if m := held["app"]; m == nil || m.Version != "v3" {
		t.Fatalf("app holds %+v, want v3", m)
	}
	if m := held["app_v1"]; m == nil || m.Version != "v1" {
		t.Fatalf("app_v1 = %+v: retention must keep v1, the version live last before v3", m)
	}
	if m := held["app_v2"]; m != nil {
		t.Fatalf("app_v2 = %+v: v2 is not among the last live versions and must be dropped", m)
	}
}

// TestHandBuiltSchemaIsBlockedNotTouched: a schema built by hand the seed
// guide's way holds the declared name. The plan is blocked (not "No
// changes"), apply builds the version beside it, returns ErrBlocked naming
// it, and never touches the hand-built objects.
func TestHandBuiltSchemaIsBlockedNotTouched(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	// mzsync creates the source; the hand-built schema reads from it.
	a := w.applier()
	v1 := manifestsV1(t)
	if _, err := a.apply(ctx, &model.Desired{Revision: "src", Sources: v1.Sources}, reconcile.ApplyOptions{}); err != nil {
		t.Fatalf("create the source: %v", err)
	}
	for _, s := range []string{
		`CREATE SCHEMA v1`,
		`CREATE TABLE v1.t FROM SOURCE pg (REFERENCE public.t)`,
		`CREATE MATERIALIZED VIEW v1.matview AS SELECT sum(a) AS total FROM v1.t`,
		`ALTER SCHEMA v1 RENAME TO app`,
	} {
		if _, err := w.mz.Exec(ctx, s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
	p := a.plan(t, v1)
	if !p.Blocked() {
		t.Fatalf("plan over a hand-built app is not blocked: %+v", p.Changes)
	}
	cctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	_, err := a.apply(cctx, v1, reconcile.ApplyOptions{Wait: true, Timeout: 30 * time.Second})
	var be *reconcile.BlockedError
	if !errors.As(err, &be) || !strings.Contains(be.Error(), "schema app exists without mzsync's marker") {
		t.Fatalf("apply: %v, want a BlockedError naming app", err)
	}
	if got := aliasVersion(t, w, "app"); got != "" {
		t.Fatalf("the hand-built app now carries a marker of %s", got)
	}
	if got := w.total("app.matview"); got != 10 {
		t.Fatalf("hand-built app.matview = %d, want 10", got)
	}
	var built bool
	if err := w.mz.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM mz_schemas WHERE name = 'app_v1')`).Scan(&built); err != nil || !built {
		t.Fatalf("app_v1 not built beside the hand-built schema (%v)", err)
	}
}
