package e2e_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mzsync/mzsync/internal/reconcile"
)

// handBuildSeed builds schema app the seed guide's way, by hand: a source
// without mzsync's marker, tables FROM SOURCE and a materialized view in
// v1, then v1 renamed to the consumer-facing name.
func handBuildSeed(t *testing.T, w *world, view string, stmts ...string) {
	t.Helper()
	all := append([]string{
		`CREATE SOURCE pg FROM POSTGRES CONNECTION pg_conn (PUBLICATION 'mz_source')`,
		`CREATE SCHEMA v1`,
		`CREATE TABLE v1.t FROM SOURCE pg (REFERENCE public.t)`,
		`CREATE MATERIALIZED VIEW v1.matview AS ` + view,
	}, stmts...)
	for _, s := range all {
		if _, err := w.mz.Exec(context.Background(), s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

// userObjects maps schema.name to ID for every object of the database.
func userObjects(t *testing.T, w *world) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, s := range w.observeOnce(t).Schemas {
		for _, o := range s.Objects {
			out[s.Name+"."+o.Name] = o.ID
		}
	}
	return out
}

// adoptDir is examples/manifests with v1 adopting schema from and active,
// and without v2 unless withV2.
func adoptDir(t *testing.T, from, active string, withV2 bool) string {
	t.Helper()
	dir := manifestDir(t,
		[3]string{"app/v1.yaml", "  schema: app\n", "  schema: app\n  adoptFrom: " + from + "\n"},
		[3]string{"app/schema.yaml", "active: v2", "active: " + active},
	)
	if !withV2 {
		if err := os.Remove(filepath.Join(dir, "app", "v2.yaml")); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestAdoptHandBuiltSeedSchema: a schema built by hand the seed guide's way
// and renamed to app is adopted as app/v1 without rebuilding anything (its
// objects keep their IDs, no CREATE or DROP is sent, readers never notice);
// then v2 is built beside it and cut over as usual, v1 retained.
func TestAdoptHandBuiltSeedSchema(t *testing.T) {
	w := newWorld(t)
	handBuildSeed(t, w, `SELECT sum(a) AS total FROM v1.t`, `ALTER SCHEMA v1 RENAME TO app`)
	waitFor(t, "the hand-built app.matview to answer", func() bool {
		var n int64
		return w.mz.QueryRow(context.Background(), "SELECT total FROM app.matview").Scan(&n) == nil && n == 10
	})
	before := userObjects(t, w)
	a := w.applier()
	des := load(t, adoptDir(t, "app", "v1", false))

	p := a.plan(t, des)
	var adopts []string
	for _, c := range p.Changes {
		switch c.Op {
		case reconcile.OpAdopt:
			adopts = append(adopts, c.Target)
		case reconcile.OpCreate, reconcile.OpDrop, reconcile.OpSwap, reconcile.OpRename, reconcile.OpBlocked, reconcile.OpDrift:
			t.Fatalf("adoption plan has %s %s: %s", c.Op, c.Target, c.Reason)
		}
	}
	if want := []string{"app.t", "app.matview", "app"}; !slices.Equal(adopts, want) {
		t.Fatalf("adopt steps %v, want %v", adopts, want)
	}

	mustApply(t, a, des)
	for _, s := range a.rec.sent() {
		if u := strings.ToUpper(s); strings.Contains(u, "CREATE ") || strings.Contains(u, "DROP ") || strings.Contains(u, "SWAP") {
			t.Fatalf("adoption sent %q: nothing may be created, dropped or swapped", s)
		}
	}
	after := userObjects(t, w)
	for _, n := range []string{"app.t", "app.matview", "public.pg"} {
		if before[n] == "" || after[n] != before[n] {
			t.Fatalf("%s: ID %q before adoption, %q after: it must not be rebuilt", n, before[n], after[n])
		}
	}
	o := w.observeOnce(t)
	for _, s := range o.Schemas {
		if s.Name == "app" && (s.Marker == nil || s.Marker.Version != "v1" || s.Marker.Live != 1 || !s.Marker.Built()) {
			t.Fatalf("app's marker after adoption: %+v", s.Marker)
		}
	}
	if got := w.total("app.matview"); got != 10 {
		t.Fatalf("app.matview = %d after adoption, want 10", got)
	}
	if p := a.plan(t, des); !p.Empty() || p.Blocked() {
		t.Fatalf("plan after adoption is not empty: %+v", p.Changes)
	}

	// Upstream changes; v2 is declared and cut over normally.
	w.upExec("ALTER TABLE t ADD COLUMN b boolean DEFAULT false", "INSERT INTO t (a, b) VALUES (20, true)")
	mustApply(t, a, load(t, adoptDir(t, "app", "v2", true)))
	if got := aliasVersion(t, w, "app"); got != "v2" {
		t.Fatalf("app holds %q, want v2", got)
	}
	if got := w.total("app.matview"); got != 20 {
		t.Fatalf("after v2: app.matview = %d, want 20", got)
	}
	final := userObjects(t, w)
	if final["app_v1.matview"] != before["app.matview"] || final["app_v1.t"] != before["app.t"] {
		t.Fatalf("the adopted objects must be retained as app_v1: before %v, after %v", before, final)
	}
	if got := w.total("app_v1.matview"); got != 30 {
		t.Fatalf("retained app_v1.matview = %d, want 30", got)
	}
}

// TestAdoptVersionSchemaRenamed: a hand-built version schema v1 not
// holding the alias is renamed to app_v1 in a fenced DDL transaction,
// marked, and cut over by the usual first rename.
func TestAdoptVersionSchemaRenamed(t *testing.T) {
	w := newWorld(t)
	handBuildSeed(t, w, `SELECT sum(a) AS total FROM v1.t`)
	before := userObjects(t, w)
	a := w.applier()
	des := load(t, adoptDir(t, "v1", "v1", false))
	mustApply(t, a, des)
	var renamed bool
	for _, s := range a.rec.sent() {
		if strings.Contains(s, `ALTER SCHEMA "v1" RENAME TO "app_v1"`) {
			renamed = strings.HasPrefix(s, "BEGIN;") && strings.Contains(s, "mzsync_lease_fence_")
		}
	}
	if !renamed {
		t.Fatalf("v1 was not renamed inside a fenced transaction: %q", a.rec.sent())
	}
	after := userObjects(t, w)
	if after["app.matview"] != before["v1.matview"] || after["app.t"] != before["v1.t"] {
		t.Fatalf("objects rebuilt: before %v, after %v", before, after)
	}
	if got := aliasVersion(t, w, "app"); got != "v1" {
		t.Fatalf("app holds %q, want v1", got)
	}
	if got := w.total("app.matview"); got != 10 {
		t.Fatalf("app.matview = %d, want 10", got)
	}
}

// TestAdoptMismatchBlocked: a hand-built schema whose view definition
// differs, or whose table ingests another column set, is not adopted:
// apply reports a BlockedError naming each difference, and nothing
// changes.
func TestAdoptMismatchBlocked(t *testing.T) {
	w := newWorld(t)
	w.upExec("ALTER TABLE t ADD COLUMN b boolean DEFAULT false")
	handBuildSeed(t, w, `SELECT sum(a) + 1 AS total FROM v1.t`, `ALTER SCHEMA v1 RENAME TO app`)
	dir := adoptDir(t, "app", "v1", false)
	edit(t, dir, [3]string{"app/v1.yaml", "reference: public.t", "reference: public.t\n      excludeColumns: [b]"})
	before := userObjects(t, w)
	a := w.applier()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, err := a.apply(ctx, load(t, dir), reconcile.ApplyOptions{Wait: true, Timeout: 30 * time.Second})
	var be *reconcile.BlockedError
	if !errors.As(err, &be) {
		t.Fatalf("apply: %v, want a BlockedError", err)
	}
	for _, want := range []string{
		"adopt refused: schema app does not match app/v1 (2 difference(s)",
		"app.t: adopt: exclude columns [], declared [b]",
		"app.matview: adopt: definition differs",
	} {
		if !strings.Contains(be.Error(), want) {
			t.Errorf("blocked error does not say %q:\n%v", want, be)
		}
	}
	if len(res.Executed) != 0 || len(a.rec.sent()) != 0 {
		t.Fatalf("a refused adoption sent %q", a.rec.sent())
	}
	if after := userObjects(t, w); !equalMaps(before, after) {
		t.Fatalf("objects changed: before %v, after %v", before, after)
	}
	if got := aliasVersion(t, w, "app"); got != "" {
		t.Fatalf("app now carries a marker of %s", got)
	}
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}
