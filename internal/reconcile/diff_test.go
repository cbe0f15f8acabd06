package reconcile

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/mzsync/mzsync/internal/golden"
	"github.com/mzsync/mzsync/internal/model"
)

// slug turns a test name into a portable file name.
func slug(name string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(name) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
			dash = false
		} else if !dash && b.Len() > 0 {
			b.WriteByte('-')
			dash = true
		}
	}
	return strings.TrimSuffix(b.String(), "-")
}

// lines summarizes a plan as "op kind target" lines.
func lines(p *Plan) []string {
	out := []string{}
	for _, c := range p.Changes {
		out = append(out, string(c.Op)+" "+c.Kind+" "+c.Target)
	}
	return out
}

// find returns the first change with the given op and target.
func find(t *testing.T, p *Plan, op Op, target string) Change {
	t.Helper()
	for _, c := range p.Changes {
		if c.Op == op && c.Target == target {
			return c
		}
	}
	t.Fatalf("no %s change for %s in plan:\n%s", op, target, strings.Join(lines(p), "\n"))
	return Change{}
}

func TestDiff(t *testing.T) {
	tests := []struct {
		name  string
		setup func(c *simCatalog)
		des   *model.Desired
		opts  Options
		want  []string
		check func(t *testing.T, p *Plan)
	}{
		{
			name: "first deployment builds the version and renames it to the alias",
			des:  fxDesired("v1", 1, fxV1()),
			want: []string{
				"create schema app_v1",
				"create table app_v1.t",
				"comment table app_v1.t",
				"create materialized-view app_v1.matview",
				"create index app_v1.matview_total_idx",
				"comment schema app_v1",
				"wait version app/v1",
				"rename schema app/v1",
				"comment schema app",
			},
			check: func(t *testing.T, p *Plan) {
				r := find(t, p, OpRename, "app/v1")
				if diff := cmp.Diff([]string{`ALTER SCHEMA "app_v1" RENAME TO "app"`}, r.SQL); diff != "" {
					t.Errorf("rename SQL (-want +got):\n%s", diff)
				}
				mv := find(t, p, OpCreate, "app_v1.matview")
				if diff := cmp.Diff([]string{"app_v1"}, mv.SearchPath); diff != "" {
					t.Errorf("view search path (-want +got):\n%s", diff)
				}
				tb := find(t, p, OpCreate, "app_v1.t")
				if !tb.Transaction {
					t.Error("tables from a source must be created in one transaction")
				}
			},
		},
		{
			name: "a new environment builds the active and staged versions, not an older one it never ran",
			des:  fxDesired("v2", 1, fxV1(), fxV2(), fxV3()),
			want: []string{
				"create schema app_v2",
				"create table app_v2.t, app_v2.u",
				"comment table app_v2.t, app_v2.u",
				"create view app_v2.filtered",
				"create materialized-view app_v2.matview",
				"create index app_v2.matview_primary_idx",
				"comment schema app_v2",
				"create schema app_v3",
				"create table app_v3.t",
				"comment table app_v3.t",
				"create materialized-view app_v3.matview",
				"comment schema app_v3",
				"wait version app/v2",
				"rename schema app/v2",
				"comment schema app",
			},
		},
		{
			name:  "new version beside the active one, then swap and retire",
			setup: func(c *simCatalog) { c.deploy(fxDesired("v1", 1, fxV1()), Options{}) },
			des:   fxDesired("v2", 1, fxV1(), fxV2()),
			want: []string{
				"create schema app_v2",
				"create table app_v2.t, app_v2.u",
				"comment table app_v2.t, app_v2.u",
				"create view app_v2.filtered",
				"create materialized-view app_v2.matview",
				"create index app_v2.matview_primary_idx",
				"comment schema app_v2",
				"wait version app/v2",
				"swap schema app/v2",
				"comment schema app",
			},
			check: func(t *testing.T, p *Plan) {
				s := find(t, p, OpSwap, "app/v2")
				want := []string{`ALTER SCHEMA "app" SWAP WITH "app_v2"`, `ALTER SCHEMA "app_v2" RENAME TO "app_v1"`}
				if diff := cmp.Diff(want, s.SQL); diff != "" || !s.Transaction {
					t.Errorf("swap SQL (-want +got):\n%s transaction=%v", diff, s.Transaction)
				}
			},
		},
		{
			name: "switch back to a retained version is one swap and no create",
			setup: func(c *simCatalog) {
				c.deploy(fxDesired("v1", 1, fxV1()), Options{})
				c.deploy(fxDesired("v2", 1, fxV1(), fxV2()), Options{})
			},
			des: fxDesired("v1", 1, fxV1(), fxV2()),
			want: []string{
				"swap schema app/v1",
				"comment schema app",
			},
			check: func(t *testing.T, p *Plan) {
				want := []string{`ALTER SCHEMA "app" SWAP WITH "app_v1"`, `ALTER SCHEMA "app_v1" RENAME TO "app_v2"`}
				if diff := cmp.Diff(want, p.Changes[0].SQL); diff != "" {
					t.Errorf("swap SQL (-want +got):\n%s", diff)
				}
			},
		},
		{
			name: "a version partly built by an interrupted pass: only what is missing, unmarked tables adopted",
			setup: func(c *simCatalog) {
				c.deploy(fxDesired("v1", 1, fxV1()), Options{})
				p, _ := Diff(c.obs, fxDesired("v2", 1, fxV1(), fxV2()), Options{})
				// Crash after the tables' transaction and the first view.
				c.apply(&Plan{Changes: []Change{p.Changes[0], p.Changes[1], p.Changes[3]}})
			},
			des: fxDesired("v2", 1, fxV1(), fxV2()),
			want: []string{
				"comment table app_v2.t, app_v2.u",
				"create materialized-view app_v2.matview",
				"create index app_v2.matview_primary_idx",
				"comment schema app_v2",
				"wait version app/v2",
				"swap schema app/v2",
				"comment schema app",
			},
		},
		{
			name: "an empty unmarked build schema left by a crash is adopted",
			setup: func(c *simCatalog) {
				c.deploy(fxDesired("v1", 1, fxV1()), Options{})
				mustExec(c, `CREATE SCHEMA "app_v2"`)
			},
			des: fxDesired("v2", 1, fxV1(), fxV2()),
			want: []string{
				"comment schema app_v2",
				"create table app_v2.t, app_v2.u",
				"comment table app_v2.t, app_v2.u",
				"create view app_v2.filtered",
				"create materialized-view app_v2.matview",
				"create index app_v2.matview_primary_idx",
				"comment schema app_v2",
				"wait version app/v2",
				"swap schema app/v2",
				"comment schema app",
			},
		},
		{
			name: "a non-empty unmarked schema with the build name is never touched",
			setup: func(c *simCatalog) {
				c.deploy(fxDesired("v1", 1, fxV1()), Options{})
				mustExec(c, `CREATE SCHEMA "app_v2"`)
				mustExec(c, `CREATE VIEW "app_v2"."mine" AS SELECT 1`)
			},
			des:  fxDesired("v2", 1, fxV1(), fxV2()),
			want: []string{"blocked schema app_v2", "blocked version app/v2"},
		},
		{
			name: "an unmarked alias schema blocks the cutover, the build goes ahead",
			setup: func(c *simCatalog) {
				mustExec(c, `CREATE SCHEMA "app"`)
			},
			des: fxDesired("v1", 0, fxV1()),
			want: []string{
				"create schema app_v1",
				"create table app_v1.t",
				"comment table app_v1.t",
				"create materialized-view app_v1.matview",
				"create index app_v1.matview_total_idx",
				"comment schema app_v1",
				"blocked version app/v1",
			},
		},
		{
			name: "an unmarked view in a staged schema (crash between CREATE and COMMENT) is replaced",
			setup: func(c *simCatalog) {
				c.deploy(fxDesired("v1", 1, fxV1()), Options{})
				p, _ := Diff(c.obs, fxDesired("v2", 1, fxV1(), fxV2()), Options{})
				c.apply(&Plan{Changes: p.Changes[:3]})
				mustExec(c, `CREATE VIEW "app_v2"."filtered" AS SELECT 1`)
			},
			des: fxDesired("v2", 1, fxV1(), fxV2()),
			want: []string{
				"create view app_v2.filtered",
				"create materialized-view app_v2.matview",
				"create index app_v2.matview_primary_idx",
				"comment schema app_v2",
				"wait version app/v2",
				"swap schema app/v2",
				"comment schema app",
			},
			check: func(t *testing.T, p *Plan) {
				c := p.Changes[0]
				if len(c.SQL) != 3 || c.SQL[0] != `DROP VIEW "app_v2"."filtered" RESTRICT` || !c.Destructive {
					t.Errorf("replace change = %+v, want DROP ... RESTRICT first and destructive", c)
				}
			},
		},
		{
			name: "an unmarked view in a deployed version is drift, never replaced",
			setup: func(c *simCatalog) {
				c.deploy(fxDesired("v1", 1, fxV1()), Options{})
				c.dropObject("app", "matview")
				mustExec(c, `CREATE MATERIALIZED VIEW "app"."matview" AS SELECT 1`)
			},
			des:  fxDesired("v1", 1, fxV1()),
			want: []string{"drift materialized-view app.matview"},
		},
		{
			name: "owned objects altered or dropped by hand are drift, named",
			setup: func(c *simCatalog) {
				c.deploy(fxDesired("v1", 1, fxV1()), Options{})
				mustExec(c, `COMMENT ON MATERIALIZED VIEW "app"."matview" IS 'mzsync:v1 digest=sha256:other'`)
				c.dropObject("app", "matview_total_idx")
				c.schema("app").Objects = append(c.schema("app").Objects, model.ObservedObject{ID: "u9", Kind: model.KindView, Name: "zz_mine"})
				c.object("app", "t").TextColumns = []string{"x"}
			},
			des: fxDesired("v1", 1, fxV1()),
			want: []string{
				"drift table app.t",
				"drift materialized-view app.matview",
				"drift index app.matview_total_idx",
				"ignored view app.zz_mine",
			},
			check: func(t *testing.T, p *Plan) {
				if !p.Empty() {
					t.Error("findings alone must leave the plan empty")
				}
				want := []string{
					"text columns [x], declared []",
					"digest sha256:other, declared sha256:v1.matview: altered by hand",
					"missing: dropped by hand",
					"not owned by mzsync: left alone",
				}
				var got []string
				for _, c := range p.Changes {
					got = append(got, c.Reason)
				}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("reasons (-want +got):\n%s", diff)
				}
			},
		},
		{
			name: "rollback to a retained version with drift is refused",
			setup: func(c *simCatalog) {
				c.deploy(fxDesired("v1", 1, fxV1()), Options{})
				c.deploy(fxDesired("v2", 1, fxV1(), fxV2()), Options{})
				c.dropObject("app_v1", "matview_total_idx")
				c.dropObject("app_v1", "matview")
			},
			des:  fxDesired("v1", 1, fxV1(), fxV2()),
			want: []string{"drift materialized-view app_v1.matview", "drift index app_v1.matview_total_idx", "blocked version app/v1"},
		},
		{
			name: "a retired version with a dependent outside is blocked, naming it",
			setup: func(c *simCatalog) {
				c.deploy(fxDesired("v1", 1, fxV1()), Options{})
				c.deploy(fxDesired("v2", 1, fxV1(), fxV2()), Options{})
				mustExec(c, `CREATE SCHEMA "reports"`)
				mustExec(c, `CREATE VIEW "reports"."daily" AS SELECT * FROM app_v1.matview`)
				c.obs.Dependencies = append(c.obs.Dependencies, model.Dependency{
					Object: c.object("reports", "daily").ID, Referenced: c.object("app_v1", "matview").ID})
			},
			des:  fxDesired("v2", 0, fxV1(), fxV2()),
			opts: Options{AllowDrop: true},
			want: []string{"blocked schema app_v1"},
			check: func(t *testing.T, p *Plan) {
				if got := p.Changes[0].Reason; got != "drop refused: depended on by reports.daily" {
					t.Errorf("reason = %q", got)
				}
			},
		},
		{
			name: "a version beyond retention without --allow-drop is blocked",
			setup: func(c *simCatalog) {
				c.deploy(fxDesired("v1", 1, fxV1()), Options{})
				c.deploy(fxDesired("v2", 1, fxV1(), fxV2()), Options{})
			},
			des:  fxDesired("v2", 0, fxV1(), fxV2()),
			want: []string{"blocked schema app_v1"},
			check: func(t *testing.T, p *Plan) {
				if got := p.Changes[0].Reason; !strings.HasSuffix(got, "needs --allow-drop or prune: true") {
					t.Errorf("reason = %q", got)
				}
			},
		},
		{
			name: "cutover retires and drops the old version with --allow-drop",
			setup: func(c *simCatalog) {
				c.deploy(fxDesired("v1", 0, fxV1()), Options{})
			},
			des:  fxDesired("v2", 0, fxV2()),
			opts: Options{AllowDrop: true},
			want: []string{
				"create schema app_v2",
				"create table app_v2.t, app_v2.u",
				"comment table app_v2.t, app_v2.u",
				"create view app_v2.filtered",
				"create materialized-view app_v2.matview",
				"create index app_v2.matview_primary_idx",
				"comment schema app_v2",
				"wait version app/v2",
				"swap schema app/v2",
				"comment schema app",
				"drop schema app_v1",
			},
			check: func(t *testing.T, p *Plan) {
				d := find(t, p, OpDrop, "app_v1")
				if !d.Destructive || d.SQL[0] != `DROP SCHEMA "app_v1" CASCADE` {
					t.Errorf("drop = %+v", d)
				}
			},
		},
		{
			name: "prune: true drops without --allow-drop",
			setup: func(c *simCatalog) {
				c.deploy(fxDesired("v1", 0, fxV1()), Options{})
				c.deploy(fxDesired("v2", 1, fxV1(), fxV2()), Options{})
			},
			des: func() *model.Desired {
				d := fxDesired("v2", 0, fxV2())
				d.Schemas[0].Prune = true
				return d
			}(),
			want: []string{"drop schema app_v1"},
		},
		{
			name: "a retained version dropped earlier is rebuilt when retain grows",
			setup: func(c *simCatalog) {
				c.deploy(fxDesired("v1", 0, fxV1()), Options{})
				c.deploy(fxDesired("v2", 0, fxV1(), fxV2()), Options{AllowDrop: true})
			},
			des: fxDesired("v2", 1, fxV1(), fxV2()),
			want: []string{
				"create schema app_v1",
				"create table app_v1.t",
				"comment table app_v1.t",
				"create materialized-view app_v1.matview",
				"create index app_v1.matview_total_idx",
				"comment schema app_v1",
			},
		},
		{
			name: "a built version never live whose manifests changed is torn down and built again",
			setup: func(c *simCatalog) {
				c.deploy(fxDesired("v1", 1, fxV1()), Options{})
				buildOnly(c, fxDesired("v2", 1, fxV1(), fxV2()))
			},
			des: fxDesired("v2", 1, fxV1(), fxV2edited()),
			want: []string{
				"drop schema app_v2",
				"create schema app_v2", "create table app_v2.t, app_v2.u", "comment table app_v2.t, app_v2.u",
				"create view app_v2.filtered", "create materialized-view app_v2.matview", "create index app_v2.matview_primary_idx",
				"comment schema app_v2", "wait version app/v2", "swap schema app/v2", "comment schema app",
			},
			check: func(t *testing.T, p *Plan) {
				if d := p.Changes[0]; !d.Destructive || !strings.Contains(d.Reason, "never live and its manifests changed") {
					t.Errorf("teardown = %+v", d)
				}
			},
		},
		{
			name: "a typo in view SQL fixed in the same version: the half-built schema and its leftovers are rebuilt",
			setup: func(c *simCatalog) {
				c.deploy(fxDesired("v1", 1, fxV1()), Options{})
				p, _ := Diff(c.obs, fxDesired("v2", 1, fxV1(), fxV2()), Options{})
				// CREATE VIEW filtered failed on the typo; a leftover of an
				// interrupted pass sits beside the tables.
				c.apply(&Plan{Changes: p.Changes[:3]})
				mustExec(c, `CREATE VIEW "app_v2"."filtred" AS SELECT 1`)
			},
			des: fxDesired("v2", 1, fxV1(), fxV2edited()),
			want: []string{
				"drop schema app_v2",
				"create schema app_v2", "create table app_v2.t, app_v2.u", "comment table app_v2.t, app_v2.u",
				"create view app_v2.filtered", "create materialized-view app_v2.matview", "create index app_v2.matview_primary_idx",
				"comment schema app_v2", "wait version app/v2", "swap schema app/v2", "comment schema app",
			},
		},
		{
			name: "a building version is finished, never torn down, while its manifests stay the same",
			setup: func(c *simCatalog) {
				c.deploy(fxDesired("v1", 1, fxV1()), Options{})
				p, _ := Diff(c.obs, fxDesired("v2", 1, fxV1(), fxV2()), Options{})
				c.apply(&Plan{Changes: p.Changes[:3]})
			},
			des: fxDesired("v2", 1, fxV1(), fxV2()),
			want: []string{
				"create view app_v2.filtered", "create materialized-view app_v2.matview", "create index app_v2.matview_primary_idx",
				"comment schema app_v2", "wait version app/v2", "swap schema app/v2", "comment schema app",
			},
		},
		{
			name: "retention after a rollback keeps the last good version, not the newest by name",
			setup: func(c *simCatalog) {
				c.deploy(fxDesired("v1", 1, fxV1()), Options{})
				c.deploy(fxDesired("v2", 1, fxV1(), fxV2()), Options{})
				c.deploy(fxDesired("v1", 1, fxV1(), fxV2()), Options{})
			},
			des:  fxDesired("v3", 1, fxV1(), fxV2(), fxV3()),
			opts: Options{AllowDrop: true},
			want: []string{
				"create schema app_v3", "create table app_v3.t", "comment table app_v3.t",
				"create materialized-view app_v3.matview", "comment schema app_v3",
				"wait version app/v3", "swap schema app/v3", "comment schema app", "drop schema app_v2",
			},
			check: func(t *testing.T, p *Plan) {
				live := find(t, p, OpComment, "app")
				if want := `live=4 history=v1,v2'`; !strings.HasSuffix(live.SQL[0], want) {
					t.Errorf("live record %s, want it to end %s", live.SQL[0], want)
				}
			},
		},
		{
			name: "a version never live older than the active one is not retained",
			setup: func(c *simCatalog) {
				c.deploy(fxDesired("v1", 1, fxV1()), Options{})
				buildOnly(c, fxDesired("v2", 1, fxV1(), fxV2()))
			},
			des:  fxDesired("v3", 1, fxV1(), fxV2(), fxV3()),
			opts: Options{AllowDrop: true},
			want: []string{
				"create schema app_v3", "create table app_v3.t", "comment table app_v3.t",
				"create materialized-view app_v3.matview", "comment schema app_v3",
				"wait version app/v3", "swap schema app/v3", "comment schema app", "drop schema app_v2",
			},
		},
		{
			name: "a pass stopped between the cutover and the live record: the record is written",
			setup: func(c *simCatalog) {
				c.deploy(fxDesired("v1", 1, fxV1()), Options{})
				p, _ := Diff(c.obs, fxDesired("v2", 1, fxV1(), fxV2()), Options{})
				c.apply(&Plan{Changes: p.Changes[:len(p.Changes)-1]})
			},
			des:  fxDesired("v2", 1, fxV1(), fxV2()),
			want: []string{"comment schema app"},
			check: func(t *testing.T, p *Plan) {
				if want := `state=built live=2 history=v1'`; !strings.HasSuffix(p.Changes[0].SQL[0], want) {
					t.Errorf("live record %s, want it to end %s", p.Changes[0].SQL[0], want)
				}
			},
		},
		{
			name: "markers from before build states: the deployed versions are kept, only the live record is written",
			setup: func(c *simCatalog) {
				c.deploy(fxDesired("v1", 1, fxV1()), Options{})
				c.deploy(fxDesired("v2", 1, fxV1(), fxV2()), Options{})
				mustExec(c, `COMMENT ON SCHEMA "app" IS 'mzsync:v1 schema=app version=v2 digest=sha256:v2'`)
				mustExec(c, `COMMENT ON SCHEMA "app_v1" IS 'mzsync:v1 schema=app version=v1 digest=sha256:v1'`)
			},
			des:  fxDesired("v2", 1, fxV1(), fxV2()),
			want: []string{"comment schema app"},
		},
		{
			name: "an abandoned build with a leftover of an interrupted pass is dropped, never blocked by it",
			setup: func(c *simCatalog) {
				c.deploy(fxDesired("v1", 1, fxV1()), Options{})
				p, _ := Diff(c.obs, fxDesired("v1", 1, fxV1(), fxV3()), Options{})
				c.apply(&Plan{Changes: p.Changes[:3]})
				mustExec(c, `CREATE MATERIALIZED VIEW "app_v3"."matview" AS SELECT 1`)
			},
			des:  fxDesired("v1", 1, fxV1()),
			opts: Options{AllowDrop: true},
			want: []string{"drop schema app_v3"},
		},
		{
			name:  "desired equals observed: empty plan",
			setup: func(c *simCatalog) { c.deploy(fxDesired("v2", 1, fxV1(), fxV2(), fxV3()), Options{}) },
			des:   fxDesired("v2", 1, fxV1(), fxV2(), fxV3()),
			want:  []string{},
		},
		{
			name: "version schemas of an undeclared schema are reported, never dropped",
			setup: func(c *simCatalog) {
				mustExec(c, `CREATE SCHEMA "old_v1"`)
				mustExec(c, `COMMENT ON SCHEMA "old_v1" IS 'mzsync:v1 schema=old version=v1 digest=sha256:x'`)
			},
			des:  &model.Desired{Revision: "r", Sources: fxDesired("v1", 0).Sources},
			opts: Options{AllowDrop: true},
			want: []string{"ignored schema old_v1"},
		},
		{
			name: "a missing source is created first; an unowned one is used and reported",
			setup: func(c *simCatalog) {
				c.obs.Sources = nil
			},
			des: func() *model.Desired {
				d := fxDesired("v1", 0, fxV1())
				d.Sources = append(d.Sources, model.Source{Name: "other", Schema: "public", Cluster: "ingest", Connection: "ops.conn", Publication: "p", Digest: "sha256:o"})
				return d
			}(),
			want: []string{
				"create source public.other",
				"create source public.pg",
				"create schema app_v1",
				"create table app_v1.t",
				"comment table app_v1.t",
				"create materialized-view app_v1.matview",
				"create index app_v1.matview_total_idx",
				"comment schema app_v1",
				"wait version app/v1",
				"rename schema app/v1",
				"comment schema app",
			},
			check: func(t *testing.T, p *Plan) {
				want := `CREATE SOURCE "public"."other" IN CLUSTER "ingest" FROM POSTGRES CONNECTION "ops"."conn" (PUBLICATION 'p')`
				if got := p.Changes[0].SQL[0]; got != want {
					t.Errorf("create source:\n got %s\nwant %s", got, want)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newSimCatalog(t)
			if tt.setup != nil {
				tt.setup(c)
				c.fingerprint()
			}
			p, err := Diff(c.obs, tt.des, tt.opts)
			if err != nil {
				t.Fatalf("diff: %v", err)
			}
			if diff := cmp.Diff(tt.want, lines(p)); diff != "" {
				t.Errorf("plan (-want +got):\n%s", diff)
				if os.Getenv("DUMP") != "" {
					fmt.Printf("CASE %s\n%#v\n", tt.name, lines(p))
				}
			}
			if tt.check != nil {
				tt.check(t, p)
			}
			if p.Fingerprint != c.obs.Fingerprint || p.Revision != tt.des.Revision {
				t.Errorf("plan carries fingerprint %q revision %q, want %q %q", p.Fingerprint, p.Revision, c.obs.Fingerprint, tt.des.Revision)
			}
			var b bytes.Buffer
			if err := RenderJSON(&b, p); err != nil {
				t.Fatal(err)
			}
			golden.Check(t, filepath.Join("diff", slug(tt.name)+".json"), b.Bytes())
			// Pure and deterministic: the same inputs give the same plan.
			again, _ := Diff(c.obs, tt.des, tt.opts)
			if diff := cmp.Diff(p, again); diff != "" {
				t.Errorf("second diff differs (-first +second):\n%s", diff)
			}
		})
	}
}

