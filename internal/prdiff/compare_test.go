package prdiff

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/mzsync/mzsync/internal/model"
)

// fnd is a finding without its display text.
type fnd struct {
	Sev     Severity
	Kind    Kind
	Subject string
	From    string
	To      string
	Switch  Switch
}

func project(fs []Finding) []fnd {
	out := []fnd{}
	for _, f := range fs {
		out = append(out, fnd{f.Severity, f.Kind, f.Subject, f.From, f.To, f.Switch})
	}
	return out
}

func TestCompare(t *testing.T) {
	d1, d2, d3 := v1().Digest, v2().Digest, v3().Digest
	// v1 with changed SQL, and a v3 whose content is v2's.
	v1Changed := ver("v1", table("t"), matview("matview", "SELECT sum(a) + 1 AS total FROM t"))
	v3SameAsV2 := ver("v3", v2().Objects...)
	moved := source("pg")
	moved.Cluster = "ingest"
	envOnly := source("pg")
	envOnly.UpstreamURLEnv = "OTHER_URL"
	clusterMoved := schema("v2", 1, v1(), v2())
	clusterMoved.Cluster = "compute"
	pruned := schema("v3", 0, v1(), v2(), v3())
	pruned.Prune = true

	tests := []struct {
		name       string
		base, head *model.Desired
		want       []fnd
	}{
		{
			name: "same state, other revision: no changes",
			base: one("r1", schema("v2", 1, v1(), v2())),
			head: one("r2", schema("v2", 1, v1(), v2())),
			want: []fnd{},
		},
		{
			name: "new version made active: build then cutover, the old one retained",
			base: one("r1", schema("v1", 1, v1())),
			head: one("r2", schema("v2", 1, v1(), v2())),
			want: []fnd{
				{Info, ActiveSwitched, "app", "v1", "v2", SwitchBuild},
				{Info, VersionAdded, "app/v2", "", d2, ""},
			},
		},
		{
			name: "new version staged, active unchanged",
			base: one("r1", schema("v1", 1, v1())),
			head: one("r2", schema("v1", 1, v1(), v2())),
			want: []fnd{{Info, VersionAdded, "app/v2", "", d2, ""}},
		},
		{
			name: "released version modified: error",
			base: one("r1", schema("v2", 1, v1(), v2())),
			head: one("r2", schema("v2", 1, v1Changed, v2())),
			want: []fnd{{Error, VersionModified, "app/v1", d1, v1Changed.Digest, ""}},
		},
		{
			name: "released version modified although the base no longer built it: still an error",
			base: one("r1", schema("v3", 0, v1(), v2(), v3())),
			head: one("r2", schema("v3", 0, v1Changed, v2(), v3())),
			want: []fnd{{Error, VersionModified, "app/v1", d1, v1Changed.Digest, ""}},
		},
		{
			name: "new version identical to the active one re-ingests its tables: info, not changes-nothing",
			base: one("r1", schema("v2", 1, v1(), v2())),
			head: one("r2", schema("v2", 1, v1(), v2(), v3SameAsV2)),
			want: []fnd{
				{Info, VersionAdded, "app/v3", "", d2, ""},
				{Info, VersionIdentical, "app/v3", "v2", "v3", ""},
			},
		},
		{
			name: "switch to a new version identical to the old active (drift --propose's copy): re-ingest info",
			base: one("r1", schema("v2", 1, v1(), v2())),
			head: one("r2", schema("v3", 1, v1(), v2(), v3SameAsV2)),
			want: []fnd{
				{Info, ActiveSwitched, "app", "v2", "v3", SwitchBuild},
				{Warning, VersionDropped, "app/v1", "", "", ""},
				{Info, VersionAdded, "app/v3", "", d2, ""},
				{Info, VersionIdentical, "app/v3", "v2", "v3", ""},
			},
		},
		{
			name: "new version without tables identical to the active one: warning",
			base: one("r1", schema("v2", 1, v1(), viewsOnly("v2"))),
			head: one("r2", schema("v2", 1, v1(), viewsOnly("v2"), viewsOnly("v3"))),
			want: []fnd{
				{Info, VersionAdded, "app/v3", "", viewsOnly("v3").Digest, ""},
				{Warning, VersionIdentical, "app/v3", "v2", "v3", ""},
			},
		},
		{
			name: "a staged version the base never made active changes: rebuild warning, not an error",
			base: one("r1", schema("v1", 1, v1(), v2())),
			head: one("r2", schema("v1", 1, v1(), ver("v2", table("t"), matview("matview", "SELECT 2 AS total")))),
			want: []fnd{{Warning, VersionModified, "app/v2", d2, ver("v2", table("t"), matview("matview", "SELECT 2 AS total")).Digest, ""}},
		},
		{
			name: "rollback to a retained version: one swap",
			base: one("r1", schema("v2", 1, v1(), v2())),
			head: one("r2", schema("v1", 1, v1(), v2())),
			want: []fnd{{Info, ActiveSwitched, "app", "v2", "v1", SwitchRollback}},
		},
		{
			name: "rollback to a version beyond the base's retain window: rebuild warning",
			base: one("r1", schema("v3", 1, v1(), v2(), v3())),
			head: one("r2", schema("v1", 1, v1(), v2(), v3())),
			want: []fnd{{Warning, ActiveSwitched, "app", "v3", "v1", SwitchRebuild}},
		},
		{
			name: "switch to a version the base already stages: cutover only",
			base: one("r1", schema("v1", 1, v1(), v2())),
			head: one("r2", schema("v2", 1, v1(), v2())),
			want: []fnd{{Info, ActiveSwitched, "app", "v1", "v2", SwitchCutover}},
		},
		{
			name: "retention lowered: the version beyond it is dropped",
			base: one("r1", schema("v3", 2, v1(), v2(), v3())),
			head: one("r2", schema("v3", 1, v1(), v2(), v3())),
			want: []fnd{
				{Info, RetentionChanged, "app", "2", "1", ""},
				{Warning, VersionDropped, "app/v1", "", "", ""},
			},
		},
		{
			name: "retention raised: a version the base dropped is rebuilt",
			base: one("r1", schema("v3", 1, v1(), v2(), v3())),
			head: one("r2", schema("v3", 2, v1(), v2(), v3())),
			want: []fnd{
				{Info, RetentionChanged, "app", "1", "2", ""},
				{Info, VersionRebuilt, "app/v1", "", "", ""},
			},
		},
		{
			name: "retained version removed: removed and dropped",
			base: one("r1", schema("v2", 1, v1(), v2())),
			head: one("r2", schema("v2", 1, v2())),
			want: []fnd{
				{Info, VersionRemoved, "app/v1", d1, "", ""},
				{Warning, VersionDropped, "app/v1", "", "", ""},
			},
		},
		{
			name: "version beyond retention removed: nothing to drop",
			base: one("r1", schema("v3", 1, v1(), v2(), v3())),
			head: one("r2", schema("v3", 1, v2(), v3())),
			want: []fnd{{Info, VersionRemoved, "app/v1", d1, "", ""}},
		},
		{
			name: "prune on and retain 0 with a new active: both older versions dropped",
			base: one("r1", schema("v2", 1, v1(), v2())),
			head: one("r2", pruned),
			want: []fnd{
				{Info, SchemaChanged, "app", "", "", ""},
				{Info, RetentionChanged, "app", "1", "0", ""},
				{Info, ActiveSwitched, "app", "v2", "v3", SwitchBuild},
				{Warning, VersionDropped, "app/v1", "", "", ""},
				{Warning, VersionDropped, "app/v2", "", "", ""},
				{Info, VersionAdded, "app/v3", "", d3, ""},
			},
		},
		{
			name: "schema settings changed, objects unchanged: settings only",
			base: one("r1", schema("v2", 1, v1(), v2())),
			head: one("r2", clusterMoved),
			want: []fnd{{Info, SchemaChanged, "app", "", "", ""}},
		},
		{
			name: "source added, removed, changed",
			base: desiredState("r1", []model.Source{source("a"), source("pg")}, schema("v1", 1, v1())),
			head: desiredState("r2", []model.Source{moved, source("z")}, schema("v1", 1, v1())),
			want: []fnd{
				{Warning, SourceRemoved, "public.a", "", "", ""},
				{Warning, SourceChanged, "public.pg", source("pg").Digest, moved.Digest, ""},
				{Info, SourceAdded, "public.z", "", "", ""},
			},
		},
		{
			name: "source upstream URL variable changed: info only",
			base: one("r1", schema("v1", 1, v1())),
			head: desiredState("r2", []model.Source{envOnly}, schema("v1", 1, v1())),
			want: []fnd{{Info, SourceChanged, "public.pg", envOnly.Digest, envOnly.Digest, ""}},
		},
		{
			name: "schema added and removed, in name order",
			base: desiredState("r1", []model.Source{source("pg")}, schema("v1", 1, v1()), in("old", schema("v1", 0, v1()))),
			head: desiredState("r2", []model.Source{source("pg")}, schema("v1", 1, v1()), in("new", schema("v2", 1, v1(), v2()))),
			want: []fnd{
				{Info, SchemaAdded, "new", "", "v2", ""},
				{Info, VersionAdded, "new/v1", "", d1, ""},
				{Info, VersionAdded, "new/v2", "", d2, ""},
				{Warning, SchemaRemoved, "old", "v1", "", ""},
			},
		},
		{
			name: "no manifests at base: everything is added",
			base: nil,
			head: one("r2", schema("v1", 0, v1())),
			want: []fnd{
				{Info, SourceAdded, "public.pg", "", "", ""},
				{Info, SchemaAdded, "app", "", "v1", ""},
				{Info, VersionAdded, "app/v1", "", d1, ""},
			},
		},
		{
			name: "versions in natural order: v9 before v10",
			base: one("r1", schema("v9", 1, ver("v9", table("t")))),
			head: one("r2", schema("v10", 1, ver("v9", table("t")), ver("v10", table("t"), table("u")))),
			want: []fnd{
				{Info, ActiveSwitched, "app", "v9", "v10", SwitchBuild},
				{Info, VersionAdded, "app/v10", "", ver("v10", table("t"), table("u")).Digest, ""},
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := Compare(tc.base, tc.head)
			if diff := cmp.Diff(tc.want, project(r.Findings)); diff != "" {
				t.Errorf("findings (-want +got):\n%s", diff)
			}
			if got, want := r.Empty(), len(tc.want) == 0; got != want {
				t.Errorf("Empty() = %v, want %v", got, want)
			}
			for _, f := range r.Findings {
				if f.Message == "" {
					t.Errorf("finding %s %s has no message", f.Kind, f.Subject)
				}
			}
			// Pure and deterministic: a second comparison is identical.
			if diff := cmp.Diff(r, Compare(tc.base, tc.head)); diff != "" {
				t.Errorf("second Compare differs:\n%s", diff)
			}
		})
	}
}