// buildOnly applies the changes of des's plan up to its readiness wait:
// a version built and never live.
func buildOnly(c *simCatalog, des *model.Desired) {
	c.t.Helper()
	p, err := Diff(c.obs, des, Options{})
	if err != nil {
		c.t.Fatal(err)
	}
	i := slices.IndexFunc(p.Changes, func(ch Change) bool { return ch.Op == OpWait })
	c.apply(&Plan{Changes: p.Changes[:i]})
}

// fxV2edited is v2 with a changed view (a typo fixed): another digest.
func fxV2edited() model.Version {
	v := fxV2()
	v.Objects[2].SQL = "SELECT a FROM t WHERE b = 'true'"
	v.Digest = "sha256:v2-edited"
	return v
}

func mustExec(c *simCatalog, stmt string) {
	c.t.Helper()
	if err := c.exec(stmt); err != nil {
		c.t.Fatalf("%s: %v", stmt, err)
	}
}

func TestDiffErrors(t *testing.T) {
	deployed := newSimCatalog(t).deploy(fxDesired("v2", 1, fxV1(), fxV2()), Options{})
	for _, tt := range []struct {
		name string
		des  *model.Desired
	}{
		{"nil desired never prunes", nil},
		{"empty manifest set never prunes", &model.Desired{Revision: "r"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Diff(deployed.obs, tt.des, Options{AllowDrop: true})
			if p != nil {
				t.Errorf("got a plan with the error: %v", lines(p))
			}
			if !errors.Is(err, ErrEmptyDesired) {
				t.Fatalf("err = %v, want %v", err, ErrEmptyDesired)
			}
		})
	}
}

// twoSchemas returns d with a second schema, other, a copy of app.
func twoSchemas(d *model.Desired) *model.Desired {
	o := d.Schemas[0]
	o.Name = "other"
	o.Versions = slices.Clone(o.Versions)
	for i := range o.Versions {
		o.Versions[i].ID.Schema = "other"
	}
	d.Schemas = append(slices.Clone(d.Schemas), o)
	return d
}

// TestImmutableBlocksOnlyItsSchema: a version that has been live and whose
// manifests changed is a blocked finding of its schema, every one listed;
// the other schema plans its cutover as usual.
func TestImmutableBlocksOnlyItsSchema(t *testing.T) {
	c := newSimCatalog(t).deploy(twoSchemas(fxDesired("v1", 1, fxV1())), Options{})
	c.deploy(twoSchemas(fxDesired("v2", 1, fxV1(), fxV2())), Options{})
	des := twoSchemas(fxDesired("v1", 1, fxV1(), fxV2()))
	des.Schemas[0].Versions[0].Digest = "sha256:v1-edited"
	des.Schemas[0].Versions[1].Digest = "sha256:v2-edited"
	p, err := Diff(c.obs, des, Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"blocked version app/v1", "blocked version app/v2", "swap schema other/v1", "comment schema other"}
	if diff := cmp.Diff(want, lines(p)); diff != "" {
		t.Fatalf("plan (-want +got):\n%s", diff)
	}
	if r := p.Changes[1].Reason; !strings.Contains(r, "immutable: app/v2 has been live (schema app, digest sha256:v2) but its manifests now say sha256:v2-edited; declare a new version") {
		t.Errorf("reason: %s", r)
	}
}