func TestCompareModifiedDetails(t *testing.T) {
	base := one("r1", schema("v2", 1, v1(), v2()))
	changed := ver("v2", table("t"), table("u"), matview("matview", "SELECT 1 AS total"), index("matview_total_idx", "matview", "total"))
	changed.Objects[3].Cluster = "compute" // index moved
	changed = ver("v2", changed.Objects...)
	head := one("r2", schema("v2", 1, v1(), changed))
	r := Compare(base, head)
	want := []string{
		"materialized-view matview changed: sql",
		"index matview_total_idx changed: cluster",
		"table u added",
	}
	var got []string
	for _, f := range r.Findings {
		if f.Kind == VersionModified {
			got = f.Details
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("details (-want +got):\n%s", diff)
	}

	// A default cluster that moved under a version is named as the cause.
	head = one("r3", schema("v2", 1, v1(), v2()))
	head.Schemas[0].Cluster = "compute"
	for i := range head.Schemas[0].Versions {
		v := &head.Schemas[0].Versions[i]
		for j := range v.Objects {
			if v.Objects[j].Cluster != "" {
				v.Objects[j].Cluster = "compute"
			}
		}
		*v = ver(v.ID.Version, v.Objects...)
	}
	r = Compare(base, head)
	got = nil
	for _, f := range r.Findings {
		if f.Kind == VersionModified && f.Subject == "app/v1" {
			got = f.Details
		}
	}
	want = []string{
		"materialized-view matview changed: cluster",
		"the schema's default cluster changed from quickstart to compute; materialized views and indexes that name no cluster inherit it",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("details with moved cluster (-want +got):\n%s", diff)
	}
	if n := r.Count(Error); n != 2 {
		t.Errorf("errors = %d, want 2 (v1 and v2 both modified)", n)
	}
}

func TestCompareDropNeedsAllowDropUnlessPrune(t *testing.T) {
	base := one("r1", schema("v2", 1, v1(), v2()))
	for _, tc := range []struct {
		name  string
		prune bool
		want  string
	}{
		{"prune off", false, "only with --allow-drop"},
		{"prune on", true, "(prune: true)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := schema("v2", 1, v2())
			h.Prune = tc.prune
			r := Compare(base, one("r2", h))
			var msg string
			for _, f := range r.Findings {
				if f.Kind == VersionDropped {
					msg = f.Message
				}
			}
			if !strings.Contains(msg, tc.want) || !strings.Contains(msg, "app_v1") {
				t.Errorf("drop message %q does not say %q about app_v1", msg, tc.want)
			}
		})
	}
}