// TestConvergence applies each plan to the simulated catalog and checks
// that the same desired state then plans empty, in four steps: forward,
// again, rollback, again.
func TestConvergence(t *testing.T) {
	c := newSimCatalog(t)
	steps := []struct {
		name  string
		des   *model.Desired
		opts  Options
		swaps int
		check func(t *testing.T, c *simCatalog)
	}{
		{name: "first deployment", des: fxDesired("v1", 1, fxV1())},
		{name: "forward to v2", des: fxDesired("v2", 1, fxV1(), fxV2()), swaps: 1},
		{name: "rollback to v1", des: fxDesired("v1", 1, fxV1(), fxV2()), swaps: 1},
		// v1 was live last before v3 (the rollback), so retain: 1 keeps it
		// although its manifest is gone, and drops v2.
		{name: "forward to v3 keeping v1 live last dropping v2", des: fxDesired("v3", 1, fxV2(), fxV3()), opts: Options{AllowDrop: true}, swaps: 1,
			check: func(t *testing.T, c *simCatalog) {
				if c.schema("app_v2") != nil {
					t.Error("app_v2 should be dropped")
				}
				if m := c.schema("app").Marker; m == nil || m.Version != "v3" || m.Live != 4 {
					t.Errorf("alias holds %+v, want v3 live 4", m)
				}
				if m := c.schema("app_v1").Marker; m == nil || m.Version != "v1" || m.Live != 3 {
					t.Errorf("app_v1 holds %+v, want v1 live 3", m)
				}
			}},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			p, err := Diff(c.obs, st.des, st.opts)
			if err != nil {
				t.Fatal(err)
			}
			if p.Empty() {
				t.Fatal("forward plan is empty")
			}
			if got := p.Summary().Swap; got != st.swaps {
				t.Errorf("swaps = %d, want %d", got, st.swaps)
			}
			var b bytes.Buffer
			if err := RenderText(&b, p); err != nil {
				t.Fatal(err)
			}
			golden.Check(t, filepath.Join("convergence", slug(st.name)+".txt"), b.Bytes())
			c.apply(p)
			again, err := Diff(c.obs, st.des, st.opts)
			if err != nil {
				t.Fatal(err)
			}
			if len(again.Changes) != 0 {
				t.Errorf("second plan not empty:\n%s", strings.Join(lines(again), "\n"))
			}
			if st.check != nil {
				st.check(t, c)
			}
		})
	}
}