func TestCompareHeadRoles(t *testing.T) {
	r := Compare(nil, one("r", schema("v3", 1, v1(), v2(), v3(), ver("v4", table("t")))))
	want := []SchemaState{{Name: "app", Active: "v3", Retain: 1, Versions: []VersionState{
		{"v1", RoleNotBuilt, v1().Digest},
		{"v2", RoleRetained, v2().Digest},
		{"v3", RoleActive, v3().Digest},
		{"v4", RoleStaged, ver("v4", table("t")).Digest},
	}}}
	if diff := cmp.Diff(want, r.Schemas); diff != "" {
		t.Errorf("head schemas (-want +got):\n%s", diff)
	}
	if !r.Base.Empty || r.Head.Empty || r.Head.Revision != "r" {
		t.Errorf("sides = %+v, %+v; want an empty base and head revision r", r.Base, r.Head)
	}
}

func TestSummaryString(t *testing.T) {
	for _, tc := range []struct {
		s    Summary
		want string
	}{
		{Summary{}, "No changes."},
		{Summary{Changes: 1, Info: 1}, "1 change: 0 errors, 0 warnings, 1 info."},
		{Summary{Changes: 4, Errors: 1, Warnings: 2, Info: 1}, "4 changes: 1 error, 2 warnings, 1 info."},
	} {
		if got := tc.s.String(); got != tc.want {
			t.Errorf("%+v.String() = %q, want %q", tc.s, got, tc.want)
		}
	}
}