// TestHostileNamesAreQuoted converges a schema whose names hold quotes,
// semicolons and spaces: every identifier reaches SQL quoted, and the
// simulated catalog (which only accepts quoted identifiers) ends with the
// exact names.
func TestHostileNamesAreQuoted(t *testing.T) {
	des := fxDesired("v1", 0, fxV1())
	s := &des.Schemas[0]
	s.Name = `my"app; DROP`
	v := &s.Versions[0]
	v.ID.Schema = s.Name
	v.Objects[0].Name = `t"; --`
	v.Objects[1].SQL = `SELECT sum(a) AS total FROM "t""; --"`
	v.Objects[1].DependsOn = []string{`t"; --`}
	c := newSimCatalog(t).deploy(des, Options{})
	if c.object(`my"app; DROP`, `t"; --`) == nil {
		t.Fatalf("table not created under its exact name: %+v", c.obs.Schemas)
	}
	p, err := Diff(c.obs, des, Options{})
	if err != nil || len(p.Changes) != 0 {
		t.Fatalf("not converged: %v %v", err, lines(p))
	}
}

func TestDuplicateMarkersAreLeftAlone(t *testing.T) {
	c := newSimCatalog(t).deploy(fxDesired("v1", 0, fxV1()), Options{})
	mustExec(c, `CREATE SCHEMA "copy"`)
	mustExec(c, `COMMENT ON SCHEMA "copy" IS 'mzsync:v1 schema=app version=v1 digest=sha256:v1'`)
	c.fingerprint()
	p, err := Diff(c.obs, fxDesired("v1", 0, fxV1()), Options{AllowDrop: true})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"blocked schema copy"}, lines(p)); diff != "" {
		t.Errorf("plan (-want +got):\n%s", diff)
	}
	if !strings.Contains(p.Changes[0].Reason, "which app holds") {
		t.Errorf("reason: %s", p.Changes[0].Reason)
	}
}
